"""The one place where errors become RFC 9457 ``application/problem+json`` responses.

Which status, ``type`` and title each error gets comes from ``errors.PROBLEM_TYPES``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from backend.errors import HTTP_STATUS_PROBLEMS, PROBLEM_TYPES, CalendarError, FieldError

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug in PROBLEM_TYPES else slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.get("request_id"),
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CalendarError)
    def calendar_error(exc: CalendarError) -> Response:
        kind = exc.problem
        if kind.slug == "internal-error":  # a start-up or job error has no business here
            return unexpected(exc)
        return problem(
            kind.status,
            kind.slug,
            exc.title,
            exc.detail,
            errors=exc.field_errors,
            headers=exc.headers(),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        detail = {
            404: f"no route matches {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: "the request body is over 1 MiB",
        }.get(status, exc.description or exc.name)
        slug = HTTP_STATUS_PROBLEMS.get(status, "about:blank")
        return problem(status, slug, exc.name, detail, headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        kind = PROBLEM_TYPES["internal-error"]
        return problem(
            kind.status,
            kind.slug,
            kind.title,
            "an unexpected error occurred; quote the request id when reporting it",
        )
