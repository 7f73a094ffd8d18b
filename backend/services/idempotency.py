"""``Idempotency-Key`` on creates: a retried POST gets the first answer, not a duplicate.

Within 24 hours of the first request with a key: the same key and body return the first
response again (status, body, ``Location``), creating nothing; the same key with another
body is 422 ``idempotency-key-reused``; the same key while the first request still runs
is 409 ``idempotency-key-in-use``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.errors import CalendarError, Conflict, IdempotencyKeyReused
from backend.storage import Storage
from backend.storage.idempotency import KEEP_HOURS, StoredResponse, fingerprint

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255  # printable ASCII characters


def run_once(
    storage: Storage,
    scope: str,
    key: str,
    body: Any,
    create: Callable[[], StoredResponse],
) -> tuple[StoredResponse, bool]:
    """Run ``create`` once per ``key`` and ``body`` within ``scope`` (the route); returns
    the answer and whether it is replayed from the first request."""
    records = storage.idempotency
    claim = records.claim(scope, key, fingerprint(scope, body))
    if claim.other_body:
        raise IdempotencyKeyReused(
            f"{HEADER} {key!r} was used within {KEEP_HOURS} hours for a request with another body; "
            "use a new key for a new request"
        )
    if claim.in_progress:
        raise Conflict(
            f"a request with {HEADER} {key!r} is still being processed; retry shortly",
            code="idempotency-key-in-use",
        )
    if claim.response is not None:
        return claim.response, True
    assert claim.token is not None  # noqa: S101 - claim() sets exactly one outcome
    try:
        stored = create()
    except CalendarError:
        records.release(scope, key, claim.token)  # a failed create can be retried as it was
        raise
    records.complete(scope, key, claim.token, stored)
    return stored, False
