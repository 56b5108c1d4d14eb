"""The one way out to a customer-supplied URL: document fetches and webhook deliveries.

Every request goes through the same guard against server-side request forgery:

- The URL is https, on an allowed port (443), with a host name and no user:password part.
- The host is resolved once; if ANY address it resolves to is not on the public internet (or in
  settings.FETCH_ALLOWED_NETWORKS), the URL is refused before anything is sent.
- The connection goes to the vetted address itself, with SNI and certificate verification against
  the host name, so a second DNS answer cannot rebind the request to an internal address.
- Redirects (fetch only, at most 3) are vetted from scratch; environment proxies are never used.
- A total deadline closes the socket whatever the server does, so a slow drip cannot hold a worker.

Messages on `FetchError` are safe to show the customer: they never contain the addresses a host
resolved to. Refusals are logged at INFO with the host name only; bodies are never logged.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import SplitResult, quote, urljoin, urlsplit

import certifi
from django.conf import settings
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.response import BaseHTTPResponse

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 3
POST_BODY_LIMIT = 4096
CONNECT_TIMEOUT = 10.0
CHUNK_SIZE = 64 * 1024
USER_AGENT = "SendFaxMail/1.0"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

NOT_PUBLIC = "The URL's host resolves to an address that is not on the public internet."

# Ranges refused even where `ipaddress` calls them global (multicast, 6to4, NAT64, ...), listed in
# full so that the guard does not depend on the Python version's idea of "global".
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

# Host names after IDNA encoding: letters, digits, hyphens and underscores in dot-separated labels.
HOSTNAME_RE = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
# Printable ASCII stays as it is in the request target; anything else is percent-encoded.
PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))


class FetchError(Exception):
    """Fetch refused or failed. `message` is safe to show the customer: it never contains
    internal IP addresses."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HttpStatusError(FetchError):
    """The server answered with a final status outside 2xx; `status` is that status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class UnsafeUrl(FetchError):
    """The URL, or what it resolves to, is not allowed."""


@dataclass(frozen=True)
class FetchedBody:
    """A fetched document: its bytes, its Content-Type header, and the URL after redirects."""

    content: bytes
    content_type: str | None
    final_url: str


@dataclass(frozen=True)
class PostResult:
    """A webhook delivery's answer: `body` holds at most the first POST_BODY_LIMIT bytes."""

    status_code: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int


@dataclass(frozen=True)
class _Target:
    """A URL that passed the syntax check, taken apart for the request."""

    hostname: str  # IDNA-encoded host name, or an IP literal without brackets.
    port: int
    path: str  # Path and query, ASCII only, never empty.

    @property
    def host_header(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return host if self.port == 443 else f"{host}:{self.port}"


# ----------------------------------------------------------------------------------------------
# Public interface
# ----------------------------------------------------------------------------------------------


def check_url_syntax(url: str) -> str:
    """Return `url` if it may be fetched as far as can be told without DNS.

    It must be https, at most MAX_URL_LENGTH characters, name a host, carry no user:password
    part, use a port in settings.FETCH_ALLOWED_PORTS, and its host must not be an IP literal (in
    any notation the C library accepts) outside the public internet, unless the address is in
    settings.FETCH_ALLOWED_NETWORKS. Raises UnsafeUrl with a message that says what to fix.
    """
    _parse(url)
    return url


def vet_url(url: str) -> None:
    """check_url_syntax plus DNS: raises UnsafeUrl if ANY address the host resolves to (A and
    AAAA) is not public, and FetchError if the host cannot be resolved."""
    _vet(url)


def fetch(url: str, *, max_bytes: int, timeout: float = 30.0) -> FetchedBody:
    """GET `url` behind the full guard, following at most MAX_REDIRECTS redirects, each vetted
    from scratch.

    `timeout` is a total deadline in seconds for everything, redirects included. Raises UnsafeUrl
    for refused URLs and FetchError for every other failure: a body over `max_bytes`, a final
    status outside 2xx, a timeout, a TLS or connection error.
    """
    deadline = _Deadline(timeout)
    for hop in range(MAX_REDIRECTS + 1):
        target, addresses = _vet_hop(url, redirected=hop > 0)
        exchange = _exchange(
            target, addresses, method="GET", body=None, headers={}, deadline=deadline
        )
        with exchange as response:
            location = _redirect_location(response)
            if location is None:
                return _fetched_body(response, url=url, max_bytes=max_bytes)
        url = urljoin(url, location)
    logger.info("Stopped following redirects at host %r", _hostname_for_log(url))
    raise FetchError(f"The URL redirects more than {MAX_REDIRECTS} times.")


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float = 10.0) -> PostResult:
    """POST `body` to `url` behind the same guard as fetch, for customer webhook delivery.

    Redirects are not followed: any status, 3xx included, is returned as it is. Only the first
    POST_BODY_LIMIT bytes of the response body are read. `elapsed_ms` runs from the call until the
    response was read. `timeout` is a total deadline in seconds. Raises UnsafeUrl for refused URLs
    and FetchError for timeouts, TLS and connection errors.
    """
    started = time.monotonic()
    deadline = _Deadline(timeout)
    target, addresses = _vet(url)
    with _exchange(
        target, addresses, method="POST", body=body, headers=headers, deadline=deadline
    ) as response:
        content = response.read(POST_BODY_LIMIT)[:POST_BODY_LIMIT]
        return PostResult(
            status_code=response.status,
            headers=dict(response.headers),
            body=content,
            elapsed_ms=round((time.monotonic() - started) * 1000),
        )


