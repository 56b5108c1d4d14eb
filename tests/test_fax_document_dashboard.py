"""The document on the dashboard (the owner's download) and in the admin (staff with the
download permission only), and the owner's retention setting. Every download is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Account, Role, User
from audit.models import Action, AuditEntry
from faxes.documents.compose import stamp_header
from faxes.models import Fax, FaxStatus
from faxes.services.compose import fax_header_text
from faxes.services.status import fax_advance
from tests.conftest import verified_client
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db

IP = "203.0.113.20"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


NOW = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stopped, so that a header stamped "now" is stamped with one time."""
    with time_machine.travel(NOW, tick=False):
        yield


def as_faxed(fax: Fax) -> bytes:
    """The stored document with the header line a submission now would stamp."""
    with fax.document.open("rb") as document:
        return stamp_header(document.read(), text=fax_header_text(fax, sent_at=NOW))


def downloads() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=Action.DOCUMENT_DOWNLOADED))


@pytest.fixture
def owner(account: Account) -> Client:
    client = Client(REMOTE_ADDR=IP, enforce_csrf_checks=True)
    client.force_login(account.owner)
    return client


@pytest.fixture
def viewer(account: Account) -> Client:
    client = Client()
    client.force_login(member(account, Role.VIEWER))
    return client


@pytest.fixture
def admin(account: Account) -> Client:
    client = Client()
    client.force_login(member(account, Role.ADMIN))
    return client


# --- Dashboard download ---------------------------------------------------------------------


def test_the_owner_downloads_the_pdf(owner: Client, accepted_fax: Callable, frozen: None) -> None:
    fax = accepted_fax()

    response = owner.get(f"/dashboard/faxes/{fax.pk}/document")

    assert response.status_code == 200
    assert body_of(response) == as_faxed(fax)
    assert response["Content-Disposition"] == f'attachment; filename="{fax.pk}.pdf"'
    assert response["Cache-Control"].startswith("no-store")


def test_downloads_past_the_accounts_budget_are_429_with_retry_after(
    owner: Client, accepted_fax: Callable, settings
) -> None:
    settings.DOCUMENT_DOWNLOAD_RATE = "1/m"
    fax = accepted_fax()

    assert owner.get(f"/dashboard/faxes/{fax.pk}/document").status_code == 200
    response = owner.get(f"/dashboard/faxes/{fax.pk}/document")

    assert response.status_code == 429
    assert "downloads are used up for now" in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 60
    assert len(downloads()) == 1


def test_the_owners_download_is_audited_with_their_address(
    owner: Client, account: Account, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    owner.get(f"/dashboard/faxes/{fax.pk}/document")

    [entry] = downloads()
    assert (entry.actor_type, entry.actor_label, entry.ip) == ("member", account.owner.email, IP)
    assert (entry.account_id, entry.target_id) == (account.pk, fax.pk)
    assert entry.details["via"] == "dashboard"


def test_the_fax_page_links_the_download(owner: Client, accepted_fax: Callable) -> None:
    fax = accepted_fax()

    page = owner.get(f"/dashboard/faxes/{fax.pk}").content.decode()

    assert f'href="/dashboard/faxes/{fax.pk}/document"' in page
    assert downloads() == []


def test_another_accounts_fax_is_404(owner: Client, other_account: Account) -> None:
    fax = FaxFactory(account=other_account)

    assert owner.get(f"/dashboard/faxes/{fax.pk}/document").status_code == 404
    assert downloads() == []


def test_a_viewer_downloads_too_and_is_audited(
    viewer: Client, account: Account, accepted_fax: Callable
) -> None:
    fax = accepted_fax()

    assert "/document" in viewer.get(f"/dashboard/faxes/{fax.pk}").content.decode()
    response = viewer.get(f"/dashboard/faxes/{fax.pk}/document")

    assert response.status_code == 200
    assert body_of(response).startswith(b"%PDF")
    [entry] = downloads()
    assert entry.actor_type == "member"
    assert entry.actor_label != account.owner.email


def test_the_download_is_a_get_only(owner: Client, accepted_fax: Callable) -> None:
    fax = accepted_fax()

    # A GET needs no CSRF token (the client enforces CSRF checks); anything else is refused.
    assert owner.post(f"/dashboard/faxes/{fax.pk}/document").status_code in (403, 405)
    assert owner.head(f"/dashboard/faxes/{fax.pk}/document").status_code == 405
    assert downloads() == []


def test_a_purged_document_is_410_on_the_dashboard(
    owner: Client, account: Account, accepted_fax: Callable
) -> None:
    from faxes.services.documents import fax_document_delete

    fax = accepted_fax()
    fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test")
    fax_document_delete(fax=Fax.objects.get(pk=fax.pk))

    response = owner.get(f"/dashboard/faxes/{fax.pk}/document")

    assert response.status_code == 410
    assert "deleted" in response.content.decode()
    assert "Document deleted" in owner.get(f"/dashboard/faxes/{fax.pk}").content.decode()


def test_a_fax_that_finished_without_a_document_is_404(owner: Client, account: Account) -> None:
    from faxes.models import DocumentSource

    fax = FaxFactory(account=account, document_source=DocumentSource.URL)
    fax_advance(fax=fax, status=FaxStatus.FAILED, source="test")

    assert owner.get(f"/dashboard/faxes/{fax.pk}/document").status_code == 404
    assert downloads() == []


def test_logged_out_visitors_are_sent_to_log_in(accepted_fax: Callable) -> None:
    fax = accepted_fax()

    response = Client().get(f"/dashboard/faxes/{fax.pk}/document")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- Admin download -------------------------------------------------------------------------


def staff(*permissions: str) -> Client:
    user = User.objects.create_user(email="support@example.com", password="x1", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="faxes", codename__in=permissions),
    )
    return verified_client(user, REMOTE_ADDR=IP)


