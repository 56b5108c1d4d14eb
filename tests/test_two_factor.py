"""Two-factor login (django-otp): enrolment, the code step of login, recovery codes, replay and
throttling, turning it off, forced enrolment for accounts that require it and for staff."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Membership, Role, User
from accounts.two_factor import totp_device_pending, two_factor_enrol
from audit.models import Action as AuditAction
from audit.models import AuditEntry
from tests.factories import PASSWORD, UserFactory, member

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"
SETUP = "/accounts/two-factor/setup/"
STEP = timedelta(seconds=30)


@pytest.fixture
def clock():
    """Time stands still unless a test moves it (`clock.shift(STEP)`): TOTP codes change every
    30 seconds, and a test must not straddle a change by chance."""
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC), tick=False) as t:
        yield t


def code_for(device: TOTPDevice) -> str:
    """The code an authenticator app shows now for `device`'s secret."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def enrol(user: User, clock) -> list[str]:
    """Turn two-factor login on for `user`; returns the recovery codes. Moves the clock on a
    step, so the code used to enrol is not the one a test logs in with."""
    device = totp_device_pending(user=user)
    codes = two_factor_enrol(device=device, code=code_for(device))
    clock.shift(STEP)
    return codes


def device_of(user: User) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def password_step(email: str, path: str = LOGIN, **data: str) -> tuple[Client, object]:
    client = Client()
    response = client.post(path, {"username": email, "password": PASSWORD, **data})
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- Enrolment -----------------------------------------------------------------------------


def test_setup_shows_a_qr_code_and_the_secret(owner_client: Client, account: Account) -> None:
    page = owner_client.get(SETUP).content.decode()

    device = TOTPDevice.objects.get(user=account.owner, confirmed=False)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    assert '<div class="qr-code" id="qr-code"><svg' in page
    assert device.config_url.split("secret=")[1].split("&")[0] == secret.replace(" ", "")


def test_reloading_setup_keeps_the_secret(owner_client: Client) -> None:
    first = owner_client.get(SETUP).content.decode()
    second = owner_client.get(SETUP).content.decode()

    secret = re.compile(r'id="totp-secret">([^<]+)<')
    assert secret.search(first).group(1) == secret.search(second).group(1)


def test_a_right_code_turns_it_on_and_shows_ten_recovery_codes_once(
    owner_client: Client, account: Account, clock
) -> None:
    owner_client.get(SETUP)
    device = TOTPDevice.objects.get(user=account.owner)

    response = owner_client.post(SETUP, {"code": code_for(device)})

    page = response.content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>", page)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert len(set(codes)) == 10
    assert device_of(account.owner).pk == device.pk
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & ({code.replace("-", "") for code in codes} | set(codes))
    assert codes[0] not in owner_client.get("/accounts/two-factor/").content.decode()


def test_a_wrong_code_does_not_turn_it_on(owner_client: Client, account: Account, clock) -> None:
    owner_client.get(SETUP)

    response = owner_client.post(SETUP, {"code": "000000"})

    assert response.status_code == 400
    assert "not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=account.owner, confirmed=True).exists()


# --- Logging in ----------------------------------------------------------------------------


def test_the_password_alone_does_not_log_in(account: Account, clock) -> None:
    enrol(account.owner, clock)

    client, response = password_step(account.owner.email)

    assert response.status_code == 302
    assert response["Location"] == CODE
    assert not logged_in(client)
    assert client.get("/dashboard/faxes")["Location"].startswith(LOGIN)


def test_the_right_code_logs_in(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)

    response = client.post(CODE, {"code": code_for(device_of(account.owner))})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert logged_in(client)
    assert client.get("/dashboard/faxes").status_code == 200


