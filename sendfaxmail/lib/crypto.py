"""Envelope encryption of documents at rest: chunked AES-256-GCM under a fresh key per document.

Each document gets a new random 256-bit data key. The data key encrypts the document; a
key-encryption key (KEK) from DOCUMENT_ENCRYPTION_KEYS encrypts ("wraps") the data key, and the
wrapped key travels in the object's header. Rotating KEKs therefore rewrites headers only.

Format, version 1 (integers big-endian):

    offset  size  field
         0     4  magic b"SFME"
         4     1  version (1)
         5     8  kek_id: the first 8 bytes of SHA-256(KEK), naming the key that wrapped
        13    12  wrap_nonce
        25    48  the data key under AES-256-GCM(KEK, wrap_nonce, aad=bytes 0-12) (32 + 16 tag)
        73    12  base_nonce
        85     …  chunks

The plaintext is cut into chunks of CHUNK_SIZE (1 MiB) bytes, the last one shorter (0 to
CHUNK_SIZE bytes; an empty document is one empty chunk). Chunk i is stored as
AES-256-GCM(data key, nonce=base_nonce XOR i, aad=magic+version+i+final flag): its ciphertext and
16-byte tag. The index and the final flag in the associated data make a reordered, dropped,
truncated or extended chunk sequence fail authentication, and no chunk is returned before its
tag is checked. So a reader holds one or two chunks in memory, never the whole document, and the
plaintext size follows from the stored size alone (`plaintext_size`).

Error contract: a malformed key is a ValueError (InvalidKeyError); reading raises
NotEncryptedError (no header), UnknownKeyError (its KEK is not configured) or TamperedError
(anything that fails authentication or is cut short), all DocumentCryptoError. Never garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SFME"
VERSION = 1
KEY_BYTES = 32
KEK_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK_SIZE = 1024 * 1024
HEADER_BYTES = len(MAGIC) + 1 + KEK_ID_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES + NONCE_BYTES
_PREFIX = MAGIC + bytes([VERSION])
_STORED_CHUNK = CHUNK_SIZE + TAG_BYTES


class InvalidKeyError(ValueError):
    """A configured key is not 32 bytes in URL-safe base64."""


class DocumentCryptoError(Exception):
    """A stored document cannot be decrypted."""


class NotEncryptedError(DocumentCryptoError):
    """The stored object does not start with our header: it was not written encrypted."""


class UnknownKeyError(DocumentCryptoError):
    """The object's data key was wrapped by a KEK that DOCUMENT_ENCRYPTION_KEYS does not hold."""


class TamperedError(DocumentCryptoError):
    """The object failed authentication: altered, truncated, extended or reordered."""


def generate_key() -> str:
    """A new key-encryption key: 32 random bytes in URL-safe base64, as the setting takes it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def decode_key(text: str) -> bytes:
    """The 32 bytes of a URL-safe base64 key; padding optional. Raises InvalidKeyError."""
    text = text.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError("a key is not URL-safe base64") from None
    if len(key) != KEY_BYTES:
        raise InvalidKeyError(f"a key decodes to {len(key)} bytes instead of {KEY_BYTES}")
    return key


def key_id(key: bytes) -> bytes:
    """The short public name of a KEK stored in each header: the first 8 bytes of its SHA-256."""
    return hashlib.sha256(key).digest()[:KEK_ID_BYTES]


@dataclass(frozen=True)
class Kek:
    id: bytes
    cipher: AESGCM

    @property
    def label(self) -> str:
        return self.id.hex()


class Keyring:
    """The configured KEKs: the first encrypts (and is the rotation target), every one decrypts."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        by_id: dict[bytes, Kek] = {}
        for key in keys:
            kek = Kek(id=key_id(key), cipher=AESGCM(key))
            by_id.setdefault(kek.id, kek)
        if not by_id:
            raise InvalidKeyError("at least one key is required")
        self.primary = next(iter(by_id.values()))
        self._by_id = by_id

    def get(self, kek_id: bytes) -> Kek:
        try:
            return self._by_id[kek_id]
        except KeyError:
            raise UnknownKeyError(
                f"the document's key {kek_id.hex()} is not in DOCUMENT_ENCRYPTION_KEYS"
            ) from None


