from __future__ import annotations

from django.http import HttpRequest

from accounts.permissions import Can


def membership(request: HttpRequest) -> dict[str, object]:
    """`membership` (the current one), `memberships` (the user's, for the account switcher) and
    `can` (`{% if can.manage_keys %}`), from what the middleware found for this request."""
    current = getattr(request, "membership", None)
    return {
        "membership": current,
        "memberships": getattr(request, "memberships", []),
        "can": Can(current),
    }
