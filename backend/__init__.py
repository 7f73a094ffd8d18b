"""Department calendar backend: ``create_app()`` builds the Flask application."""

from __future__ import annotations

import logging

from flask import Flask

from backend.api import (
    access_log,
    calendar,
    departments,
    docs,
    events,
    health,
    holidays,
    members,
    options,
    page,
    security,
    webhooks,
)
from backend.api.context import CURSORS_KEY, JOBS_KEY, PAGES_KEY, SETTINGS_KEY, STORAGE_KEY
from backend.api.cursors import CursorCodec
from backend.api.json_provider import KoreanJSONProvider
from backend.api.problems import register_error_handlers
from backend.api.rendered_pages import RenderedPages
from backend.api.wsgi import RawQueryFix
from backend.config import Settings
from backend.services.import_jobs import Starter, in_thread
from backend.storage import Storage

__all__ = ["create_app"]

# A library's manners: nothing is printed unless the process configures logging (the
# entry points do); the setup guide's bare `python -c` then shows only its own lines.
logging.getLogger(__name__).addHandler(logging.NullHandler())

MAX_BODY_BYTES = 1024 * 1024


def create_app(
    settings: Settings | None = None,
    storage: Storage | None = None,
    *,
    start_job: Starter | None = None,
) -> Flask:
    """Build the application.

    Without ``storage``, it connects as ``settings`` say (see ``storage.startup``): in
    local mode the embedded engine is started and the tables are created if missing;
    against AWS or another endpoint the tables are only described.
    """
    settings = settings if settings is not None else Settings.from_env()
    if storage is None:
        from backend.storage.startup import open_storage  # noqa: PLC0415 - connects

        storage = open_storage(settings)

    app = Flask(__name__, static_folder=None)
    app.json = KoreanJSONProvider(app)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    app.url_map.strict_slashes = False
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[STORAGE_KEY] = storage
    app.extensions[CURSORS_KEY] = CursorCodec(app.config["SECRET_KEY"])
    app.extensions[PAGES_KEY] = RenderedPages(settings.list_cache_mb * 1024 * 1024)
    # Import jobs run in a thread of this process unless the caller says where (Lambda).
    app.extensions[JOBS_KEY] = start_job if start_job is not None else in_thread(storage)

    app.wsgi_app = RawQueryFix(app.wsgi_app)  # type: ignore[method-assign]
    access_log.install(app)  # first: request ids exist before anything can fail
    security.install(app, settings)
    options.install(app)
    app.register_blueprint(departments.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(holidays.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(members.bp)
    register_error_handlers(app)
    security.check_routes(app)
    return app
