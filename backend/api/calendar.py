"""iCalendar: ``GET /api/departments/<id>/calendar.ics`` (subscribe from Google Calendar,
Outlook or a phone) and ``POST /api/events/<department_id>/import`` (fill from them; a
large file as a job, ``GET /api/departments/<department_id>/imports/<job_id>``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.exceptions import UnsupportedMediaType

from backend.access.rights import Need
from backend.api.context import job_starter, settings, storage, today, zone
from backend.api.events import window_of
from backend.api.inputs import bool_param, date_param, month_param, query, read_body, text_param
from backend.api.openapi import (
    BODY_ERRORS,
    CALENDAR_ETAG_HEADERS,
    READ_ERRORS,
    REQUEST_ID_HEADER,
    describe,
    empty_response,
    header,
    json_response,
    operation,
    param,
    window_params,
)
from backend.api.responses import unchanged_calendar, with_settling_tag
from backend.api.security import checked_access, needs
from backend.errors import BadRequest, FieldError
from backend.ics import feed
from backend.services import listing
from backend.services.feed import FEED_MAX_EVENTS, feed_events, feed_series
from backend.services.import_jobs import (
    SYNC_MAX_EVENTS,
    job_json,
    job_status,
    needs_runner,
    start_import,
    wants_job,
)
from backend.services.imports import import_calendar
from backend.storage import DateWindow

bp = Blueprint("calendar", __name__)

ICS_MEDIA_TYPE = "text/calendar"
FILE_MEDIA_TYPE = "application/octet-stream"  # a plain file upload (curl -T, fetch(file))
FORM_MEDIA_TYPE = "multipart/form-data"  # an HTML form or a generated client's upload
_EXAMPLE_FILE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\n"
    "UID:1@example.com\r\nDTSTART;VALUE=DATE:20240120\r\nSUMMARY:팀 회의\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)
MAX_IMPORT_BYTES = 10 * 1024 * 1024
FEED_YEARS_BACK, FEED_YEARS_AHEAD = 1, 2


def _uploaded_file() -> bytes:
    """The iCalendar file of an import: the body (text/calendar or octet-stream), or the
    one file of a multipart form; 413 past MAX_IMPORT_BYTES, 415 for other bodies."""
    request.max_content_length = MAX_IMPORT_BYTES
    if request.mimetype in (ICS_MEDIA_TYPE, FILE_MEDIA_TYPE):
        return read_body()  # 413 past the limit, chunked or not
    if request.mimetype == FORM_MEDIA_TYPE:
        files = [f for name in request.files for f in request.files.getlist(name)]
        if len(files) != 1:
            raise BadRequest(
                f"send exactly one file in the form (got {len(files)})",
                [FieldError("file", "must be exactly one iCalendar file")],
            )
        content: bytes = files[0].read()
        return content
    raise UnsupportedMediaType(
        "send the file as iCalendar (Content-Type: text/calendar), as a plain upload "
        "(application/octet-stream) or as the one file of a multipart/form-data form"
    )


def _domain() -> str:
    """``CALENDAR_DOMAIN``, else the host the request came to, without its port."""
    return settings().calendar_domain or urlsplit("//" + request.host).hostname or "localhost"


@bp.get("/api/departments/<department_id>/calendar.ics")
@describe(
    operation(
        "getDepartmentCalendar",
        "calendar",
        "The department's events as an iCalendar feed to subscribe to",
        "RFC 5545, for Google Calendar (Other calendars → From URL), Outlook and "
        f"Apple Calendar. Default window: the last {FEED_YEARS_BACK * 12} months to the "
        f"next {FEED_YEARS_AHEAD * 12} months. At most {FEED_MAX_EVENTS} events: on the "
        "default window the upcoming ones first, then the past newest first.",
        {
            "200": {
                "description": "The VCALENDAR",
                "headers": {**CALENDAR_ETAG_HEADERS, **REQUEST_ID_HEADER},
                "content": {
                    "text/calendar": {
                        "schema": {"type": "string"},
                        "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n…END:VCALENDAR\r\n",
                    }
                },
            },
            "304": empty_response(
                "Not modified: no event changed since that ETag", CALENDAR_ETAG_HEADERS
            ),
        },
        errors=("404", *READ_ERRORS),
        parameters=[
            *window_params(),
            {
                "name": "key",
                "in": "query",
                "description": "The department's secret feed key (GET .../feed-key): reads "
                "the feed without signing in, for calendar apps. A wrong or rotated key is 404.",
                "schema": {"type": "string", "minLength": 1},
            },
            param("IfNoneMatch"),
        ],
    )
)
@needs(Need.FEED)
def calendar_feed(department_id: str) -> Response:
    args = query({"from": date_param, "to": date_param, "month": month_param, "key": text_param})
    args.pop("key", None)  # checked before the view ran (api.security)
    known = checked_access(department_id)
    department = known.department if known else storage().departments.get(department_id)
    calendar = listing.calendar_of(storage(), department_id)
    if (unchanged := unchanged_calendar(calendar, settled_only=True)) is not None:
        return unchanged
    window, now = window_of(args), None
    if not args:
        now = today()
        window = DateWindow(
            now.replace(year=now.year - FEED_YEARS_BACK, day=min(now.day, 28)).isoformat(),
            now.replace(year=now.year + FEED_YEARS_AHEAD, day=min(now.day, 28)).isoformat(),
        )
    events = feed_events(storage(), department_id, window, calendar, today=now)
    series = feed_series(storage(), department_id, window, calendar, zone())
    body = feed.calendar(
        department,
        events,
        settings().calendar_timezone,
        _domain(),
        [(s.series, s.changed) for s in series],
    )
    response = Response(body, mimetype=ICS_MEDIA_TYPE)
    response.headers["Content-Type"] = f"{ICS_MEDIA_TYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="calendar-{department_id}.ics"'
    return with_settling_tag(response, calendar)


_JOB_EXAMPLE = {
    "id": "6f1c2b0e9d8a4c7b8e5f4a3b2c1d0e9f",
    "status": "running",
    "total": 5000,
    "done": 1500,
    "created_at": "2024-01-20T09:00:00.000Z",
}
_RESULT_EXAMPLE = {
    "created": 3,
    "updated": 0,
    "unchanged": 1,
    "deleted": 0,
    "rejected": [{"uid": "weekly@example.com", "line": 12, "reason": "recurring"}],
    "dry_run": False,
}
_RETRY_AFTER_SECONDS = 2


@bp.post("/api/events/<department_id>/import")
@describe(
    operation(
        "importEvents",
        "calendar",
        "Create, update or delete events from an iCalendar file",
        "Each VEVENT is matched by UID; a second import of the same file changes "
        "nothing. STATUS:CANCELLED deletes. Up to "
        f"{MAX_IMPORT_BYTES // (1024 * 1024)} MiB. A file of more than {SYNC_MAX_EVENTS} "
        "VEVENTs (or any file with ?async=true or Prefer: respond-async, RFC 7240) is "
        "imported as a job: 202 with its address in Location, where GET reports its "
        "progress and, once done, the same result.",
        {
            "200": json_response("What the import did", "ImportResult", _RESULT_EXAMPLE),
            "202": json_response(
                "The file is read and stored; it is imported in the background",
                "ImportJob",
                _JOB_EXAMPLE | {"status": "queued", "done": 0},
                {"Location": header("Location")},
            ),
        },
        errors=("404", *BODY_ERRORS),
        parameters=[
            {
                "name": "dry_run",
                "in": "query",
                "description": "Report what would change; write nothing",
                "schema": {"type": "boolean", "default": False},
            },
            {
                "name": "async",
                "in": "query",
                "description": "true: import as a job (202) whatever the file's size; "
                f"false: within the request even past {SYNC_MAX_EVENTS} VEVENTs. "
                "Default: a job past that.",
                "schema": {"type": "boolean"},
            },
            {
                "name": "Prefer",
                "in": "header",
                "description": "respond-async (RFC 7240): as ?async=true",
                "schema": {"type": "string"},
            },
        ],
        body={
            "required": True,
            "description": "An iCalendar file (RFC 5545), as Google Calendar and Outlook "
            "export it: the body itself (text/calendar, or application/octet-stream as a "
            "plain file upload sends it), or a form with that one file",
            "content": {
                ICS_MEDIA_TYPE: {
                    "schema": {"type": "string", "minLength": 1},
                    "example": _EXAMPLE_FILE,
                },
                FILE_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary"},
                },
                FORM_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The .ics file",
                            }
                        },
                    },
                },
            },
        },
        write=True,
    )
)
@needs(Need.WRITE)
def import_events(department_id: str) -> Response:
    args = query({"dry_run": bool_param, "async": bool_param})
    dry_run = args.get("dry_run", False)
    prefer_async = _prefers_async()
    body = _uploaded_file()
    as_job = args.get("async")
    if as_job is None:
        as_job = prefer_async or wants_job(body)
    reading = {"timezone": settings().calendar_timezone, "domain": _domain(), "dry_run": dry_run}
    if as_job:
        job = start_import(storage(), department_id, body, **reading)
        job_starter()(department_id, job.id)
        response = jsonify(job_json(job))
        response.status_code = 202
        response.headers["Location"] = url_for(
            "calendar.import_job", department_id=department_id, job_id=job.id
        )
        response.headers["Retry-After"] = str(_RETRY_AFTER_SECONDS)
        if prefer_async:
            response.headers["Preference-Applied"] = "respond-async"
        return response
    result = import_calendar(storage(), department_id, body, **reading)
    return jsonify(result.as_json())


def _prefers_async() -> bool:
    """Whether the Prefer header (RFC 7240) asks for respond-async."""
    return any(
        part.split(";")[0].strip().lower() == "respond-async"
        for value in request.headers.getlist("Prefer")
        for part in value.split(",")
    )


@bp.get("/api/departments/<department_id>/imports/<job_id>")
@describe(
    operation(
        "getImportJob",
        "calendar",
        "The progress of an import job, and its result once done",
        "status queued, running, succeeded (with result, as a synchronous import answers "
        "it) or failed (with error); done of total VEVENTs applied. Jobs are kept a day. "
        "A job whose runner stopped is started again by this request.",
        {"200": json_response("The job", "ImportJob", _JOB_EXAMPLE)},
        errors=("404", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.WRITE)
def import_job(department_id: str, job_id: str) -> Response:
    job = job_status(storage(), department_id, job_id)
    if needs_runner(job):
        job_starter()(department_id, job.id)
    response = jsonify(job_json(job))
    if job.status in ("queued", "running"):
        response.headers["Retry-After"] = str(_RETRY_AFTER_SECONDS)
    return response
