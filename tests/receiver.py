"""A webhook receiver on a loopback port: what arrived, and answers programmed in advance."""

from __future__ import annotations

import ssl
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import NamedTuple


class Received(NamedTuple):
    headers: Message  # case-insensitive: received.headers["calendar-signature"]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread, used as a context manager.

    ``statuses`` answers the requests in turn (200 once they run out); ``delay`` seconds
    pass before each answer; ``response_headers`` go with every answer (a ``Location``).
    ``requests`` lists what arrived, ``paths`` their paths, and ``connections`` counts TCP
    connections accepted, requests or not. With ``tls`` (a server context) it speaks https.
    """

    def __init__(
        self,
        statuses: Iterable[int] = (),
        *,
        delay: float = 0.0,
        response_headers: Mapping[str, str] | None = None,
        response_body: bytes = b"ok",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.requests: list[Received] = []
        self.paths: list[str] = []
        self.connections = 0
        self.delay = delay
        self._statuses = deque(statuses)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(self, response_headers or {}, response_body)
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing.set()  # ends any delay at once
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.popleft() if self._statuses else 200

    def _record(self, path: str, headers: Message, body: bytes) -> None:
        with self._lock:
            self.requests.append(Received(headers, body))
            self.paths.append(path)

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    def __init__(self, owner: Receiver, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner
        self.response_headers = headers
        self.response_body = body

    def verify_request(self, request: object, client_address: object) -> bool:
        self.owner._connected()
        return True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a sender that timed out) is expected, not a failure."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner._record(self.path, self.headers, body)
        status = owner._next_status()
        if owner.delay:
            owner._closing.wait(owner.delay)
        self.send_response(status)
        for name, value in self.server.response_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.response_body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.server.response_body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the test reads self.owner.requests; no line per request on stderr