def admin_url(fax: Fax) -> str:
    return f"/admin/faxes/fax/{fax.pk}/document/"


def test_staff_without_the_permission_cannot_download(accepted_fax: Callable) -> None:
    fax = accepted_fax()
    client = staff("view_fax")

    assert client.get(admin_url(fax)).status_code == 403
    assert admin_url(fax) not in client.get(f"/admin/faxes/fax/{fax.pk}/change/").content.decode()
    assert downloads() == []


def test_staff_with_the_permission_download_and_are_audited(
    account: Account, accepted_fax: Callable, frozen: None
) -> None:
    fax = accepted_fax()
    client = staff("view_fax", "download_document")

    page = client.get(f"/admin/faxes/fax/{fax.pk}/change/").content.decode()
    response = client.get(admin_url(fax))

    assert admin_url(fax) in page
    assert response.status_code == 200
    assert body_of(response) == as_faxed(fax)
    [entry] = downloads()
    assert (entry.actor_type, entry.actor_label, entry.ip) == ("staff", "support@example.com", IP)
    assert (entry.account_id, entry.target_id, entry.details["via"]) == (
        account.pk,
        fax.pk,
        "admin",
    )


def test_a_superuser_holds_the_permission(accepted_fax: Callable) -> None:
    fax = accepted_fax()
    client = verified_client(User.objects.create_superuser(email="root@example.com", password="x1"))

    assert client.get(admin_url(fax)).status_code == 200


# --- Retention setting ----------------------------------------------------------------------


def test_the_owner_changes_the_retention(owner: Client, account: Account) -> None:
    page = owner.get("/dashboard/settings")
    token = page.cookies["csrftoken"].value

    response = owner.post(
        "/dashboard/settings", {"document_retention_days": "7", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.document_retention_days == 7
    [entry] = AuditEntry.objects.filter(action=Action.RETENTION_CHANGED)
    assert (entry.actor_type, entry.ip, entry.details) == ("member", IP, {"from": 30, "to": 7})
    assert "kept 7 days" in owner.get(response["Location"]).content.decode()


@pytest.mark.parametrize("days", ["366", "-1", "seven", ""])
def test_the_form_refuses_a_bad_retention(owner: Client, account: Account, days: str) -> None:
    token = owner.get("/dashboard/settings").cookies["csrftoken"].value

    response = owner.post(
        "/dashboard/settings", {"document_retention_days": days, "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 400
    account.refresh_from_db()
    assert account.document_retention_days == 30
    assert not AuditEntry.objects.filter(action=Action.RETENTION_CHANGED).exists()


def test_the_form_needs_a_csrf_token(owner: Client, account: Account) -> None:
    response = owner.post("/dashboard/settings", {"document_retention_days": "0"})

    assert response.status_code == 403
    account.refresh_from_db()
    assert account.document_retention_days == 30


def test_only_the_owner_may_change_the_retention(admin: Client, account: Account) -> None:
    assert admin.get("/dashboard/settings").status_code == 403
    assert admin.post("/dashboard/settings", {"document_retention_days": "0"}).status_code == 403
    account.refresh_from_db()
    assert account.document_retention_days == 30
