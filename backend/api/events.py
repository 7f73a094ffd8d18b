"""``/api/events/<department_id>``: a department's calendar events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from flask import Blueprint, Response, url_for

from backend.access.rights import Need
from backend.api.context import cursors, rendered_pages, storage, today, zone
from backend.api.idempotency import idempotent
from backend.api.inputs import (
    DEFAULT_LIMIT,
    SEARCH_MAX,
    bool_param,
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
    limit_parameter,
    operation,
    param,
    window_params,
)
from backend.api.responses import (
    calendar_list_response,
    event_json,
    kept_calendar_page,
    list_response,
    resource_response,
    sync_response,
    unchanged_calendar,
)
from backend.api.security import needs
from backend.domain import Event
from backend.errors import BadRequest, FieldError
from backend.fields import EVENT
from backend.services import events, listing, recurring, sync
from backend.services.idempotency import Completing
from backend.services.listing import EXPANSION_YEARS
from backend.services.recurring import CHUNK_DAYS, INSTANCES_DEFAULT, INSTANCES_MAX, SCOPES
from backend.storage import CalendarState, DateWindow, SortKey
from backend.storage.changes import HISTORY_DAYS
from backend.storage.events import READ_BUDGET
from backend.storage.idempotency import StoredResponse

bp = Blueprint("events", __name__, url_prefix="/api/events")


SCOPE_PARAM = {
    "name": "scope",
    "in": "query",
    "description": "For an instance of a recurring event: this (default) changes that "
    "occurrence only, following this and every later one, all the whole series. "
    "Ignored for other events.",
    "schema": {"type": "string", "enum": list(SCOPES), "default": "this"},
}


def scope_param(raw: str) -> str:
    if raw not in SCOPES:
        raise ValueError(f"must be one of {', '.join(SCOPES)}, not {raw!r}")
    return raw


@bp.post("/<department_id>")
@describe(
    operation(
        "createEvent",
        "events",
        "Add an event to a department",
        "event_date must be a real date; time is kept as sent and start_time read "
        "from it (오후 3:00 → 15:00). With recurrence, a recurring event (series) whose "
        "first occurrence is event_date. With Idempotency-Key, a retried create returns "
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
@needs(Need.WRITE)
def create_event(department_id: str) -> Response:
    body = json_object()
    fields = EVENT.validate(body, creating=True)

    def render(event: Event) -> StoredResponse:
        location = url_for(".get_event", department_id=department_id, event_id=event.id)
        return StoredResponse(201, event_json(event), location)

    def create(completing: Completing[Event] | None) -> Event:
        if fields.get("recurrence"):
            return recurring.create_series(storage(), department_id, fields, zone(), completing)
        return events.create_event(storage(), department_id, fields, completing)

    return idempotent(body, create, render)


@bp.get("/<department_id>")
@describe(
    operation(
        "listEvents",
        "events",
        "List events by date, then start time (untimed first), then title",
        "A multi-day event is listed in every window it overlaps. The ETag is the "
        "department calendar's: with If-None-Match it gives 304 without reading "
        "any event (within a minute of a change, while the index may still lag, a "
        "page also reads that minute's changes, consistently, so its body holds what "
        f"its ETag vouches for). One page reads at most {READ_BUDGET} events of the index: a "
        "window or search that reads that many without filling its page answers a "
        "short (even empty) page with next_cursor; follow it until it is null. "
        "Incremental sync: sync=true lists the whole calendar (each series once) and "
        "its last page carries next_sync_token; sync_token=<it> answers what changed "
        "since, deletions as {id, status: cancelled}, paged the same way, with the "
        f"next token on its last page. Tokens older than {HISTORY_DAYS} days, of "
        "another department or not issued here are 410 (sync again in full).",
        {
            "200": json_response(
                "A page",
                "EventListOrSyncPage",
                {"items": [EVENT_EXAMPLE], "next_cursor": None},
                CALENDAR_ETAG_HEADERS,
            ),
            "304": empty_response(
                "Not modified: no event changed since that ETag", CALENDAR_ETAG_HEADERS
            ),
        },
        errors=("404", "410", *READ_ERRORS),
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
            {
                "name": "expand",
                "in": "query",
                "description": "true (default): each occurrence of a recurring event is "
                "listed as an instance in its place, as Google's singleEvents=true. false: "
                "each series once (when an occurrence falls in the window), at its first "
                "occurrence there, with its recurrence, plus its changed instances. "
                f"Without to, series are expanded {EXPANSION_YEARS} years past the later of "
                f"today and from; one page expands at most {CHUNK_DAYS} days (a short page "
                "with next_cursor goes on from there).",
                "schema": {"type": "boolean", "default": True},
            },
            {
                "name": "sync",
                "in": "query",
                "description": "true: a full sync, the whole calendar without a window "
                "(series once, with their changed instances), ending with next_sync_token; "
                "not with from, to, month, q or expand=true",
                "schema": {"type": "boolean", "default": False},
            },
            {
                "name": "sync_token",
                "in": "query",
                "description": "The next_sync_token of an earlier sync: what changed since "
                "(410 when it can no longer be answered)",
                "schema": {"type": "string"},
            },
            param("Limit"),
            param("Cursor"),
            param("IfNoneMatch"),
        ],
    )
)
@needs(Need.READ)
def list_events(department_id: str) -> Response:
    args = query(
        {
            "from": date_param,
            "to": date_param,
            "month": month_param,
            "limit": limit_param,
            "cursor": text_param,
            "q": search_param,
            "expand": bool_param,
            "sync": bool_param,
            "sync_token": text_param,
        }
    )
    if args.get("sync") or "sync_token" in args:
        return sync_page(department_id, args)
    if "cursor" in args and (resumed := sync_resumed(department_id, args)) is not None:
        return resumed
    window = window_of(args)
    search = args.get("q")
    expand = args.get("expand", True)
    scope = ["events", department_id, window.start, window.end, search]
    if not expand:
        scope.append("series")
    after = None
    if "cursor" in args:  # a bad cursor is 400 whatever the conditional headers say
        after = cast(SortKey, cursors().decode(args["cursor"], scope, 4))
    calendar = listing.calendar_of(storage(), department_id)  # 404 before any Query
    if (unchanged := unchanged_calendar(calendar)) is not None:
        return unchanged
    limit = args.get("limit", DEFAULT_LIMIT)
    day = today()
    # The page is a function of the calendar's state and of the request (today's date
    # places open-ended series): one rendered for both is answered as it was.
    kept_as = (department_id, calendar.calendar_version, calendar.changed_at, day, *scope)
    kept_as += (expand, args.get("cursor"), limit)
    pages = rendered_pages()
    if calendar.learned and (body := pages.get(kept_as)) is not None:
        return kept_calendar_page(body, calendar)
    page = listing.list_page(
        storage(),
        department_id,
        window,
        after,
        limit,
        calendar=calendar,
        zone=zone(),
        today=day,
        matches=None if search is None else events.matcher(search),
        expand=expand,
    )
    next_cursor = None if page.after is None else cursors().encode(scope, page.after)
    items = [event_json(e) for e in page.events]
    response = calendar_list_response(items, next_cursor, calendar)
    if calendar.learned:
        pages.keep(kept_as, response.get_data())
    return response


# -- incremental sync ---------------------------------------------------------------------

_FULL_SCOPE, _FULL_WIDTH = "sync-full", 8
_DELTA_SCOPE, _DELTA_WIDTH = "sync-delta", 3
_NOT_WITH_SYNC = ("from", "to", "month", "q")


def sync_page(department_id: str, args: dict[str, Any]) -> Response:
    """A page of a full sync (``sync=true``) or of a delta (``sync_token``)."""
    problems = [
        FieldError(
            name, "cannot be combined with sync or sync_token: a sync covers the whole calendar"
        )
        for name in _NOT_WITH_SYNC
        if name in args
    ]
    if args.get("expand"):
        problems.append(FieldError("expand", "a sync lists each series once (expand=false)"))
    if args.get("sync") and "sync_token" in args:
        problems.append(
            FieldError("sync_token", "give either sync=true (a full sync) or sync_token")
        )
    if problems:
        raise BadRequest("these parameters do not go together", problems)
    limit = args.get("limit", DEFAULT_LIMIT)
    if "sync_token" in args:
        point = cursors().read_sync_token(args["sync_token"], department_id)
        calendar = storage().events.calendar_state(department_id)
        sync.check_token(point, calendar)
        since, skip, issued = point.version, 0, point.issued
        if "cursor" in args:
            since, skip, issued = _delta_position(department_id, args["cursor"])
            sync.check_token(sync.SyncPoint(department_id, since, issued), calendar)
        return _delta(department_id, (since, skip, issued), limit, calendar)
    position = None
    if "cursor" in args:
        position = _full_position(department_id, args["cursor"])
    return _full(department_id, position, limit)


def sync_resumed(department_id: str, args: dict[str, Any]) -> Response | None:
    """The next page of a sync when only its cursor was sent (None: not a sync cursor)."""
    for scope, width in ((_FULL_SCOPE, _FULL_WIDTH), (_DELTA_SCOPE, _DELTA_WIDTH)):
        try:
            cursors().decode(args["cursor"], [scope, department_id], width)
        except BadRequest:
            continue
        rest = {k: v for k, v in args.items() if k not in {"limit", "cursor", "expand"}}
        if rest or args.get("expand"):
            return None  # let the list say what does not fit
        if scope == _FULL_SCOPE:
            return sync_page(department_id, args | {"sync": True})
        since, skip, issued = _delta_position(department_id, args["cursor"])
        calendar = storage().events.calendar_state(department_id)
        sync.check_token(sync.SyncPoint(department_id, since, issued), calendar)
        limit = args.get("limit", DEFAULT_LIMIT)
        return _delta(department_id, (since, skip, issued), limit, calendar)
    return None


def _delta(
    department_id: str,
    start: tuple[int, int, datetime],
    limit: int,
    calendar: CalendarState,
) -> Response:
    since, skip, issued = start
    page = sync.delta(storage(), department_id, since, skip, limit, calendar=calendar)
    items = [
        {"id": e.id, "status": "cancelled"} if isinstance(e, sync.Cancelled) else event_json(e)
        for e in page.entries
    ]
    if page.after is not None:
        version, offset = page.after
        position = (str(version), str(offset), str(int(issued.timestamp())))
        cursor = cursors().encode([_DELTA_SCOPE, department_id], position)
        return sync_response(items, cursor, None)
    assert page.token is not None  # noqa: S101 - the last page has one
    return sync_response(items, None, cursors().sync_token(page.token))


def _full(department_id: str, position: sync.FullPosition | None, limit: int) -> Response:
    calendar = storage().events.calendar_state(department_id)
    if position is not None:  # the history the token will need starts where it began
        begun = sync.SyncPoint(department_id, position.began_version, position.began_at)
        sync.check_token(begun, calendar)
    page = sync.full(storage(), department_id, position, limit, calendar)
    items = [event_json(e) for e in page.entries]
    if page.after is not None:
        after = page.after
        key = after.events_after or ("", "", "", "")
        phase = "s" if after.series_after is not None else "e"
        if after.series_after is None and after.events_after is None:
            phase = "b"  # the events from their beginning
        fields = (
            str(after.began_version),
            after.began_at.isoformat(),
            phase,
            after.series_after or "",
            *key,
        )
        cursor = cursors().encode([_FULL_SCOPE, department_id], fields)
        return sync_response(items, cursor, None)
    assert page.token is not None  # noqa: S101 - the last page has one
    return sync_response(items, None, cursors().sync_token(page.token))


def _full_position(department_id: str, cursor: str) -> sync.FullPosition:
    fields = cursors().decode(cursor, [_FULL_SCOPE, department_id], _FULL_WIDTH)
    try:
        version, began = int(fields[0]), datetime.fromisoformat(fields[1])
    except ValueError:
        raise _malformed_cursor() from None
    if fields[2] == "s":
        return sync.FullPosition(version, began, fields[3], None)
    if fields[2] == "b":
        return sync.FullPosition(version, began, None, None)
    return sync.FullPosition(version, began, None, cast(SortKey, tuple(fields[4:])))


def _delta_position(department_id: str, cursor: str) -> tuple[int, int, datetime]:
    fields = cursors().decode(cursor, [_DELTA_SCOPE, department_id], _DELTA_WIDTH)
    try:
        return int(fields[0]), int(fields[1]), datetime.fromtimestamp(int(fields[2]), UTC)
    except (ValueError, OverflowError, OSError):
        raise _malformed_cursor() from None


def _malformed_cursor() -> BadRequest:
    return BadRequest(
        "the cursor cannot be used here; start again without it",
        [FieldError("cursor", "is malformed")],
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
        "The event with its ETag; with If-None-Match holding that ETag, 304. An id "
        "may name a single event, a recurring event (series) or one of its instances "
        "(<series id>_<YYYYMMDD>, its original date), served with recurring_event_id "
        "and original_date; an instance's ETag is its series's, which changes when the "
        "series or any of its instances changes.",
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
@needs(Need.READ)
def get_event(department_id: str, event_id: str) -> Response:
    target = recurring.locate(storage(), department_id, event_id, zone())
    return resource_response(event_json(target.event), target.version)


@bp.patch("/<department_id>/<event_id>")
@describe(
    operation(
        "updateEvent",
        "events",
        "Change an event",
        "Changes the fields sent (a JSON merge patch: null clears the optional "
        "ones). With If-Match, only if nobody changed it since: else 412. On a series, "
        "every instance changes (a new recurrence re-shapes it; changed instances whose "
        "date no longer occurs are dropped, the others take the fields sent but their "
        "dates). On an instance, that occurrence only (it keeps its id and may move); "
        "with scope=following, this and every later occurrence: the series ends before "
        "it and a new series (the answer, with a new id) starts there, in one "
        "transaction. recurrence on a single event makes it a series; null on a series "
        "makes it a single event.",
        {
            "200": json_response(
                "The updated event",
                "Event",
                {**EVENT_EXAMPLE, "time": "오전 10:00", "start_time": "10:00"},
                RESOURCE_HEADERS,
            )
        },
        errors=("404", "409", "412", *BODY_ERRORS),
        parameters=[param("IfMatch"), SCOPE_PARAM],
        body=json_body("EventUpdate", "Fields to change", {"time": "오전 10:00"}),
        write=True,
    )
)
@needs(Need.WRITE)
def update_event(department_id: str, event_id: str) -> Response:
    scope = query({"scope": scope_param}).get("scope", "this")
    changes = EVENT.validate(json_object(), creating=False)
    event = recurring.update(
        storage(), department_id, event_id, changes, if_match(), zone=zone(), scope=scope
    )
    return resource_response(event_json(event), event.version)


@bp.delete("/<department_id>/<event_id>")
@describe(
    operation(
        "deleteEvent",
        "events",
        "Delete an event",
        "With If-Match, only if nobody changed it since: else 412. A series goes with "
        "its changed instances; an instance is that occurrence only (an EXDATE on its "
        "series), or with scope=following that one and every later one (the series "
        "ends before it).",
        {"204": empty_response("Deleted")},
        errors=("404", "409", "412", *READ_ERRORS),
        parameters=[param("IfMatch"), SCOPE_PARAM],
        write=True,
    )
)
@needs(Need.WRITE)
def delete_event(department_id: str, event_id: str) -> Response:
    scope = query({"scope": scope_param}).get("scope", "this")
    recurring.delete(storage(), department_id, event_id, if_match(), zone=zone(), scope=scope)
    return Response(status=204)


@bp.get("/<department_id>/<event_id>/instances")
@describe(
    operation(
        "listInstances",
        "events",
        "List the instances of a recurring event",
        "Its occurrences in the window (default: today and the next 12 months), changed "
        "ones where they are now, in calendar order, as Google's events.instances. One "
        f"page expands at most {CHUNK_DAYS} days: a short page with next_cursor goes on.",
        {
            "200": json_response(
                "A page", "EventList", {"items": [EVENT_EXAMPLE], "next_cursor": None}
            )
        },
        errors=("404", *READ_ERRORS),
        parameters=[
            *window_params()[:2],
            limit_parameter(INSTANCES_MAX, INSTANCES_DEFAULT),
            param("Cursor"),
        ],
    )
)
@needs(Need.READ)
def list_instances(department_id: str, event_id: str) -> Response:
    args = query(
        {"from": date_param, "to": date_param, "limit": instances_limit, "cursor": text_param}
    )
    start = args.get("from") or today().isoformat()
    end = args.get("to") or _year_after(start)
    scope = ["instances", department_id, event_id, start, end]
    after = None
    if "cursor" in args:
        after = cast(SortKey, cursors().decode(args["cursor"], scope, 4))
    page = recurring.instances(
        storage(),
        department_id,
        event_id,
        DateWindow(start, end),
        after=after,
        limit=args.get("limit", INSTANCES_DEFAULT),
        zone=zone(),
    )
    next_cursor = None if page.after is None else cursors().encode(scope, page.after)
    return list_response([event_json(e) for e in page.events], next_cursor)


def instances_limit(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= INSTANCES_MAX:
        raise ValueError(f"must be a whole number from 1 to {INSTANCES_MAX}, not {raw!r}")
    return int(raw)


def _year_after(day: str) -> str:
    """The day before the same date a year later (12 months), or the last date there is."""
    first = date.fromisoformat(day)
    if first.year == date.max.year:
        return date.max.isoformat()
    return (
        first.replace(year=first.year + 1, day=min(first.day, 28)) - timedelta(days=1)
    ).isoformat()
