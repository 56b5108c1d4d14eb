"""Every write to users, accounts and plans goes through these functions."""

from __future__ import annotations

import ipaddress
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import (
    DEFAULT_PLANS,
    DOCUMENT_RETENTION_MAX_DAYS,
    TRIAL_DAYS,
    TRIAL_PLAN,
    Account,
    Membership,
    Plan,
    Role,
    User,
    validate_time_zone,
)
from audit.models import Action
from audit.services import Actor, audit_record
from sendfaxmail.lib import ratelimit

EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
SIGN_UP_SALT = "accounts.sign-up"


class AccountError(Exception):
    """A request that cannot be carried out, with a message fit to show the person asking."""


class EmailLimited(AccountError):
    """The public pages have sent their budget of emails to one address, or for one client, in
    this window. `retry_after`: seconds until the window ends."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountFieldError(AccountError):
    """An AccountError about one `field` of what was asked (e.g. "time_zone")."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def email_normalize(email: str) -> str:
    """The address as it is stored (stripped, lower-case), or AccountError if it is not one."""
    email = email.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH:
        raise AccountError(
            f"'{email[:40]}…' is not a valid email address: "
            f"it has {len(email)} characters, at most {EMAIL_MAX_LENGTH} are allowed."
        )
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError(f"'{email}' is not a valid email address.") from None
    return email


def plans_ensure_defaults(*, plan_model: type[Plan] = Plan) -> None:
    """Create any of the four standard plans that is missing. The seed migration passes its
    historical model; tests that flush the database call it to put the plans back."""
    for slug, name, cents, api_access, order in DEFAULT_PLANS:
        plan_model.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "monthly_price_cents": cents,
                "api_access": api_access,
                "sort_order": order,
            },
        )


def plan_get(*, slug: str) -> Plan:
    try:
        return Plan.objects.get(slug=slug)
    except Plan.DoesNotExist:
        choices = ", ".join(Plan.objects.values_list("slug", flat=True))
        raise AccountError(f"Unknown plan '{slug}'. Choose one of: {choices}.") from None


@transaction.atomic
def account_create(
    *, email: str, password: str | None, plan: Plan, name: str = "", trial: bool = False
) -> Account:
    """Create a user and the account they own (its first owner member). `trial` starts the
    7-day sign-up trial."""
    email = email_normalize(email)
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError(f"A user with the email {email} already exists.")
    user = User.objects.create_user(email=email, password=password, name=name)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    account = Account.objects.create(
        name=name or email,
        owner=user,
        plan=plan,
        trial_ends_at=timezone.now() + timedelta(days=TRIAL_DAYS) if trial else None,
    )
    Membership.objects.create(account=account, user=user, role=Role.OWNER)
    return account


def account_email_budget_spend(*, email: str, client_ip: str | None) -> None:
    """Count one email that a public page (sign-up, password reset) is about to send to `email`
    for the client at `client_ip`; EmailLimited, and nothing counted against the address, when
    the client has had ACCOUNT_EMAIL_CLIENT_RATE emails in this window; EmailLimited when the
    address has had ACCOUNT_EMAIL_RATE.

    Anyone may ask these pages to mail any address: without a budget they could flood a
    stranger's mailbox and spend our domain's sending reputation. The budget is the same whether
    or not the address has an account, so a refusal tells nothing about who has one. A client is
    its IPv4 address or its IPv6 /64. Addresses, email and IP, are counted under a keyed digest,
    never written to Redis. If the counter is down the mail goes out (the limiter fails open and
    logs an error).
    """
    if client_ip:
        _email_budget(
            "email-client",
            _keyed(_client_network(client_ip)),
            settings.ACCOUNT_EMAIL_CLIENT_RATE,
            "Too many sign-up and password-reset emails were asked for from your network.",
        )
    _email_budget(
        "email-address",
        _keyed(email_normalize(email)),
        settings.ACCOUNT_EMAIL_RATE,
        "We have already sent several emails to this address. Check its spam folder.",
    )


