"""How resources and lists are written out: JSON shapes, ETag, Location, 304."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from backend.api.inputs import not_modified
from backend.domain import Department, Event
from backend.fields import EVENT


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


def calendar_etag(calendar_version: int) -> str:
    """The ETag of every list and feed of a department: its calendar's version, weak
    because each list shows a different part of the same calendar."""
    return f'W/"calendar-{calendar_version}"'


def calendar_not_modified(calendar_version: int) -> bool:
    """Whether a list's ``If-None-Match`` already holds the calendar's current ETag."""
    tags = request.if_none_match
    return bool(tags) and (tags.star_tag or tags.contains_weak(f"calendar-{calendar_version}"))


def list_response(
    items: list[dict[str, Any]],
    next_cursor: str | None,
    *,
    calendar_version: int | None = None,
    not_modified: bool = False,
) -> Response:
    response = (
        Response(status=304)
        if not_modified
        else jsonify({"items": items, "next_cursor": next_cursor})
    )
    if calendar_version is not None:
        response.headers["ETag"] = calendar_etag(calendar_version)
    return response
