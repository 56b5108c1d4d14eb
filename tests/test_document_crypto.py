"""The encrypted document format (sendfaxmail/lib/crypto.py), without any storage."""

from __future__ import annotations

import io
import os

import pytest

from sendfaxmail.lib import crypto

CHUNK = crypto.CHUNK_SIZE
STORED_CHUNK = CHUNK + crypto.TAG_BYTES


def keyring(*keys: str) -> crypto.Keyring:
    return crypto.keyring_from(tuple(keys))


KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()


def encrypt(data: bytes, ring: crypto.Keyring | None = None) -> bytes:
    return crypto.EncryptingReader(io.BytesIO(data), ring or keyring(KEY_A)).read()


def decrypt(stored: bytes, ring: crypto.Keyring | None = None) -> bytes:
    return crypto.DecryptingReader(io.BytesIO(stored), ring or keyring(KEY_A)).read()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7])
def test_it_round_trips_every_size_and_knows_the_plaintext_size(size: int) -> None:
    data = os.urandom(size)

    stored = encrypt(data)

    assert decrypt(stored) == data
    assert crypto.plaintext_size(len(stored)) == size


def test_it_reads_in_small_pieces_as_storage_backends_do() -> None:
    data = os.urandom(CHUNK + 12345)
    stored = crypto.EncryptingReader(io.BytesIO(data), keyring(KEY_A))
    pieces = iter(lambda: stored.read(64 * 1024), b"")
    reader = crypto.DecryptingReader(io.BytesIO(b"".join(pieces)), keyring(KEY_A))

    assert b"".join(iter(lambda: reader.read(1000), b"")) == data


@pytest.mark.parametrize("stream", ["encrypting", "decrypting"])
def test_a_read_returns_all_the_bytes_asked_for_until_the_end(stream: str) -> None:
    # s3transfer takes a short read for the end of the data: a 1 MiB answer to an 8 MiB read
    # would make every multipart part too small for AWS.
    data = os.urandom(3 * CHUNK)
    reader = crypto.EncryptingReader(io.BytesIO(data), keyring(KEY_A))
    if stream == "decrypting":
        reader = crypto.DecryptingReader(io.BytesIO(reader.read()), keyring(KEY_A))
    total = len(data) if stream == "decrypting" else len(encrypt(data))

    sizes = [len(reader.read(2 * CHUNK + 1)) for _ in range(3)]

    assert sizes == [2 * CHUNK + 1, total - 2 * CHUNK - 1, 0]


@pytest.mark.parametrize("hint", ["none", "right", "too large"])
def test_reading_the_rest_after_a_part_gives_the_rest_whatever_the_size_hint(hint: str) -> None:
    data = os.urandom(2 * CHUNK + 99)
    stored = encrypt(data)
    size = {"none": None, "right": len(stored), "too large": len(stored) + 5 * STORED_CHUNK}[hint]
    reader = crypto.DecryptingReader(io.BytesIO(stored), keyring(KEY_A), stored_size=size)

    assert reader.read(10) + reader.read() == data
    assert reader.read() == b""


def test_the_same_document_encrypts_differently_each_time() -> None:
    data = b"%PDF-1.7 the same page"

    assert encrypt(data) != encrypt(data)
    assert data not in encrypt(data)


def test_a_flipped_byte_in_a_chunk_fails_authentication() -> None:
    stored = bytearray(encrypt(os.urandom(CHUNK + 100)))
    stored[crypto.HEADER_BYTES + STORED_CHUNK + 3] ^= 0x01

    reader = crypto.DecryptingReader(io.BytesIO(bytes(stored)), keyring(KEY_A))

    with pytest.raises(crypto.TamperedError, match="chunk 1"):
        reader.read()


def test_a_flipped_byte_in_the_wrapped_key_fails_on_open() -> None:
    stored = bytearray(encrypt(b"document"))
    stored[40] ^= 0x80

    with pytest.raises(crypto.TamperedError, match="wrapped key"):
        decrypt(bytes(stored))


def test_a_document_cut_after_a_whole_chunk_fails() -> None:
    stored = encrypt(os.urandom(2 * CHUNK + 10))

    with pytest.raises(crypto.TamperedError):
        decrypt(stored[: crypto.HEADER_BYTES + STORED_CHUNK])


def test_swapped_chunks_fail() -> None:
    stored = encrypt(os.urandom(3 * CHUNK))
    header, body = stored[: crypto.HEADER_BYTES], stored[crypto.HEADER_BYTES :]
    first, second = body[:STORED_CHUNK], body[STORED_CHUNK : 2 * STORED_CHUNK]

    with pytest.raises(crypto.TamperedError, match="chunk 0"):
        decrypt(header + second + first + body[2 * STORED_CHUNK :])


def test_bytes_appended_after_the_last_chunk_fail() -> None:
    stored = encrypt(b"short document")

    with pytest.raises(crypto.TamperedError):
        decrypt(stored + os.urandom(20))


def test_a_plain_file_is_not_taken_for_an_encrypted_one() -> None:
    with pytest.raises(crypto.NotEncryptedError):
        decrypt(b"%PDF-1.7 plain")


def test_a_document_under_a_key_that_is_not_configured_fails_loudly() -> None:
    stored = encrypt(b"document", keyring(KEY_A))

    with pytest.raises(crypto.UnknownKeyError, match=crypto.key_id(crypto.decode_key(KEY_A)).hex()):
        decrypt(stored, keyring(KEY_B))


def test_every_configured_key_decrypts_and_the_first_encrypts() -> None:
    old = encrypt(b"old document", keyring(KEY_A))
    new = encrypt(b"new document", keyring(KEY_B, KEY_A))

    assert decrypt(old, keyring(KEY_B, KEY_A)) == b"old document"
    assert crypto.Header.parse(new).kek_id == crypto.key_id(crypto.decode_key(KEY_B))


def test_rewrapping_changes_only_the_header_and_the_new_key_alone_decrypts() -> None:
    stored = encrypt(os.urandom(CHUNK + 5), keyring(KEY_A))
    both = keyring(KEY_B, KEY_A)

    header = crypto.rewrap_header(stored[: crypto.HEADER_BYTES], both)
    rewrapped = header + stored[crypto.HEADER_BYTES :]

    assert len(header) == crypto.HEADER_BYTES
    assert decrypt(rewrapped, keyring(KEY_B)) == decrypt(stored, keyring(KEY_A))
    assert crypto.rewrap_header(header, both) is None


@pytest.mark.parametrize(
    "text",
    ["", "not base64!", "c2hvcnQ=", crypto.generate_key()[:-4], KEY_A.replace("=", "") + "AAAA"],
)
def test_a_malformed_key_is_refused(text: str) -> None:
    with pytest.raises(crypto.InvalidKeyError):
        keyring(text)


def test_a_generated_key_is_32_bytes_of_url_safe_base64() -> None:
    key = crypto.generate_key()

    assert len(crypto.decode_key(key)) == 32
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    assert crypto.decode_key(key.rstrip("=")) == crypto.decode_key(key)
