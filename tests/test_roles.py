"""Roles, enforced on the server: every role × every dashboard URL × GET and POST, allowed or 403.

`RULES` says which roles may use each dashboard URL. A new dashboard view must be added here
(and be wrapped in `member_required`), or `test_every_dashboard_url_has_a_rule` fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Account, Invitation, Membership, Role
from developers.models import RequestLogEntry, WebhookEndpoint
from developers.services.webhook_deliveries import webhook_endpoint_ping
from faxes.models import Fax
from faxes.services import inbound
from tests import documents
from tests.conftest import make_key
from tests.factories import AccountFactory, FaxFactory, member

pytestmark = pytest.mark.django_db

EVERYONE = frozenset(Role.values)
SENDERS = frozenset({Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.SENDER})
DEVELOPERS = frozenset({Role.OWNER, Role.ADMIN, Role.DEVELOPER})
ADMINS = frozenset({Role.OWNER, Role.ADMIN})
OWNERS = frozenset({Role.OWNER})

# Which roles may use each dashboard URL (by name). Both GET and POST of every URL are tried.
RULES: dict[str, frozenset[str]] = {
    "dashboard:home": EVERYONE,
    "dashboard:switch": EVERYONE,
    "dashboard:leave": EVERYONE,
    "dashboard:members": ADMINS,
    "dashboard:member_role": ADMINS,
    "dashboard:member_remove": ADMINS,
    "dashboard:invitation_withdraw": ADMINS,
    "dashboard:two_factor_requirement": OWNERS,
    "faxes:dashboard_list": EVERYONE,
    "faxes:dashboard_detail": EVERYONE,
    "faxes:dashboard_page_image": EVERYONE,
    "faxes:dashboard_document": EVERYONE,
    "dashboard:settings": OWNERS,
    "faxes:dashboard_inbox": EVERYONE,
    "faxes:dashboard_send": SENDERS,
    "faxes:dashboard_send_preview": SENDERS,
    "faxes:dashboard_live": EVERYONE,
    "faxes:dashboard_cancel": SENDERS,
    "faxes:dashboard_resend": SENDERS,
    "numbers:dashboard_numbers": EVERYONE,
    "numbers:dashboard_number_email": ADMINS,
    "developers:index": DEVELOPERS,
    "developers:key_create": DEVELOPERS,
    "developers:key_revoke": DEVELOPERS,
    "developers:key_delete": DEVELOPERS,
    "developers:webhook_new": DEVELOPERS,
    "developers:webhook_detail": DEVELOPERS,
    "developers:webhook_secret": DEVELOPERS,
    "developers:webhook_edit": DEVELOPERS,
    "developers:webhook_disable": DEVELOPERS,
    "developers:webhook_enable": DEVELOPERS,
    "developers:webhook_delete": DEVELOPERS,
    "developers:webhook_rotate": DEVELOPERS,
    "developers:webhook_test": DEVELOPERS,
    "developers:webhook_ping": DEVELOPERS,
    "developers:webhook_ping_result": DEVELOPERS,
    "developers:webhook_resend": DEVELOPERS,
    "developers:logs": DEVELOPERS,
    "developers:log_detail": DEVELOPERS,
    "audit:security": ADMINS,
    "audit:security_export": ADMINS,
}


def _dashboard_patterns() -> list[tuple[str, object]]:
    """(namespace:name, view) of every URL pattern under /dashboard/."""
    found: list[tuple[str, object]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern.url_patterns, route, (inner or "").strip(":"))
            elif isinstance(pattern, URLPattern) and route.startswith("dashboard/"):
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                found.append((name, pattern.callback))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_dashboard_url_has_a_rule() -> None:
    names = {name for name, _ in _dashboard_patterns()}

    assert names - RULES.keys() == set(), "dashboard URLs without a rule in RULES"
    assert RULES.keys() - names == set(), "rules for URLs that no longer exist"


def test_every_dashboard_view_checks_the_role() -> None:
    unchecked = [name for name, view in _dashboard_patterns() if not hasattr(view, "member_action")]

    assert unchecked == [], "dashboard views not wrapped in accounts.permissions.member_required"


@dataclass
class World:
    """An account with one of everything a dashboard URL can point at."""

    account: Account
    target: Membership
    invitation: Invitation
    kwargs: dict[str, dict[str, object]]
    data: dict[str, dict[str, object]]


@pytest.fixture
def world() -> World:
    account = AccountFactory(plan_slug="business", with_number=True)
    target = Membership.objects.get(user=member(account, Role.VIEWER), account=account)
    invitation = Invitation.objects.create(
        account=account,
        email="invitee@example.com",
        role=Role.VIEWER,
        token_hash="0" * 64,
        expires_at=timezone.now() + timezone.timedelta(hours=72),
    )
    key, _ = make_key(account)
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.com/in", secret="whsec_dGVzdA=="
    )
    ping = webhook_endpoint_ping(endpoint=endpoint)
    fax = FaxFactory(account=account)
    logged = RequestLogEntry.objects.create(
        account=account,
        request_id="req_roleMatrixRequest00000",
        method="GET",
        path="/v1/numbers",
        status=200,
        duration_ms=1.0,
        created_at=timezone.now(),
    )
    webhook = {"endpoint_id": endpoint.pk}
    delivery = {"endpoint_id": endpoint.pk, "delivery_id": ping.pk}
    kwargs = {
        "dashboard:member_role": {"membership_id": target.pk},
        "dashboard:member_remove": {"membership_id": target.pk},
        "dashboard:invitation_withdraw": {"invitation_id": invitation.pk},
        "faxes:dashboard_detail": {"fax_id": fax.pk},
        "faxes:dashboard_document": {"fax_id": fax.pk},
        "faxes:dashboard_live": {"fax_id": fax.pk},
        "faxes:dashboard_cancel": {"fax_id": fax.pk},
        "faxes:dashboard_resend": {"fax_id": fax.pk},
        "numbers:dashboard_number_email": {"number_id": account.fax_numbers.get().pk},
        "developers:key_revoke": {"key_id": key.pk},
        "developers:key_delete": {"key_id": key.pk},
        **{
            f"developers:webhook_{name}": webhook
            for name in (
                "detail",
                "secret",
                "edit",
                "disable",
                "enable",
                "delete",
                "rotate",
                "test",
            )
        },
        "developers:webhook_ping": delivery,
        "developers:webhook_ping_result": delivery,
        "developers:webhook_resend": delivery,
        "developers:log_detail": {"request_id": logged.request_id},
    }
    data = {
        "dashboard:switch": {"account": account.pk},
        "dashboard:member_role": {"role": Role.SENDER},
        "dashboard:members": {"email": "new@example.com", "role": Role.VIEWER},
        "dashboard:two_factor_requirement": {"required": "on"},
        "numbers:dashboard_number_email": {"recipients": "desk@clinic.test"},
        "developers:key_create": {"name": "k", "scopes": ["faxes:read"], "mode": "live"},
    }
    return World(account, target, invitation, kwargs, data)


def _received_fax(account: Account) -> Fax:
    return inbound.inbound_fax_simulate(
        number=account.fax_numbers.get().number,
        from_="+15551230000",
        document=documents.pdf_bytes(pages=1),
        livemode=True,
    )


def _client(account: Account, role: str) -> Client:
    user = account.owner if role == Role.OWNER else member(account, role)
    client = Client()
    client.force_login(user)
    return client


CASES = [
    pytest.param(name, method, role, id=f"{name}-{method}-{role}")
    for name in RULES
    for method in ("GET", "POST")
    for role in Role.values
]


@pytest.mark.parametrize(("name", "method", "role"), CASES)
def test_role_matrix(world: World, name: str, method: str, role: str, pipeline: list) -> None:
    client = _client(world.account, role)
    kwargs = world.kwargs.get(name, {})
    if name == "faxes:dashboard_page_image":  # only a received fax has page images
        kwargs = {"fax_id": _received_fax(world.account).pk, "page_number": 1}
    url = reverse(name, kwargs=kwargs)

    response = client.get(url) if method == "GET" else client.post(url, world.data.get(name, {}))

    if role in RULES[name]:
        assert response.status_code not in (403, 404), response.content[:500]
        assert response.status_code < 500
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.SENDER, Role.VIEWER])
def test_it_hides_the_developers_page_from_roles_that_cannot_use_it(
    world: World, role: str
) -> None:
    page = _client(world.account, role).get("/dashboard/").content.decode()

    assert "/dashboard/developers" not in page
    assert "/dashboard/members" not in page


def test_it_shows_the_developers_page_to_developers(world: World) -> None:
    page = _client(world.account, Role.DEVELOPER).get("/dashboard/").content.decode()

    assert "/dashboard/developers" in page
    assert "/dashboard/members" not in page


def test_a_refused_role_changes_nothing(world: World) -> None:
    key, _ = make_key(world.account)

    response = _client(world.account, Role.SENDER).post(
        f"/dashboard/developers/keys/{key.pk}/revoke"
    )

    key.refresh_from_db()
    assert response.status_code == 403
    assert key.revoked_at is None


def test_a_user_in_no_account_gets_a_404_on_account_pages() -> None:
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory())

    assert client.get("/dashboard/faxes").status_code == 404
    assert client.get("/dashboard/").status_code == 200


def test_the_fax_page_shows_webhook_deliveries_only_to_those_who_manage_webhooks(
    world: World,
) -> None:
    url = reverse("faxes:dashboard_detail", kwargs=world.kwargs["faxes:dashboard_detail"])

    viewer = _client(world.account, Role.VIEWER).get(url).content.decode()
    developer = _client(world.account, Role.DEVELOPER).get(url).content.decode()

    assert "Webhook deliveries" not in viewer
    assert "Webhook deliveries" in developer
