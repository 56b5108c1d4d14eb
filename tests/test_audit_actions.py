"""Each audited action writes one entry, with the right actor, target and address, and no
secret anywhere in it."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Account, Role, User
from accounts.services import account_set_plan, plan_get
from audit.models import Action, AuditEntry
from developers.models import ApiKey, WebhookEndpoint
from developers.services import webhook_deliveries, webhook_endpoints
from tests import factories
from tests.conftest import make_key, verified_client
from tests.factories import PASSWORD, FaxFactory
from tests.receiver import Answer

pytestmark = pytest.mark.django_db

IP = "203.0.113.20"
AGENT = "Mozilla/5.0 (audit test)"
SECRET = re.compile(r"sfm_(?:live|test)_[A-Za-z0-9]{46}")
WEBHOOKS = "/dashboard/developers/webhooks"


def the_entry(action: str) -> AuditEntry:
    """The one entry of `action` (fails if there are none or several)."""
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


def text_of(entry: AuditEntry) -> str:
    fields = [str(getattr(entry, f.attname)) for f in AuditEntry._meta.fields]
    return " ".join(fields) + json.dumps(entry.details)


def browser(user: User) -> Client:
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    client.force_login(user)
    return client


@pytest.fixture
def owner(account: Account) -> Client:
    return browser(account.owner)


@pytest.fixture
def staff(db: None) -> Client:
    """Support staff, signed in with two-factor login (the admin demands it)."""
    user = User.objects.create_superuser(email="support@example.com", password="x-pw-1")
    return verified_client(user, REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)


def assert_member(entry: AuditEntry, account: Account) -> None:
    assert entry.account_id == account.pk
    assert (entry.actor_type, entry.actor_id) == ("member", str(account.owner.pk))
    assert entry.actor_label == account.owner.email
    assert (entry.ip, entry.user_agent) == (IP, AGENT)


# --- Logins ---------------------------------------------------------------------------------


def test_a_login_is_recorded_with_the_address(account: Account) -> None:
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)

    client.post("/accounts/login/", {"username": account.owner.email, "password": PASSWORD})

    assert_member(the_entry(Action.LOGIN), account)


def test_behind_a_proxy_the_login_address_is_the_one_it_forwarded(
    account: Account, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {IP}")

    client.post("/accounts/login/", {"username": account.owner.email, "password": PASSWORD})

    assert the_entry(Action.LOGIN).ip == IP


def test_a_failed_login_is_recorded_for_the_account_without_the_password(
    account: Account,
) -> None:
    Client(REMOTE_ADDR=IP).post(
        "/accounts/login/", {"username": account.owner.email, "password": "Wrong-Guess-42"}
    )

    entry = the_entry(Action.LOGIN_FAILED)
    assert (entry.account_id, entry.actor_label, entry.ip) == (account.pk, account.owner.email, IP)
    assert "Wrong-Guess-42" not in text_of(entry)


def test_a_failed_login_of_an_unknown_address_belongs_to_no_account(db: None) -> None:
    Client(REMOTE_ADDR=IP).post(
        "/accounts/login/", {"username": "nobody@example.com", "password": "x"}
    )

    entry = the_entry(Action.LOGIN_FAILED)
    assert (entry.account_id, entry.actor_type, entry.actor_label) == (
        None,
        "anonymous",
        "nobody@example.com",
    )


def test_a_password_typed_as_the_email_is_not_kept(db: None) -> None:
    Client(REMOTE_ADDR=IP).post(
        "/accounts/login/", {"username": "Hunter2-Secret!", "password": "x"}
    )

    # The login form lower-cases what was typed.
    assert "hunter2" not in text_of(the_entry(Action.LOGIN_FAILED)).lower()


def test_a_failed_admin_login_is_recorded_too(account: Account) -> None:
    Client(REMOTE_ADDR=IP).post(
        "/admin/login/", {"username": account.owner.email, "password": "wrong"}
    )

    assert the_entry(Action.LOGIN_FAILED).account_id == account.pk


def test_a_logout_is_recorded(account: Account, owner: Client) -> None:
    owner.post("/accounts/logout/")

    assert_member(the_entry(Action.LOGOUT), account)


# --- API keys -------------------------------------------------------------------------------


def test_creating_a_key_is_recorded_without_its_secret(account: Account, owner: Client) -> None:
    response = owner.post("/dashboard/developers/keys", {"name": "EHR", "scopes": ["faxes:send"]})
    secret = SECRET.search(response.content.decode()).group(0)
    key = ApiKey.objects.get(account=account)

    entry = the_entry(Action.API_KEY_CREATED)
    assert_member(entry, account)
    assert (entry.target_type, entry.target_id) == ("api_key", key.pk)
    assert entry.target_label == f"EHR ({key.prefix}…)"
    assert entry.details == {"scopes": ["faxes:send"], "livemode": True}
    assert secret not in text_of(entry)
    assert key.digest not in text_of(entry)


def test_revoking_a_key_is_recorded_once(account: Account, owner: Client) -> None:
    key, _ = make_key(account)

    owner.post(f"/dashboard/developers/keys/{key.pk}/revoke")
    owner.post(f"/dashboard/developers/keys/{key.pk}/revoke")

    entry = the_entry(Action.API_KEY_REVOKED)
    assert_member(entry, account)
    assert entry.target_id == key.pk


def test_deleting_a_key_is_recorded(account: Account, owner: Client) -> None:
    key, _ = make_key(account)

    owner.post(f"/dashboard/developers/keys/{key.pk}/delete")

    entry = the_entry(Action.API_KEY_DELETED)
    assert_member(entry, account)
    assert entry.target_id == key.pk


def test_staff_revoking_a_key_in_the_admin_is_recorded_as_staff(
    account: Account, staff: Client
) -> None:
    key, _ = make_key(account)

    staff.post("/admin/developers/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    entry = the_entry(Action.API_KEY_REVOKED)
    assert (entry.account_id, entry.actor_type, entry.actor_label) == (
        account.pk,
        "staff",
        "support@example.com",
    )


def test_a_key_made_by_the_operator_command_is_recorded_as_the_system(account: Account) -> None:
    call_command("create_api_key", account.owner.email, scopes="faxes:read", stdout=StringIO())

    entry = the_entry(Action.API_KEY_CREATED)
    assert (entry.actor_type, entry.actor_label) == ("system", "manage.py create_api_key")


# --- Webhook endpoints ----------------------------------------------------------------------


@pytest.fixture
def endpoint(account: Account, receiver) -> WebhookEndpoint:
    return webhook_endpoints.webhook_endpoint_create(
        account=account, url=receiver.url("/hook?token=t0p")
    )


def test_adding_an_endpoint_is_recorded_without_its_secret(
    account: Account, owner: Client, receiver
) -> None:
    owner.post(f"{WEBHOOKS}/new", {"url": receiver.url("/in?token=t0p"), "description": "EHR"})
    endpoint = WebhookEndpoint.objects.get(account=account)

    entry = the_entry(Action.WEBHOOK_ENDPOINT_CREATED)
    assert_member(entry, account)
    assert (entry.target_type, entry.target_id) == ("webhook_endpoint", endpoint.pk)
    assert entry.target_label == receiver.url("/in")
    assert endpoint.secret not in text_of(entry)
    assert "t0p" not in text_of(entry)


def test_changing_an_endpoint_records_which_fields_changed(
    account: Account, owner: Client, endpoint: WebhookEndpoint, receiver
) -> None:
    owner.post(
        f"{WEBHOOKS}/{endpoint.pk}/edit",
        {"url": endpoint.url, "description": "New name", "event_types": ["fax.failed"]},
    )

    entry = the_entry(Action.WEBHOOK_ENDPOINT_CHANGED)
    assert_member(entry, account)
    assert entry.details == {"changed": ["description", "event_types"]}


def test_disabling_an_endpoint_is_recorded_as_a_change(
    account: Account, owner: Client, endpoint: WebhookEndpoint
) -> None:
    owner.post(f"{WEBHOOKS}/{endpoint.pk}/disable")

    entry = the_entry(Action.WEBHOOK_ENDPOINT_CHANGED)
    assert_member(entry, account)
    assert entry.details["enabled"] is False


def test_an_endpoint_disabled_by_a_410_is_recorded_as_the_system(
    account: Account, endpoint: WebhookEndpoint, receiver
) -> None:
    from faxes.models import FaxStatus
    from faxes.services.status import fax_advance

    receiver.answer(Answer(status=410))
    fax = FaxFactory(account=account, status=FaxStatus.SENDING)
    fax_advance(fax=fax, status=FaxStatus.DELIVERED, source="test", pages_delivered=1)
    for delivery_id in webhook_deliveries.webhook_deliveries_claim():
        webhook_deliveries.webhook_delivery_attempt(delivery_id=delivery_id)

    entry = the_entry(Action.WEBHOOK_ENDPOINT_CHANGED)
    assert (entry.actor_type, entry.actor_label) == ("system", "Webhook deliveries")
    assert "410" in entry.details["reason"]


def test_revealing_the_secret_is_recorded_without_it(
    account: Account, owner: Client, endpoint: WebhookEndpoint
) -> None:
    page = owner.post(f"{WEBHOOKS}/{endpoint.pk}/secret").content.decode()

    entry = the_entry(Action.WEBHOOK_SECRET_REVEALED)
    assert endpoint.secret in page
    assert_member(entry, account)
    assert entry.target_id == endpoint.pk
    assert endpoint.secret not in text_of(entry)


def test_rotating_the_secret_is_recorded_without_either_secret(
    account: Account, owner: Client, endpoint: WebhookEndpoint
) -> None:
    owner.post(f"{WEBHOOKS}/{endpoint.pk}/rotate")
    endpoint.refresh_from_db()

    entry = the_entry(Action.WEBHOOK_SECRET_ROTATED)
    assert_member(entry, account)
    assert endpoint.secret not in text_of(entry)
    assert endpoint.previous_secret not in text_of(entry)


def test_deleting_an_endpoint_is_recorded(
    account: Account, owner: Client, endpoint: WebhookEndpoint
) -> None:
    owner.post(f"{WEBHOOKS}/{endpoint.pk}/delete")

    entry = the_entry(Action.WEBHOOK_ENDPOINT_DELETED)
    assert_member(entry, account)
    assert (entry.target_id, WebhookEndpoint.objects.count()) == (endpoint.pk, 0)


# --- Plans ----------------------------------------------------------------------------------


def test_a_plan_change_by_the_operator_command_is_recorded(account: Account) -> None:
    call_command("set_plan", account.owner.email, "enterprise", stdout=StringIO())

    entry = the_entry(Action.PLAN_CHANGED)
    assert (entry.account_id, entry.actor_type) == (account.pk, "system")
    assert entry.details == {"from": "business", "to": "enterprise"}


def test_a_plan_change_by_staff_in_the_admin_is_recorded_as_staff(
    account: Account, staff: Client
) -> None:
    staff.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "name": account.name,
            "owner": account.owner.pk,
            "new_plan": "starter",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": account.memberships.get().pk,
            "memberships-0-account": account.pk,
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
        },
    )

    account.refresh_from_db()
    entry = the_entry(Action.PLAN_CHANGED)
    assert account.plan_id == "starter"
    assert (entry.actor_type, entry.actor_label, entry.ip) == ("staff", "support@example.com", IP)
    assert entry.details == {"from": "business", "to": "starter"}


def test_a_plan_change_by_the_owner_is_recorded_as_the_member(account: Account) -> None:
    from audit.services import actor_for_user

    account_set_plan(
        account=account, plan=plan_get(slug="enterprise"), actor=actor_for_user(account.owner)
    )

    entry = the_entry(Action.PLAN_CHANGED)
    assert (entry.actor_type, entry.actor_id) == ("member", str(account.owner.pk))


# --- Staff in the admin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "target_type"),
    [
        ("accounts/account/{account}", "accounts.account"),
        ("accounts/user/{owner}", "accounts.user"),
        ("numbers/faxnumber/{number}", "numbers.faxnumber"),
        ("faxes/fax/{fax}", "faxes.fax"),
        ("developers/apikey/{key}", "developers.apikey"),
    ],
)
def test_staff_opening_an_accounts_object_is_recorded_for_that_account(
    account: Account, staff: Client, path: str, target_type: str
) -> None:
    ids = {
        "account": account.pk,
        "owner": account.owner.pk,
        "number": account.fax_numbers.get().pk,
        "fax": FaxFactory(account=account).pk,
        "key": make_key(account)[0].pk,
    }

    response = staff.get(f"/admin/{path.format(**ids)}/change/")

    entry = the_entry(Action.ADMIN_VIEWED)
    assert response.status_code == 200
    assert (entry.account_id, entry.actor_type, entry.target_type) == (
        account.pk,
        "staff",
        target_type,
    )
    assert entry.actor_label == "support@example.com"


def test_staff_opening_a_webhook_endpoint_is_recorded_without_its_query(
    account: Account, staff: Client, endpoint: WebhookEndpoint
) -> None:
    staff.get(f"/admin/developers/webhookendpoint/{endpoint.pk}/change/")

    entry = the_entry(Action.ADMIN_VIEWED)
    assert entry.account_id == account.pk
    assert "t0p" not in text_of(entry)


def test_staff_opening_a_list_is_recorded_for_no_account(account: Account, staff: Client) -> None:
    staff.get("/admin/faxes/fax/")

    entry = the_entry(Action.ADMIN_VIEWED)
    assert (entry.account_id, entry.target_type, entry.target_id) == (None, "faxes.fax", "")


def test_a_members_login_belongs_to_their_own_account(
    account: Account, other_account: Account
) -> None:
    member = factories.member(other_account, Role.VIEWER)

    Client().post("/accounts/login/", {"username": member.email, "password": PASSWORD})

    assert the_entry(Action.LOGIN).account_id == other_account.pk
