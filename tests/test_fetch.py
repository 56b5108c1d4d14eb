"""The SSRF guard and outbound HTTP client in sendfaxmail/lib/fetch.py.

The guard is fed every blocked range and odd IP notation; DNS is faked by replacing
socket.getaddrinfo. Real requests go to a local HTTPS server on 127.0.0.1 whose certificate, for
`docs.test`, is signed by a CA the test generates.
"""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import override_settings

from sendfaxmail.lib.fetch import (
    MAX_URL_LENGTH,
    FetchError,
    UnsafeUrl,
    check_url_syntax,
    fetch,
    post,
    vet_url,
)
from tests.pki import make_certificates

REAL_GETADDRINFO = socket.getaddrinfo
PDF = b"%PDF-1.4\n% a tiny test document\n%%EOF\n"
BIG = bytes(range(256)) * 40  # 10240 bytes.

# Addresses the guard refuses, as URL literals and as DNS answers alike.
BLOCKED_ADDRESSES = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
    "100.64.0.1",
    "100.127.255.254",
    "192.0.0.8",
    "198.18.0.1",
    "198.19.255.255",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "2002::1",
    "2002:a00:1::1",
    "2001::1",
    "64:ff9b::a00:1",
    "64:ff9b::808:808",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
]

# Loopback written the ways the C library (or a browser) also reads it.
ODD_LOOPBACK_HOSTS = [
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
    "0x7f.1",
    "017700000001",
    "127.1",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::a00:1]",
    "[0:0:0:0:0:0:0:1]",
    "localhost",
    "api.localhost",
]

PUBLIC_LITERALS = ["100.63.255.254", "100.128.0.1", "93.184.216.34", "2606:4700::1111"]


