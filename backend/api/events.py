"""``/api/events/<department_id>``: a department's calendar events."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, url_for

from backend.api.context import cursors, storage
from backend.api.idempotency import idempotent
from backend.api.inputs import (
    DEFAULT_LIMIT,
    SEARCH_MAX,
    date_param,
    if_match,
    json_object,
    limit_param,
    month_param,
    query,
    search_param,
    text_param,
)
from backend.api.openapi import (
    BODY_ERRORS,
    CALENDAR_ETAG_HEADERS,
    EVENT_EXAMPLE,
    READ_ERRORS,
    REPLAYABLE_HEADERS,
    RESOURCE_HEADERS,
    describe,
    empty_response,
    json_body,
    json_response,
    operation,
    param,
    window_params,
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
from backend.storage.events import READ_BUDGET
from backend.storage.idempotency import StoredResponse

bp = Blueprint("events", __name__, url_prefix="/api/events")


@bp.post("/<department_id>")
@describe(
    operation(
        "createEvent",
        "events",
        "Add an event to a department",
        "event_date must be a real date; time is kept as sent and start_time read "
        "from it (오후 3:00 → 15:00). With Idempotency-Key, a retried create returns "
        "the first answer instead of a second event.",
        {
            "201": json_response(
                "Created; Location names the new event", "Event", EVENT_EXAMPLE, REPLAYABLE_HEADERS
            )
        },
        errors=("404", "409", *BODY_ERRORS),
        parameters=[param("IdempotencyKey")],
        body=json_body(
            "EventCreate",
            "The new event",
            {"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"},
        ),
        write=True,
    )
)
def create_event(department_id: str) -> Response:
    body = json_object()
    fields = EVENT.validate(body, creating=True)

    def render(event: Event) -> StoredResponse:
        location = url_for(".get_event", department_id=department_id, event_id=event.id)
        return StoredResponse(201, event_json(event), location)

    return idempotent(
        body,
        lambda completing: events.create_event(storage(), department_id, fields, completing),
        render,
    )


@bp.get("/<department_id>")
@describe(
    operation(
        "listEvents",
        "events",
        "List events by date, then start time (untimed first), then title",
        "A multi-day event is listed in every window it overlaps. The ETag is the "
        "department calendar's: with If-None-Match it gives 304 without reading "
        f"any event. One page reads at most {READ_BUDGET} events of the index: a "
        "window or search that reads that many without filling its page answers a "
        "short (even empty) page with next_cursor; follow it until it is null.",
        {
            "200": json_response(
                "A page",
                "EventList",
                {"items": [EVENT_EXAMPLE], "next_cursor": None},
                CALENDAR_ETAG_HEADERS,
            ),
            "304": empty_response(
                "Not modified: no event changed since that ETag", CALENDAR_ETAG_HEADERS
            ),
        },
        errors=("404", *READ_ERRORS),
        parameters=[
            *window_params(),
            {
                "name": "q",
                "in": "query",
                "description": "Only events whose title, description or location "
                "contains this text (Latin letters in any case)",
                "schema": {"type": "string", "minLength": 1, "maxLength": SEARCH_MAX},
                "example": "회의",
            },
            param("Limit"),
            param("Cursor"),
            param("IfNoneMatch"),
        ],
    )
)
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
    window = window_of(args)
    search = args.get("q")
    scope = ["events", department_id, window.start, window.end, search]
    after = None
    if "cursor" in args:  # a bad cursor is 400 whatever the conditional headers say
        after = cast(SortKey, cursors().decode(args["cursor"], scope, 4))
    calendar = storage().events.calendar_state(department_id)  # 404 before any Query
    version = calendar.calendar_version
    if calendar_not_modified(version):
        return list_response([], None, calendar_version=version, not_modified=True)
    limit = args.get("limit", DEFAULT_LIMIT)
    page = storage().events.list_page(
        department_id,
        window,
        after,
        limit,
        None if search is None else events.matcher(search),
        reach_back=calendar.multi_day,
    )
    next_cursor = None if page.after is None else cursors().encode(scope, page.after)
    return list_response(
        [event_json(e) for e in page.events], next_cursor, calendar_version=version
    )


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
@describe(
    operation(
        "getEvent",
        "events",
        "Get an event",
        "The event with its ETag; with If-None-Match holding that ETag, 304.",
        {
            "200": json_response("The event", "Event", EVENT_EXAMPLE, RESOURCE_HEADERS),
            "304": empty_response(
                "Not modified: If-None-Match holds the current ETag", RESOURCE_HEADERS
            ),
        },
        errors=("404", *READ_ERRORS),
        parameters=[param("IfNoneMatch")],
    )
)
def get_event(department_id: str, event_id: str) -> Response:
    event = storage().events.get(department_id, event_id)
    return resource_response(event_json(event), event.version)


@bp.patch("/<department_id>/<event_id>")
@describe(
    operation(
        "updateEvent",
        "events",
        "Change an event",
        "Changes the fields sent (a JSON merge patch: null clears the optional "
        "ones). With If-Match, only if nobody changed it since: else 412.",
        {
            "200": json_response(
                "The updated event",
                "Event",
                {**EVENT_EXAMPLE, "time": "오전 10:00", "start_time": "10:00"},
                RESOURCE_HEADERS,
            )
        },
        errors=("404", "409", "412", *BODY_ERRORS),
        parameters=[param("IfMatch")],
        body=json_body("EventUpdate", "Fields to change", {"time": "오전 10:00"}),
        write=True,
    )
)
def update_event(department_id: str, event_id: str) -> Response:
    changes = EVENT.validate(json_object(), creating=False)
    event = events.update_event(storage(), department_id, event_id, changes, if_match())
    return resource_response(event_json(event), event.version)


@bp.delete("/<department_id>/<event_id>")
@describe(
    operation(
        "deleteEvent",
        "events",
        "Delete an event",
        "With If-Match, only if nobody changed it since: else 412.",
        {"204": empty_response("Deleted")},
        errors=("404", "412", *READ_ERRORS),
        parameters=[param("IfMatch")],
        write=True,
    )
)
def delete_event(department_id: str, event_id: str) -> Response:
    query({})
    events.delete_event(storage(), department_id, event_id, if_match())
    return Response(status=204)
