"""How resources and lists are written out: JSON shapes, ETag, Location, 304."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, jsonify, request

from backend.api.inputs import not_modified
from backend.domain import Actor, Department, Event
from backend.fields import EVENT
from backend.storage import CalendarState
from backend.storage.bookkeeping import utc_datetime


def department_json(department: Department, access_role: str | None = None) -> dict[str, Any]:
    """A department as served; ``access_role`` (the caller's role in it, as Google's
    calendar list gives ``accessRole``) is added when given."""
    # vars() rather than dataclasses.asdict: the fields are flat, and asdict's deep copy
    # was the largest cost of serving a month of events.
    body = dict(vars(department))
    if department.notify_emails:  # optional: left out while a department has none
        body["notify_emails"] = list(department.notify_emails)
    else:
        del body["notify_emails"]
    _actors(body, department.created_by, department.updated_by)
    if access_role is not None:
        body["access_role"] = access_role
    return body


def _actors(body: dict[str, Any], created_by: Actor | None, updated_by: Actor | None) -> None:
    if created_by is not None:
        body["created_by"] = created_by.json()
    if updated_by is not None:
        body["updated_by"] = updated_by.json()


# Left out of an event that has none: a series's fields, an instance's, the category.
_WHEN_SET = tuple(f.name for f in EVENT.output if f.in_output == "when-set")


def event_json(event: Event) -> dict[str, Any]:
    body = dict(vars(event))  # v1's fields, then end_date, end_time and location
    for name in _WHEN_SET:
        if body[name] is None:
            del body[name]
        elif name == "recurrence":
            body[name] = list(body[name])
    if event.created_by is not None or event.updated_by is not None:
        _actors(body, event.created_by, event.updated_by)
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
    """The opaque part of a department list's or feed's ``ETag``: the calendar's version,
    which every list and feed of the department shares (a poll holding it is answered 304
    after one small read), and, for a ``body`` read from the index while it may still lag
    (a feed within ``INDEX_SETTLE`` of a change), a digest of it: such a tag never vouches
    for a version the body may not show, and changes again when the settled body is."""
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


def unchanged_calendar(calendar: CalendarState, *, settled_only: bool = False) -> Response | None:
    """A 304 when ``If-None-Match`` holds the calendar version's tag, answered before any
    Query; ``settled_only``: only once the index has settled (a feed, whose body is read
    from the index as it is)."""
    tag = calendar_tag(calendar)
    if settled_only and not calendar.settled(utc_datetime()):
        return None
    if calendar_not_modified(tag):
        response = Response(status=304)
        response.headers["ETag"] = calendar_etag(tag)
        return response
    return None


def calendar_list_response(
    items: list[dict[str, Any]], next_cursor: str | None, calendar: CalendarState
) -> Response:
    """A page of a department's calendar, read as it stands at ``calendar``'s version
    (``listing.settled_page``), with that version's ``ETag``."""
    response = list_response(items, next_cursor)
    response.headers["ETag"] = calendar_etag(calendar_tag(calendar))
    return response


def kept_calendar_page(body: bytes, calendar: CalendarState) -> Response:
    """A page rendered earlier at ``calendar``'s state (``rendered_pages``), as
    ``calendar_list_response`` answered it."""
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["ETag"] = calendar_etag(calendar_tag(calendar))
    return response


def with_settling_tag(response: Response, calendar: CalendarState) -> Response:
    """A feed (read from the index as it is) with its ``ETag``: the version's once the
    index has settled, else with a digest of the body; or a 304 when it matches."""
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
