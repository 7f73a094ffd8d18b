"""gunicorn settings for production: ``cd backend && gunicorn -c gunicorn.conf.py app:app``.

Worker class gevent (one greenlet per connection), chosen by measurement: a client that
sends its request slowly holds a greenlet, not one of a few threads, so slow clients cannot
starve everyone else. See the production section of docs/operations.md for the numbers
against gthread and sync. Every value can be overridden on the command line or with
gunicorn's GUNICORN_CMD_ARGS.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# Where to listen: PORT/HOST as most platforms set them (Elastic Beanstalk sets PORT).
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104

# One worker process per core: a worker runs one greenlet at a time, so more processes
# than cores only adds memory. Greenlets cover the time each request waits on
# DynamoDB (most of it) and the time a slow client takes to send its request; gunicorn
# applies gevent's monkey patching in each worker before the app (and boto3) is imported.
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # used only if gthread is asked for

# boto3's pool keeps this many idle connections to DynamoDB per worker; a greenlet that
# finds none free opens one. 32 covers the calls in flight of a worker at full CPU.
os.environ.setdefault(
    "DYNAMODB_MAX_POOL_CONNECTIONS", str(threads if worker_class == "gthread" else 32)
)
os.environ.setdefault("LOG_FORMAT", "json")

# Graceful shutdown: on SIGTERM, workers finish requests in flight for up to 30 s.
graceful_timeout = 30
timeout = 30  # a worker that stops answering the arbiter this long (a stuck CPU) is restarted
# A client has this long to send each request's line and headers (the gevent worker bounds
# the read with it), and a kept-alive connection this long between requests; behind a load
# balancer that keeps connections open (ALB idle 60 s) the balancer reconnects.
keepalive = 5

# The whole of a request (reading its body, the app, writing the answer) within this many
# seconds, or 503 (or a closed connection once the answer has begun). Above one DynamoDB
# call's worst case (3 attempts of 2 s connect + 5 s read, 3 s backoff: 24 s), so slow
# storage mostly answers its own 503 first; this ends requests that a client holds open
# by sending or reading slowly, and hangs.
request_time_limit = float(os.environ.get("REQUEST_TIME_LIMIT", "30"))

# Each worker builds its own app and boto3 client after the fork (clients are not
# fork-safe), which also lets a worker that crashed come back cleanly.
preload_app = False

# Our app writes one JSON line per request itself; gunicorn's own access log would
# repeat it as text. gunicorn's error log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Limits on what a client can send before the app sees it.
limit_request_line = 8190
limit_request_fields = 100

logger = logging.getLogger("backend.serving")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_TIMED_OUT_BODY = (
    b'{"type": "about:blank", "title": "Service Unavailable", "status": 503, '
    b'"detail": "The request took longer than the server allows; send it again."}'
)


class RequestTimeLimitExceeded(Exception):
    """A response already under way ran out of time: the connection is closed."""


def time_limited(app: WSGIApp, seconds: float) -> WSGIApp:
    """``app`` with each request, body and answer included, bounded by ``seconds``.

    gevent's Timeout interrupts the greenlet at its next wait (a socket read or write), so
    it ends a request held by a slow client or a stuck call; pure CPU is the arbiter's
    ``timeout``'s to catch.
    """
    from gevent import Timeout  # noqa: PLC0415 (only a gevent worker has it patched in)

    def limited(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        timer = Timeout(seconds)
        timer.start()
        try:
            body = app(environ, start_response)
        except Timeout as exc:
            if exc is not timer:
                raise
            timer.close()
            _log_timeout(environ, seconds)
            # The unread rest of the body must not be taken for the next request.
            response = getattr(start_response, "__self__", None)  # gunicorn's Response
            if response is not None:
                response.force_close()
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/problem+json"),
                    ("Content-Length", str(len(_TIMED_OUT_BODY))),
                    ("Retry-After", "1"),
                ],
                sys.exc_info(),
            )
            return [_TIMED_OUT_BODY]
        except BaseException:
            timer.close()
            raise
        return _TimedAnswer(body, timer, environ, seconds)

    return limited


class _TimedAnswer:
    """The app's answer, written under the request's timer; closing it stops the timer.

    ``close`` (which gunicorn calls whatever happened) also covers an answer never
    iterated, so that no timer outlives its request and fires in the next one.
    """

    def __init__(
        self, body: Iterable[bytes], timer: Any, environ: dict[str, Any], seconds: float
    ) -> None:
        self.body, self.timer, self.environ, self.seconds = body, timer, environ, seconds

    def __iter__(self) -> Iterator[bytes]:
        from gevent import Timeout  # noqa: PLC0415

        try:
            yield from self.body
        except Timeout as exc:
            if exc is not self.timer:
                raise
            _log_timeout(self.environ, self.seconds)
            message = f"answer not sent within {self.seconds:g} s"
            raise RequestTimeLimitExceeded(message) from None

    def close(self) -> None:
        self.timer.close()
        close = getattr(self.body, "close", None)
        if close is not None:
            close()


def _log_timeout(environ: dict[str, Any], seconds: float) -> None:
    logger.warning(
        "request over the time limit of %g s: %s %s",
        seconds,
        environ.get("REQUEST_METHOD"),
        environ.get("PATH_INFO"),
    )


def post_worker_init(worker: Any) -> None:
    """Bound every request's time in a gevent worker (a thread cannot be interrupted)."""
    from gevent import monkey  # noqa: PLC0415

    if request_time_limit > 0 and monkey.is_module_patched("socket"):
        worker.wsgi = time_limited(worker.wsgi, request_time_limit)
