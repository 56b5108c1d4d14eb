"""Who may see what on the Developers pages beyond membership of the account.

One function per permission, so that roles (owner, admin, developer, …), when they exist, change
these bodies and no view.
"""

from __future__ import annotations

from accounts.models import Account, User


def can_read_request_log(*, user: User, account: Account) -> bool:
    """The request log shows every key's traffic and idempotency keys: the account's owner only,
    for now; once roles exist, the owner, admin and developer roles."""
    return account.owner_id == user.pk
