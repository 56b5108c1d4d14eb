"""Template tags that show an account's fax numbers on pages of lower apps (the dashboard home
belongs to `accounts`, which must not import this app)."""

from __future__ import annotations

from django import template
from django.db.models import QuerySet

from accounts.models import Account
from fax_numbers.models import FaxNumber
from fax_numbers.selectors import fax_numbers_of_account

register = template.Library()


@register.simple_tag
def account_fax_numbers(account: Account) -> QuerySet[FaxNumber]:
    """`{% account_fax_numbers account as numbers %}`: the account's numbers, oldest first."""
    return fax_numbers_of_account(account=account)