# ----------------------------------------------------------------------------------------------
# The URL and its addresses
# ----------------------------------------------------------------------------------------------


def _refuse(hostname: str | None, message: str) -> NoReturn:
    """Log the refusal (host name only) and raise UnsafeUrl(message)."""
    logger.info("Refused outbound URL for host %r: %s", hostname, message)
    raise UnsafeUrl(message)


def _parse(url: str) -> _Target:
    """Check what can be checked without DNS and take the URL apart; raises UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        _refuse(None, f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(char.isspace() or not char.isprintable() for char in url):
        _refuse(None, "The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        _refuse(None, "The URL is not valid.")
    if parts.scheme.lower() != "https":
        _refuse(None, "The URL must start with https://.")
    if "@" in parts.netloc:
        _refuse(parts.hostname, "The URL must not contain a user name or password.")
    hostname = _hostname(parts)
    port = 443 if port is None else port
    if port not in settings.FETCH_ALLOWED_PORTS:
        allowed = ", ".join(str(allowed) for allowed in settings.FETCH_ALLOWED_PORTS)
        _refuse(hostname, f"The URL must use port {allowed}.")
    _check_literal(hostname)
    return _Target(hostname=hostname, port=port, path=_request_target(parts))


def _hostname(parts: SplitResult) -> str:
    """The URL's host as it goes on the wire: IDNA-encoded, or an IP literal without brackets."""
    host = parts.hostname
    if not host:
        _refuse(None, "The URL must include a host name.")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            _refuse(host, "The URL's host is not a valid IPv6 address.")
        return host
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        _refuse(host, "The URL's host name is not valid.")
    # A trailing dot is the same host to DNS; dropping it keeps "127.0.0.1." a literal.
    encoded = encoded.removesuffix(".")
    if len(encoded) > 253 or not HOSTNAME_RE.fullmatch(encoded):
        _refuse(host, "The URL's host name is not valid.")
    return encoded


def _check_literal(hostname: str) -> None:
    """Refuse IP literals outside the public internet, and IPv4 literals in odd notations."""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        _refuse(hostname, NOT_PUBLIC)
    address = _literal_address(hostname)
    if address is None:
        return
    if not _is_allowed(address):
        _refuse(hostname, NOT_PUBLIC)
    # Decimal, octal, hex and short forms are valid to the C library but nowhere else: no
    # certificate names them, so the request could only fail later with a worse message.
    if address.version == 4 and str(address) != hostname:
        _refuse(hostname, "Write an IPv4 address in the URL as four decimal numbers: 203.0.113.7.")


def _literal_address(hostname: str) -> IPAddress | None:
    """The address `hostname` denotes if it is an IP literal in any notation that the resolver
    would read as one (inet_aton accepts 2130706433, 0177.0.0.1, 0x7f000001 and 127.1)."""
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(hostname))
    except OSError:
        return None


def _request_target(parts: SplitResult) -> str:
    """Path and query for the request line, non-ASCII characters percent-encoded."""
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return quote(target, safe=PRINTABLE_ASCII)


