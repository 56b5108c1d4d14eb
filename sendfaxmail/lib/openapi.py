"""What the OpenAPI schema says about every /v1 answer: the error envelope, the rate-limit and
other response headers, the list envelope. Shared by every app's API; what is about keys (the
bearer scheme) is `developers/openapi.py`'s."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
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
                "request_id": serializers.CharField(
                    help_text=(
                        "The request's id, `req_…`, the same as the `Request-Id` header. "
                        "Quote it to support; it opens the request in Developers → Logs."
                    ),
                ),
            },
        )
    },
)


def constant(value: str) -> dict[str, Any]:
    """The schema of a string that is always `value`, such as a resource's `object`.

    The enum is wrapped in `allOf` so that drf-spectacular's enum hook leaves it inline: it would
    otherwise try to name one `ObjectEnum` component per value, and they would collide.
    """
    return {"allOf": [{"type": "string", "enum": [value]}]}


def error_response(description: str, code: str) -> OpenApiResponse:
    """An error answer: the envelope, with `code` as its example."""
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={
                    "error": {
                        "code": code,
                        "message": "…",
                        "param": None,
                        "request_id": "req_3kTqVb9xY2mWcN8pLr5sJd1a",
                    }
                },
            )
        ],
    )


ERROR_RESPONSES: dict[int, Any] = {
    401: error_response(
        "`authentication_required` (no Bearer key) or `invalid_api_key` (malformed, unknown, "
        "revoked or deleted). Carries `WWW-Authenticate: Bearer`.",
        "invalid_api_key",
    ),
    403: error_response(
        "`plan_upgrade_required` (the account's plan has no API access) or "
        "`insufficient_scope` (the key lacks the scope this route needs).",
        "plan_upgrade_required",
    ),
    429: error_response(
        "`rate_limited`: the key's budget for this window is spent. `Retry-After` says how "
        "many seconds to wait.",
        "rate_limited",
    ),
}

_RATE_LIMITS = [
    ("RateLimit-Limit", "Requests this key may make in the current window."),
    ("RateLimit-Remaining", "Requests left in the current window."),
    ("RateLimit-Reset", "Seconds until the window resets."),
]


def response_header(
    name: str,
    description: str,
    *,
    statuses: list[int],
    schema: Any = OpenApiTypes.INT,
    required: bool = False,
    enum: list[str] | None = None,
) -> OpenApiParameter:
    """A header sent on the answers with `statuses`; `required` when those answers always carry
    it."""
    return OpenApiParameter(
        name,
        schema,
        OpenApiParameter.HEADER,
        response=statuses,
        required=required,
        description=description,
        enum=enum,
    )


def response_headers(*counted: int, retry_after: tuple[int, ...] = ()) -> list[OpenApiParameter]:
    """The headers of a /v1 operation's answers.

    `counted` are the operation's statuses, besides 429, that are decided after the throttle has
    counted the request: they carry `RateLimit-*` (optional, since the limiter fails open when
    Redis is down). 401 and 403 are decided before the throttle and carry none. `Retry-After` is
    always on 429, and on the `retry_after` statuses; `WWW-Authenticate` always on 401;
    `Request-Id` always, on every answer.
    """
    return [
        *(
            response_header(name, description, statuses=[*counted, 429])
            for name, description in _RATE_LIMITS
        ),
        response_header(
            "Retry-After",
            "Seconds to wait before retrying.",
            statuses=[*retry_after, 429],
            required=True,
        ),
        response_header(
            "WWW-Authenticate",
            'Always `Bearer realm="api"`.',
            statuses=[401],
            schema=OpenApiTypes.STR,
            required=True,
        ),
        response_header(
            "Request-Id",
            "The request's id, `req_…` (also `request_id` in an error body).",
            statuses=sorted({*counted, *retry_after, 401, 403, 429}),
            schema=OpenApiTypes.STR,
            required=True,
        ),
    ]


class ListEnvelopeSerializer(serializers.Serializer):
    # The envelope of every list, `{"object": "list", "data": [...]}`, for the schema only: views
    # build the dict themselves. A comment, not a docstring, so that subclasses that say nothing
    # do not inherit it as their description.

    object = serializers.SerializerMethodField()

    @extend_schema_field(constant("list"))
    def get_object(self, instance: Any) -> str:
        return "list"