def literal_url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/document.pdf"


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> None:
    """Answer the names in `table` with its addresses; numeric hosts resolve as usual; any other
    name does not exist. The real resolver is never asked about a name."""

    def getaddrinfo(
        host: str, port: int, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple]:
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in table[host]
            ]
        return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unless a test says otherwise, only these names exist."""
    fake_dns(
        monkeypatch,
        {
            "docs.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
            "mixed.example.com": ["93.184.216.34", "10.0.0.1"],
            "mixed6.example.com": ["93.184.216.34", "::1"],
        },
    )


# ----------------------------------------------------------------------------------------------
# URL syntax
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://docs.example.com/a.pdf", "https://"),
        ("file:///etc/passwd", "https://"),
        ("ftp://docs.example.com/a.pdf", "https://"),
        ("javascript:alert(1)", "https://"),
        ("https://user:secret@docs.example.com/a.pdf", "user name or password"),
        ("https://user@docs.example.com/a.pdf", "user name or password"),
        ("https://docs.example.com\\@evil.test/a.pdf", "user name or password"),
        ("https://docs.example.com:8443/a.pdf", "port 443"),
        ("https://docs.example.com:0/a.pdf", "port 443"),
        ("https://docs.example.com:99999/a.pdf", "not valid"),
        ("https:///a.pdf", "host name"),
        ("https://docs..example.com/a.pdf", "host name is not valid"),
        ("https://[::1/a.pdf", "not valid"),
        ("https://docs.example.com/a b.pdf", "spaces"),
        ("https://docs.example.com/a.pdf\r\nX-Injected: 1", "spaces"),
        ("https://docs.example.com/" + "a" * MAX_URL_LENGTH, "2048"),
    ],
)
def test_it_refuses_bad_urls_saying_what_to_fix(url: str, says: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        check_url_syntax(url)
    assert says in caught.value.message


def test_it_accepts_a_plain_https_url_up_to_the_length_limit() -> None:
    url = "https://docs.example.com/a.pdf?x=1&y=" + "z" * 100
    longest = "https://docs.example.com/" + "a" * (
        MAX_URL_LENGTH - len("https://docs.example.com/")
    )

    assert check_url_syntax(url) == url
    assert check_url_syntax(longest) == longest
    vet_url(longest)


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
def test_it_refuses_blocked_ip_literals(address: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        check_url_syntax(literal_url(address))
    assert "not on the public internet" in caught.value.message


@pytest.mark.parametrize("host", ODD_LOOPBACK_HOSTS)
def test_it_refuses_loopback_in_any_notation(host: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url_syntax(f"https://{host}/document.pdf")
    with pytest.raises(UnsafeUrl):
        vet_url(f"https://{host}/document.pdf")


@pytest.mark.parametrize("address", PUBLIC_LITERALS)
def test_it_lets_public_ip_literals_through_the_address_check(address: str) -> None:
    url = literal_url(address)

    assert check_url_syntax(url) == url
    vet_url(url)


def test_it_asks_for_dotted_quads_for_public_addresses_in_odd_notation() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        check_url_syntax("https://1572395042/document.pdf")  # 93.184.216.34
    assert "four decimal numbers" in caught.value.message


@override_settings(FETCH_ALLOWED_NETWORKS=["10.0.0.0/8", "fd00::/8"])
def test_it_lets_allowed_networks_through() -> None:
    vet_url("https://10.1.2.3/document.pdf")
    vet_url("https://[::ffff:10.1.2.3]/document.pdf")
    vet_url("https://[fd00::5]/document.pdf")
    with pytest.raises(UnsafeUrl):
        vet_url("https://192.168.1.1/document.pdf")


# ----------------------------------------------------------------------------------------------
# DNS
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
def test_it_refuses_host_names_that_resolve_to_blocked_addresses(
    address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"files.example.com": [address]})

    check_url_syntax("https://files.example.com/a.pdf")
    with pytest.raises(UnsafeUrl) as caught:
        vet_url("https://files.example.com/a.pdf")
    assert address not in caught.value.message


@pytest.mark.parametrize("host", ["mixed.example.com", "mixed6.example.com"])
def test_it_refuses_a_host_with_any_private_answer(host: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        vet_url(f"https://{host}/a.pdf")
    assert "not on the public internet" in caught.value.message
    assert "10.0.0.1" not in caught.value.message


def test_it_accepts_a_host_whose_answers_are_all_public() -> None:
    vet_url("https://docs.example.com/a.pdf")


def test_it_reports_an_unknown_host_without_calling_it_unsafe() -> None:
    with pytest.raises(FetchError) as caught:
        vet_url("https://no-such-host.example.com/a.pdf")
    assert not isinstance(caught.value, UnsafeUrl)
    assert "could not be found" in caught.value.message


def test_it_logs_refusals_with_the_host_name_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sendfaxmail.lib.fetch")

    with pytest.raises(UnsafeUrl):
        vet_url("https://mixed.example.com/secret-path.pdf")

    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert "mixed.example.com" in record.getMessage()
    assert "10.0.0.1" not in record.getMessage()
    assert "secret-path" not in record.getMessage()


# ----------------------------------------------------------------------------------------------
# A local HTTPS server
# ----------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes for the tests; every request is recorded in `server.seen`."""

    server: LocalHttpsServer

    def setup(self) -> None:
        # The handshake runs here, in the request's thread, so a failing one blocks nobody.
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._record(b"")
        route = GET_ROUTES.get(self.path) or GET_ROUTES.get(self.path.rsplit("/", 1)[0] + "/")
        (route or _not_found)(self)

    def do_POST(self) -> None:
        self._record(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        (POST_ROUTES.get(self.path) or _not_found)(self)

    def _record(self, body: bytes) -> None:
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers), body))

    def reply(self, status: int, body: bytes = b"", *, sized: bool = True, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if sized:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.reply(302, Location=location)

    def drip(self) -> None:
        """Promise 100 bytes and send one every half second."""
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)


def _not_found(handler: Handler) -> None:
    handler.reply(404, b"no such thing")


def _hops(handler: Handler) -> None:
    left = int(handler.path.rsplit("/", 1)[1])
    if left == 0:
        handler.reply(200, PDF, Content_Type="application/pdf")
    else:
        handler.redirect(f"/hops/{left - 1}")


