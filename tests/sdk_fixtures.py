"""Helpers for the Python client's tests: the client package itself, and a TCP proxy that drops
connections.

The client's import name is `sendfaxmail`, which is also this server's project package, so the
tests load the client from `sdk/python/src` under another name, `sendfaxmail_sdk`. This works
because every import inside the client is relative.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import threading
from pathlib import Path
from types import ModuleType

SDK_PACKAGE = Path(__file__).resolve().parents[1] / "sdk" / "python" / "src" / "sendfaxmail"
SDK_NAME = "sendfaxmail_sdk"


def load_sdk() -> ModuleType:
    """The client package from the source tree, as `sendfaxmail_sdk`."""
    if SDK_NAME in sys.modules:
        return sys.modules[SDK_NAME]
    spec = importlib.util.spec_from_file_location(
        SDK_NAME, SDK_PACKAGE / "__init__.py", submodule_search_locations=[str(SDK_PACKAGE)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[SDK_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[SDK_NAME]
        raise
    return module


def _pump(source: socket.socket, target: socket.socket, record: list[bytes] | None) -> None:
    try:
        while chunk := source.recv(65536):
            if record is not None:
                record.append(chunk)
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of `port`.

    On its first `drop` connections it forwards the request, waits until the server has
    started answering (so the server has done and committed its work), then closes the
    client's socket without relaying a byte of the answer: the client sees the connection
    drop. Later connections are relayed both ways. `requests` holds the bytes each connection
    sent, in order.
    """

    def __init__(self, port: int, *, drop: int = 1) -> None:
        self.target = ("127.0.0.1", port)
        self.drops_left = drop
        self.requests: list[list[bytes]] = []
        self.dropped_answers: list[bytes] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        record: list[bytes] = []
        with self._lock:
            self._sockets += [client, upstream]
            self.requests.append(record)
            drop = self.drops_left > 0
            self.drops_left -= int(drop)
        threading.Thread(target=_pump, args=(client, upstream, record), daemon=True).start()
        if drop:
            upstream.settimeout(30)
            self.dropped_answers.append(upstream.recv(65536))
            # shutdown() before close(): it sends the FIN at once and wakes the pump thread
            # blocked in recv() on this socket, which a bare close() would not.
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        else:
            _pump(upstream, client, None)

    def request_headers(self, index: int) -> dict[str, str]:
        """The headers of the request on connection `index`, names lower-cased."""
        head = b"".join(self.requests[index]).split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")[1:]
        return {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines)
        }

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
