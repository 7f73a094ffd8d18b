"""Slow clients cannot starve the production server (gunicorn -c gunicorn.conf.py app:app).

A slowloris client opens connections and sends each request a byte at a time, so that a
server which gives every connection a thread waits on them instead of serving anyone.
These tests start the server as production runs it, from backend/ with its configuration
file, against the test engine.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import Mode, Settings
from backend.storage.connection import connect

BACKEND = Path(__file__).resolve().parent.parent / "backend"
SLOW_SOCKETS = 64
NORMAL_REQUESTS = 20
WITHIN_SECONDS = 2.0
TIME_LIMIT = 3  # REQUEST_TIME_LIMIT for these servers, so that its test stays short
TOKEN = secrets.token_urlsafe(32)
PARTIAL_HEAD = b"GET /api/departments HTTP/1.1\r\nHost: calendar\r\nX-Slow: "

pytestmark = pytest.mark.slow
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(engine_url: str) -> Iterator[tuple[str, int]]:
    """One production worker (the fewest connections to starve) on fresh tables."""
    suffix = uuid.uuid4().hex[:10]
    settings = Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=engine_url,
        region="ap-northeast-2",
        departments_table=f"departments-{suffix}",
        events_table=f"events-{suffix}",
    )
    storage, _ = connect(settings)
    storage.create_tables()
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL_DYNAMODB": engine_url,
        "AWS_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
        "FLASK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "API_TOKENS": TOKEN,
        "REQUEST_TIME_LIMIT": str(TIME_LIMIT),
        "WEB_CONCURRENCY": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "app:app"),
    ]
    process = subprocess.Popen(
        command, cwd=BACKEND, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn never answered"
            try:
                with _opener.open(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.communicate(timeout=60)


class Slowloris:
    """``count`` connections, each sending a request head one byte a second, never ending it.

    A connection the server closes is opened again, as the attack does, so that ``count``
    stay open all along.
    """

    def __init__(self, address: tuple[str, int], count: int) -> None:
        self.address = address
        self.sockets = [self._open() for _ in range(count)]
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=5)
        sock.sendall(PARTIAL_HEAD)
        return sock

    def _drip(self) -> None:
        while not self._stop.wait(1.0):
            for index, sock in enumerate(self.sockets):
                try:
                    sock.sendall(b"x")
                except OSError:
                    sock.close()
                    try:
                        self.sockets[index] = self._open()
                        self.reopened += 1
                    except OSError:
                        continue  # the server refused it now; this slot is tried next round

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def test_normal_requests_are_answered_while_64_slow_clients_hold_connections(
    server: tuple[str, int],
) -> None:
    host, port = server
    answered: list[float] = []
    with Slowloris(server, SLOW_SOCKETS) as attack:
        time.sleep(1.5)  # every slow connection accepted and dripping
        # Spread over more than the head's time limit (keepalive, 5 s), so that some
        # requests meet the slow connections being closed and opened again.
        for _ in range(NORMAL_REQUESTS):
            started = time.monotonic()
            try:
                with _opener.open(f"http://{host}:{port}/api/departments", timeout=10) as answer:
                    answer.read()
                    if answer.status == 200:
                        answered.append(time.monotonic() - started)
            except OSError:
                answered.append(float("inf"))  # no answer: counts as not within 2 s
            time.sleep(0.35)
        reopened = attack.reopened

    within = [seconds for seconds in answered if seconds < WITHIN_SECONDS]
    assert len(within) >= 0.95 * NORMAL_REQUESTS, (len(within), answered)
    assert reopened >= SLOW_SOCKETS  # the slow connections were there, and cut off


def test_a_request_head_sent_too_slowly_is_cut_off(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(PARTIAL_HEAD)

        assert sock.recv(1024) == b""  # closed without an answer
        assert time.monotonic() - started < 10  # keepalive (5 s), with room for a slow CI


def test_a_request_over_the_time_limit_is_answered_503_and_its_connection_closed(
    server: tuple[str, int],
) -> None:
    head = (
        "POST /api/departments HTTP/1.1\r\nHost: calendar\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(server, timeout=20) as sock:
        started = time.monotonic()
        sock.sendall(head.encode() + b'{"na')  # the rest of the body never comes
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        elapsed = time.monotonic() - started

    status, _, body = received.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 503 "), received
    assert b"Content-Type: application/problem+json" in status
    assert b"Retry-After: 1" in status
    assert json.loads(body)["status"] == 503
    assert TIME_LIMIT <= elapsed < TIME_LIMIT + 5  # closed at once, not kept alive