GET_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/doc": lambda h: h.reply(200, PDF, Content_Type="application/pdf"),
    "/hops/": _hops,
    "/to-evil": lambda h: h.redirect(f"https://evil.test:{h.server.server_port}/doc"),
    "/to-http": lambda h: h.redirect(f"http://docs.test:{h.server.server_port}/doc"),
    "/big": lambda h: h.reply(200, BIG),
    "/big-unsized": lambda h: h.reply(200, BIG, sized=False),
    "/claims-huge": lambda h: h.reply(200, BIG, sized=False, Content_Length=str(20 * 2**20 + 1)),
    "/drip": Handler.drip,
    "/missing": _not_found,
}

POST_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/hook": lambda h: h.reply(201, b"received:" + h.server.seen[-1].body, X_Hook="yes"),
    "/hook-redirect": lambda h: h.redirect("/elsewhere"),
    "/hook-long": lambda h: h.reply(200, BIG),
    "/drip": Handler.drip,
}


class LocalHttpsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (bad certificate, deadline) are what some tests are about."""


@dataclass
class Local:
    server: LocalHttpsServer
    ca_file: Path
    seen: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_port

    def url(self, path: str, host: str = "docs.test") -> str:
        return f"https://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    ca_file, cert_file, key_file = make_certificates(tmp_path_factory.mktemp("pki"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = LocalHttpsServer(("127.0.0.1", 0), Handler)
    server.seen = []
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Local(server=server, ca_file=ca_file, seen=server.seen)
    server.shutdown()
    server.server_close()


@pytest.fixture
def local(https_server: Local, monkeypatch: pytest.MonkeyPatch) -> Iterator[Local]:
    """The server, reachable as docs.test (and wrong.test) on 127.0.0.1, which is allowed."""
    fake_dns(
        monkeypatch,
        {"docs.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"], "evil.test": ["127.0.0.2"]},
    )
    https_server.seen.clear()
    with override_settings(
        FETCH_CA_BUNDLE=str(https_server.ca_file),
        FETCH_ALLOWED_PORTS=[https_server.port],
        FETCH_ALLOWED_NETWORKS=["127.0.0.1/32"],
    ):
        yield https_server


def paths(local: Local) -> list[str]:
    return [seen.path for seen in local.seen]


# ----------------------------------------------------------------------------------------------
# fetch
# ----------------------------------------------------------------------------------------------


def test_it_fetches_a_document(local: Local) -> None:
    result = fetch(local.url("/doc"), max_bytes=1024)

    assert result.content == PDF
    assert result.content_type == "application/pdf"
    assert result.final_url == local.url("/doc")
    assert local.seen[0].headers["Host"] == f"docs.test:{local.port}"


def test_it_follows_three_redirects(local: Local) -> None:
    result = fetch(local.url("/hops/3"), max_bytes=1024)

    assert result.content == PDF
    assert result.final_url == local.url("/hops/0")


def test_it_refuses_a_fourth_redirect(local: Local) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(local.url("/hops/4"), max_bytes=1024)

    assert "redirects more than 3 times" in caught.value.message
    assert paths(local) == ["/hops/4", "/hops/3", "/hops/2", "/hops/1"]


def test_it_vets_a_redirect_target_from_scratch(local: Local) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        fetch(local.url("/to-evil"), max_bytes=1024)

    assert "not on the public internet" in caught.value.message
    assert "127.0.0.2" not in caught.value.message
    assert paths(local) == ["/to-evil"]


def test_it_refuses_a_redirect_to_http(local: Local) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        fetch(local.url("/to-http"), max_bytes=1024)

    assert "https://" in caught.value.message
    assert paths(local) == ["/to-http"]


@pytest.mark.parametrize("path", ["/big", "/big-unsized"])
def test_it_cuts_off_a_body_over_max_bytes(local: Local, path: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(local.url(path), max_bytes=len(BIG) - 1)

    assert caught.value.message == f"The document is larger than {len(BIG) - 1} bytes."


@pytest.mark.parametrize("path", ["/big", "/big-unsized"])
def test_it_accepts_a_body_of_exactly_max_bytes(local: Local, path: str) -> None:
    assert fetch(local.url(path), max_bytes=len(BIG)).content == BIG


def test_it_refuses_a_declared_length_over_the_limit_in_megabytes(local: Local) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(local.url("/claims-huge"), max_bytes=20 * 1024 * 1024)

    assert caught.value.message == "The document is larger than 20 MB."


def test_it_gives_up_on_a_slow_drip_at_the_deadline(local: Local) -> None:
    started = time.monotonic()

    with pytest.raises(FetchError) as caught:
        fetch(local.url("/drip"), max_bytes=1024, timeout=1.5)

    assert 1.4 < time.monotonic() - started < 2.5
    assert caught.value.message == "The server did not answer within the 1.5-second limit."


def test_it_reports_a_non_2xx_status(local: Local) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(local.url("/missing"), max_bytes=1024)

    assert "404" in caught.value.message


def test_it_refuses_a_certificate_for_another_host_name(local: Local) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(local.url("/doc", host="wrong.test"), max_bytes=1024)

    assert not isinstance(caught.value, UnsafeUrl)
    assert "certificate" in caught.value.message
    assert paths(local) == []


def test_it_refuses_a_certificate_from_an_unknown_ca(local: Local) -> None:
    with override_settings(FETCH_CA_BUNDLE=""), pytest.raises(FetchError) as caught:
        fetch(local.url("/doc"), max_bytes=1024)

    assert "certificate" in caught.value.message
    assert paths(local) == []


def test_it_refuses_loopback_before_connecting_unless_allowed(local: Local) -> None:
    with override_settings(FETCH_ALLOWED_NETWORKS=[]), pytest.raises(UnsafeUrl):
        fetch(local.url("/doc"), max_bytes=1024)

    assert paths(local) == []


def test_it_ignores_proxy_settings_in_the_environment(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")

    assert fetch(local.url("/doc"), max_bytes=1024).content == PDF


# ----------------------------------------------------------------------------------------------
# post
# ----------------------------------------------------------------------------------------------


def test_it_posts_and_returns_status_headers_body_and_time(local: Local) -> None:
    result = post(
        local.url("/hook"),
        body=b'{"event": "fax.delivered"}',
        headers={"Content-Type": "application/json", "Webhook-Signature": "v1,abc"},
    )

    assert result.status_code == 201
    assert result.body == b'received:{"event": "fax.delivered"}'
    assert result.headers["X-Hook"] == "yes"
    assert 0 <= result.elapsed_ms < 5000
    [seen] = local.seen
    assert (seen.method, seen.headers["Webhook-Signature"]) == ("POST", "v1,abc")
    assert seen.headers["Content-Type"] == "application/json"


def test_it_returns_a_redirect_to_post_without_following_it(local: Local) -> None:
    result = post(local.url("/hook-redirect"), body=b"{}", headers={})

    assert result.status_code == 302
    assert result.headers["Location"] == "/elsewhere"
    assert paths(local) == ["/hook-redirect"]


def test_it_reads_only_the_first_4096_bytes_of_a_post_response(local: Local) -> None:
    result = post(local.url("/hook-long"), body=b"{}", headers={})

    assert result.status_code == 200
    assert result.body == BIG[:4096]


def test_it_times_out_a_post_to_a_slow_server(local: Local) -> None:
    started = time.monotonic()

    with pytest.raises(FetchError, match="within the 1-second limit"):
        post(local.url("/drip"), body=b"{}", headers={}, timeout=1.0)

    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://evil.test:{port}/hook", UnsafeUrl),
        ("http://docs.test:{port}/hook", UnsafeUrl),
        ("https://no-such-host.test:{port}/hook", FetchError),
    ],
)
def test_it_refuses_posts_the_guard_forbids(local: Local, url: str, error: type) -> None:
    with pytest.raises(error):
        post(url.format(port=local.port), body=b"{}", headers={})

    assert paths(local) == []


def test_it_reports_a_refused_connection(local: Local) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    with override_settings(FETCH_ALLOWED_PORTS=[port]), pytest.raises(FetchError) as caught:
        post(f"https://docs.test:{port}/hook", body=b"{}", headers={})

    assert caught.value.message == "Could not connect to the URL's host."
