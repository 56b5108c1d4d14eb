"""With a bucket, processes on different machines share documents through S3 and nothing else:
each process here has its own document folder and only the S3 settings and key in common."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from faxes.models import FaxStatus
from sendfaxmail.lib.storage import EncryptedStorage
from tests import documents

ROOT = Path(__file__).resolve().parent.parent


def other_machine(seaweed, bucket: str, folder: Path, code: str) -> str:
    """Run `code` in `manage.py shell` with production settings as another machine would: its
    own (empty) document folder, the same database, bucket and document key."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "sendfaxmail.settings",
        "SENDFAXMAIL_ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "API_KEY_PEPPER": secrets.token_urlsafe(32),
        "DOCUMENT_ENCRYPTION_KEYS": os.environ["DOCUMENT_ENCRYPTION_KEYS"],
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DOCUMENT_ROOT": str(folder),
        "LOG_LEVEL": "WARNING",
        **seaweed.environment(bucket),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def bucket_as_default_storage(settings, seaweed, s3_bucket: str) -> str:
    """This process stores documents in the bucket's root, as settings.py sets it up."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "sendfaxmail.lib.storage.EncryptedStorage",
            "OPTIONS": {
                "inner": {
                    "BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": seaweed.storage_options(s3_bucket),
                }
            },
        },
    }
    return s3_bucket


def test_a_document_saved_by_one_process_is_read_by_another(seaweed, s3_bucket, tmp_path) -> None:
    pdf = documents.pdf_bytes(pages=2)
    (tmp_path / "pdf").write_bytes(pdf)

    name = other_machine(
        seaweed,
        s3_bucket,
        tmp_path / "documents",
        "from django.core.files.base import ContentFile;"
        "from django.core.files.storage import default_storage as d;"
        f"print(d.save('faxes/x.pdf', ContentFile(open('{tmp_path / 'pdf'}', 'rb').read())))",
    )

    here = EncryptedStorage(
        inner={
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": seaweed.storage_options(s3_bucket),
        }
    )
    assert here.open(name).read() == pdf
    assert not (tmp_path / "documents").exists() or not any((tmp_path / "documents").iterdir())


@pytest.mark.django_db(transaction=True)
def test_a_fax_sent_here_is_submitted_by_another_process(
    bucket_as_default_storage: str, accepted_fax, seaweed, tmp_path, settings
) -> None:
    fax = accepted_fax()

    answer = other_machine(
        seaweed,
        bucket_as_default_storage,
        tmp_path / "worker-documents",
        "import hashlib; from faxes.models import Fax;"
        "from faxes.services.pipeline import fax_submit_to_carrier;"
        f"fax_submit_to_carrier(fax_id='{fax.id}'); fax = Fax.objects.get(pk='{fax.id}');"
        "print(fax.status, hashlib.sha256(fax.document.open('rb').read()).hexdigest())",
    )

    fax.refresh_from_db()
    assert fax.status == FaxStatus.SENDING
    assert answer.split() == [FaxStatus.SENDING, fax.document_sha256]
    assert not (Path(settings.MEDIA_ROOT) / fax.document.name).exists()
    assert hashlib.sha256(fax.document.open("rb").read()).hexdigest() == fax.document_sha256


def test_the_bucket_setting_makes_s3_the_document_storage(seaweed, s3_bucket, tmp_path) -> None:
    backend = other_machine(
        seaweed,
        s3_bucket,
        tmp_path / "documents",
        "from django.core.files.storage import default_storage as d; s3 = d.inner;"
        "print(type(d._wrapped).__name__, type(d.inner).__name__, d.inner.bucket_name,"
        " d.inner.default_acl, d.inner.file_overwrite, d.inner.client_config.s3)",
    )

    assert backend == (
        f"EncryptedStorage S3Storage {s3_bucket} None False {{'addressing_style': 'path'}}"
    )
