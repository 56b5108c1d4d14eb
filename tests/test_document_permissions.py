"""Documents on disk: readable by the app's own user only, and never left behind by a fax that
was not stored."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from faxes.models import Fax
from faxes.services import intake
from faxes.services import pipeline as fax_pipeline
from sendfaxmail.lib.fetch import FetchedBody
from tests import documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def document_root(settings, tmp_path: Path) -> Path:
    """A fresh, empty document root, so that folders are created by the test."""
    settings.MEDIA_ROOT = tmp_path / "documents"
    return settings.MEDIA_ROOT


def mode(path: str | Path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_an_inline_document_is_readable_by_the_app_only(document_root, accepted_fax) -> None:
    fax = accepted_fax()

    assert mode(fax.document.path) == 0o600
    assert mode(Path(fax.document.path).parent) == 0o700
    assert mode(document_root) == 0o700


def test_a_fetched_document_is_readable_by_the_app_only(
    document_root, api_client, pipeline, monkeypatch
) -> None:
    monkeypatch.setattr(
        fax_pipeline,
        "fetch",
        lambda url, **kwargs: FetchedBody(
            content=documents.pdf_bytes(), content_type="application/pdf", final_url=url
        ),
    )
    body = {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf"}
    fax_id = api_client.post_json("/v1/faxes", body).json()["id"]

    fax_pipeline.fax_fetch_document(fax_id=fax_id)

    [path] = stored_files(document_root)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_a_document_whose_send_rolls_back_is_removed(
    document_root, account, api_key, monkeypatch
) -> None:
    request = intake.FaxRequest(
        to="+15551234567",
        from_number=None,
        document=intake.InlineDocument(
            content=documents.b64(documents.pdf_bytes()), content_type="application/pdf"
        ),
        document_url=None,
        client_reference=None,
    )

    def render_fails(fax: Fax) -> dict:
        assert stored_files(document_root)  # the file was written before the failure
        raise RuntimeError("render failed")

    monkeypatch.setattr(intake, "fax_public", render_fails)
    with pytest.raises(RuntimeError, match="render failed"):
        intake.fax_accept(
            account=account,
            api_key=api_key[0],
            livemode=True,
            request=request,
            idempotency_key="key-1",
            fingerprint="f",
        )

    assert not Fax.objects.exists()
    assert stored_files(document_root) == []


def test_a_fetched_document_that_could_not_be_attached_is_removed(
    document_root, api_client, pipeline, monkeypatch
) -> None:
    monkeypatch.setattr(
        fax_pipeline,
        "fetch",
        lambda url, **kwargs: FetchedBody(
            content=documents.pdf_bytes(), content_type="application/pdf", final_url=url
        ),
    )
    body = {"to": "+15551234567", "document_url": "https://docs.example.com/a.pdf"}
    fax_id = api_client.post_json("/v1/faxes", body).json()["id"]

    def record_fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(fax_pipeline, "fax_event_record", record_fails)
    with pytest.raises(RuntimeError, match="database went away"):
        fax_pipeline.fax_fetch_document(fax_id=fax_id)

    assert Fax.objects.get(pk=fax_id).document == ""
    assert stored_files(document_root) == []
