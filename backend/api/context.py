"""What ``create_app`` injects and views read back: settings, storage, the cursor codec."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from backend.api.cursors import CursorCodec
from backend.api.rendered_pages import RenderedPages
from backend.config import Settings
from backend.services.import_jobs import Starter
from backend.storage import Storage

SETTINGS_KEY = "calendar.settings"
STORAGE_KEY = "calendar.storage"
CURSORS_KEY = "calendar.cursors"
JOBS_KEY = "calendar.import-jobs"
PAGES_KEY = "calendar.rendered-pages"


def settings() -> Settings:
    result: Settings = current_app.extensions[SETTINGS_KEY]
    return result


def storage() -> Storage:
    result: Storage = current_app.extensions[STORAGE_KEY]
    return result


def cursors() -> CursorCodec:
    result: CursorCodec = current_app.extensions[CURSORS_KEY]
    return result


def rendered_pages() -> RenderedPages:
    """Month pages as rendered, by the calendar state they show (``rendered_pages``)."""
    result: RenderedPages = current_app.extensions[PAGES_KEY]
    return result


def job_starter() -> Starter:
    """Where an accepted import job runs (a thread of this process, or on Lambda another
    invocation of the function)."""
    result: Starter = current_app.extensions[JOBS_KEY]
    return result


def zone() -> ZoneInfo:
    """The calendar's time zone (``CALENDAR_TIMEZONE``)."""
    return ZoneInfo(settings().calendar_timezone)


def today() -> date:
    """Today's date in the calendar's time zone."""
    return datetime.now(zone()).date()
