"""The shared library as an app: it has no models. Its `ready` registers the `<id:>` URL
converter every app's routes use (before any URLconf loads), the deploy checks (`checks.py`),
the idle-logoff stamp on sign-in (`sessions.py`) and the hook that creates the document bucket
after `migrate`; it also carries the document storage commands (`ensure_document_bucket`,
`generate_document_key`, `rotate_document_keys`)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.urls import register_converter

from sendfaxmail.lib.ids import IdConverter


class LibConfig(AppConfig):
    name = "sendfaxmail.lib"
    label = "sendfaxmail_lib"
    verbose_name = "SendFaxMail library"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        # Importing the module registers its checks.
        from sendfaxmail.lib import checks  # noqa: F401
        from sendfaxmail.lib.sessions import stamp_session_on_login

        register_converter(IdConverter, "id")
        post_migrate.connect(ensure_bucket_after_migrate, dispatch_uid="ensure_document_bucket")
        user_logged_in.connect(stamp_session_on_login, dispatch_uid="sendfaxmail-idle-timeout")


# post_migrate is sent once per app with models; the bucket is checked once per process.
_checked_buckets: set[tuple[str | None, str]] = set()


def ensure_bucket_after_migrate(*, verbosity: int = 1, stdout: Any = None, **kwargs: Any) -> None:
    """`migrate` creates the document bucket when one is configured (never a request)."""
    from django.conf import settings
    from django.core.files.storage import storages

    bucket = getattr(settings, "AWS_STORAGE_BUCKET_NAME", "")
    target = (getattr(settings, "AWS_S3_ENDPOINT_URL", None), bucket)
    if not bucket or target in _checked_buckets:
        return
    outcome = storages["default"].ensure_bucket()
    _checked_buckets.add(target)
    if verbosity >= 1 and stdout is not None:
        stdout.write(f"  {outcome}")
