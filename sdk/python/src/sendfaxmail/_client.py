"""The client: authentication, JSON, error envelopes, and retries with back-off."""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._resources import Faxes, Numbers
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    IdempotencyKeyInProgress,
    RateLimited,
    SendFaxMailError,
    error_from_answer,
)

DEFAULT_BASE_URL = "https://api.sendfaxmail.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
# Back-off without a Retry-After: 0.5 s, 1 s, 2 s, … up to 8 s, each cut by a random part of
# up to half (so 0.25 to 0.5 s, then 0.5 to 1 s, …).
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# A Retry-After longer than this is not waited for: the error is raised at once.
DEFAULT_MAX_RETRY_AFTER = 60.0

_RETRIED = (APIConnectionError, RateLimited, IdempotencyKeyInProgress, APIError)


class SendFaxMail:
    """A client for the SendFaxMail API.

        client = SendFaxMail("sfm_live_…")
        fax = client.faxes.send(to="+15551234567", file="referral.pdf")

    `api_key` defaults to the `SENDFAXMAIL_API_KEY` environment variable. `timeout` is in
    seconds for each attempt (or an `httpx.Timeout`). A request that gets no answer, a 429, a
    409 `idempotency_key_in_progress` or a 5xx is retried up to `max_retries` times with
    exponential back-off and jitter, waiting at least what `Retry-After` asks (up to
    `max_retry_after` seconds; a longer wait is raised at once). Only reads and requests that
    carry an Idempotency-Key are retried, and every send carries one, so a retry never sends a
    fax twice.

    `http_client` replaces the `httpx.Client` (proxies, certificates, transports); `sleep` is
    called with each back-off delay (tests and instrumentation replace it). Use the client as a
    context manager, or call `close()`, to release its connections.
    """

    faxes: Faxes
    numbers: Numbers

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("SENDFAXMAIL_API_KEY")
        if not api_key:
            raise ValueError(
                "Pass an API key (sfm_live_… or sfm_test_…) or set SENDFAXMAIL_API_KEY."
            )
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more.")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": (
                f"sendfaxmail-python/{__version__} httpx/{httpx.__version__} "
                f"Python/{platform.python_version()}"
            ),
        }
        self.faxes = Faxes(self)
        self.numbers = Numbers(self)

    def __repr__(self) -> str:
        # The key stays out of reprs, logs and tracebacks: only its mode is shown.
        mode = "test" if self.api_key.startswith("sfm_test_") else "live"
        return f"SendFaxMail(base_url={self.base_url!r}, mode={mode!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SendFaxMail:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        raw: bool = False,
    ) -> Any:
        """Make one API call, with retries, and return the answer's parsed JSON (with `raw`,
        the answer's bytes as they came, e.g. an image).

        Raises a `SendFaxMailError` subclass for an error answer or, after the retries, for a
        request that got no answer. A request is retried only if it is a GET or carries
        `idempotency_key` (sent as the `Idempotency-Key` header, the same on every attempt).
        """
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        retryable = method.upper() in ("GET", "HEAD") or idempotency_key is not None
        attempt = 0
        while True:
            try:
                return self._attempt(
                    method, path, params=params, json=json, headers=headers, raw=raw
                )
            except _RETRIED as error:
                delay = self._retry_delay(error, attempt) if retryable else None
                if attempt >= self.max_retries or delay is None:
                    raise
            self._sleep(delay)
            attempt += 1

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: dict[str, str],
        raw: bool = False,
    ) -> Any:
        try:
            response = self._http.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=json,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as error:
            raise APITimeoutError(f"No answer from {self.base_url} in time: {error}") from error
        except httpx.UnsupportedProtocol as error:
            # A mistyped base_url: not worth retrying, but still one of our errors.
            raise SendFaxMailError(f"Cannot reach {self.base_url}: {error}") from error
        except httpx.TransportError as error:
            raise APIConnectionError(
                f"The connection to {self.base_url} failed: {error or type(error).__name__}"
            ) from error
        if raw and response.is_success:
            return response.content
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            if body is None:
                raise APIError(
                    f"The API answered HTTP {response.status_code} without a JSON body.",
                    status=response.status_code,
                    request_id=response.headers.get("Request-Id"),
                )
            return body
        raise error_from_answer(
            status=response.status_code,
            headers=response.headers,
            body=body,
            reason=response.reason_phrase,
        )

    def _retry_delay(self, error: SendFaxMailError, attempt: int) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None not to retry."""
        backoff = min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0**attempt)
        # "Equal jitter": half the back-off fixed, half random, so that clients that failed
        # together do not retry together. Not cryptographic.
        delay = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            # At least what the API asked for, plus a little jitter so the window has turned.
            delay = error.retry_after + random.uniform(0, min(1.0, backoff / 2))  # noqa: S311
        return delay
