"""Generic DRF plumbing for /v1 that knows no app: the JSON parser with a size limit, and
content negotiation that always answers JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from sendfaxmail.lib.errors import TOO_LARGE, InvalidJson, RequestTooLarge


class LimitedJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE; larger ones are a 413, not a crash."""

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise RequestTooLarge(TOO_LARGE)
        if stream is None:
            raise InvalidJson()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(TOO_LARGE)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidJson() from None


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Answer JSON whatever the Accept header says: an error is more useful than a 406."""

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser | None:
        content_type = request.content_type.split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type
