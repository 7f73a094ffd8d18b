"""How resources and lists are written out: JSON shapes, ETag, Location, 304."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, jsonify, request

from backend.api.inputs import not_modified
from backend.domain import Department, Event
from backend.fields import EVENT
from backend.storage import CalendarState
from backend.storage.bookkeeping import utc_datetime


def department_json(department: Department) -> dict[str, Any]:
    # vars() rather than dataclasses.asdict: the fields are flat, and asdict's deep copy
    # was the largest cost of serving a month of events.
    body = dict(vars(department))
    if department.notify_emails:  # optional: left out while a department has none
        body["notify_emails"] = list(department.notify_emails)
    else:
        del body["notify_emails"]
    return body


# Left out of an event that has none: a series's fields, an instance's, the category.
_WHEN_SET = tuple(f.name for f in EVENT.output if f.in_output == "when-set")


def event_json(event: Event) -> dict[str, Any]:
    body = dict(vars(event))  # v1's fields, then end_date, end_time and location
    for name in _WHEN_SET:
        if body[name] is None:
            del body[name]
        elif name == "recurrence":
            body[name] = list(body[name])
    return body


def resource_response(
    body: dict[str, Any], version: int, *, status: int = 200, location: str | None = None
) -> Response:
    """A single resource with its ``ETag``; 304 when the client's copy is current."""
    if status == 200 and not_modified(version):
        response = Response(status=304)
    else:
        response = jsonify(body)
        response.status_code = status
    response.headers["ETag"] = f'"{version}"'
    if location is not None:
        response.headers["Location"] = location
    return response


def calendar_tag(calendar: CalendarState, body: bytes | None = None) -> str:
    """The opaque part of a department list's or feed's ``ETag``.

    Once the calendar's last change is older than ``INDEX_SETTLE``, its version alone:
    every list and feed of the department shares it, and a poll holding it is answered
    304 after one small read. Before that, the index a list reads may not show the last
    change yet, so the version cannot vouch for the body: the tag adds a digest of the
    body served (``body``), and changes again when the settled body is served.
    """
    tag = f"calendar-{calendar.calendar_version}"
    if body is None:
        return tag
    return f"{tag}-{hashlib.sha256(body).hexdigest()[:16]}"


def calendar_etag(tag: str) -> str:
    """Weak: each list shows a different part of the same calendar."""
    return f'W/"{tag}"'


def calendar_not_modified(tag: str) -> bool:
    """Whether ``If-None-Match`` already holds the list's current tag."""
    tags = request.if_none_match
    return bool(tags) and (tags.star_tag or tags.contains_weak(tag))


def list_response(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    return jsonify({"items": items, "next_cursor": next_cursor})


def calendar_list_response(
    items: list[dict[str, Any]], next_cursor: str | None, calendar: CalendarState
) -> Response:
    """A page of a department's calendar with its ``ETag`` (see ``calendar_tag``)."""
    response = list_response(items, next_cursor)
    return with_calendar_tag(response, calendar)


def unchanged_calendar(calendar: CalendarState) -> Response | None:
    """A 304 when the calendar has settled and ``If-None-Match`` holds its version's tag:
    answered before any Query."""
    tag = calendar_tag(calendar)
    if calendar.settled(utc_datetime()) and calendar_not_modified(tag):
        response = Response(status=304)
        response.headers["ETag"] = calendar_etag(tag)
        return response
    return None


def with_calendar_tag(response: Response, calendar: CalendarState) -> Response:
    """``response`` (a list or feed of the calendar) with its ``ETag``, or a 304 when
    ``If-None-Match`` holds it."""
    tag = calendar_tag(calendar)
    if not calendar.settled(utc_datetime()):
        tag = calendar_tag(calendar, response.get_data())
    if calendar_not_modified(tag):
        response = Response(status=304)
    response.headers["ETag"] = calendar_etag(tag)
    return response


def sync_response(
    items: list[dict[str, Any]], next_cursor: str | None, next_sync_token: str | None
) -> Response:
    """A page of a sync: a list page whose last page carries ``next_sync_token``."""
    body: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if next_sync_token is not None:
        body["next_sync_token"] = next_sync_token
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