def _unwrap(address: IPAddress) -> IPAddress:
    """IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses as the IPv4 address
    they carry; other addresses unchanged."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if int(address) < 2**32:
            return ipaddress.IPv4Address(int(address))
    return address


def _is_public(address: IPAddress) -> bool:
    """True if `address` is on the public internet by both `ipaddress` and BLOCKED_NETWORKS."""
    address = _unwrap(address)
    if address.is_multicast or not address.is_global:
        return False
    return not any(address in network for network in BLOCKED_NETWORKS)


def _is_allowed(address: IPAddress) -> bool:
    """True if `address` is public or inside settings.FETCH_ALLOWED_NETWORKS."""
    allowed = [
        ipaddress.ip_network(network, strict=False) for network in settings.FETCH_ALLOWED_NETWORKS
    ]
    candidates = {address, _unwrap(address)}
    if any(candidate in network for candidate in candidates for network in allowed):
        return True
    return _is_public(address)


def _resolve(hostname: str, port: int) -> list[IPAddress]:
    """Every address `hostname` resolves to (A and AAAA), in the resolver's order, each once."""
    try:
        infos = socket.getaddrinfo(
            hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError):
        logger.info("Could not resolve outbound host %r", hostname)
        raise FetchError("The URL's host name could not be found.") from None
    addresses = [
        ipaddress.ip_address(sockaddr[0])
        for family, _type, _proto, _name, sockaddr in infos
        if family in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise FetchError("The URL's host name could not be found.")
    return list(dict.fromkeys(addresses))


def _vet(url: str) -> tuple[_Target, list[IPAddress]]:
    """Parse `url` and resolve its host; UnsafeUrl if any address is not allowed."""
    target = _parse(url)
    addresses = _resolve(target.hostname, target.port)
    if not all(_is_allowed(address) for address in addresses):
        _refuse(target.hostname, NOT_PUBLIC)
    return target, addresses


def _vet_hop(url: str, *, redirected: bool) -> tuple[_Target, list[IPAddress]]:
    """_vet, saying in the message when it was a redirect that was refused."""
    try:
        return _vet(url)
    except UnsafeUrl as error:
        if not redirected:
            raise
        raise UnsafeUrl(
            f"The URL redirects to a URL that is not allowed. {error.message}"
        ) from None


def _hostname_for_log(url: str) -> str | None:
    with contextlib.suppress(ValueError):
        return urlsplit(url).hostname
    return None


# ----------------------------------------------------------------------------------------------
# The exchange
# ----------------------------------------------------------------------------------------------


class _Deadline:
    """A total time limit for a request and its redirects.

    Per-read socket timeouts cannot stop a server that sends one byte every few seconds, so a
    timer shuts the socket down when time is up, which ends any blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends_at = time.monotonic() + seconds
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        """Seconds left; raises the timeout FetchError when none are."""
        left = self._ends_at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise self.timeout_error()
        return left

    def timeout_error(self) -> FetchError:
        return FetchError(f"The server did not answer within the {self.seconds:g}-second limit.")

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes, unless stop() comes first."""
        self._timer = threading.Timer(self.remaining(), self._cut, args=(sock,))
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        """Cancel the timer and wait for it, so that it never touches a socket being closed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
            self._timer = None

    def _cut(self, sock: socket.socket) -> None:
        self.expired = True
        # The plain socket's shutdown only touches the file descriptor, never the TLS state that
        # the reading thread is using; the blocked read then sees the end of the stream.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _ssl_context() -> ssl.SSLContext:
    """Certificate and host name verification against FETCH_CA_BUNDLE, or certifi's bundle."""
    cafile = settings.FETCH_CA_BUNDLE or certifi.where()
    try:
        modified = os.stat(cafile).st_mtime_ns
    except OSError:
        modified = 0  # create_default_context() says what is wrong with it
    return _ssl_context_for(cafile, modified)


@functools.lru_cache(maxsize=4)
def _ssl_context_for(cafile: str, modified: int) -> ssl.SSLContext:
    """One context per bundle (and version of the file) and process: loading certifi's bundle
    took about 30 ms of CPU, longer than a webhook's whole POST. A context holds no connection
    state and is safe to share between threads."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _connect(
    target: _Target, addresses: list[IPAddress], *, context: ssl.SSLContext, deadline: _Deadline
) -> HTTPSConnection:
    """A TLS connection to the first vetted address that accepts one.

    The socket goes to the address itself, never to the host name, while SNI and certificate
    verification use the host name. Only failures to connect move on to the next address; a TLS
    failure is final.
    """
    error: Exception | None = None
    for address in addresses:
        connection = HTTPSConnection(
            host=str(address),
            port=target.port,
            timeout=min(CONNECT_TIMEOUT, deadline.remaining()),
            server_hostname=target.hostname,
            cert_reqs="CERT_REQUIRED",
            ssl_context=context,
        )
        try:
            connection.connect()
        except (NewConnectionError, ConnectTimeoutError) as failure:
            connection.close()
            error = failure
            continue
        return connection
    raise error or FetchError("Could not connect to the URL's host.")


def _request_headers(target: _Target, headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers, minus those that the connection itself must control."""
    controlled = {"host", "content-length", "transfer-encoding", "connection"}
    result = {name: value for name, value in headers.items() if name.lower() not in controlled}
    lowered = {name.lower() for name in result}
    if "user-agent" not in lowered:
        result["User-Agent"] = USER_AGENT
    if "accept-encoding" not in lowered:
        result["Accept-Encoding"] = "identity"
    result["Host"] = target.host_header
    result["Connection"] = "close"
    return result


@contextlib.contextmanager
def _exchange(
    target: _Target,
    addresses: list[IPAddress],
    *,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str],
    deadline: _Deadline,
) -> Iterator[BaseHTTPResponse]:
    """Send one request and yield the response with its body unread.

    Network errors raised while the response is being read inside the `with` block become
    FetchError too; the connection is closed on the way out.
    """
    # A bad FETCH_CA_BUNDLE is a configuration error, not a failure of the customer's server.
    context = _ssl_context()
    connection: HTTPSConnection | None = None
    try:
        connection = _connect(target, addresses, context=context, deadline=deadline)
        deadline.watch(connection.sock)
        connection.timeout = deadline.remaining()
        connection.request(
            method,
            target.path,
            body=body,
            headers=_request_headers(target, headers),
            preload_content=False,
            decode_content=True,
        )
        yield connection.getresponse()
        # A server cut off by the deadline may look as if it had finished its body.
        if deadline.expired:
            raise deadline.timeout_error()
    except (OSError, Urllib3Error, http.client.HTTPException) as error:
        logger.info("Outbound request to host %r failed: %s", target.hostname, type(error).__name__)
        raise _failure(error, deadline) from None
    finally:
        deadline.stop()
        if connection is not None:
            connection.close()


