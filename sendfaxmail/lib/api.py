"""Generic DRF plumbing for /v1 that knows no app: the JSON parser and renderer (orjson), and
content negotiation that always answers JSON.

The parser reads the body straight from the request stream and hands the bytes to orjson. DRF's
own JSONParser goes through `request.body`, which keeps a copy of the body on Django's request for
as long as the request lives, and `json.loads` of bytes first decodes them into a second copy: for
a 20 MB document (27 MB of base64) that was two extra copies of the body at once.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from django.db.models.query import QuerySet
from django.utils.encoding import force_str
from django.utils.functional import Promise
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from sendfaxmail.lib.errors import TOO_LARGE, InvalidJson, RequestTooLarge


class LimitedJSONParser(BaseParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE; larger ones are a 413, not a crash.

    Not a subclass of DRF's JSONParser on purpose: for those, DRF reads `request.body` first.
    orjson refuses what `json` accepts beyond the standard (NaN, Infinity) and integers outside
    64 bits; both are `invalid_json`.
    """

    media_type = "application/json"

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
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidJson() from None


def _default(value: Any) -> Any:
    """What orjson cannot serialise itself (it writes datetimes and UUIDs), as DRF's JSON encoder
    would write it."""
    if isinstance(value, Promise):
        return force_str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return str(value.total_seconds())
    if isinstance(value, QuerySet):
        return list(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (set, frozenset, tuple)) or hasattr(value, "__iter__"):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class JSONRenderer(BaseRenderer):
    """Compact UTF-8 JSON with orjson, several times faster than `json.dumps`."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_default)


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Answer JSON whatever the Accept header says: an error is more useful than a 406."""

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser | None:
        content_type = request.content_type.split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type
