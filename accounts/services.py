"""Every write to users, accounts and plans goes through these functions."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import DEFAULT_PLANS, TRIAL_DAYS, TRIAL_PLAN, Account, Plan, User


class AccountError(Exception):
    """A request that cannot be carried out, with a message fit to show the person asking."""


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
    """Create a user and the account they own. `trial` starts the 7-day sign-up trial."""
    email = email.strip().lower()
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
    user.account = account
    user.save(update_fields=["account"])
    return account


def account_sign_up(*, email: str, password: str, name: str = "") -> Account:
    """Self-service sign-up: the trial gives the Business plan for 7 days, no card needed."""
    return account_create(
        email=email, password=password, name=name, plan=plan_get(slug=TRIAL_PLAN), trial=True
    )


def account_set_plan(*, account: Account, plan: Plan) -> Account:
    """Move the account to `plan` at once. A plan change ends the trial (it is now a paid plan)."""
    account.plan = plan
    account.trial_ends_at = None
    account.save(update_fields=["plan", "trial_ends_at"])
    return account


def account_get_by_email(*, email: str) -> Account:
    """The account of the user with this email, or AccountError."""
    user = User.objects.select_related("account__plan").filter(email__iexact=email.strip()).first()
    if user is None:
        raise AccountError(f"No user with the email {email}.")
    if user.account is None:
        raise AccountError(f"The user {email} belongs to no account.")
    return user.account
