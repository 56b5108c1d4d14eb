"""The Telnyx client: the only module that speaks to Telnyx.

Telnyx has no idempotency key on `POST /faxes`, so sending the same request twice sends two faxes.
This client therefore never retries anything itself (no urllib3 `Retry`, no redirects) and tells
its caller precisely what a failure means:

- `CarrierUnavailable`: nothing was done (429, 503, or the connection failed before the request
  left). Safe to try again, after `retry_after` seconds when Telnyx said so.
- `CarrierOutcomeUnknown`: the request may have reached Telnyx (a read timeout, a connection
  dropped after sending, a 500/502/504, an unreadable 2xx). Only `send_fax` raises it; the caller
  must reconcile with `find_faxes` before sending again.
- `CarrierRejected`: Telnyx refused the request (4xx other than 408 and 429). Trying again will not
  help.

For calls that are safe to repeat (reads, media uploads), failures that may have reached
Telnyx are reported as `CarrierUnavailable`: repeating them cannot do harm.

Logs carry the method, the path, the status and Telnyx's error code and title; never the API key,
query parameters (phone numbers) or document bytes.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from sendfaxmail.lib.http import seconds_from_header

logger = logging.getLogger(__name__)

# Telnyx documents a 20 MB media limit; decimal megabytes is the stricter reading.
MAX_MEDIA_BYTES = 20 * 1000 * 1000
CONNECT_TIMEOUT = 5.0
FIND_PAGE_SIZE = 100
FIND_MAX_PAGES = 10
_MAX_CLIENT_STATE_CHARS = 128
_USER_AGENT = "SendFaxMail/0.1 (+python-requests)"


class CarrierError(Exception):
    """Telnyx did not do what was asked. `message` is safe to log and to show to operators."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class CarrierUnavailable(CarrierError):
    """Nothing was created: 429, 503, or the connection failed before the request was sent.

    Safe to retry. `retry_after` is the wait in seconds Telnyx asked for (from `Retry-After` or
    `x-ratelimit-reset`), or None when it did not say.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class CarrierOutcomeUnknown(CarrierError):
    """The request may have reached Telnyx: reconcile before sending again."""


class CarrierRejected(CarrierError):
    """Telnyx refused the request for good (422 invalid input, 401, 403, 404...).

    `detail` is Telnyx's first error detail (or title); `code` and `pointer` are that error's code
    and `source.pointer` when given. `status_code` is None when this client refused the request
    itself before sending it (a document over the media size limit).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None,
        detail: str,
        code: str | None = None,
        pointer: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.detail = detail
        self.code = code
        self.pointer = pointer


@dataclass(frozen=True)
class CarrierFax:
    """A fax as Telnyx describes it. Fields Telnyx leaves out are None."""

    id: str
    status: str
    to: str | None
    from_: str | None
    client_state: str | None
    created_at: str | None
    page_count: int | None
    failure_reason: str | None
    media_url: str | None = None  # a received fax's signed media link, valid about 10 minutes


@dataclass(frozen=True)
class _TelnyxErrorBody:
    code: str | None
    title: str | None
    detail: str | None
    pointer: str | None


# TelnyxClient.from_settings()'s client of each thread, with the settings it was built from.
_per_thread = threading.local()


