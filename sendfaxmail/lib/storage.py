"""Document storage: every object is encrypted (sendfaxmail/lib/crypto.py) before it is stored.

`EncryptedStorage` wraps the configured backend (STORAGES["default"]["OPTIONS"]["inner"]): the
local filesystem by default, django-storages' S3 backend when AWS_STORAGE_BUCKET_NAME is set.
Names, listing, existence and deletion are the inner backend's; `save()` stores ciphertext and
`open()` returns a read-only File that decrypts as it is read, so `fax.document.save/open` stay
as they were. `size()` is the plaintext size, computed from the stored size without reading.
Nothing is ever served from a storage URL: `url()` refuses.

Only two inner backends are supported, FileSystemStorage and S3Storage: reading a stream,
reading a header, replacing an object in place (rotation) and listing lazily are done with each
one's own means, so that documents stream through a chunk at a time in both directions.

Errors: a missing object is FileNotFoundError; one that cannot be decrypted raises a
DocumentCryptoError subclass (crypto.py), when it is opened (header, key) or read (chunks).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from enum import Enum
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from sendfaxmail.lib import crypto

logger = logging.getLogger(__name__)

# Bytes of a replaced object kept in memory before the copy spills to a temporary file.
SPOOL_BYTES = 2 * 1024 * 1024


class _Prepended:
    """`first` followed by the rest of `stream`, as one readable stream."""

    def __init__(self, first: bytes, stream: IO[bytes] | Any) -> None:
        self._first = first
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._first:
            return self._stream.read(size)
        if size < 0:
            data, self._first = self._first + self._stream.read(), b""
            return data
        data, self._first = self._first[:size], self._first[size:]
        return data


def storage_outage_errors() -> tuple[type[BaseException], ...]:
    """The exceptions by which the storage backend says it could not be reached or could not
    answer (botocore's ClientError and BotoCoreError, e.g. EndpointConnectionError): worth
    retrying later, unlike a missing object (FileNotFoundError) or an undecryptable one
    (DocumentCryptoError)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a requirement
        return ()
    return (BotoCoreError, ClientError)


class RewrapOutcome(Enum):
    REWRAPPED = "rewrapped"
    ENCRYPTED = "encrypted"  # was stored before encryption, now encrypted
    CURRENT = "current"  # already under the first key
    GONE = "gone"  # deleted or changed while it was being rewritten: left as it is


def _s3_backend(storage: Storage) -> bool:
    # No import of storages.backends.s3 (and boto3) unless it is the configured backend.
    module = sys.modules.get("storages.backends.s3")
    return module is not None and isinstance(storage, module.S3Storage)


def _s3_status(error: Exception) -> int | None:
    return getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")


class _Ciphertext(File):
    """A document's encrypted form on its way to the inner backend, produced as it is read."""

    # Never labelled with the document's own type (S3Storage takes the object's from here).
    content_type = "application/octet-stream"

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        # Whole encrypted chunks as they come (FileSystemStorage writes these), no re-slicing.
        return self.file.chunks()


class EncryptedFile(File):
    """A stored document opened for reading: decrypts as it is read, one chunk at a time."""

    def __init__(self, storage: EncryptedStorage, name: str) -> None:
        self._storage = storage
        super().__init__(storage.open_plaintext(name), name)
        self.mode = "rb"
        self._position = 0

    @cached_property
    def size(self) -> int:
        return self._storage.size(self.name)

    def read(self, size: int | None = -1) -> bytes:
        data = self.file.read(size)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # Django's File.chunks() and FieldFile re-opening rewind first; rewinding an untouched
        # stream is free, and anything else reopens it from the start.
        if (offset, whence) != (0, os.SEEK_SET):
            raise OSError("an encrypted document can only be rewound to its start")
        if self._position:
            self.open()
        return 0

    def open(self, mode: str | None = None) -> EncryptedFile:
        if mode not in (None, "rb"):
            raise ValueError("Documents open read-only, in mode 'rb'.")
        if not self.closed:
            self.file.close()
        self.file = self._storage.open_plaintext(self.name)
        self._position = 0
        return self


class EncryptedStorage(Storage):
    """Encrypts on save, decrypts on open; the inner backend holds only ciphertext."""

    def __init__(self, inner: dict[str, Any] | None = None, keys: list[str] | None = None) -> None:
        spec = inner or {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        self.inner: Storage = import_string(spec["BACKEND"])(**spec.get("OPTIONS", {}))
        if not isinstance(self.inner, FileSystemStorage) and not _s3_backend(self.inner):
            raise ImproperlyConfigured(
                "EncryptedStorage wraps FileSystemStorage or storages.backends.s3.S3Storage, "
                f"not {spec['BACKEND']}."
            )
        self._keys = keys

    @property
    def keyring(self) -> crypto.Keyring:
        """The KEKs given to this instance, else DOCUMENT_ENCRYPTION_KEYS (read on each use)."""
        keys = self._keys if self._keys is not None else settings.DOCUMENT_ENCRYPTION_KEYS
        return crypto.keyring_from(tuple(keys))

    # --- Django's storage API -------------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        if name is None:
            name = content.name
        if not hasattr(content, "chunks"):
            content = File(content, name)
        if hasattr(content, "seek") and getattr(content, "seekable", lambda: True)():
            content.seek(0)
        encrypted = _Ciphertext(crypto.EncryptingReader(content, self.keyring), name)
        return self.inner.save(name, encrypted, max_length=max_length)

    def _open(self, name: str, mode: str = "rb") -> EncryptedFile:
        if mode != "rb":
            raise ValueError("Documents open read-only, in mode 'rb'.")
        return EncryptedFile(self, name)

    def size(self, name: str) -> int:
        return crypto.plaintext_size(self.inner.size(name))

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.inner.get_available_name(name, max_length=max_length)

    def get_valid_name(self, name: str) -> str:
        return self.inner.get_valid_name(name)

    def generate_filename(self, filename: str) -> str:
        return self.inner.generate_filename(filename)

    def path(self, name: str) -> str:
        return self.inner.path(name)

    def get_modified_time(self, name: str) -> Any:
        return self.inner.get_modified_time(name)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Documents are never served from a storage URL.")

    # --- Reading, rewriting and listing with the inner backend's own means ---------------------

    def _key(self, name: str) -> str:
        from storages.utils import clean_name

        return self.inner._normalize_name(clean_name(name))

    def _open_raw(self, name: str) -> tuple[IO[bytes] | Any, str | None, int]:
        """The stored bytes as a stream, the S3 ETag they had (None on a filesystem), and their
        size."""
        if not _s3_backend(self.inner):
            stored = self.inner.open(name, "rb")
            return stored, None, os.fstat(stored.fileno()).st_size
        from botocore.exceptions import ClientError

        try:
            answer = self.inner.bucket.Object(self._key(name)).get()
        except ClientError as error:
            if _s3_status(error) == 404:
                raise FileNotFoundError(f"No stored document {name}") from None
            raise
        return answer["Body"], answer["ETag"], answer["ContentLength"]

    def open_plaintext(self, name: str) -> crypto.DecryptingReader:
        """A decrypting stream of the document `name`, streamed from the backend."""
        raw, _etag, stored_size = self._open_raw(name)
        return crypto.DecryptingReader(raw, self.keyring, stored_size=stored_size)

    def read_header(self, name: str) -> bytes:
        """The first bytes of the stored object, enough for its header (a ranged GET on S3)."""
        if not _s3_backend(self.inner):
            with self.inner.open(name, "rb") as stored:
                return stored.read(crypto.HEADER_BYTES)
        from botocore.exceptions import ClientError

        try:
            answer = self.inner.bucket.Object(self._key(name)).get(
                Range=f"bytes=0-{crypto.HEADER_BYTES - 1}"
            )
        except ClientError as error:
            if _s3_status(error) == 404:
                raise FileNotFoundError(f"No stored document {name}") from None
            raise
        with answer["Body"] as body:
            return body.read()

    def rewrap(self, name: str) -> RewrapOutcome:
        """Re-wrap the data key of `name` under the first KEK; the chunks are copied unchanged.

        The object is replaced whole and atomically (S3 PUT, or a rename on a filesystem) and
        only if it is still the one that was read (If-Match on S3, the same inode on a
        filesystem), so a document deleted meanwhile stays deleted. Safe to run again. An object
        without our header raises NotEncryptedError.
        """
        if crypto.rewrap_header(self.read_header(name), self.keyring) is None:
            return RewrapOutcome.CURRENT
        return self._rewrite(name, self._copy_rewrapped, RewrapOutcome.REWRAPPED)

    def encrypt_plaintext(self, name: str) -> RewrapOutcome:
        """Encrypt in place an object stored before documents were encrypted (no header), with
        the same atomic, conditional replacement as `rewrap`."""
        if self.read_header(name).startswith(crypto.MAGIC):
            return RewrapOutcome.CURRENT
        return self._rewrite(name, self._copy_encrypted, RewrapOutcome.ENCRYPTED)

    def _rewrite(
        self, name: str, transform: Callable[[Any, IO[bytes]], bool], done: RewrapOutcome
    ) -> RewrapOutcome:
        if _s3_backend(self.inner):
            return self._rewrite_s3(name, transform, done)
        return self._rewrite_file(name, transform, done)

    def _rewrite_s3(
        self, name: str, transform: Callable[[Any, IO[bytes]], bool], done: RewrapOutcome
    ) -> RewrapOutcome:
        from botocore.exceptions import ClientError

        raw, etag, _size = self._open_raw(name)
        with raw, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
            if not transform(raw, copy):
                return RewrapOutcome.CURRENT
            copy.seek(0)
            try:
                self.inner.bucket.Object(self._key(name)).put(
                    Body=copy, IfMatch=etag or "", ContentType="application/octet-stream"
                )
            except ClientError as error:
                if _s3_status(error) in (404, 409, 412):
                    return RewrapOutcome.GONE
                raise
        return done

    def _rewrite_file(
        self, name: str, transform: Callable[[Any, IO[bytes]], bool], done: RewrapOutcome
    ) -> RewrapOutcome:
        path = self.inner.path(name)
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".rewrite-")
        try:
            with open(path, "rb") as raw, os.fdopen(descriptor, "wb") as copy:
                if not transform(raw, copy):
                    return RewrapOutcome.CURRENT
                copy.flush()
                os.fsync(copy.fileno())
                os.chmod(temporary, os.fstat(raw.fileno()).st_mode & 0o777)
                # Replace only the file that was read: one deleted meanwhile stays deleted.
                try:
                    still_there = os.stat(path).st_ino == os.fstat(raw.fileno()).st_ino
                except FileNotFoundError:
                    still_there = False
                if not still_there:
                    return RewrapOutcome.GONE
                os.replace(temporary, path)
        except FileNotFoundError:
            return RewrapOutcome.GONE
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return done

    def _copy_rewrapped(self, raw: IO[bytes] | Any, copy: IO[bytes]) -> bool:
        """Write `raw` to `copy` with its header re-wrapped; False if it needs no re-wrap."""
        new_header = crypto.rewrap_header(raw.read(crypto.HEADER_BYTES), self.keyring)
        if new_header is None:
            return False
        copy.write(new_header)
        while block := raw.read(crypto.CHUNK_SIZE):
            copy.write(block)
        return True

    def _copy_encrypted(self, raw: IO[bytes] | Any, copy: IO[bytes]) -> bool:
        """Write the encrypted form of plaintext `raw` to `copy`; False if it is encrypted."""
        start = raw.read(crypto.HEADER_BYTES)
        if start.startswith(crypto.MAGIC):
            return False
        for piece in crypto.EncryptingReader(_Prepended(start, raw), self.keyring).chunks():
            copy.write(piece)
        return True

    def iter_names(self) -> Iterator[str]:
        """Every stored object's name, listed lazily (S3 pages of 1000, a directory walk)."""
        if _s3_backend(self.inner):
            client = self.inner.connection.meta.client
            prefix = self._key("")
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.inner.bucket_name, Prefix=prefix
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    yield entry["Key"][len(prefix) :]
            return
        root = self.inner.location
        for directory, folders, files in os.walk(root):
            folders.sort()
            for file_name in sorted(files):
                if not file_name.startswith(".rewrite-"):
                    yield os.path.relpath(os.path.join(directory, file_name), root).replace(
                        os.sep, "/"
                    )

    def ensure_bucket(self) -> str:
        """Create the S3 bucket if it is missing. Returns what was done, for the operator."""
        if not _s3_backend(self.inner):
            return f"Documents are stored on the filesystem under {self.inner.location}; no bucket."
        from botocore.exceptions import ClientError

        client = self.inner.connection.meta.client
        bucket = self.inner.bucket_name
        try:
            client.head_bucket(Bucket=bucket)
            return f"Bucket {bucket} exists."
        except ClientError as error:
            if _s3_status(error) != 404:
                raise
        options: dict[str, Any] = {}
        region = self.inner.region_name
        if region and region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            client.create_bucket(Bucket=bucket, **options)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
            return f"Bucket {bucket} exists."
        logger.info("Created the document bucket %s", bucket)
        return f"Bucket {bucket} created."
