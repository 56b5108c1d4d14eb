"""Generic DRF plumbing for /v1 that knows no app: the JSON parser and renderer (orjson),
content negotiation that always answers JSON, and serializers made once per thread.

The parser reads the body straight from the request stream into one buffer. DRF's own JSONParser
goes through `request.body`, which keeps a copy of the body on Django's request for as long as
the request lives, and `json.loads` of bytes decodes them into a second copy. A document's base64
text (27 MB for 20 MB) is not turned into a Python string at all: it stays in the body's buffer as
a `LargeString`, which is decoded from there (see `LimitedJSONParser`).
"""

from __future__ import annotations

import datetime
import decimal
import re
import secrets
import threading
from collections.abc import Mapping
from typing import IO, Any, TypeVar

import orjson
from django.conf import settings
from django.db.models.query import QuerySet
from django.utils.encoding import force_str
from django.utils.functional import Promise
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from sendfaxmail.lib.errors import TOO_LARGE, InvalidJson, RequestTooLarge


class LargeString:
    """A JSON string value that the parser left in the body's bytes instead of copying it into a
    Python string: ASCII or UTF-8 text without escapes, as base64 is. `view` is its bytes."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view

    def __len__(self) -> int:
        return len(self.view)

    def __repr__(self) -> str:
        # Never the text itself: it is a customer's document.
        return f"<LargeString of {len(self.view)} bytes>"

    def as_str(self) -> str:
        """The text as a Python string (a copy): for error messages."""
        return str(self.view, "utf-8", "replace")


# The values of this key, when longer than LARGE_STRING bytes and free of escapes, are kept as
# LargeString: a document's base64 `content`. orjson needs about twice a string's size in
# passing to make a Python string of it, so for a 27 MB text the parse alone took 75 MB.
LARGE_STRING_KEY = b"content"
LARGE_STRING = 256 * 1024
_KEY_THEN_QUOTE = re.compile(rb'\s*:\s*"')


class LimitedJSONParser(BaseParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE; larger ones are a 413, not a crash.

    Not a subclass of DRF's JSONParser on purpose: for those, DRF reads `request.body` first.
    orjson refuses what `json` accepts beyond the standard (NaN, Infinity) and integers outside
    64 bits; both are `invalid_json`. A long string under LARGE_STRING_KEY comes back as a
    `LargeString` (its bytes in the body's buffer); the rest of the body is parsed as usual, with
    the string's place taken by a placeholder, so what is valid JSON does not change.
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
        raw = _read(stream, declared, limit)
        skeleton, large = _set_aside_large_strings(raw)
        try:
            data = orjson.loads(skeleton)
        except orjson.JSONDecodeError:
            raise InvalidJson() from None
        return _put_back(data, large) if large else data


def _set_aside_large_strings(raw: bytearray | bytes) -> tuple[bytes | bytearray, dict[str, Any]]:
    """The body with each large string under LARGE_STRING_KEY replaced by a placeholder string,
    and the LargeString for each placeholder.

    Unescaped quotes only delimit strings in JSON, so `"content"` followed by `:` and `"` is a key
    and its string value, which runs to the next quote when it holds no backslash. Replacing the
    text between those quotes by another text without quotes or backslashes leaves every other
    token as it was: what was valid JSON stays valid, and invalid JSON stays invalid.
    """
    if len(raw) < LARGE_STRING:
        return raw, {}
    large: dict[str, Any] = {}
    pieces: list[bytes | memoryview] = []
    view = memoryview(raw)
    done = 0
    quoted = b'"' + LARGE_STRING_KEY + b'"'
    found = raw.find(quoted)
    while found >= 0:
        after_key = found + len(quoted)
        match = _KEY_THEN_QUOTE.match(raw, after_key, after_key + 64)
        if match is not None:
            start = match.end()
            end = raw.find(b'"', start)
            if end - start >= LARGE_STRING and raw.find(b"\\", start, end) < 0:
                # Random, so that no client can send a placeholder of its own.
                placeholder = f"sfm-large-string:{len(large)}:{secrets.token_hex(16)}"
                large[placeholder] = LargeString(view[start:end])
                pieces += [view[done:start], placeholder.encode()]
                done = found = end
        found = raw.find(quoted, found + 1)
    if not large:
        return raw, {}
    pieces.append(view[done:])
    return b"".join(pieces), large


def _put_back(value: Any, large: dict[str, Any]) -> Any:
    """`value` with every placeholder string replaced by its LargeString."""
    if isinstance(value, str):
        return large.get(value, value)
    if isinstance(value, dict):
        return {key: _put_back(item, large) for key, item in value.items()}
    if isinstance(value, list):
        return [_put_back(item, large) for item in value]
    return value


# The body is read this much at a time into one buffer of its declared length, so that no
# layer below (gunicorn's reader, Django's stream) builds a copy of its own of the whole body.
READ_CHUNK = 1024 * 1024


def _read(stream: IO[bytes], declared: int, limit: int) -> bytes | bytearray:
    """The body: `declared` bytes (its Content-Length), or fewer if the client stopped early.
    A stream that gives more than `limit` bytes is a 413."""
    if declared <= 0:
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(TOO_LARGE)
        return raw
    buffer = bytearray(declared)
    filled = 0
    with memoryview(buffer) as view:
        while filled < declared:
            chunk = stream.read(min(READ_CHUNK, declared - filled))
            if not chunk:
                break
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    del buffer[filled:]
    return buffer


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


SerializerT = TypeVar("SerializerT", bound=BaseSerializer)
_per_thread = threading.local()


def serializer_of_thread(serializer_class: type[SerializerT]) -> SerializerT:
    """This thread's one instance of `serializer_class`, for the calls that keep nothing of
    their argument in the serializer: `to_representation(instance)` and `run_validation(data)`.

    DRF deep-copies a serializer's declared fields every time one is made: for the fax resource
    and the POST /v1/faxes request (which nests four serializers) that was a quarter of a send's
    Python work. Made once, the fields stay bound to this instance, which holds no request's
    data, so nothing of a body outlives its request; each thread has its own, so that requests
    served at once never share one. Not for serializers that read their context or instance.
    """
    made: dict[type, BaseSerializer] = _per_thread.__dict__.setdefault("serializers", {})
    serializer = made.get(serializer_class)
    if serializer is None:
        serializer = made[serializer_class] = serializer_class()
    return serializer  # type: ignore[return-value]
