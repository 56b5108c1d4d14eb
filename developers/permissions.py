"""The plan gate and the scope check. Views declare `required_scopes = {"GET": "faxes:read"}`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    # Imported only for hints: DRF loads these classes while rest_framework.views initialises.
    from rest_framework.views import APIView

from sendfaxmail.lib.errors import InsufficientScope, PlanUpgradeRequired


class HasApiAccess(BasePermission):
    """The key owner's *current* plan must include the API: checked on every request."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.auth.account.has_api_access:
            raise PlanUpgradeRequired()
        return True


class HasScope(BasePermission):
    """The key must carry the scope the view names for the request's method."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        # HEAD answers what GET would (minus the body), so it needs GET's scope.
        method = "GET" if request.method == "HEAD" else request.method
        required = getattr(view, "required_scopes", {}).get(method)
        if required is None:
            # A method the view does not serve: let the view answer 405.
            return True
        if not request.auth.has_scope(required):
            raise InsufficientScope(
                f"This API key lacks the '{required}' scope that this request needs. "
                "Create a key with that scope at /dashboard/developers."
            )
        return True
