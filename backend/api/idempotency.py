"""Reading ``Idempotency-Key``, and answering a create run through it. The rule itself is
``services.idempotency``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from backend.api.context import storage
from backend.api.security import caller
from backend.errors import BadRequest, FieldError
from backend.services.idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    Completing,
    Resource,
    run_once,
)
from backend.storage.idempotency import StoredResponse

_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")


def idempotent(
    body: dict[str, Any],
    create: Callable[[Completing[Resource] | None], Resource],
    render: Callable[[Resource], StoredResponse],
) -> Response:
    """Run ``create`` once per ``Idempotency-Key`` (when one is sent) and body, and answer
    with ``render`` of what it created (or of what the first request created)."""
    key = request.headers.get(HEADER)
    if key is None:
        return created_response(render(create(None)), replayed=False)
    if not _KEY.fullmatch(key):
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            [FieldError(HEADER, f"is not 1 to {MAX_KEY_LENGTH} printable ASCII characters")],
        )
    scope = f"{request.method} {request.path}"
    who = caller()
    if who.kind == "user":
        # Each person's keys are their own, as Stripe scopes keys to an account: another
        # person's request with the same key and body is a request of its own.
        scope += f" {who.principal}"
    stored, replayed = run_once(storage(), scope, key, body, create=create, render=render)
    return created_response(stored, replayed=replayed)


def created_response(stored: StoredResponse, *, replayed: bool) -> Response:
    """The answer of a create: its body, status, ``Location`` and ``ETag``."""
    response = jsonify(stored.body)
    response.status_code = stored.status
    if stored.location:
        response.headers["Location"] = stored.location
    version = stored.body.get("version") if isinstance(stored.body, dict) else None
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