def _client_network(client_ip: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 (one site's network,
    whose addresses a client can change at will)."""
    address = ipaddress.ip_address(client_ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keyed(value: str) -> str:
    """A keyed digest of `value`, to name a counter without writing an address to Redis."""
    return salted_hmac("accounts.email-budget", value).hexdigest()


def _email_budget(bucket: str, key_id: str, rate: str, refusal: str) -> None:
    usage = ratelimit.hit(bucket=bucket, key_id=key_id, rate=ratelimit.Rate.parse(rate))
    if usage is not None and not usage.allowed:
        minutes = math.ceil(usage.reset / 60)
        raise EmailLimited(
            f"{refusal} Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            retry_after=usage.reset,
        )


@dataclass(frozen=True)
class SignUpRequest:
    """What a sign-up link carries: the address it was mailed to and the name given."""

    email: str
    name: str


def account_sign_up_request(*, email: str, name: str, site_url: str, client_ip: str | None) -> None:
    """Self-service sign-up, step one: mail the address, and tell the caller nothing.

    A new address is mailed a link (to `site_url`) where its owner chooses a password and the
    account is created (step two, `account_sign_up`). An address that already has an account is
    mailed a note saying so, with links to log in and reset the password. Either way one mail
    goes out and nothing is returned, so the sign-up page cannot reveal who has an account, and
    nothing is stored until the mailbox's owner follows the link. EmailLimited, and no mail, once
    the address or the client (`client_ip`) has had its budget of emails.
    """
    email = email_normalize(email)
    account_email_budget_spend(email=email, client_ip=client_ip)
    if User.objects.filter(email__iexact=email).exists():
        template = "registration/sign_up_existing_email.txt"
        subject = "You already have a SendFaxMail account"
        context = {
            "login_url": site_url + reverse("login"),
            "reset_url": site_url + reverse("password_reset"),
        }
    else:
        token = signing.dumps({"email": email, "name": name}, salt=SIGN_UP_SALT, compress=True)
        template = "registration/sign_up_email.txt"
        subject = "Finish signing up for SendFaxMail"
        context = {
            "confirm_url": site_url + reverse("signup_confirm", kwargs={"token": token}),
            "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        }
    send_mail(subject, render_to_string(template, context), None, [email])


def sign_up_request_read(*, token: str) -> SignUpRequest:
    """The request a sign-up link carries, or AccountError if the link was altered, has expired
    (links last as long as password-reset links, PASSWORD_RESET_TIMEOUT) or was used already."""
    try:
        data = signing.loads(token, salt=SIGN_UP_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature:
        raise AccountError("This sign-up link is invalid or has expired.") from None
    if User.objects.filter(email__iexact=data["email"]).exists():
        raise AccountError("This address has an account already: log in instead.")
    return SignUpRequest(email=data["email"], name=data["name"])


def account_sign_up(*, email: str, password: str, name: str = "") -> Account:
    """Self-service sign-up, step two (from the mailed link): the account starts a 7-day trial
    of the Business plan, no card needed. AccountError if the address has an account."""
    return account_create(
        email=email, password=password, name=name, plan=plan_get(slug=TRIAL_PLAN), trial=True
    )


@transaction.atomic
def account_set_plan(*, account: Account, plan: Plan, actor: Actor | None = None) -> Account:
    """Move the account to `plan` at once. A plan change ends the trial (it is now a paid plan).
    `actor` (the owner, staff; the system if None) is who the audit log says changed it."""
    previous = account.plan_id
    account.plan = plan
    account.trial_ends_at = None
    account.save(update_fields=["plan", "trial_ends_at"])
    audit_record(
        action=Action.PLAN_CHANGED,
        account_id=account.pk,
        actor=actor,
        target_type="account",
        target_id=account.pk,
        target_label=account.name,
        details={"from": previous, "to": plan.pk},
    )
    return account


def account_trial_end_check(*, account: Account) -> None:
    """AccountError unless the account has a sign-up trial whose end may be moved: running, or
    ended without a plan being chosen. A paid plan has no trial to change."""
    if account.trial_ends_at is None:
        raise AccountError(
            "This account is on a paid plan and has no trial to change. Choose a plan instead."
        )


def account_set_trial_end(*, account: Account, ends_at: datetime) -> Account:
    """Move the end of the account's sign-up trial to `ends_at`: later to extend it (an ended
    trial starts again), now or earlier to end it. AccountError for an account on a paid plan."""
    account_trial_end_check(account=account)
    account.trial_ends_at = ends_at
    account.save(update_fields=["trial_ends_at"])
    return account


def document_retention_check(days: int) -> int:
    """`days` if it is a whole number of days the retention may be set to, else AccountError."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise AccountError("The retention is a whole number of days.")
    if not 0 <= days <= DOCUMENT_RETENTION_MAX_DAYS:
        raise AccountError(
            f"Keep documents from 0 to {DOCUMENT_RETENTION_MAX_DAYS} days "
            "(0 deletes each one as soon as its fax has finished)."
        )
    return days


@transaction.atomic
def account_set_document_retention(
    *, account: Account, days: int, actor: Actor | None = None
) -> Account:
    """Keep the account's documents `days` days after their fax finished (0: delete at once;
    AccountError outside 0..DOCUMENT_RETENTION_MAX_DAYS). It applies to every document still
    stored, the next time the retention purge runs (each minute). A change is audited (`actor`,
    the system if None); setting the same value again records nothing."""
    document_retention_check(days)
    previous = (
        Account.objects.select_for_update()
        .values_list("document_retention_days", flat=True)
        .get(pk=account.pk)
    )
    account.document_retention_days = days
    if previous == days:
        return account
    Account.objects.filter(pk=account.pk).update(document_retention_days=days)
    audit_record(
        action=Action.RETENTION_CHANGED,
        account_id=account.pk,
        actor=actor,
        target_type="account",
        target_id=account.pk,
        target_label=account.name,
        details={"from": previous, "to": days},
    )
    return account


