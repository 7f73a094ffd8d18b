"""One POST of a delivery to a webhook URL, pinned to a checked address, and the retry
schedule: never raises for the network, answers an ``Outcome``.

The host is resolved once (``targets.resolve``) and the connection made to an address it
returned, with the URL's host in ``Host`` and, for https, in SNI and the certificate check
(the standard library's), so a DNS answer that changes after the check cannot reach
another address. Redirects are not followed: a 3xx could point anywhere.

``timeout`` bounds the whole exchange by the clock: connecting (and the TLS handshake) wait
at most the time left at each step, and once connected a timer shuts the socket down when
the time runs out, so a receiver that answers one byte at a time cannot hold the worker.
The DNS lookup before it is the resolver's to bound.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

from backend.webhooks.messages import Format
from backend.webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from backend.webhooks.targets import IPAddress, TargetRefused, check_url, resolve

logger = logging.getLogger(__name__)

USER_AGENT = "department-calendar-webhooks/1"
CONTENT_TYPE = "application/json; charset=utf-8"
RESPONSE_MAX = 64 * 1024  # bytes of a response read; the rest is never read
ERROR_TEXT_MAX = 200  # characters of a failing response's body kept in the error

RETRY_FOR = timedelta(hours=24)
_DELAYS = tuple(timedelta(seconds=s) for s in (30, 60, 2 * 60, 5 * 60, 10 * 60, 30 * 60, 60 * 60))


@dataclass(frozen=True)
class Outcome:
    ok: bool  # a 2xx answer
    status: int | None  # the HTTP status, None when no answer came
    error: str | None  # why it failed, for the user: "HTTP 500: ...", "timed out after 5 s"
    elapsed: float  # seconds


def headers_for(
    fmt: Format, secret: str, delivery_id: str, body: bytes, now: int
) -> dict[str, str]:
    """The headers of a delivery: its id always, the signature for our ``json`` format only
    (Slack and Teams do not read it)."""
    headers = {"Content-Type": CONTENT_TYPE, DELIVERY_HEADER: delivery_id}
    if fmt == "json":
        headers[SIGNATURE_HEADER] = sign(secret, now, body)
    return headers


def retry_delay(attempt: int, *, jitter: float = 0.0) -> timedelta:
    """The wait after failed attempt ``attempt`` (1 is the first failure): 30 s, 1 min,
    2 min, 5 min, 10 min, 30 min, then every hour; the caller stops once ``RETRY_FOR``
    has passed since the first attempt (30 attempts in all).

    ``jitter`` (0.1 for ±10%) spreads retries of many deliveries that failed together;
    0 keeps the schedule exact.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    delay = _DELAYS[min(attempt, len(_DELAYS)) - 1]
    if jitter:
        delay *= 1 + random.uniform(-jitter, jitter)  # noqa: S311 - spreading load, no secret
    return delay


def send(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    timeout: float = 5.0,
) -> Outcome:
    """POST ``body`` to ``url``; ok for a 2xx answer within ``timeout`` seconds in all."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None) -> Outcome:
        elapsed = time.monotonic() - started
        if error is not None:
            logger.info("webhook delivery to %s failed: %s", _shown(url), error)
        return Outcome(ok=error is None, status=status, error=error, elapsed=elapsed)

    try:
        check_url(url, allow_private=allow_private)
        addresses = resolve(url, allow_private=allow_private)
    except TargetRefused as exc:
        return outcome(None, f"refused: {exc}")
    except OSError as exc:
        return outcome(None, f"cannot resolve {urlsplit(url).hostname}: {_reason(exc)}")
    if not addresses:
        return outcome(None, f"cannot resolve {urlsplit(url).hostname}: no address")
    return _post(
        url, addresses, body, headers, deadline=started + timeout, timeout=timeout, outcome=outcome
    )


class _Deadline:
    """Shuts a connection's socket down when the time runs out, breaking any blocked read."""

    def __init__(self, deadline: float) -> None:
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._connection = None

    def watch(self, connection: HTTPConnection | None) -> None:
        with self._lock:
            self._connection = connection

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            sock = self._connection.sock if self._connection is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):  # closed: the exchange ended just now
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _post(
    url: str,
    addresses: list[IPAddress],
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline: float,
    timeout: float,
    outcome: Callable[[int | None, str | None], Outcome],
) -> Outcome:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {
        **headers,
        "Host": parts.netloc,
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    timed_out = f"timed out after {timeout:g} s"
    connection: HTTPConnection | None = None
    with _Deadline(deadline) as clock:
        try:
            connection = _connect(
                parts.scheme, host, port, addresses, deadline=deadline, clock=clock
            )
            if connection is None:
                return outcome(None, timed_out)
            connection.request("POST", target, body=body, headers=sent, preload_content=False)
            response = connection.getresponse()
            text = response.read(RESPONSE_MAX, decode_content=False)
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
            if clock.expired.is_set() or _is_timeout(exc):
                return outcome(None, timed_out)
            return outcome(None, _reason(exc))
        finally:
            clock.watch(None)
            if connection is not None:
                connection.close()
    status = response.status
    if 200 <= status < 300:
        return outcome(status, None)
    if 300 <= status < 400:
        return outcome(status, f"redirect not followed: {response.headers.get('Location', '')}")
    snippet = " ".join(text.decode("utf-8", "replace").split())[:ERROR_TEXT_MAX]
    return outcome(status, f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}")


def _connect(
    scheme: str,
    host: str,
    port: int,
    addresses: list[IPAddress],
    *,
    deadline: float,
    clock: _Deadline,
) -> HTTPConnection | None:
    """A connection to the first of ``addresses`` that answers, or None when time ran out.

    Raises the last address's error when none answers.
    """
    failure: Exception | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or clock.expired.is_set():
            return None
        connection: HTTPConnection
        if scheme == "https":
            connection = HTTPSConnection(
                str(address), port, timeout=remaining, server_hostname=host
            )
        else:
            connection = HTTPConnection(str(address), port, timeout=remaining)
        try:
            connection.connect()
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            connection.close()
            if clock.expired.is_set():
                return None
            logger.debug("webhook host %s at %s: %s", host, address, exc)
            failure = exc
            continue
        clock.watch(connection)
        if clock.expired.is_set():  # ran out between connecting and being watched
            connection.close()
            return None
        return connection
    assert failure is not None  # noqa: S101 - addresses is never empty here
    raise failure


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a subclass, but not a timeout
        return False
    return isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError)


def _reason(exc: BaseException) -> str:
    """An error for the user: what failed, without urllib3's object reprs."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        exc = exc.__cause__ or exc
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _shown(url: str) -> str:
    """The URL for a log line: its path or query may hold the receiver's token (Slack's and
    Teams' do)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
