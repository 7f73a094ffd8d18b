"""``/api/events/<department_id>``: a department's calendar events."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, url_for

from backend.api.context import cursors, storage
from backend.api.inputs import (
    date_param,
    if_match,
    json_object,
    limit_param,
    month_param,
    query,
    text_param,
)
from backend.api.responses import event_json, list_response, resource_response
from backend.fields import EVENT
from backend.storage import DateWindow, SortKey

bp = Blueprint("events", __name__, url_prefix="/api/events")

DEFAULT_LIMIT = 50


@bp.post("/<department_id>")
def create_event(department_id: str) -> Response:
    fields = EVENT.validate(json_object(), creating=True)
    event = storage().create_event(
        department_id,
        event_date=fields["event_date"],
        title=fields["title"],
        time_text=fields.get("time"),
        description=fields.get("description"),
    )
    return resource_response(
        event_json(event),
        event.version,
        status=201,
        location=url_for(".get_event", department_id=department_id, event_id=event.id),
    )


@bp.get("/<department_id>")
def list_events(department_id: str) -> Response:
    args = query(
        {
            "from": date_param,
            "to": date_param,
            "month": month_param,
            "limit": limit_param,
            "cursor": text_param,
        }
    )
    window = _window(args)
    scope = ["events", department_id, window.start, window.end]
    after = None
    if "cursor" in args:
        after = cast(SortKey, cursors().decode(args["cursor"], scope, 4))
    limit = args.get("limit", DEFAULT_LIMIT)
    page, more = storage().list_events(department_id, window, after, limit)
    next_cursor = cursors().encode(scope, page[-1].sort_key) if more and page else None
    return list_response([event_json(e) for e in page], next_cursor)


def _window(args: dict[str, object]) -> DateWindow:
    """The dates asked for: ``from``/``to`` (inclusive), narrowed further by ``month``.

    A window that holds no date (``from`` after ``to``) is a valid, empty answer.
    """
    start, end = args.get("from"), args.get("to")
    window = DateWindow(None if start is None else str(start), None if end is None else str(end))
    if "month" in args:
        first, last = cast(tuple[str, str], args["month"])
        window = window.narrowed(DateWindow(first, last))
    return window


@bp.get("/<department_id>/<event_id>")
def get_event(department_id: str, event_id: str) -> Response:
    event = storage().events.get(department_id, event_id)
    return resource_response(event_json(event), event.version)


@bp.patch("/<department_id>/<event_id>")
def update_event(department_id: str, event_id: str) -> Response:
    changes = EVENT.validate(json_object(), creating=False)
    event = storage().events.update(department_id, event_id, changes, if_match())
    return resource_response(event_json(event), event.version)


@bp.delete("/<department_id>/<event_id>")
def delete_event(department_id: str, event_id: str) -> Response:
    query({})
    storage().events.delete(department_id, event_id, if_match())
    return Response(status=204)
