"""Which events a department's iCalendar feed holds: at most ``FEED_MAX_EVENTS``, so that
an anonymous subscriber's poll reads a bounded amount whatever the calendar holds.

On the default window (a year back, two ahead) the upcoming events come first, then the
past month by month, newest first: a feed that reaches the cap keeps what a calendar app
shows people, and leaves out the oldest past. An explicit window keeps its first events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from backend.domain import Event, Series
from backend.services.recurring import days_before, schedule_of, served
from backend.storage import CalendarState, DateWindow, Storage

FEED_MAX_EVENTS = 5000


def feed_events(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    calendar: CalendarState,
    *,
    today: date | None = None,
) -> list[Event]:
    """The feed's events in calendar order. With ``today`` (the default window) and more
    events in the department than the cap, upcoming events are taken first and the past
    newest month first; otherwise the window is read in one pass (its first events)."""
    found = _event_items(storage, department_id, window, calendar, today=today)
    # Changed instances are written with their series (RECURRENCE-ID), not on their own.
    return [e for e in found if e.recurring_event_id is None]


def _event_items(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    calendar: CalendarState,
    *,
    today: date | None,
) -> list[Event]:
    events = storage.events
    reach_back = calendar.multi_day
    fits = calendar.counted and calendar.event_count <= FEED_MAX_EVENTS
    if fits or today is None or window.start is None or window.end is None:
        found = events.all_in(department_id, window, reach_back=reach_back)
        return list(islice(found, FEED_MAX_EVENTS))
    chosen: dict[str, Event] = {}
    room = FEED_MAX_EVENTS

    # Upcoming, soonest first, with the events that started before today and still run.
    ahead = events.all_in(
        department_id, DateWindow(today.isoformat(), window.end), reach_back=reach_back
    )
    for event in islice(ahead, room):
        chosen[event.id] = event
    first = date.fromisoformat(window.start)
    end = today - timedelta(days=1)
    # The past, a month at a time from the newest; a month that does not fit whole gives
    # its latest events (a month holds at most 31 × 200 of a department's events).
    while end >= first and len(chosen) < room:
        start = max(end.replace(day=1), first)
        month = DateWindow(start.isoformat(), end.isoformat())
        # Only the window's first month reaches back, for events begun before it.
        new = [
            e
            for e in events.all_in(department_id, month, reach_back=reach_back and start == first)
            if e.id not in chosen
        ]
        for event in new[-(room - len(chosen)) :]:
            chosen[event.id] = event
        end = start - timedelta(days=1)
    return sorted(chosen.values(), key=lambda e: e.sort_key)


@dataclass(frozen=True)
class FeedSeries:
    """A series the feed writes (one ``VEVENT`` with its rule) and its changed instances
    (a ``VEVENT`` each, with ``RECURRENCE-ID``)."""

    series: Series
    changed: list[Event]


def feed_series(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    calendar: CalendarState,
    zone: ZoneInfo,
) -> list[FeedSeries]:
    """The series with an occurrence in the window (or a changed instance there), with
    all their changed instances: one Query of the series and one BatchGetItem (100 keys a
    call) of their changed instances, only when the department has series."""
    if calendar.series_count <= 0 or window.empty:
        return []
    first = None if window.start is None else date.fromisoformat(window.start)
    last = None if window.end is None else date.fromisoformat(window.end)
    occurring: dict[str, bool] = {}
    candidates = []
    for series in storage.series.all(department_id, calendar.calendar_version):
        event = series.event
        begin = None if first is None else days_before(first, event.days)
        occurring[event.id] = next(schedule_of(event, zone).dates(begin, last), None) is not None
        if occurring[event.id] or series.changed:
            candidates.append(series)
    changed = storage.series.changed_of(candidates)
    found = []
    for series in candidates:
        own = [served(e, series) for e in changed.get(series.event.id, [])]
        if occurring[series.event.id] or any(_overlaps(e, window) for e in own):
            found.append(FeedSeries(series, own))
    return found


def _overlaps(event: Event, window: DateWindow) -> bool:
    return (window.start is None or event.last_date >= window.start) and (
        window.end is None or event.event_date <= window.end
    )
