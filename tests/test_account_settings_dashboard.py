"""/dashboard/settings: the account's name (the business name on the header line) and time
zone, beside the document retention; for owners, audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import Account, Role
from accounts.services import AccountFieldError, account_set_profile
from audit.models import Action, AuditEntry
from faxes.services.compose import fax_header_text
from tests.factories import FaxFactory, member

pytestmark = pytest.mark.django_db

URL = "/dashboard/settings"
IP = "203.0.113.21"


@pytest.fixture
def owner(account: Account) -> Client:
    client = Client(REMOTE_ADDR=IP, enforce_csrf_checks=True)
    client.force_login(account.owner)
    return client


def post(client: Client, **fields: str) -> object:
    token = client.get(URL).cookies["csrftoken"].value
    data = {"form": "profile", "name": "Acme Clinic", "time_zone": "America/Chicago", **fields}
    return client.post(URL, {**data, "csrfmiddlewaretoken": token})


def test_the_page_shows_the_name_and_time_zone(owner: Client, account: Account) -> None:
    page = owner.get(URL).content.decode()

    assert re.search(rf'name="name" value="{account.name}"', page)
    assert 'name="time_zone" value="America/New_York"' in page


def test_the_owner_renames_the_account_and_sets_its_time_zone(
    owner: Client, account: Account
) -> None:
    response = post(owner, name="  Acme Clinic ", time_zone="America/Chicago")

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.time_zone) == ("Acme Clinic", "America/Chicago")
    assert "faxes now carry “Acme Clinic”" in owner.get(response["Location"]).content.decode()


def test_the_change_is_in_the_audit_log(owner: Client, account: Account) -> None:
    before = account.name

    post(owner, name="Acme Clinic", time_zone="America/New_York")

    [entry] = AuditEntry.objects.filter(action=Action.ACCOUNT_CHANGED)
    assert (entry.account_id, entry.actor_type, entry.ip) == (account.pk, "member", IP)
    assert entry.details == {"name": {"from": before, "to": "Acme Clinic"}}


def test_saving_the_same_values_records_nothing(owner: Client, account: Account) -> None:
    post(owner, name=account.name, time_zone=account.time_zone)

    assert not AuditEntry.objects.filter(action=Action.ACCOUNT_CHANGED).exists()


def test_the_header_line_carries_the_new_name_and_zone(owner: Client, account: Account) -> None:
    post(owner, name="Acme Clinic", time_zone="America/Los_Angeles")
    fax = FaxFactory(account=Account.objects.get(pk=account.pk))

    text = fax_header_text(fax, sent_at=datetime(2026, 11, 30, 20, 5, tzinfo=UTC))

    assert text.startswith("2026-11-30 12:05 PST   Acme Clinic   Fax +1555")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "is not a time zone name"),
        ({"time_zone": "../../etc/passwd"}, "time_zone", "is not a time zone name"),
        ({"time_zone": ""}, "time_zone", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "N" * 61}, "name", "at most 60 characters"),
        ({"name": "诊所 Clinic"}, "name", "The fax header line cannot print 诊, 所:"),
        ({"name": "Acme\tClinic"}, "name", "cannot print U+0009:"),
    ],
)
def test_it_refuses_bad_input_with_the_forms_message(
    owner: Client, account: Account, fields: dict[str, str], field: str, message: str
) -> None:
    name, zone = account.name, account.time_zone

    response = post(owner, **fields)

    assert response.status_code == 400
    shown = re.search(rf'id="id_{field}_error"><li>([^<]*)</li>', response.content.decode())
    assert message in shown.group(1)
    account.refresh_from_db()
    assert (account.name, account.time_zone) == (name, zone)
    assert not AuditEntry.objects.filter(action=Action.ACCOUNT_CHANGED).exists()


def test_a_name_with_accents_is_faxed_as_it_is(owner: Client, account: Account) -> None:
    post(owner, name="Clínica Señor – Müller & Søn", time_zone="Europe/Paris")

    account.refresh_from_db()
    assert account.name == "Clínica Señor – Müller & Søn"


def test_the_form_needs_a_csrf_token(owner: Client, account: Account) -> None:
    response = owner.post(URL, {"form": "profile", "name": "X", "time_zone": "UTC"})

    assert response.status_code == 403
    account.refresh_from_db()
    assert account.time_zone == "America/New_York"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DEVELOPER, Role.SENDER, Role.VIEWER])
def test_only_owners_change_the_account(account: Account, role: str) -> None:
    client = Client()
    client.force_login(member(account, role))

    response = client.post(URL, {"form": "profile", "name": "Taken over", "time_zone": "UTC"})

    assert response.status_code == 403
    account.refresh_from_db()
    assert account.name != "Taken over"


def test_saving_the_name_leaves_the_retention_alone(owner: Client, account: Account) -> None:
    post(owner, document_retention_days="0")

    account.refresh_from_db()
    assert account.document_retention_days == 30


def test_the_service_names_the_field_at_fault(account: Account) -> None:
    with pytest.raises(AccountFieldError) as refused:
        account_set_profile(account=account, name="Acme", time_zone="Nowhere/City")

    assert refused.value.field == "time_zone"


def test_sign_up_holds_the_name_to_what_fits_on_the_header_line(client: Client) -> None:
    response = client.post("/accounts/signup/", {"name": "N" * 61, "email": "new@example.com"})

    assert response.status_code == 400
    assert "at most 60 characters" in response.content.decode()


def test_sign_up_refuses_a_name_the_header_line_cannot_print(client: Client) -> None:
    response = client.post("/accounts/signup/", {"name": "Клиника", "email": "new@example.com"})

    assert response.status_code == 400
    assert "The fax header line cannot print К, л, и, н, к, а:" in response.content.decode()
