"""The operator commands for document storage: generate_document_key, rotate_document_keys,
ensure_document_bucket (and `migrate` creating the bucket), against SeaweedFS and the filesystem."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from sendfaxmail.lib import crypto
from sendfaxmail.lib.storage import EncryptedStorage
from tests.s3 import unused_bucket

KEY_OLD = crypto.generate_key()
KEY_NEW = crypto.generate_key()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def use_backend(settings, inner: dict, keys: list[str]) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "sendfaxmail.lib.storage.EncryptedStorage",
            "OPTIONS": {"inner": inner},
        },
    }
    settings.DOCUMENT_ENCRYPTION_KEYS = keys


def kek_of(name: str) -> bytes:
    return crypto.Header.parse(default_storage.read_header(name)).kek_id


@pytest.fixture
def on_s3(settings, s3_backend: dict) -> None:
    use_backend(settings, s3_backend, [KEY_OLD])


@pytest.fixture
def on_filesystem(settings, tmp_path) -> None:
    inner = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path},
    }
    use_backend(settings, inner, [KEY_OLD])


def store(count: int) -> dict[str, bytes]:
    stored = {}
    for number in range(count):
        content = f"%PDF-1.7 document {number}".encode()
        stored[default_storage.save(f"faxes/fax_{number}.pdf", ContentFile(content))] = content
    return stored


def test_it_generates_a_new_32_byte_key_each_time() -> None:
    first, second = run("generate_document_key").strip(), run("generate_document_key").strip()

    assert len(crypto.decode_key(first)) == 32
    assert first != second


def test_rotation_rewraps_every_document_and_the_old_key_can_then_go(settings, on_s3) -> None:
    documents = store(3)
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]

    output = run("rotate_document_keys", "--batch-size", "2")

    assert "Done: 3 documents, 3 re-wrapped" in output
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW]
    for name, content in documents.items():
        assert kek_of(name) == crypto.key_id(crypto.decode_key(KEY_NEW))
        assert default_storage.open(name).read() == content


def test_rotation_rewraps_documents_on_the_filesystem(settings, on_filesystem) -> None:
    documents = store(2)
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]

    run("rotate_document_keys")

    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW]
    assert [default_storage.open(name).read() for name in documents] == list(documents.values())


def test_rotation_resumes_where_an_interrupted_run_stopped(settings, on_s3, monkeypatch) -> None:
    store(3)
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    rewrap = EncryptedStorage.rewrap
    calls = []

    def interrupted(self: EncryptedStorage, name: str) -> object:
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return rewrap(self, name)

    monkeypatch.setattr(EncryptedStorage, "rewrap", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run("rotate_document_keys", "--batch-size", "1")
    monkeypatch.setattr(EncryptedStorage, "rewrap", rewrap)

    output = run("rotate_document_keys")

    assert "Done: 3 documents, 2 re-wrapped, 1 already under the key" in output


def test_a_document_under_an_unknown_key_fails_the_rotation(settings, on_s3) -> None:
    store(1)
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW]

    with pytest.raises(CommandError, match="1 documents could not be re-wrapped"):
        run("rotate_document_keys")


@pytest.mark.parametrize("backend", ["on_s3", "on_filesystem"])
def test_rotation_leaves_a_document_deleted_meanwhile_deleted(
    backend: str, request, settings, monkeypatch
) -> None:
    request.getfixturevalue(backend)
    [name] = store(1)
    settings.DOCUMENT_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    copy = EncryptedStorage._copy_rewrapped

    def deleted_while_copying(self: EncryptedStorage, raw: object, target: object) -> bool:
        copied = copy(self, raw, target)
        self.delete(name)
        return copied

    monkeypatch.setattr(EncryptedStorage, "_copy_rewrapped", deleted_while_copying)

    output = run("rotate_document_keys")

    assert "1 deleted meanwhile" in output
    assert not default_storage.exists(name)


def test_a_document_stored_before_encryption_fails_the_rotation_with_a_hint(
    settings, on_s3, seaweed
) -> None:
    s3 = default_storage.inner
    seaweed.client().put_object(
        Bucket=s3.bucket_name, Key=f"{s3.location}/faxes/old.pdf", Body=b"%PDF-1.4 old"
    )
    errors = io.StringIO()

    with pytest.raises(CommandError):
        call_command("rotate_document_keys", stdout=io.StringIO(), stderr=errors)

    assert "faxes/old.pdf: the object is not an encrypted document" in errors.getvalue()
    assert "--encrypt-plaintext" in errors.getvalue()


@pytest.mark.parametrize("backend", ["on_s3", "on_filesystem"])
def test_rotation_can_encrypt_documents_stored_before_encryption(
    backend: str, request, settings
) -> None:
    request.getfixturevalue(backend)
    plain = b"%PDF-1.4 stored in the clear"
    [name] = store(1)
    default_storage.inner.delete(name)
    default_storage.inner.save(name, ContentFile(plain))

    output = run("rotate_document_keys", "--encrypt-plaintext")

    assert "1 encrypted (were plaintext)" in output
    assert default_storage.read_header(name).startswith(crypto.MAGIC)
    assert default_storage.open(name).read() == plain


def test_the_bucket_command_creates_the_bucket_once(settings, seaweed) -> None:
    bucket = unused_bucket()
    use_backend(
        settings,
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": seaweed.storage_options(bucket)},
        [KEY_OLD],
    )

    first, second = run("ensure_document_bucket"), run("ensure_document_bucket")

    assert (first.strip(), second.strip()) == (
        f"Bucket {bucket} created.",
        f"Bucket {bucket} exists.",
    )
    assert bucket in [entry["Name"] for entry in seaweed.client().list_buckets()["Buckets"]]


def test_the_bucket_command_says_there_is_none_on_the_filesystem(on_filesystem) -> None:
    assert "no bucket" in run("ensure_document_bucket")


@pytest.mark.django_db
def test_migrate_creates_the_configured_bucket(settings, seaweed) -> None:
    bucket = unused_bucket()
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    use_backend(
        settings,
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": seaweed.storage_options(bucket)},
        [KEY_OLD],
    )

    call_command("migrate", verbosity=0)

    seaweed.client().head_bucket(Bucket=bucket)
