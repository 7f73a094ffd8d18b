"""Incremental sync: a full list that ends with a sync token, and what changed since one.

A token is a calendar version of the department (with when it was issued, signed by the
API). A delta reads the change log after that version (``storage/changes.py``: strongly
consistent, one record per version, no gap) and the current state of what it names (one
strongly consistent BatchGetItem), never the index: what it returns and the token it ends
with agree whatever the index shows.

A full sync lists through ``department-date-index``, which may lag behind the writes of
the last moments: each of its pages is corrected by the change records of the last
``INDEX_SETTLE`` (``listing.settled_page``), so the full sync shows every change up to
the version it began at, which is its token's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.domain import Event, Series
from backend.errors import SyncTokenExpired
from backend.services.listing import settled_page
from backend.services.recurring import served
from backend.storage import CalendarState, DateWindow, SortKey, Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.changes import HISTORY_DAYS, Summary

HISTORY = timedelta(days=HISTORY_DAYS)


@dataclass(frozen=True)
class SyncPoint:
    """What a sync token holds."""

    department_id: str
    version: int
    issued: datetime


@dataclass(frozen=True)
class Cancelled:
    """An event, series or occurrence that no longer exists."""

    id: str


Entry = Event | Cancelled


@dataclass(frozen=True)
class DeltaPage:
    entries: list[Entry]
    # Where the next page starts (version done, entries of the next record already
    # served), or None on the last page, which carries ``token`` instead.
    after: tuple[int, int] | None
    token: SyncPoint | None


@dataclass(frozen=True)
class FullPosition:
    """Where a full sync stands: the version and time it began, then the series phase
    (the last series id served) or the events phase (the last event's sort key)."""

    began_version: int
    began_at: datetime
    series_after: str | None
    events_after: SortKey | None


@dataclass(frozen=True)
class FullPage:
    entries: list[Event]
    after: FullPosition | None
    token: SyncPoint | None


def check_token(point: SyncPoint, calendar: CalendarState) -> None:
    """``SyncTokenExpired`` unless the change log still holds everything after ``point``."""
    if utc_datetime() - point.issued > HISTORY:
        raise SyncTokenExpired(f"the token is older than the {HISTORY_DAYS} days of history kept")
    if point.version < calendar.history_from:
        raise SyncTokenExpired("the calendar was rewritten (migrated or restored) since the token")
    if point.version > calendar.calendar_version:
        raise SyncTokenExpired("the token is ahead of the calendar (restored from a backup?)")


def delta(
    storage: Storage,
    department_id: str,
    since: int,
    skip: int,
    limit: int,
    *,
    calendar: CalendarState,
) -> DeltaPage:
    """The changes after version ``since`` (past the first ``skip`` entries of the next
    record), at most ``limit`` entries: each changed event or series as it is now, each
    deleted one (or one that is gone by now) as ``Cancelled``. One strongly consistent
    Query of the change log, and one BatchGetItem of what is still there."""
    records = list(storage.changes.after(department_id, since, limit=limit + 1))
    if (not records and calendar.calendar_version > since) or (
        records and records[0].version != since + 1
    ):
        # The records right after the token are gone (expired, or never written by a
        # program that wrote without them): what changed there cannot be told.
        raise SyncTokenExpired("the changes after this token are no longer kept")
    chosen: dict[str, Summary] = {}
    after: tuple[int, int] | None = None
    done = since
    count = 0
    for n, record in enumerate(records):
        start = skip if n == 0 and record.version == since + 1 else 0
        entries = record.changes[start:]
        take = min(len(entries), limit - count)
        for summary in entries[:take]:
            chosen.pop(summary.id, None)  # the later change decides, in its place
            chosen[summary.id] = summary
        count += take
        if take < len(entries):
            after = (record.version - 1, start + take)
            break
        done = record.version
    else:
        if len(records) > limit:
            after = (done, 0)
    found = _current(storage, department_id, chosen.values())
    page = [found.get(ident) or Cancelled(ident) for ident in chosen]
    if after is not None:
        return DeltaPage(page, after, None)
    return DeltaPage(page, None, SyncPoint(department_id, done, utc_datetime()))


def _current(storage: Storage, department_id: str, changes: Iterable[Summary]) -> dict[str, Event]:
    """The events and series that ``changes`` name and that are still there, as served
    (one strongly consistent BatchGetItem; one more for the series of changed instances
    whose series did not change)."""
    wanted = [s for s in changes if s.action != "deleted"]
    if not wanted:
        return {}
    event_ids = [s.id for s in wanted if s.kind == "event"]
    series_ids = [s.id for s in wanted if s.kind == "series"]
    events, every = storage.series.find_items(department_id, event_ids, series_ids)
    families = {
        e.recurring_event_id for e in events.values() if e.recurring_event_id is not None
    } - set(every)
    if families:
        _, more = storage.series.find_items(department_id, (), families)
        every |= more
    found: dict[str, Event] = {ident: s.event for ident, s in every.items() if ident in series_ids}
    for ident, event in events.items():
        if event.recurring_event_id is None:
            found[ident] = event
        elif (family := every.get(event.recurring_event_id)) is not None:
            found[ident] = served(event, family)
        # else: its series is gone, and the record of that deletion follows
    return found


def full(
    storage: Storage,
    department_id: str,
    position: FullPosition | None,
    limit: int,
    calendar: CalendarState,
) -> FullPage:
    """One page of a full sync: every series (each once, with its recurrence), then every
    single event and changed instance in calendar order; the last page carries a token."""
    if position is None:
        position = FullPosition(calendar.calendar_version, utc_datetime(), "", None)
    entries: list[Event] = []
    if position.series_after is not None:
        every: list[Series] = []
        if calendar.series_count > 0:
            every = sorted(
                storage.series.all(department_id, calendar.calendar_version),
                key=lambda s: s.event.id,
            )
        rest = [s for s in every if s.event.id > position.series_after]
        entries = [s.event for s in rest[:limit]]
        if len(rest) > limit:
            return FullPage(entries, _series_at(position, entries[-1].id), None)
        position = FullPosition(position.began_version, position.began_at, None, None)
        if len(entries) == limit:
            return FullPage(entries, position, None)
    room = limit - len(entries)
    page = settled_page(
        storage,
        department_id,
        (DateWindow(None, None), position.events_after, room),
        calendar=calendar,
        reach_back=False,
    )
    found, after = page.events, page.after
    families: dict[str, Series] = {}
    if any(e.recurring_event_id is not None for e in found):
        families = {
            s.event.id: s for s in storage.series.all(department_id, calendar.calendar_version)
        }
    for event in found:
        if event.recurring_event_id is None:
            entries.append(event)
        elif (family := families.get(event.recurring_event_id)) is not None:
            entries.append(served(event, family))
    if after is not None:
        return FullPage(
            entries, FullPosition(position.began_version, position.began_at, None, after), None
        )
    # Dated when the full sync began: the history it needs starts there.
    token = SyncPoint(department_id, position.began_version, position.began_at)
    return FullPage(entries, None, token)


def _series_at(position: FullPosition, series_id: str) -> FullPosition:
    return FullPosition(position.began_version, position.began_at, series_id, None)
