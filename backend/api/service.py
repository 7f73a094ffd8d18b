"""Operational endpoints: liveness, readiness, the OpenAPI document and its docs page."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify, render_template_string, url_for

from backend.api.openapi import document
from backend.api.problems import PROBLEM_TYPES
from backend.api.resources import storage
from backend.errors import NotFound, StorageUnavailable

bp = Blueprint("service", __name__, static_folder="static", static_url_path="/static")


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


@cache
def _openapi() -> dict[str, Any]:
    return document()


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(_openapi())


@bp.get("/problems/<slug>")
def problem_type(slug: str) -> Response:
    if slug not in PROBLEM_TYPES:
        raise NotFound("problem type", slug)
    return jsonify({"type": f"/problems/{slug}", "description": PROBLEM_TYPES[slug]})


_DOCS = """<!doctype html>
<html lang="ko">
<head>
  <meta charset="utf-8">
  <title>Department Calendar API</title>
  <link rel="icon" href="{{ static('favicon-32x32.png') }}">
  <link rel="stylesheet" href="{{ static('swagger-ui.css') }}">
</head>
<body>
  <div id="swagger-ui" data-spec="{{ url_for('service.openapi') }}"></div>
  <script src="{{ static('swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('service.static', filename='docs.js') }}"></script>
</body>
</html>
"""


@bp.get("/docs")
def docs() -> str:
    """Swagger UI, served from this package's own copy so it works with no network."""
    return render_template_string(
        _DOCS, static=lambda name: url_for("service.static", filename=f"swagger-ui/{name}")
    )
