"""What the OpenAPI schema says about authentication, rate-limit headers and errors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(
                    help_text="Stable machine code, e.g. validation_error, invalid_api_key."
                ),
                "message": serializers.CharField(help_text="A sentence saying what to fix."),
                "param": serializers.CharField(
                    allow_null=True,
                    help_text="The field at fault, e.g. `to` or `document.content`.",
                ),
            },
        )
    },
)


def _error(description: str, code: str) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(code, value={"error": {"code": code, "message": "…", "param": None}})
        ],
    )


ERROR_RESPONSES: dict[int, Any] = {
    401: _error(
        "`authentication_required` (no Bearer key) or `invalid_api_key` (malformed, unknown, "
        "revoked or deleted). Carries `WWW-Authenticate: Bearer`.",
        "invalid_api_key",
    ),
    403: _error(
        "`plan_upgrade_required` (the account's plan has no API access) or "
        "`insufficient_scope` (the key lacks the scope this route needs).",
        "plan_upgrade_required",
    ),
    429: _error(
        "`rate_limited`: the key's budget for this window is spent. `Retry-After` says how "
        "many seconds to wait.",
        "rate_limited",
    ),
}

RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=True,
        description=description,
    )
    for name, description in [
        ("RateLimit-Limit", "Requests this key may make in the current window."),
        ("RateLimit-Remaining", "Requests left in the current window."),
        ("RateLimit-Reset", "Seconds until the window resets."),
    ]
]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "developers.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sfm_live_…",
            "description": "An API key from /dashboard/developers, sent as `Bearer sfm_live_…`.",
        }