def test_it_goes_on_to_the_page_asked_for(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client = Client()
    client.post(
        f"{LOGIN}?next=/dashboard/faxes",
        {"username": account.owner.email, "password": PASSWORD, "next": "/dashboard/faxes"},
    )

    response = client.post(CODE, {"code": code_for(device_of(account.owner))})

    assert response["Location"] == "/dashboard/faxes"


def test_a_wrong_code_is_refused(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)

    response = client.post(CODE, {"code": "123456"})

    assert response.status_code == 400
    assert not logged_in(client)


def test_a_replayed_code_is_refused(account: Account, clock) -> None:
    """Someone who saw a code being typed cannot use it again within its 30 seconds."""
    enrol(account.owner, clock)
    code = code_for(device_of(account.owner))
    first, _ = password_step(account.owner.email)
    first.post(CODE, {"code": code})
    assert logged_in(first)

    clock.shift(timedelta(seconds=5))
    second, _ = password_step(account.owner.email)
    response = second.post(CODE, {"code": code})

    assert response.status_code == 400
    assert "used already" in response.content.decode()
    assert not logged_in(second)


def test_a_recovery_code_logs_in_once(account: Account, clock) -> None:
    codes = enrol(account.owner, clock)
    first, _ = password_step(account.owner.email)

    used = first.post(CODE, {"code": codes[3].upper()})

    second, _ = password_step(account.owner.email)
    again = second.post(CODE, {"code": codes[3]})
    assert used.status_code == 302
    assert logged_in(first)
    assert again.status_code == 400
    assert not logged_in(second)
    assert StaticToken.objects.filter(device__user=account.owner).count() == 9


def test_wrong_codes_make_the_next_try_wait(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)
    for _ in range(3):
        client.post(CODE, {"code": "000000"})
        clock.shift(timedelta(seconds=0.5))

    right = code_for(device_of(account.owner))
    throttled = client.post(CODE, {"code": right})
    clock.shift(timedelta(seconds=4))
    later = client.post(CODE, {"code": right})

    assert throttled.status_code == 400
    assert "Too many wrong codes" in throttled.content.decode()
    assert later.status_code == 302
    assert logged_in(client)


def test_the_code_step_lasts_five_minutes(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)

    clock.shift(timedelta(minutes=5, seconds=1))
    response = client.post(CODE, {"code": code_for(device_of(account.owner))})

    assert response["Location"] == LOGIN
    assert not logged_in(client)


def test_an_open_session_must_give_a_code_once_the_user_enrols_elsewhere(
    owner_client: Client, account: Account, clock
) -> None:
    enrol(account.owner, clock)

    response = owner_client.get("/dashboard/faxes")

    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next=%2Fdashboard%2Ffaxes"
    owner_client.post(CODE, {"code": code_for(device_of(account.owner))})
    assert owner_client.get("/dashboard/faxes").status_code == 200


def test_users_without_two_factor_log_in_with_the_password(account: Account) -> None:
    client, response = password_step(account.owner.email)

    assert response["Location"] == "/dashboard/"
    assert logged_in(client)


# --- Turning it off, new recovery codes ----------------------------------------------------


def _verified(account: Account, clock) -> Client:
    client, _ = password_step(account.owner.email)
    client.post(CODE, {"code": code_for(device_of(account.owner))})
    clock.shift(STEP)
    return client


def test_turning_it_off_needs_the_password(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client = _verified(account, clock)

    response = client.post(
        "/accounts/two-factor/off/",
        {"password": "wrong", "code": code_for(device_of(account.owner))},
    )

    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=account.owner).exists()


def test_turning_it_off_needs_a_code(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client = _verified(account, clock)

    response = client.post("/accounts/two-factor/off/", {"password": PASSWORD, "code": "000000"})

    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=account.owner).exists()


def test_turning_it_off_with_password_and_code(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client = _verified(account, clock)

    response = client.post(
        "/accounts/two-factor/off/",
        {"password": PASSWORD, "code": code_for(device_of(account.owner))},
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=account.owner).exists()
    assert not StaticToken.objects.filter(device__user=account.owner).exists()
    _, login = password_step(account.owner.email)
    assert login["Location"] == "/dashboard/"


def test_new_recovery_codes_replace_the_old_ones(account: Account, clock) -> None:
    old = enrol(account.owner, clock)
    client = _verified(account, clock)

    response = client.post(
        "/accounts/two-factor/recovery-codes/", {"code": code_for(device_of(account.owner))}
    )

    new = re.findall(r"<li><code>([a-z2-7-]{14})</code></li>", response.content.decode())
    assert len(new) == 10
    clock.shift(STEP)
    other, _ = password_step(account.owner.email)
    assert other.post(CODE, {"code": old[0]}).status_code == 400
    clock.shift(timedelta(seconds=2))  # past the wait the wrong code earned
    assert other.post(CODE, {"code": new[0]}).status_code == 302


# --- Required two-factor login -------------------------------------------------------------


def test_an_owner_requires_two_factor_of_every_member(
    owner_client: Client, account: Account
) -> None:
    owner_client.post("/dashboard/two-factor", {"required": "on"})

    account.refresh_from_db()
    assert account.require_two_factor is True


def test_members_without_it_are_sent_to_enrolment_first(account: Account, clock) -> None:
    account.require_two_factor = True
    account.save()
    user = member(account, Role.VIEWER)
    client, _ = password_step(user.email)

    pages = [client.get(path) for path in ("/dashboard/", "/dashboard/faxes")]
    post = client.post("/dashboard/leave")

    assert [page["Location"] for page in pages] == [SETUP, SETUP]
    assert post["Location"] == SETUP
    assert client.get(SETUP).status_code == 200
    device = TOTPDevice.objects.get(user=user)
    client.post(SETUP, {"code": code_for(device)})
    assert client.get("/dashboard/faxes").status_code == 200


def test_members_of_accounts_that_do_not_require_it_are_not_sent(
    account: Account, other_account: Account
) -> None:
    other_account.require_two_factor = True
    other_account.save()
    client, _ = password_step(account.owner.email)

    assert client.get("/dashboard/faxes").status_code == 200


# --- Staff and the admin -------------------------------------------------------------------


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory(is_staff=True, is_superuser=True)


def test_staff_without_two_factor_are_sent_to_enrolment(staff: User) -> None:
    client, response = password_step(staff.email, path="/admin/login/")

    assert response.status_code == 302
    assert client.get("/admin/")["Location"] == SETUP
    assert client.get("/admin/accounts/account/")["Location"] == SETUP


def test_staff_give_a_code_at_the_admin_login(staff: User, clock) -> None:
    enrol(staff, clock)
    client, response = password_step(staff.email, path="/admin/login/", next="/admin/")

    assert response["Location"] == CODE
    assert not logged_in(client)
    done = client.post(CODE, {"code": code_for(device_of(staff))})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_refuses_staff_who_have_not_given_a_code(staff: User, clock) -> None:
    """Whatever the middleware does, the admin site itself demands a verified session."""
    from django.test import RequestFactory

    from accounts.admin_site import StaffAdminSite

    request = RequestFactory().get("/admin/")
    request.user = staff
    staff.is_verified = lambda: False

    assert StaffAdminSite().has_permission(request) is False


def test_the_admin_never_shows_a_users_totp_secret(staff: User, account: Account, clock) -> None:
    from tests.conftest import verified_client

    enrol(account.owner, clock)
    client = verified_client(staff)

    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    page = client.get(f"/admin/accounts/user/{account.owner.pk}/change/").content.decode()
    assert device_of(account.owner).key not in page


def test_support_turns_off_a_locked_out_users_two_factor(
    staff: User, account: Account, clock
) -> None:
    from tests.conftest import verified_client

    enrol(account.owner, clock)

    verified_client(staff).post(
        "/admin/accounts/user/",
        {"action": "two_factor_turn_off", "_selected_action": [account.owner.pk]},
    )

    assert not TOTPDevice.objects.filter(user=account.owner).exists()
    [off] = AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR_DISABLED)
    assert (off.actor_type, off.account_id) == ("staff", account.pk)


# --- Audit log -----------------------------------------------------------------------------


def audit_entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("account_id"))


