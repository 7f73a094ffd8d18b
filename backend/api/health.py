"""Liveness and readiness probes: ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from backend.api.context import storage
from backend.errors import StorageUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    try:
        problems = [str(p) for p in storage().check_tables()]
    except StorageUnavailable as exc:
        problems = [str(exc)]
    body: dict[str, Any] = {"status": "unavailable" if problems else "ready"}
    if problems:
        body["problems"] = problems
    response = jsonify(body)
    response.status_code = 503 if problems else 200
    if problems:
        response.headers["Retry-After"] = "10"
    return response
