"""The audit log in the admin: staff read every account's entries; nobody adds, changes or
deletes one there."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from audit.models import Action, ActorType, AuditEntry
from audit.services import Actor, audit_record
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db

LIST = "/admin/audit/auditentry/"


@pytest.fixture
def staff_client(db: None) -> Client:
    """Support staff, signed in with two-factor login (the admin demands it)."""
    return verified_client(
        User.objects.create_superuser(email="support@example.com", password="x1")
    )


@pytest.fixture
def entry(db: None) -> AuditEntry:
    return audit_record(
        action=Action.API_KEY_CREATED,
        account_id=41,
        actor=Actor(type=ActorType.MEMBER, id="9", label="owner@clinic.test"),
        target_type="api_key",
        target_id="key_abc",
        target_label="EHR (sfm_live_abcd…)",
    )


def test_staff_see_every_accounts_entries(staff_client: Client, entry: AuditEntry) -> None:
    other = audit_record(action=Action.LOGIN, account_id=42, actor=Actor.system("other"))

    page = staff_client.get(LIST).content.decode()

    assert "owner@clinic.test" in page
    assert f"/admin/audit/auditentry/{other.pk}/change/" in page


def test_staff_find_entries_by_actor(staff_client: Client, entry: AuditEntry) -> None:
    audit_record(action=Action.LOGIN, actor=Actor(type=ActorType.MEMBER, label="else@x.test"))

    page = staff_client.get(LIST, {"q": "owner@clinic"}).content.decode()

    assert "owner@clinic.test" in page
    assert "else@x.test" not in page


def test_an_entrys_page_is_read_only(staff_client: Client, entry: AuditEntry) -> None:
    page = staff_client.get(f"{LIST}{entry.pk}/change/").content.decode()

    assert "owner@clinic.test" in page
    assert 'name="actor_label"' not in page
    assert 'name="_save"' not in page


def test_the_admin_cannot_change_an_entry(staff_client: Client, entry: AuditEntry) -> None:
    response = staff_client.post(
        f"{LIST}{entry.pk}/change/", {"actor_label": "someone else", "action": "logout"}
    )

    assert response.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).actor_label == "owner@clinic.test"


def test_the_admin_cannot_delete_an_entry(staff_client: Client, entry: AuditEntry) -> None:
    response = staff_client.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_cannot_delete_entries_in_bulk(staff_client: Client, entry: AuditEntry) -> None:
    staff_client.post(
        LIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_cannot_add_an_entry(staff_client: Client) -> None:
    response = staff_client.post(
        f"{LIST}add/", {"action": "login", "actor_type": "system", "details": "{}"}
    )

    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action=Action.LOGIN, actor_type="system").exists()


def test_customers_cannot_open_the_log_in_the_admin(owner_client: Client) -> None:
    assert owner_client.get(LIST).status_code == 302
