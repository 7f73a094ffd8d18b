"""Department calendar backend: ``create_app()`` builds the Flask application."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from backend import observability
from backend.api import departments, events, page, security, service
from backend.api.cursors import CursorCodec
from backend.api.problems import register_error_handlers
from backend.api.resources import CURSORS_KEY, STORAGE_KEY
from backend.config import Mode, Settings
from backend.connection import connect, missing_tables_message
from backend.errors import StartupError, StorageUnavailable
from backend.storage import Storage

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class KoreanJSONProvider(DefaultJSONProvider):
    """JSON with Korean (and all other) text as UTF-8 rather than ``\\uXXXX`` escapes."""

    ensure_ascii = False
    sort_keys = False


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> Flask:
    """Build the application.

    Without ``storage``, it connects as ``settings`` say. In local mode the embedded
    engine is started and the tables are created if missing; against AWS or another
    endpoint the tables are only described, and missing ones stop the start-up with a
    message that says how to create them.
    """
    settings = settings if settings is not None else Settings.from_env()
    if storage is None:
        storage = _open_storage(settings)

    app = Flask(__name__, static_folder=None)
    app.json = KoreanJSONProvider(app)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.url_map.strict_slashes = False
    app.extensions[STORAGE_KEY] = storage
    app.extensions[CURSORS_KEY] = CursorCodec(app.config["SECRET_KEY"])

    app.wsgi_app = _RawQueryFix(app.wsgi_app)  # type: ignore[method-assign]
    observability.instrument(storage.client)
    observability.install(app)  # first: request ids exist before anything can fail
    security.install(app, settings)
    app.register_blueprint(departments.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(service.bp)
    app.register_blueprint(page.bp)
    register_error_handlers(app)
    return app


class _RawQueryFix:
    """Undo Werkzeug's development server double-decoding raw UTF-8 in a query string.

    curl sends ``?name=개발팀`` unencoded. The dev server decodes those bytes as Latin-1
    and then encodes them once more, so ``request.args`` would see mojibake; undoing one
    step restores the PEP 3333 form. Percent-encoded queries are ASCII and pass through.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if not query.isascii() and str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug"):
            with contextlib.suppress(UnicodeError):
                environ["QUERY_STRING"] = query.encode("latin-1").decode("utf-8")
        return self.app(environ, start_response)


def _open_storage(settings: Settings) -> Storage:
    storage, target = connect(settings)
    if settings.mode is Mode.LOCAL:
        created: list[str] = []
        storage.create_tables(lambda table, new: created.append(table) if new else None)
        from backend.local_engine import keep_alive  # noqa: PLC0415 - dev-only module

        keep_alive(str(target.endpoint_url))
        logger.info(
            "Using %s (no AWS settings found; data kept in %s). Tables %s, %s: %s.",
            target.describe(),
            settings.local_dir,
            settings.departments_table,
            settings.events_table,
            f"created {', '.join(created)}" if created else "ready",
        )
        return storage
    try:
        problems = [str(p) for p in storage.check_tables()]
    except StorageUnavailable as exc:
        if "credentials" in str(exc):
            raise StartupError(
                f"{exc}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in backend/.env "
                "(or AWS_PROFILE), or check them with: aws configure list"
            ) from exc
        # DynamoDB is unreachable right now: serve anyway, /readyz says why, and requests
        # answer 503 until it returns.
        logger.warning("Using %s, which does not answer yet: %s", target.describe(), exc)
        return storage
    if problems:
        raise StartupError(missing_tables_message(target, problems))
    logger.info(
        "Using %s; tables %s and %s are ready.",
        target.describe(),
        settings.departments_table,
        settings.events_table,
    )
    return storage
