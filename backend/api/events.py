"""``/api/events/<department_id>``: a department's calendar events."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from flask import Blueprint, Response, url_for

from backend.api.context import cursors, storage
from backend.api.idempotency import idempotent
from backend.api.inputs import (
    date_param,
    if_match,
    json_object,
    limit_param,
    month_param,
    query,
    search_param,
    text_param,
)
from backend.api.responses import (
    calendar_not_modified,
    event_json,
    list_response,
    resource_response,
)
from backend.domain import Event
from backend.fields import EVENT
from backend.services import events
from backend.storage import DateWindow, SortKey
from backend.storage.idempotency import StoredResponse

bp = Blueprint("events", __name__, url_prefix="/api/events")

DEFAULT_LIMIT = 50


@bp.post("/<department_id>")
def create_event(department_id: str) -> Response:
    body = json_object()
    fields = EVENT.validate(body, creating=True)

    def create() -> StoredResponse:
        event = events.create_event(storage(), department_id, fields)
        location = url_for(".get_event", department_id=department_id, event_id=event.id)
        return StoredResponse(201, event_json(event), location)

    return idempotent(body, create)


@bp.get("/<department_id>")
def list_events(department_id: str) -> Response:
    args = query(
        {
            "from": date_param,
            "to": date_param,
            "month": month_param,
            "limit": limit_param,
            "cursor": text_param,
            "q": search_param,
        }
    )
    calendar = storage().events.calendar_state(department_id)  # 404 before any Query
    version = calendar.calendar_version
    if calendar_not_modified(version):
        return list_response([], None, calendar_version=version, not_modified=True)
    window = window_of(args)
    search = args.get("q")
    scope = ["events", department_id, window.start, window.end, search]
    after = None
    if "cursor" in args:
        after = cast(SortKey, cursors().decode(args["cursor"], scope, 4))
    limit = args.get("limit", DEFAULT_LIMIT)
    page, more = storage().events.list_page(
        department_id,
        window,
        after,
        limit,
        None if search is None else matcher(search),
        reach_back=calendar.multi_day,
    )
    next_cursor = cursors().encode(scope, page[-1].sort_key) if more and page else None
    return list_response([event_json(e) for e in page], next_cursor, calendar_version=version)


def matcher(text: str) -> Callable[[Event], bool]:
    """Whether an event's title, description or location contains ``text`` (Latin letters
    compared case-insensitively)."""
    needle = text.lower()

    def matches(event: Event) -> bool:
        return any(
            needle in value.lower()
            for value in (event.title, event.description, event.location)
            if value
        )

    return matches


def window_of(args: dict[str, object]) -> DateWindow:
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
    event = events.update_event(storage(), department_id, event_id, changes, if_match())
    return resource_response(event_json(event), event.version)


@bp.delete("/<department_id>/<event_id>")
def delete_event(department_id: str, event_id: str) -> Response:
    query({})
    events.delete_event(storage(), department_id, event_id, if_match())
    return Response(status=204)