# The account's name is the business name on every page's header line (47 U.S.C. § 227), where
# `header_text` has at most 60 characters too: longer, it would crowd "Page n/N" off the line.
ACCOUNT_NAME_MAX_LENGTH = 60


def header_unprintable(text: str) -> str:
    """The characters of `text` the header line cannot print, each once, in order. Its font
    (reportlab's Helvetica, WinAnsi-encoded) has the Latin letters, accents included, digits and
    common punctuation; it would draw any other character, and control characters, as a black
    box, so that a business name in another script would be faxed unreadable."""
    unprintable = ""
    for character in text:
        if character in unprintable:
            continue
        try:
            character.encode("cp1252")
        except UnicodeEncodeError:
            unprintable += character
        else:
            if unicodedata.category(character) == "Cc":
                unprintable += character
    return unprintable


def header_unprintable_message(unprintable: str, *, where: str = "The fax header line") -> str:
    """What to tell someone whose text for the header line (or the cover page, `where`, set in
    the same font) has these `unprintable` characters."""
    shown = ", ".join(
        character if character.isprintable() else f"U+{ord(character):04X}"
        for character in unprintable
    )
    return (
        f"{where} cannot print {shown}: its font has Latin letters (with accents), digits and "
        "punctuation only. Write it with those."
    )


def account_profile_check(*, name: str, time_zone: str) -> tuple[str, str]:
    """The name (stripped) and time zone if the account may take them, else AccountFieldError
    naming the field at fault."""
    name = name.strip()
    if not name:
        raise AccountFieldError(
            "Give the account a name: the business name faxes carry.", field="name"
        )
    if len(name) > ACCOUNT_NAME_MAX_LENGTH:
        raise AccountFieldError(
            f"The name has {len(name)} characters; at most {ACCOUNT_NAME_MAX_LENGTH} fit on the "
            "header line of a fax.",
            field="name",
        )
    unprintable = header_unprintable(name)
    if unprintable:
        raise AccountFieldError(header_unprintable_message(unprintable), field="name")
    try:
        validate_time_zone(time_zone)
    except ValidationError as error:
        raise AccountFieldError(error.messages[0], field="time_zone") from None
    return name, time_zone


@transaction.atomic
def account_set_profile(
    *, account: Account, name: str, time_zone: str, actor: Actor | None = None
) -> Account:
    """Rename the account (its business name on the faxes' header line and cover page) and set
    its time zone (the header's date and time, the dashboard's days). AccountFieldError for an
    empty or too long name or an unknown zone. A change is audited with what changed (`actor`, the
    system if None); saving the same values records nothing."""
    name, time_zone = account_profile_check(name=name, time_zone=time_zone)
    previous = Account.objects.select_for_update().values("name", "time_zone").get(pk=account.pk)
    wanted = {"name": name, "time_zone": time_zone}
    changes = {
        field: {"from": previous[field], "to": value}
        for field, value in wanted.items()
        if previous[field] != value
    }
    account.name, account.time_zone = name, time_zone
    if not changes:
        return account
    Account.objects.filter(pk=account.pk).update(**wanted)
    audit_record(
        action=Action.ACCOUNT_CHANGED,
        account_id=account.pk,
        actor=actor,
        target_type="account",
        target_id=account.pk,
        target_label=name,
        details=changes,
    )
    return account


def account_get_by_email(*, email: str) -> Account:
    """The account of the user with this email (for operator commands): the oldest they own, or
    else the oldest they are a member of. AccountError if there is none."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise AccountError(f"No user with the email {email}.")
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("account__plan")
        .order_by("created_at", "id")
    )
    if not memberships:
        raise AccountError(f"The user {email} belongs to no account.")
    owned = [m for m in memberships if m.role == Role.OWNER]
    return (owned or memberships)[0].account


def login_unlock(*, email: str | None = None, ip_address: str | None = None) -> int:
    """Lift login lockouts: forget the failed log-ins recorded for `email` (from any address)
    and/or from `ip_address` (for any email). Returns how many records were cleared."""
    cleared = 0
    if email is not None:
        cleared += AxesProxyHandler.reset_attempts(username=email_normalize(email))
    if ip_address is not None:
        cleared += AxesProxyHandler.reset_attempts(ip_address=ip_address)
    return cleared
