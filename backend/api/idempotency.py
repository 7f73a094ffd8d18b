"""``Idempotency-Key`` on creates: a retried POST gets the first answer, not a duplicate.

Within 24 hours of the first request with a key: the same key and body return the first
response again (status, body, ``Location``), creating nothing; the same key with another
body is 422 ``idempotency-key-reused``; the same key while the first request still runs
is 409 ``idempotency-key-in-use``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from backend.api.context import storage
from backend.errors import BadRequest, CalendarError, Conflict, FieldError, IdempotencyKeyReused
from backend.storage.idempotency import StoredResponse, fingerprint

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def idempotent(body: dict[str, Any], create: Callable[[], Response]) -> Response:
    """Run ``create`` once per ``Idempotency-Key`` (when one is sent) and body."""
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    if not _KEY.fullmatch(key):
        raise BadRequest(
            f"{HEADER} must be 1 to 255 printable ASCII characters",
            [FieldError(HEADER, "is not 1 to 255 printable ASCII characters")],
        )
    records = storage().idempotency
    scope = f"{request.method} {request.path}"
    claim = records.claim(scope, key, fingerprint(scope, body))
    if claim.other_body:
        raise IdempotencyKeyReused(
            f"{HEADER} {key!r} was used within 24 hours for a request with another body; "
            "use a new key for a new request"
        )
    if claim.in_progress:
        raise Conflict(
            f"a request with {HEADER} {key!r} is still being processed; retry shortly",
            code="idempotency-key-in-use",
        )
    if claim.response is not None:
        return _replay(claim.response)
    assert claim.token is not None  # noqa: S101 - claim() sets exactly one outcome
    try:
        response = create()
    except CalendarError:
        records.release(scope, key, claim.token)  # a failed create can be retried as it was
        raise
    stored = StoredResponse(response.status_code, response.get_json(), response.location)
    records.complete(scope, key, claim.token, stored)
    return response


def _replay(stored: StoredResponse) -> Response:
    response = jsonify(stored.body)
    response.status_code = stored.status
    if stored.location:
        response.headers["Location"] = stored.location
    version = stored.body.get("version") if isinstance(stored.body, dict) else None
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    response.headers["Idempotent-Replayed"] = "true"
    return response
