"""A page of a department's calendar: its event items and its series's instances, merged.

The cost stays bounded whatever the calendar holds: the calendar item (read by the
caller), the window's Query pages (``EventRepository.list_page``, with its read budget),
and, only when the department has series, one Query of its series partition. Series are
expanded lazily, in calendar order, from the page's start to at most ``CHUNK_DAYS`` later:
a page whose window reaches further ends there with a cursor, as a page that spends its
read budget does, so an endless series costs no more than one that ends.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from backend.domain import Event, Series, instance_id
from backend.services.recurring import (
    CHUNK_DAYS,
    dates_in,
    days_before,
    instance_of,
    served,
)
from backend.storage import CalendarState, DateWindow, SortKey, Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.events import INDEX_SETTLE, EventPage

# Without an end (``to``), a list expands series up to this many years after the later of
# today and its start, as the feed's default window reaches two years ahead.
EXPANSION_YEARS = 2

Placed = tuple[SortKey, Event]


def calendar_of(storage: Storage, department_id: str) -> CalendarState:
    """The department's calendar state (``NotFound`` when it does not exist): one strongly
    consistent read; for a department written by other programs, its first read also
    learns and keeps what its lists need (``EventRepository.learned``), so that every
    later list costs what any other department's does."""
    calendar = storage.events.calendar_state(department_id)
    if calendar.learned:
        return calendar
    return storage.events.learned(department_id, calendar)


def list_page(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    after: SortKey | None,
    limit: int,
    *,
    calendar: CalendarState,
    zone: ZoneInfo,
    today: date,
    matches: Callable[[Event], bool] | None = None,
    expand: bool = True,
) -> EventPage:
    """One page of the window in calendar order: single events, changed instances and
    (``expand``) each occurrence of each series, or (not ``expand``) each series once,
    placed at its first occurrence in the window."""
    page = settled_page(
        storage,
        department_id,
        (window, after, limit),
        calendar=calendar,
        matches=matches,
        reach_back=calendar.multi_day,
    )
    if calendar.series_count <= 0 or window.empty:
        return page
    found_series = storage.series.all(department_id, calendar.calendar_version)
    every = {s.event.id: s for s in found_series}
    if not every:
        return page
    found = page.events
    if matches is None:
        found = found + _lagging(
            storage, department_id, window, after=after, page=page, every=every
        )
    items: list[Placed] = []
    for event in found:
        family = every.get(event.recurring_event_id or "")
        shown = event if family is None else served(event, family)
        items.append((shown.sort_key, shown))
    items.sort(key=_position)
    chunk_end, more_after = _chunk(window, after, today, list(every.values()))
    streams = [
        _placed(series, window, after, chunk_end, zone=zone, expand=expand)
        for series in every.values()
        if matches is None or matches(series.event)
    ]
    bound = _earliest(page.after, more_after)
    instances = islice(heapq.merge(*streams, key=_position), limit + 1)
    merged = heapq.merge(items, instances, key=_position)
    chosen = [placed for placed in merged if bound is None or placed[0] <= bound]
    if len(chosen) > limit:
        chosen = chosen[:limit]
        return EventPage([event for _, event in chosen], chosen[-1][0])
    return EventPage([event for _, event in chosen], bound)


def settled_page(
    storage: Storage,
    department_id: str,
    asked: tuple[DateWindow, SortKey | None, int],
    *,
    calendar: CalendarState,
    matches: Callable[[Event], bool] | None = None,
    reach_back: bool = True,
) -> EventPage:
    """``EventRepository.list_page``, as the calendar stands at ``calendar``'s version.

    The index may not show the writes of the last ``INDEX_SETTLE`` yet. When the calendar
    changed within it, the change records of that time are read (one strongly consistent
    Query) and each event they name is taken as it is now (one strongly consistent
    BatchGetItem): in its place when it belongs to this page, left out when it is gone or
    has moved away. Otherwise the index's page as it is, at no extra cost.
    """
    window, after, limit = asked
    page = storage.events.list_page(
        department_id, window, after, limit, matches, reach_back=reach_back
    )
    now = utc_datetime()
    if calendar.changed_at is None or now - calendar.changed_at >= INDEX_SETTLE:
        return page
    records = storage.changes.written_since(department_id, now - INDEX_SETTLE)
    # Whatever a recent write touched (a single event may have become a series, or a
    # series a single event): the index's copy is not trusted, and what is an event item
    # now is read (a series is no event item, so it is not found).
    named = {c.id for record in records for c in record.changes if c.kind != "occurrence"}
    if not named:
        return page
    current = storage.events.find_many(department_id, named)

    def belongs(event: Event) -> bool:
        return (
            (window.start is None or event.last_date >= window.start)
            and (window.end is None or event.event_date <= window.end)
            and (after is None or event.sort_key > after)
            and (page.after is None or event.sort_key <= page.after)
            and (matches is None or matches(event))
        )

    merged = [e for e in page.events if e.id not in named]
    merged += [e for e in current.values() if belongs(e)]
    merged.sort(key=lambda e: e.sort_key)
    if len(merged) > limit:
        merged = merged[:limit]
        return EventPage(merged, merged[-1].sort_key)
    return EventPage(merged, page.after)