@lru_cache(maxsize=8)
def keyring_from(texts: tuple[str, ...]) -> Keyring:
    """A keyring from the setting's strings (parsed once per distinct value)."""
    return Keyring(decode_key(text) for text in texts if text.strip())


@dataclass(frozen=True)
class Header:
    kek_id: bytes
    wrap_nonce: bytes
    wrapped_key: bytes
    base_nonce: bytes

    def to_bytes(self) -> bytes:
        return _PREFIX + self.kek_id + self.wrap_nonce + self.wrapped_key + self.base_nonce

    @classmethod
    def parse(cls, data: bytes) -> Header:
        if not data.startswith(MAGIC):
            raise NotEncryptedError("the object is not an encrypted document")
        if len(data) < HEADER_BYTES:
            raise TamperedError("the document's header is cut short")
        if data[len(MAGIC)] != VERSION:
            raise TamperedError(f"unknown document format version {data[len(MAGIC)]}")
        fields = struct.unpack_from(f"{KEK_ID_BYTES}s{NONCE_BYTES}s48s{NONCE_BYTES}s", data, 5)
        return cls(*fields)

    @classmethod
    def wrap(cls, data_key: bytes, kek: Kek, base_nonce: bytes) -> Header:
        wrap_nonce = os.urandom(NONCE_BYTES)
        wrapped = kek.cipher.encrypt(wrap_nonce, data_key, _PREFIX + kek.id)
        return cls(kek.id, wrap_nonce, wrapped, base_nonce)

    def unwrap(self, keyring: Keyring) -> bytes:
        kek = keyring.get(self.kek_id)
        try:
            return kek.cipher.decrypt(self.wrap_nonce, self.wrapped_key, _PREFIX + self.kek_id)
        except InvalidTag:
            raise TamperedError("the document's wrapped key failed authentication") from None


def rewrap_header(data: bytes, keyring: Keyring) -> bytes | None:
    """The header re-wrapped under the primary KEK, or None if it already is.

    The data key and base nonce stay the same, so the chunks that follow remain valid.
    """
    header = Header.parse(data)
    if header.kek_id == keyring.primary.id:
        return None
    data_key = header.unwrap(keyring)
    return Header.wrap(data_key, keyring.primary, header.base_nonce).to_bytes()


