"""The one place where errors become RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from backend.api.security import Unauthorized
from backend.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
    StorageUnavailable,
)

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"

# Problem types of our own, each documented at /problems/<slug> and in the OpenAPI.
PROBLEM_TYPES = {
    "validation-error": "The request body or query breaks a rule; see errors[] per field.",
    "bad-request": "The request could not be read: malformed JSON, a bad query value or cursor.",
    "not-found": "The department, event or route does not exist.",
    "name-taken": "Another department already has this name.",
    "has-events": "The department still has events; delete them or use ?cascade=true.",
    "busy": "The resource changed too often while this request was applied; retry.",
    "precondition-failed": "If-Match no longer matches the resource's ETag; fetch it again.",
    "unsupported-media-type": "Send the body as application/json (UTF-8).",
    "unauthorized": "Writes need Authorization: Bearer <token> (API_TOKENS is set).",
    "payload-too-large": "The request body is over 1 MiB.",
    "method-not-allowed": "The route exists but not with this method; see the Allow header.",
    "storage-unavailable": "DynamoDB cannot answer right now; retry after Retry-After seconds.",
    "internal-error": "An unexpected error on our side; it has been logged with the request id.",
}

_HTTP_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


class BadRequest(Exception):
    """A request we cannot read (400): malformed JSON, a bad query value, a bad cursor."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.get("request_id"),
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if extra:
        body |= extra
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Invalid)
    def invalid(exc: Invalid) -> Response:
        count = len(exc.errors)
        return problem(
            422,
            "validation-error",
            "Invalid input",
            f"{count} field{'s' if count != 1 else ''} did not pass validation",
            errors=exc.errors,
        )

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return problem(400, "bad-request", "Bad request", exc.detail, errors=exc.errors)

    @app.errorhandler(Unauthorized)
    def unauthorized(_exc: Unauthorized) -> Response:
        return problem(
            401,
            "unauthorized",
            "Unauthorized",
            "writes need the header Authorization: Bearer <token> with a token from API_TOKENS",
            headers={"WWW-Authenticate": 'Bearer realm="department-calendar"'},
        )

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return problem(404, "not-found", f"{exc.kind.capitalize()} not found", str(exc))

    @app.errorhandler(Conflict)
    def conflict(exc: Conflict) -> Response:
        titles = {"name-taken": "Name already taken", "has-events": "Department has events"}
        return problem(409, exc.code, titles.get(exc.code, "Conflict"), str(exc))

    @app.errorhandler(PreconditionFailed)
    def precondition_failed(exc: PreconditionFailed) -> Response:
        return problem(
            412,
            "precondition-failed",
            "Precondition failed",
            str(exc),
            headers={"ETag": f'"{exc.current_version}"'},
        )

    @app.errorhandler(StorageUnavailable)
    def unavailable(exc: StorageUnavailable) -> Response:
        return problem(
            503,
            "storage-unavailable",
            "Storage unavailable",
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
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
        return problem(
            status, _HTTP_SLUGS.get(status, "about:blank"), exc.name, detail, headers=headers
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return problem(
            500,
            "internal-error",
            "Internal Server Error",
            "an unexpected error occurred; quote the request id when reporting it",
        )
