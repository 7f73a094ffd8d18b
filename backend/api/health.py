"""Liveness and readiness probes: ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from backend.access.rights import Need
from backend.api.context import storage
from backend.api.openapi import (
    describe,
    header,
    json_response,
    operation,
)
from backend.api.security import needs
from backend.errors import StorageUnavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@describe(
    operation(
        "getHealth",
        "service",
        "The process is running",
        "Liveness for load balancers: 200 whenever the process answers, whatever "
        "the state of DynamoDB.",
        {"200": json_response("Alive", "Health", {"status": "ok"})},
    )
)
@needs(Need.NOTHING)
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@describe(
    operation(
        "getReadiness",
        "service",
        "Both tables answer",
        "Readiness for monitoring: 200 when both tables answer, else 503 naming why.",
        {
            "200": json_response("Ready", "Readiness", {"status": "ready"}),
            "503": json_response(
                "Not ready, with the reasons",
                "Readiness",
                {
                    "status": "unavailable",
                    "problems": ["DynamoDB cannot be reached; retry shortly"],
                },
                {"Retry-After": header("Retry-After")},
            ),
        },
    )
)
@needs(Need.NOTHING)
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
