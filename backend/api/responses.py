"""How resources and lists are written out: JSON shapes, ETag, Location, 304."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from backend.api.inputs import not_modified
from backend.domain import Department, Event


def department_json(department: Department) -> dict[str, Any]:
    # vars() rather than dataclasses.asdict: the fields are flat, and asdict's deep copy
    # was the largest cost of serving a month of events.
    body = dict(vars(department))
    if department.notify_emails:  # optional: left out while a department has none
        body["notify_emails"] = list(department.notify_emails)
    else:
        del body["notify_emails"]
    return body


def event_json(event: Event) -> dict[str, Any]:
    return dict(vars(event))


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


def list_response(items: list[dict[str, Any]], next_cursor: str | None) -> Response:
    return jsonify({"items": items, "next_cursor": next_cursor})
