"""EncryptedStorage on a real S3-compatible server (SeaweedFS) and on the filesystem."""

from __future__ import annotations

import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from sendfaxmail.lib import crypto
from sendfaxmail.lib.storage import EncryptedStorage
from tests import documents

FILESYSTEM = {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def raw_object(seaweed, storage: EncryptedStorage, name: str) -> bytes:
    """The object as S3 holds it, read with boto3 past our storage."""
    key = f"{storage.inner.location}/{name}"
    return seaweed.client().get_object(Bucket=storage.inner.bucket_name, Key=key)["Body"].read()


def put_raw_object(seaweed, storage: EncryptedStorage, name: str, data: bytes) -> None:
    key = f"{storage.inner.location}/{name}"
    seaweed.client().put_object(Bucket=storage.inner.bucket_name, Key=key, Body=data)


def test_it_round_trips_a_document_through_s3(s3_storage: EncryptedStorage) -> None:
    pdf = documents.pdf_bytes(pages=2)

    name = s3_storage.save("faxes/fax_1.pdf", ContentFile(pdf))

    with s3_storage.open(name) as document:
        assert document.read() == pdf
    assert s3_storage.size(name) == len(pdf)


def test_it_round_trips_a_20_mb_document_through_s3(s3_storage: EncryptedStorage) -> None:
    data = os.urandom(20_000_000)

    name = s3_storage.save("faxes/large.pdf", ContentFile(data))

    with s3_storage.open(name) as document:
        assert document.read() == data


def test_the_object_in_s3_holds_no_plaintext(s3_storage, seaweed) -> None:
    pdf = documents.pdf_bytes(pages=1)

    name = s3_storage.save("faxes/fax_2.pdf", ContentFile(pdf))

    stored = raw_object(seaweed, s3_storage, name)
    assert stored.startswith(crypto.MAGIC)
    assert b"%PDF" not in stored
    assert pdf[200:232] not in stored


def test_a_flipped_byte_in_s3_makes_reading_fail(s3_storage, seaweed) -> None:
    name = s3_storage.save("faxes/fax_3.pdf", ContentFile(documents.pdf_bytes(pages=1)))
    stored = bytearray(raw_object(seaweed, s3_storage, name))
    stored[crypto.HEADER_BYTES + 10] ^= 0x04
    put_raw_object(seaweed, s3_storage, name, bytes(stored))

    with s3_storage.open(name) as document, pytest.raises(crypto.TamperedError):
        document.read()


def test_a_missing_object_is_file_not_found(s3_storage: EncryptedStorage) -> None:
    with pytest.raises(FileNotFoundError):
        s3_storage.open("faxes/never-stored.pdf")


def test_names_never_overwrite_on_s3(s3_storage: EncryptedStorage) -> None:
    first = s3_storage.save("faxes/same.pdf", ContentFile(b"first"))
    second = s3_storage.save("faxes/same.pdf", ContentFile(b"second"))

    assert first != second
    assert s3_storage.open(first).read() == b"first"


def test_a_document_under_a_dropped_key_fails_loudly(s3_backend: dict) -> None:
    inner = s3_backend
    old_key = crypto.generate_key()
    name = EncryptedStorage(inner=inner, keys=[old_key]).save("faxes/a.pdf", ContentFile(b"x"))

    without_it = EncryptedStorage(inner=inner, keys=[crypto.generate_key()])

    with pytest.raises(crypto.UnknownKeyError, match="not in DOCUMENT_ENCRYPTION_KEYS"):
        without_it.open(name)


def test_the_filesystem_backend_is_encrypted_too(tmp_path) -> None:
    storage = EncryptedStorage(inner={**FILESYSTEM, "OPTIONS": {"location": tmp_path}})
    pdf = documents.pdf_bytes(pages=1)

    name = storage.save("faxes/fax_4.pdf", ContentFile(pdf))

    stored = (tmp_path / name).read_bytes()
    assert b"%PDF" not in stored
    assert storage.open(name).read() == pdf
    assert storage.size(name) == len(pdf)


def test_a_flipped_byte_on_the_filesystem_makes_reading_fail(tmp_path) -> None:
    storage = EncryptedStorage(inner={**FILESYSTEM, "OPTIONS": {"location": tmp_path}})
    name = storage.save("faxes/fax_5.pdf", ContentFile(documents.pdf_bytes(pages=1)))
    path = tmp_path / name
    stored = bytearray(path.read_bytes())
    stored[-1] ^= 0x01
    path.write_bytes(bytes(stored))

    with pytest.raises(crypto.TamperedError):
        storage.open(name).read()


def test_the_default_storage_encrypts_fax_documents(settings) -> None:
    name = default_storage.save("faxes/default.pdf", ContentFile(b"%PDF-1.7 page"))

    assert isinstance(default_storage._wrapped, EncryptedStorage)
    assert b"%PDF" not in (settings.MEDIA_ROOT / name).read_bytes()
    default_storage.delete(name)


def test_a_document_can_be_read_twice_through_one_file(tmp_path) -> None:
    storage = EncryptedStorage(inner={**FILESYSTEM, "OPTIONS": {"location": tmp_path}})
    name = storage.save("faxes/twice.pdf", ContentFile(b"%PDF-1.7 twice"))
    document = storage.open(name)

    first = document.read()
    document.close()
    document.open("rb")

    assert document.read() == first == b"%PDF-1.7 twice"
    assert b"".join(document.chunks()) == first


def test_documents_have_no_storage_url(s3_storage: EncryptedStorage) -> None:
    name = s3_storage.save("faxes/no-url.pdf", ContentFile(b"x"))

    with pytest.raises(NotImplementedError, match="never served"):
        s3_storage.url(name)
