"""A customer's webhook receiver for tests: HTTPS on 127.0.0.1, reached as `hooks.test`,
recording what it gets and answering what the test asks for."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pki import make_certificates

HOST = "hooks.test"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering: a slow endpoint


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.received.append(
            Received(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
        )
        answer = self.server.answers.pop(0) if self.server.answers else Answer()
        time.sleep(answer.delay)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def do_GET(self) -> None:
        """Serve the next answer (a document, a media file, an error) as a GET."""
        self.server.received.append(
            Received(
                path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=b""
            )
        )
        answer = self.server.answers.pop(0) if self.server.answers else Answer(status=404)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    received: list[Received]
    answers: list[Answer]


@dataclass
class Receiver:
    server: _Server
    ca_file: Path

    @property
    def received(self) -> list[Received]:
        return self.server.received

    def answer(self, *answers: Answer) -> None:
        self.server.answers.extend(answers)

    def url(self, path: str = "/hooks/fax") -> str:
        return f"https://{HOST}:{self.server.server_port}{path}"


def start_receiver(directory: Path) -> Iterator[Receiver]:
    ca_file, cert_file, key_file = make_certificates(directory, (HOST,))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.received, server.answers = [], []
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(server=server, ca_file=ca_file)
    finally:
        server.shutdown()
        server.server_close()


def allow(receiver: Receiver, monkeypatch: pytest.MonkeyPatch, settings) -> None:
    """Let the SSRF guard reach the receiver: `hooks.test` resolves to 127.0.0.1, which is
    allowed (as FETCH_ALLOWED_NETWORKS allows an on-premises server), on the receiver's port."""
    import socket

    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real("127.0.0.1" if host == HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.FETCH_CA_BUNDLE = str(receiver.ca_file)
    settings.FETCH_ALLOWED_PORTS = [443, receiver.server.server_port]
    settings.FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