def _failure(error: Exception, deadline: _Deadline) -> FetchError:
    """The customer-safe FetchError for a network `error` (its text may name addresses)."""
    # NewConnectionError subclasses ConnectTimeoutError, so it is tested first.
    if isinstance(error, NewConnectionError) and not deadline.expired:
        return FetchError("Could not connect to the URL's host.")
    if deadline.expired or isinstance(error, TimeoutError | ReadTimeoutError | ConnectTimeoutError):
        return deadline.timeout_error()
    if isinstance(error, ssl.SSLCertVerificationError):
        return FetchError("The server's TLS certificate is not valid for the URL's host name.")
    if isinstance(error, ssl.SSLError):
        return FetchError("A secure (TLS) connection to the URL's host could not be established.")
    return FetchError("The connection to the URL's host failed.")


def _redirect_location(response: BaseHTTPResponse) -> str | None:
    """The Location of a redirect response, or None for any other response."""
    if response.status not in REDIRECT_STATUSES:
        return None
    return response.headers.get("Location") or None


def _fetched_body(response: BaseHTTPResponse, *, url: str, max_bytes: int) -> FetchedBody:
    """Read a final response: FetchError unless 2xx, and unless the body fits in `max_bytes`."""
    if not 200 <= response.status < 300:
        raise HttpStatusError(
            f"The server answered with HTTP status {response.status}.", status=response.status
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"The document is larger than {_size(max_bytes)}.")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(min(CHUNK_SIZE, max_bytes + 1 - size)):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"The document is larger than {_size(max_bytes)}.")
        chunks.append(chunk)
    return FetchedBody(
        content=b"".join(chunks),
        content_type=response.headers.get("Content-Type"),
        final_url=url,
    )


def _size(num_bytes: int) -> str:
    """A limit in words: 20 MB, 512 KB or 1000 bytes."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if num_bytes >= factor and num_bytes % factor == 0:
            return f"{num_bytes // factor} {unit}"
    return f"{num_bytes} bytes"


def without_query(url: str) -> str:
    """`url` without its query string and fragment.

    A `document_url` may be presigned (S3, GCS, Azure SAS): the token in its query string is kept
    for the fetch, but shown in no answer or webhook, which may be logged or forwarded.
    """
    return urlsplit(url)._replace(query="", fragment="").geturl()
