"""iCalendar: ``GET /api/departments/<id>/calendar.ics`` (subscribe from Google Calendar,
Outlook or a phone) and ``POST /api/events/<department_id>/import`` (fill from them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from backend.api.context import settings, storage
from backend.api.events import window_of
from backend.api.inputs import bool_param, date_param, month_param, query, read_body
from backend.api.responses import calendar_etag, calendar_not_modified
from backend.domain import Event
from backend.errors import CalendarError, Invalid
from backend.ics import feed, reader
from backend.storage import DateWindow
from backend.storage.events import changed_event, new_event

bp = Blueprint("calendar", __name__)

ICS_MEDIA_TYPE = "text/calendar"
MAX_IMPORT_BYTES = 10 * 1024 * 1024
FEED_YEARS_BACK, FEED_YEARS_AHEAD = 1, 2


def _domain() -> str:
    """``CALENDAR_DOMAIN``, else the host the request came to, without its port."""
    return settings().calendar_domain or urlsplit("//" + request.host).hostname or "localhost"


def _today() -> date:
    return datetime.now(ZoneInfo(settings().calendar_timezone)).date()


@bp.get("/api/departments/<department_id>/calendar.ics")
def calendar_feed(department_id: str) -> Response:
    args = query({"from": date_param, "to": date_param, "month": month_param})
    department = storage().departments.get(department_id)
    calendar = storage().calendar(department_id)
    version = calendar.calendar_version
    if calendar_not_modified(version):
        response = Response(status=304)
    else:
        window = window_of(args)
        if not args:
            today = _today()
            window = DateWindow(
                today.replace(
                    year=today.year - FEED_YEARS_BACK, day=min(today.day, 28)
                ).isoformat(),
                today.replace(
                    year=today.year + FEED_YEARS_AHEAD, day=min(today.day, 28)
                ).isoformat(),
            )
        events = storage().events.all_in(department_id, window, reach_back=calendar.multi_day)
        body = feed.calendar(department, events, settings().calendar_timezone, _domain())
        response = Response(body, mimetype=ICS_MEDIA_TYPE)
        response.headers["Content-Type"] = f"{ICS_MEDIA_TYPE}; charset=utf-8"
        response.headers["Content-Disposition"] = f'inline; filename="calendar-{department_id}.ics"'
    response.headers["ETag"] = calendar_etag(version)
    return response


@bp.post("/api/events/<department_id>/import")
def import_events(department_id: str) -> Response:
    args = query({"dry_run": bool_param})
    dry_run = args.get("dry_run", False)
    if request.mimetype != ICS_MEDIA_TYPE:
        raise UnsupportedMediaType(
            "send the file as iCalendar with the header Content-Type: text/calendar"
        )
    request.max_content_length = MAX_IMPORT_BYTES
    body = read_body()  # 413 past the limit, chunked or not
    storage().departments.get(department_id)  # 404 for an unknown department
    entries = reader.parse(body, settings().calendar_timezone, _domain())
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    rejected: list[dict[str, Any]] = []
    for entry in entries:
        if entry.reason is not None or entry.event_id is None:
            rejected.append(_rejection(entry, entry.reason or "it cannot be read"))
            continue
        try:
            outcome = _apply(department_id, entry, dry_run=dry_run)
        except Invalid as exc:
            rejected.append(_rejection(entry, str(exc)))
            continue
        except CalendarError as exc:
            if exc.problem.status >= 500:
                raise
            rejected.append(_rejection(entry, str(exc)))
            continue
        counts[outcome] += 1
    return jsonify({**counts, "rejected": rejected, "dry_run": dry_run})


def _rejection(entry: reader.Entry, reason: str) -> dict[str, Any]:
    return {"uid": entry.uid or None, "line": entry.line, "reason": reason}


def _apply(department_id: str, entry: reader.Entry, *, dry_run: bool) -> str:
    """Create, update, delete or leave one event; returns which."""
    assert entry.event_id is not None  # noqa: S101 - rejected entries never get here
    events = storage().events
    current = events.find(department_id, entry.event_id)
    if entry.cancelled:
        if current is None:
            return "unchanged"
        if not dry_run:
            events.delete(department_id, current.id, None)
        return "deleted"
    if current is None:
        event = new_event(department_id, entry.fields, event_id=entry.event_id)
        if not dry_run:
            events.create(event)
        return "created"
    wanted: Event = changed_event(current, entry.fields)
    if wanted == current:
        return "unchanged"
    if not dry_run:
        events.update(department_id, current.id, entry.fields, None)
    return "updated"
