"""Write authorisation by bearer token, CORS by allow-list, and security headers."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_cors import CORS

from backend.config import Settings
from backend.errors import ConfigError, Unauthorized

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID", "Retry-After"]
View = TypeVar("View", bound=Callable[..., Any])


GUARDED = "__guarded_read__"


def guarded(view: View) -> View:
    """Mark a read that needs the bearer token like a write (it shows secrets)."""
    setattr(view, GUARDED, True)
    return view


def token_is_valid(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Compare in constant time against every configured token."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    supplied = given.strip().encode()
    # Check every token, so the time taken does not tell which one came close.
    matches = [hmac.compare_digest(supplied, token.encode()) for token in tokens]
    return any(matches)


def install(app: Flask, settings: Settings) -> None:
    if settings.api_tokens:

        @app.before_request
        def require_token() -> None:
            view = app.view_functions.get(request.endpoint or "")
            needs_token = request.method in WRITE_METHODS or getattr(view, GUARDED, False)
            if needs_token and not token_is_valid(
                request.headers.get("Authorization"), settings.api_tokens
            ):
                raise Unauthorized
    elif settings.is_production:
        if not settings.allow_open_writes:
            raise ConfigError(
                "FLASK_ENV=production needs API_TOKENS (or ALLOW_OPEN_WRITES=true to serve "
                "open writes on purpose)"
            )
        logger.warning(
            "WRITES ARE OPEN, as ALLOW_OPEN_WRITES=true asks: API_TOKENS is not set, so "
            "anyone who can reach this server can create, change and delete departments "
            "and events."
        )

    if settings.cors_origins:
        CORS(
            app,
            origins=list(settings.cors_origins),
            expose_headers=EXPOSED_HEADERS,
            allow_headers=[
                "Content-Type",
                "Authorization",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
            ],
            methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            max_age=600,
        )

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/docs", "/static/")):
            # Swagger UI: our own scripts and styles only (it sets inline styles).
            headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "frame-ancestors 'none'",
            )
        else:
            headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
            headers.setdefault(
                "Cache-Control", "no-store" if request.method != "GET" else "no-cache"
            )
        if settings.is_production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
