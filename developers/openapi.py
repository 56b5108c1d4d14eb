"""What the OpenAPI schema says about authentication: the bearer-key scheme. The error envelope
and the headers every answer carries are described in sendfaxmail/lib/openapi.py."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