class TelnyxClient:
    """One Telnyx account, reached through one `requests.Session` that never retries."""

    name = "telnyx"

    def __init__(
        self, *, api_key: str, api_base: str, connection_id: str, timeout: float = 20.0
    ) -> None:
        """Raise `ValueError` for an empty key or connection id, a base URL that is not
        http(s)://host[/path], or a timeout outside (0, 60) seconds."""
        if not api_key or not connection_id:
            raise ValueError("A Telnyx API key and connection id are required.")
        if not 0 < timeout < 60:
            raise ValueError("The Telnyx timeout must be between 0 and 60 seconds.")
        self._api_base = _checked_api_base(api_base)
        self._connection_id = connection_id
        self._timeouts = (min(CONNECT_TIMEOUT, timeout), timeout)
        self._session = _new_session(api_key=api_key)

    @classmethod
    def from_settings(cls) -> TelnyxClient:
        """The client for TELNYX_API_KEY, TELNYX_API_BASE and TELNYX_CONNECTION_ID: one per
        thread while those settings stay the same, so that its connections to Telnyx (a TLS
        handshake each) are reused from one fax to the next. urllib3 does not reuse a connection
        that Telnyx closed meanwhile."""
        from django.conf import settings

        key = (settings.TELNYX_API_KEY, settings.TELNYX_API_BASE, settings.TELNYX_CONNECTION_ID)
        cached = getattr(_per_thread, "client", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None:
            cached[1].close()
        client = cls(api_key=key[0], api_base=key[1], connection_id=key[2])
        _per_thread.client = (key, client)
        return client

    def close(self) -> None:
        """Release the pooled connections (a client replaced by one for new settings)."""
        self._session.close()

    def upload_media(self, *, name: str, content: bytes, ttl_secs: int = 3600) -> str:
        """Store `content` at Telnyx under `name` for `ttl_secs` seconds; return the media name.

        Telnyx keys media by name, so give each upload attempt its own name. Raises
        `CarrierRejected` (documents over `MAX_MEDIA_BYTES` without sending anything) or
        `CarrierUnavailable`; never `CarrierOutcomeUnknown`, as a stray upload is harmless.
        """
        if not name or not content or ttl_secs <= 0:
            raise ValueError("A media name, some content and a positive ttl_secs are required.")
        if len(content) > MAX_MEDIA_BYTES:
            message = f"The document is larger than Telnyx's {MAX_MEDIA_BYTES} byte media limit."
            raise CarrierRejected(message, status_code=None, detail=message)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = self._request(
            "POST",
            "/media",
            ambiguous=CarrierUnavailable,
            files={"media": (name, content, content_type)},
            data={"media_name": name, "ttl_secs": str(ttl_secs)},
        )
        data = _json_member(response, "data", ambiguous=CarrierUnavailable)
        media_name = data.get("media_name") if isinstance(data, dict) else None
        return media_name if isinstance(media_name, str) and media_name else name

    def send_fax(
        self, *, to: str, from_: str, media_name: str, client_state: str, webhook_url: str
    ) -> CarrierFax:
        """Ask Telnyx to send one fax (one POST, never retried) and return it as queued.

        `to` and `from_` are E.164; `client_state` must already be base64 (see
        `encode_client_state`), else `ValueError` is raised before anything is sent. Raises
        `CarrierUnavailable`, `CarrierOutcomeUnknown` or `CarrierRejected` as the module says.
        """
        if not _b64decode_strict(client_state):
            raise ValueError("client_state must be base64; use encode_client_state().")
        body = {
            "connection_id": self._connection_id,
            "from": from_,
            "to": to,
            "media_name": media_name,
            "client_state": client_state,
            "webhook_url": webhook_url,
        }
        response = self._request("POST", "/faxes", ambiguous=CarrierOutcomeUnknown, json=body)
        return _fax_from_response(response, ambiguous=CarrierOutcomeUnknown)

    def get_fax(self, fax_id: str) -> CarrierFax:
        """Return Telnyx's current view of one fax. A fax Telnyx does not know is a 404
        `CarrierRejected`."""
        response = self._request("GET", f"/faxes/{_segment(fax_id)}", ambiguous=CarrierUnavailable)
        return _fax_from_response(response, ambiguous=CarrierUnavailable)

    def cancel_fax(self, fax_id: str) -> None:
        """Ask Telnyx to cancel one outbound fax (`POST /faxes/{id}/actions/cancel`).

        Telnyx answers 202 when it accepts the command; the fax then ends with a `fax.failed`
        event. A fax past `sending` (or unknown) is a 422 (or 404) `CarrierRejected`. Repeating
        a cancel does no harm, so an answer we cannot trust is `CarrierUnavailable`.
        """
        self._request(
            "POST", f"/faxes/{_segment(fax_id)}/actions/cancel", ambiguous=CarrierUnavailable
        )

    def refresh_media_url(self, fax_id: str) -> str | None:
        """Renew a received fax's expired media link (`POST /faxes/{id}/actions/refresh`) and
        return the new one from `GET /faxes/{id}` (None when Telnyx gives none). Raises
        `CarrierRejected` (say, a fax Telnyx no longer holds) or `CarrierUnavailable`."""
        self._request(
            "POST", f"/faxes/{_segment(fax_id)}/actions/refresh", ambiguous=CarrierUnavailable
        )
        return self.get_fax(fax_id).media_url

    def find_faxes(self, *, to: str, created_after: datetime) -> list[CarrierFax]:
        """Return every fax to `to` created at or after `created_after` (timezone-aware).

        The bound is rounded down to the second, so the window can only grow. Follows pages up to
        `FIND_MAX_PAGES`; beyond that it raises `CarrierError` rather than answer incompletely,
        because a caller reconciling a send must not conclude that a fax is missing.
        """
        params = {
            "filter[to][eq]": to,
            "filter[created_at][gte]": _iso_utc_seconds(created_after),
            "page[size]": str(FIND_PAGE_SIZE),
        }
        faxes: list[CarrierFax] = []
        for page in range(1, FIND_MAX_PAGES + 1):
            page_faxes, is_last = self._find_page(params={**params, "page[number]": str(page)})
            faxes.extend(page_faxes)
            if is_last:
                return faxes
        raise CarrierError(f"More than {FIND_MAX_PAGES} pages of faxes to reconcile.")

    def _find_page(self, *, params: dict[str, str]) -> tuple[list[CarrierFax], bool]:
        """Return one page of `GET /faxes` and whether it is the last one."""
        response = self._request("GET", "/faxes", ambiguous=CarrierUnavailable, params=params)
        items = _json_member(response, "data", ambiguous=CarrierUnavailable)
        if not isinstance(items, list):
            raise CarrierUnavailable("Telnyx answered GET /faxes without a list of faxes.")
        faxes = [_fax_or_raise(item, ambiguous=CarrierUnavailable) for item in items]
        meta = _json_member(response, "meta", ambiguous=CarrierUnavailable, required=False)
        total_pages = meta.get("total_pages") if isinstance(meta, dict) else None
        if isinstance(total_pages, int):
            return faxes, int(params["page[number]"]) >= total_pages
        # Without pagination metadata, only a short page proves there is nothing more.
        return faxes, len(items) < FIND_PAGE_SIZE

    def _request(
        self, method: str, path: str, *, ambiguous: type[CarrierError], **kwargs: Any
    ) -> requests.Response:
        """Send one request and return its 2xx response, or raise the matching `CarrierError`.

        `ambiguous` is what to raise when the request may have been acted upon without an
        answer we can trust: `CarrierOutcomeUnknown` for sends, `CarrierUnavailable` otherwise.
        """
        try:
            response = self._session.request(
                method,
                self._api_base + path,
                timeout=self._timeouts,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise _transport_error(method, path, exc, ambiguous=ambiguous) from exc
        if 200 <= response.status_code < 300:
            logger.info("Telnyx %s %s answered %s", method, path, response.status_code)
            return response
        raise _status_error(method, path, response, ambiguous=ambiguous)


def encode_client_state(our_fax_id: str) -> str:
    """Return `our_fax_id` as Telnyx wants client_state: base64 of its UTF-8 bytes."""
    return base64.b64encode(our_fax_id.encode()).decode("ascii")


def decode_client_state(value: str | None) -> str | None:
    """Return the id inside a client_state, or None when it is absent or not one of ours.

    Only strict base64 of printable UTF-8 text up to 128 characters counts, so junk (including
    NUL bytes, which PostgreSQL refuses in text) never reaches a database lookup.
    """
    raw = _b64decode_strict(value) if value else None
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.isprintable() or len(text) > _MAX_CLIENT_STATE_CHARS:
        return None
    return text


def _new_session(*, api_key: str) -> requests.Session:
    session = requests.Session()
    # The environment must not inject proxies or a ~/.netrc login in place of our API key.
    session.trust_env = False
    # No retries at the HTTP layer: a retried POST /faxes is a second fax. With `read=False`,
    # urllib3 re-raises failures after sending as they are, which keeps them distinguishable
    # from connection failures (wrapped in MaxRetryError).
    adapter = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
    )
    return session


def _checked_api_base(api_base: str) -> str:
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError("TELNYX_API_BASE must look like https://api.telnyx.com/v2.")
    return api_base.rstrip("/")


def _segment(value: str) -> str:
    """Quote an id for use as one path segment, so it cannot reach another endpoint."""
    if not value:
        raise ValueError("A Telnyx fax id is required.")
    return quote(value, safe="")


def _iso_utc_seconds(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("created_after must be timezone-aware.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _never_sent(exc: requests.RequestException) -> bool:
    """True only when the request certainly never left: the connection was not established.

    requests raises ConnectionError both for refused connections and for connections dropped
    mid-exchange; only the urllib3 cause tells them apart. Anything unrecognised (TLS errors, bare
    ConnectionErrors, protocol errors) counts as possibly sent.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    # NewConnectionError (refused, unreachable, DNS failure) subclasses ConnectTimeoutError.
    return isinstance(cause, (NewConnectionError, ConnectTimeoutError))


def _transport_error(
    method: str, path: str, exc: requests.RequestException, *, ambiguous: type[CarrierError]
) -> CarrierError:
    if _never_sent(exc):
        logger.warning("Telnyx %s %s not sent: %s", method, path, type(exc).__name__)
        return CarrierUnavailable(f"Could not connect to Telnyx for {method} {path}.")
    logger.warning("Telnyx %s %s got no usable answer: %s", method, path, type(exc).__name__)
    return ambiguous(f"Telnyx gave no usable answer to {method} {path} ({type(exc).__name__}).")


def _status_error(
    method: str, path: str, response: requests.Response, *, ambiguous: type[CarrierError]
) -> CarrierError:
    status = response.status_code
    error = _error_body(response)
    log_args = (method, path, status, error.code, error.title)
    logger.warning("Telnyx %s %s answered %s (code=%s, title=%s)", *log_args)
    summary = error.detail or error.title or f"HTTP {status}"
    message = f"Telnyx answered {method} {path} with {status}: {summary}"
    # 408 means Telnyx gave up waiting for the request before acting on it.
    if status in (408, 429, 503):
        retry_after = _retry_after(response.headers)
        return CarrierUnavailable(message, status_code=status, retry_after=retry_after)
    if 400 <= status < 500:
        return CarrierRejected(
            message, status_code=status, detail=summary, code=error.code, pointer=error.pointer
        )
    return ambiguous(message, status_code=status)


def _error_body(response: requests.Response) -> _TelnyxErrorBody:
    """Read the first entry of Telnyx's `{"errors": [...]}`; every field may be missing."""
    try:
        errors = response.json().get("errors")
        first = errors[0] if isinstance(errors, list) and errors else {}
    except (ValueError, AttributeError):
        first = {}
    if not isinstance(first, dict):
        first = {}
    source = first.get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return _TelnyxErrorBody(
        code=_str_or_none(first.get("code")),
        title=_str_or_none(first.get("title")),
        detail=_str_or_none(first.get("detail")),
        pointer=_str_or_none(pointer),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or HTTP date) or else `x-ratelimit-reset`."""
    now = time.time()
    for name in ("Retry-After", "x-ratelimit-reset"):
        seconds = seconds_from_header(headers.get(name), now=now)
        if seconds is not None:
            return seconds
    return None


def _json_member(
    response: requests.Response,
    name: str,
    *,
    ambiguous: type[CarrierError],
    required: bool = True,
) -> Any:
    """Return `name` from a 2xx JSON object body, raising `ambiguous` when it cannot be read."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or (required and name not in payload):
        message = f"Telnyx answered {response.status_code} with an unreadable body."
        raise ambiguous(message, status_code=response.status_code)
    return payload.get(name)


def _fax_from_response(response: requests.Response, *, ambiguous: type[CarrierError]) -> CarrierFax:
    data = _json_member(response, "data", ambiguous=ambiguous)
    return _fax_or_raise(data, ambiguous=ambiguous, status_code=response.status_code)


def _fax_or_raise(
    data: Any, *, ambiguous: type[CarrierError], status_code: int | None = None
) -> CarrierFax:
    """Build a `CarrierFax` from Telnyx's fax object, which must at least have an id and status."""
    if not isinstance(data, dict):
        raise ambiguous("Telnyx answered with a fax that is no object.", status_code=status_code)
    fax_id, status = data.get("id"), data.get("status")
    if not isinstance(fax_id, str) or not fax_id or not isinstance(status, str):
        raise ambiguous("Telnyx answered with a fax without id or status.", status_code=status_code)
    page_count = data.get("page_count")
    return CarrierFax(
        id=fax_id,
        status=status,
        to=_str_or_none(data.get("to")),
        from_=_str_or_none(data.get("from")),
        client_state=_str_or_none(data.get("client_state")),
        created_at=_str_or_none(data.get("created_at")),
        page_count=page_count if type(page_count) is int else None,
        failure_reason=_str_or_none(data.get("failure_reason")),
        media_url=_str_or_none(data.get("media_url")),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _b64decode_strict(value: str) -> bytes | None:
    """Decode standard base64, or return None when `value` is not valid base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