def all_in(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    *,
    zone: ZoneInfo,
    today: date,
    page_size: int = 200,
) -> Iterator[Event]:
    """Every event and instance of the department in ``window`` (both ends given), in
    calendar order, page by page."""
    calendar = calendar_of(storage, department_id)
    after: SortKey | None = None
    while True:
        page = list_page(
            storage, department_id, window, after, page_size,
            calendar=calendar, zone=zone, today=today,
        )  # fmt: skip
        yield from page.events
        if page.after is None:
            return
        after = page.after


def _lagging(
    storage: Storage,
    department_id: str,
    window: DateWindow,
    *,
    after: SortKey | None,
    page: EventPage,
    every: dict[str, Series],
) -> list[Event]:
    """The changed instances the page's Query should have met but did not: the index lags
    behind the series, which says where each of its changed instances is. Read with one
    strongly consistent BatchGetItem, only when some are missing (on moto, never)."""
    seen = {event.id for event in page.events}
    reach = page.after[0] if page.after is not None else None
    missing = [
        instance_id(series.event.id, day)
        for series in every.values()
        for day, (first, last) in series.changed.items()
        if instance_id(series.event.id, day) not in seen
        and (window.start is None or last >= window.start)
        and (window.end is None or first <= window.end)
        # A full page's last date may go on in the next page: only dates before it.
        and (reach is None or first < reach)
        and (after is None or first >= after[0])
    ]
    if not missing:
        return []
    return [
        event
        for event in storage.events.find_many(department_id, missing).values()
        if event.recurring_event_id is not None and (after is None or event.sort_key > after)
    ]


def _chunk(
    window: DateWindow, after: SortKey | None, today: date, every: list[Series]
) -> tuple[date, SortKey | None]:
    """The last date this page expands series to, and the position the next page starts
    from when the window goes on past it (None: it does not)."""
    starts = [date.fromisoformat(d) for d in (window.start, after[0] if after else None) if d]
    begin = max(starts) if starts else min(date.fromisoformat(s.event.event_date) for s in every)
    if window.end is not None:
        end = date.fromisoformat(window.end)
    else:
        end = _years_after(max([today, *starts]), EXPANSION_YEARS)
    if (end - begin).days <= CHUNK_DAYS:
        return end, None
    chunk = begin + timedelta(days=CHUNK_DAYS)
    return chunk, ((chunk + timedelta(days=1)).isoformat(), "", "", "")


def _placed(
    series: Series,
    window: DateWindow,
    after: SortKey | None,
    end: date,
    *,
    zone: ZoneInfo,
    expand: bool,
) -> Iterator[Placed]:
    """A series's occurrences in the window up to ``end``, after ``after``, in order; or
    (not ``expand``) the series itself, at its first occurrence in the window."""
    event = series.event
    starts = [d for d in (window.start, after[0] if after else None) if d]
    begin = None
    if starts:
        begin = days_before(date.fromisoformat(max(starts)), event.days)
    for day in dates_in(event, zone, begin, end):
        text = day.isoformat()
        instance = instance_of(series, text)
        if window.start is not None and instance.last_date < window.start:
            continue
        if expand:
            if text in series.changed:
                continue  # its own item is listed where it is now
            if after is None or instance.sort_key > after:
                yield instance.sort_key, instance
            continue
        key = (text, event.start_time or "", event.title, event.id)
        if after is None or key > after:
            yield key, event
        return


def _position(placed: Placed) -> SortKey:
    return placed[0]


def _earliest(*bounds: SortKey | None) -> SortKey | None:
    """The first of the positions given (None: no bound)."""
    finite = [b for b in bounds if b is not None]
    return min(finite) if finite else None


def _years_after(day: date, years: int) -> date:
    if day.year + years > date.max.year:
        return date.max
    if (day.month, day.day) == (2, 29):
        day = day.replace(day=28)
    return day.replace(year=day.year + years)