def test_enrolling_is_audited_for_each_of_the_users_accounts(
    owner_client: Client, account: Account, other_account: Account, clock
) -> None:
    Membership.objects.create(account=other_account, user=account.owner, role=Role.VIEWER)
    owner_client.get(SETUP)

    owner_client.post(SETUP, {"code": code_for(TOTPDevice.objects.get(user=account.owner))})

    entries = audit_entries(AuditAction.TWO_FACTOR_ENROLLED)
    assert [e.account_id for e in entries] == sorted([account.pk, other_account.pk])
    assert {e.actor_label for e in entries} == {account.owner.email}


def test_a_recovery_code_used_is_audited_without_the_code(account: Account, clock) -> None:
    codes = enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)

    client.post(CODE, {"code": codes[0]})

    [used] = audit_entries(AuditAction.RECOVERY_CODE_USED)
    assert (used.account_id, used.details) == (account.pk, {"remaining": 9})
    assert codes[0] not in str(used.__dict__)


def test_turning_it_off_is_audited(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client = _verified(account, clock)

    client.post(
        "/accounts/two-factor/off/",
        {"password": PASSWORD, "code": code_for(device_of(account.owner))},
    )

    [off] = audit_entries(AuditAction.TWO_FACTOR_DISABLED)
    assert (off.account_id, off.actor_label) == (account.pk, account.owner.email)


def test_a_wrong_code_is_audited_as_a_failed_login(account: Account, clock) -> None:
    enrol(account.owner, clock)
    client, _ = password_step(account.owner.email)

    client.post(CODE, {"code": "000000"})

    [failed] = audit_entries(AuditAction.LOGIN_FAILED)
    assert (failed.account_id, failed.actor_label) == (account.pk, account.owner.email)
    assert failed.details == {"step": "two_factor"}
    assert "000000" not in str(failed.__dict__)


def test_new_recovery_codes_need_an_app_code_and_spend_no_recovery_code(
    account: Account, clock
) -> None:
    codes = enrol(account.owner, clock)
    client = _verified(account, clock)

    response = client.post("/accounts/two-factor/recovery-codes/", {"code": codes[0]})

    assert response.status_code == 302
    assert StaticToken.objects.filter(device__user=account.owner).count() == 10