def plaintext_size(stored_size: int) -> int:
    """The plaintext size of an encrypted object of `stored_size` bytes, without reading it."""
    body = stored_size - HEADER_BYTES
    if body < TAG_BYTES:
        raise TamperedError("the document is cut short")
    chunks = -(-body // _STORED_CHUNK)
    return body - chunks * TAG_BYTES


def _nonce(base: bytes, index: int) -> bytes:
    return (int.from_bytes(base, "big") ^ index).to_bytes(NONCE_BYTES, "big")


def _aad(index: int, final: bool) -> bytes:
    return _PREFIX + struct.pack(">Q?", index, final)


def _read_exactly(stream: IO[bytes] | Any, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of the stream."""
    data = stream.read(size)
    if len(data) in (0, size):
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _ChunkedStream(io.RawIOBase):
    """A read-only stream produced one chunk at a time by `_fill()`.

    `read(n)` returns n bytes unless the stream ends first, as a file does (s3transfer, for one,
    takes a short read for the end). `chunks()` hands out whole chunks without copying them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""
        self._offset = 0

    def _fill(self) -> bool:
        """Put the next chunk in the buffer; False at the end."""
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        parts = []
        wanted = size
        while wanted > 0:
            if self._offset >= len(self._buffer) and not self._fill():
                break
            piece = self._buffer[self._offset : self._offset + wanted]
            self._offset += len(piece)
            wanted -= len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readall(self) -> bytes:
        size = self._remaining_hint()
        if size is None:
            return b"".join(self.chunks())
        # Write each chunk into a buffer of the final size and free it at once: one copy of the
        # document in memory, not the pieces and their join. BytesIO hands its buffer out as
        # the result without copying it.
        out = io.BytesIO()
        if size:
            out.seek(size - 1)
            out.write(b"\0")
            out.seek(0)
        for piece in self.chunks():
            out.write(piece)
        out.truncate()
        return out.getvalue()

    def _remaining_hint(self) -> int | None:
        """The bytes left to read, if known in advance."""
        return None

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def chunks(self) -> Iterator[bytes]:
        """The rest of the stream in pieces of (at most) one chunk."""
        if self._offset < len(self._buffer):
            yield self._buffer[self._offset :]
        self._offset = len(self._buffer)
        while self._fill():
            self._offset = len(self._buffer)
            yield self._buffer


class EncryptingReader(_ChunkedStream):
    """A read-only, forward-only stream of the encrypted form of `source` (read as it goes).

    It holds at most two plaintext chunks and one encrypted chunk. Not seekable on purpose: the
    same data key and nonces must never encrypt anything else than what they first encrypted.
    """

    def __init__(self, source: IO[bytes] | Any, keyring: Keyring) -> None:
        super().__init__()
        self._source = source
        data_key = AESGCM.generate_key(bit_length=256)
        self._cipher = AESGCM(data_key)
        self._base_nonce = os.urandom(NONCE_BYTES)
        self._buffer = Header.wrap(data_key, keyring.primary, self._base_nonce).to_bytes()
        self._index = 0
        self._next: bytes | None = _read_exactly(source, CHUNK_SIZE)

    def _fill(self) -> bool:
        current = self._next
        if current is None:
            return False
        following = _read_exactly(self._source, CHUNK_SIZE)
        final = not following
        self._buffer = self._cipher.encrypt(
            _nonce(self._base_nonce, self._index), current, _aad(self._index, final)
        )
        self._offset = 0
        self._index += 1
        self._next = None if final else following
        return True


class DecryptingReader(_ChunkedStream):
    """A read-only stream of the plaintext of encrypted `raw`; checks each chunk's tag first.

    The header is read and its data key unwrapped at construction, so a missing key or a foreign
    object fails when the document is opened, before anything is returned.
    """

    def __init__(
        self, raw: IO[bytes] | Any, keyring: Keyring, stored_size: int | None = None
    ) -> None:
        super().__init__()
        self._raw = raw
        self._returned = 0
        try:
            header = Header.parse(_read_exactly(raw, HEADER_BYTES))
            self._cipher = AESGCM(header.unwrap(keyring))
            # Known from the stored size, it lets read() build the document in one buffer.
            self._size = None if stored_size is None else plaintext_size(stored_size)
            self._pending: bytes | None = _read_exactly(raw, _STORED_CHUNK)
        except BaseException:
            raw.close()
            raise
        self._base_nonce = header.base_nonce
        self._index = 0

    def _fill(self) -> bool:
        """Authenticate and decrypt the next chunk; nothing of it is returned before that."""
        block = self._pending
        if block is None:
            return False
        following = _read_exactly(self._raw, _STORED_CHUNK)
        final = not following
        if len(block) < TAG_BYTES:
            raise TamperedError("the document is cut short")
        try:
            self._buffer = self._cipher.decrypt(
                _nonce(self._base_nonce, self._index), block, _aad(self._index, final)
            )
        except InvalidTag:
            raise TamperedError(
                f"chunk {self._index} of the document failed authentication"
            ) from None
        self._offset = 0
        self._index += 1
        self._pending = None if final else following
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._returned += len(data)
        return data

    @property
    def size(self) -> int | None:
        """The plaintext's size, when the stored size was given."""
        return self._size

    def _remaining_hint(self) -> int | None:
        if self._size is None:
            return None
        return max(self._size - self._returned, 0)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()
