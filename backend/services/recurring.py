"""Recurring events: a series, its instances, and changes to one occurrence, to this and
the following ones, or to all (``recurrence.md``).

Every write here is one ``SeriesWrite``: one transaction with the department's calendar item and
the series at the version read (see ``storage.series``). The version of a series is the
version of its whole family, and it is the ``ETag`` of the series and of each instance:
it changes when the series or any of its instances changes.
"""

from __future__ import annotations

import functools
import heapq
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain import Event, Series, acting, instance_id, split_instance_id, utc_now
from backend.errors import Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from backend.recurrence import (
    RuleProblem,
    Schedule,
    ended_before,
    starting_at,
    values_from,
    with_exdate,
)
from backend.services import events
from backend.services.events import changed_event, new_event, refuse_full_day
from backend.services.idempotency import Completing
from backend.storage import DateWindow, SortKey, Storage
from backend.storage.events import EventPage
from backend.storage.series import MAX_CHANGED, SeriesWrite
from backend.storage.versioning import IfMatch, VersionMoved, require, write_attempts

# One page of instances expands a series over at most this many days.
CHUNK_DAYS = 366
# Fields of a series that each instance has as its own (the rest are where it is).
_PLACE = ("event_date", "end_date")
SCOPES = ("this", "following", "all")


@dataclass(frozen=True)
class Target:
    """What an event id names: a single event, a series, or an instance of one."""

    event: Event  # as served
    series: Series | None = None
    day: str | None = None  # an instance's original date
    changed: Event | None = None  # an instance's own item, when it was changed

    @property
    def version(self) -> int:
        return self.series.event.version if self.series is not None else self.event.version


def schedule_of(event: Event, zone: ZoneInfo) -> Schedule:
    """The dates of a series (kept per process: the same rule is read once, and a rule
    with COUNT counted once)."""
    return _schedule(event.event_date, event.recurrence or (), event.start_time, zone)


def dates_in(event: Event, zone: ZoneInfo, begin: date | None, end: date) -> tuple[date, ...]:
    """A series's dates in ``[begin, end]`` (kept per process for the windows asked most:
    a month's list asks the same dates of each series again and again)."""
    key = (event.event_date, event.recurrence or (), event.start_time)
    return _dates(key, zone, begin, end)


@functools.lru_cache(maxsize=8192)
def _dates(
    key: tuple[str, tuple[str, ...], str | None], zone: ZoneInfo, begin: date | None, end: date
) -> tuple[date, ...]:
    return tuple(_schedule(*key, zone).dates(begin, end))


@functools.lru_cache(maxsize=4096)
def _schedule(first: str, lines: tuple[str, ...], at: str | None, zone: ZoneInfo) -> Schedule:
    return Schedule(first, lines, at, zone)


def instance_of(series: Series, day: str) -> Event:
    """The occurrence of ``series`` on ``day`` as served, unchanged."""
    event = series.event
    end_date = None
    if event.end_date is not None:
        first = date.fromisoformat(day)
        # An occurrence that would run past the calendar's last day ends there.
        last = date.max if (date.max - first).days < event.days else first + timedelta(event.days)
        end_date = last.isoformat()
    return replace(
        event,
        id=instance_id(event.id, day),
        event_date=day,
        end_date=end_date,
        recurrence=None,
        recurring_event_id=event.id,
        original_date=day,
    )


def days_before(day: date, days: int) -> date:
    """``days`` before ``day``, or the first date there is."""
    return date.min if (day - date.min).days < days else day - timedelta(days=days)


def served(item: Event, series: Series) -> Event:
    """A changed instance's item as served: with its family's version."""
    return replace(item, version=series.event.version)


def locate(storage: Storage, department_id: str, event_id: str, zone: ZoneInfo) -> Target:
    """What ``event_id`` names in the department, or ``NotFound``.

    A single event costs one GetItem as before; a series one more; an instance id
    (``<series id>_<YYYYMMDD>``) one BatchGetItem of its own item and its series."""
    parts = split_instance_id(event_id)
    if parts is not None:
        series_id, day = parts
        item, series = storage.series.find_with_item(department_id, event_id, series_id)
        if item is not None and item.recurring_event_id is None:
            return Target(item)
        if series is not None:
            if item is not None:
                return Target(served(item, series), series, day, item)
            if schedule_of(series.event, zone).occurs_on(date.fromisoformat(day)) and (
                day not in series.changed
            ):
                return Target(instance_of(series, day), series, day)
        raise NotFound("event", event_id)
    single = storage.events.find(department_id, event_id)
    if single is not None:
        return Target(single)
    found = storage.series.find(department_id, event_id)
    if found is None:
        raise NotFound("event", event_id)
    return Target(found.event, found)


def check_series(event: Event, zone: ZoneInfo) -> None:
    """``Invalid`` when a series's rule cannot be kept (COUNT past the horizon)."""
    try:
        why = schedule_of(event, zone).count_check()
    except RuleProblem as exc:  # pragma: no cover - the field was checked already
        raise Invalid([FieldError("recurrence", exc.message)]) from None
    if why is not None:
        raise Invalid([FieldError("recurrence", why)])


# -- creating --------------------------------------------------------------------------------


def create_series(
    storage: Storage,
    department_id: str,
    fields: Mapping[str, Any],
    zone: ZoneInfo,
    completing: Completing[Event] | None = None,
    *,
    series_id: str | None = None,
) -> Event:
    """A new series from a client's fields (``recurrence`` set); ``series_id``: its id
    (an import's, derived from a UID), else a new one."""
    event = new_event(department_id, fields, event_id=series_id)
    check_series(event, zone)
    series = Series(event)
    also = completing.writes_for(event) if completing is not None else []
    write = SeriesWrite(department_id, None, series, also=also)
    try:
        storage.series.write(write)
    except VersionMoved:
        if storage.series.find(department_id, event.id) == series:
            return event  # ours: a retry of an attempt whose response was lost
        raise Conflict(f"event {event.id!r} already exists", code="busy") from None
    return event


# -- changing --------------------------------------------------------------------------------


def update(
    storage: Storage,
    department_id: str,
    event_id: str,
    changes: Mapping[str, Any],
    if_match: IfMatch | None,
    *,
    zone: ZoneInfo,
    scope: str = "this",
) -> Event:
    """Apply ``changes`` to an event, a series or an instance (``scope``: this, following
    or all, for an instance). A single event given ``recurrence`` becomes a series, a
    series given ``recurrence: null`` a single event, each keeping its id."""
    for _ in write_attempts():
        target = locate(storage, department_id, event_id, zone)
        if target.series is None and not changes.get("recurrence"):
            return events.update_event(
                storage, department_id, event_id, changes, if_match, first=target.event
            )
        require(if_match, target.version)
        now = utc_now()
        plan = _update_plan(storage, target, changes, zone=zone, scope=scope, now=now)
        if plan is None:
            return target.event
        write, answer = plan
        try:
            storage.series.write(write)
        except VersionMoved:
            if _applied(storage, write):
                return answer
            if if_match is not None:
                current = locate(storage, department_id, event_id, zone)
                raise PreconditionFailed(current.version) from None
            continue
        return answer
    raise Conflict("the event changed too often to apply this update", code="busy")


def _update_plan(
    storage: Storage,
    target: Target,
    changes: Mapping[str, Any],
    *,
    zone: ZoneInfo,
    scope: str,
    now: str,
) -> tuple[SeriesWrite, Event] | None:
    series = target.series
    department_id = target.event.department_id
    if series is None:  # a single event becomes a series, keeping its id
        single = target.event
        wanted = changed_event(single, changes)
        check_series(wanted, zone)
        after = Series(
            replace(wanted, updated_at=now, updated_by=acting(), version=single.version + 1)
        )
        return SeriesWrite(department_id, None, after, single_before=single), after.event
    if target.day is None or scope == "all":
        return _whole_series(storage, series, changes, zone, now)
    if scope == "following":  # a new rule here is the new series's
        if target.day == series.event.event_date:
            return _whole_series(storage, series, changes, zone, now)
        return _split(series, target.day, changes, zone, now)
    if "recurrence" in changes:
        raise Invalid(
            [FieldError("recurrence", "an instance has no recurrence of its own; change the "
                        "series, or this and following (scope=following)")]
        )  # fmt: skip
    return _one_instance(storage, target, series, changes, now)


def _whole_series(
    storage: Storage, series: Series, changes: Mapping[str, Any], zone: ZoneInfo, now: str
) -> tuple[SeriesWrite, Event] | None:
    current = series.event
    department_id = current.department_id
    wanted = changed_event(current, changes)
    if wanted == current:
        return None
    version = current.version + 1
    changed_ids = tuple(instance_id(current.id, day) for day in sorted(series.changed))
    if wanted.recurrence is None:  # the series becomes a single event, keeping its id
        single = replace(wanted, updated_at=now, updated_by=acting(), version=version)
        write = SeriesWrite(department_id, series, None, drop=changed_ids, single_after=single)
        return write, single
    check_series(wanted, zone)
    schedule = schedule_of(wanted, zone)
    keep = {d for d in series.changed if schedule.occurs_on(date.fromisoformat(d))}
    drop = tuple(instance_id(current.id, d) for d in sorted(set(series.changed) - keep))
    # What a client changed of the series reaches its changed instances too, but for
    # where each one is (its dates).
    shared = {k: v for k, v in changes.items() if k not in _PLACE and k != "recurrence"}
    put: list[Event] = []
    if shared and keep:  # read only when they must be rewritten
        for item in storage.series.changed_instances(series):
            if item.original_date in keep:
                rewritten = changed_event(item, shared)
                put.append(replace(rewritten, updated_at=now, updated_by=acting(), version=version))
    after = series.keeping(
        replace(wanted, updated_at=now, updated_by=acting(), version=version), keep
    )
    return SeriesWrite(department_id, series, after, put=tuple(put), drop=drop), after.event


def _split(
    series: Series, day: str, changes: Mapping[str, Any], zone: ZoneInfo, now: str
) -> tuple[SeriesWrite, Event]:
    """This and following: the series ends before ``day``, a new one starts there."""
    current = series.event
    old_schedule = schedule_of(current, zone)
    cut = date.fromisoformat(day)
    ended = replace(
        current,
        recurrence=ended_before(current.recurrence or (), cut),
        updated_at=now,
        updated_by=acting(),
        version=current.version + 1,
    )
    before_cut = [d for d in series.changed if d < day]
    drop = tuple(instance_id(current.id, d) for d in sorted(series.changed) if d >= day)
    base = replace(instance_of(series, day), recurring_event_id=None, original_date=None)
    fields = dict(changes)
    continued = changed_event(base, {k: v for k, v in fields.items() if k != "recurrence"})
    start = date.fromisoformat(continued.event_date)
    if fields.get("recurrence"):  # a new rule for the series that starts here
        recurrence = values_from(fields["recurrence"], min(cut, start))
    else:
        recurrence = starting_at(current.recurrence or (), old_schedule, cut, start)
    fresh = replace(
        continued,
        id=str(uuid.uuid4()),
        recurrence=recurrence,
        created_at=now,
        created_by=acting(),
        updated_at=now,
        updated_by=acting(),
        version=1,
    )
    kept = series.keeping(ended, before_cut)
    if "recurrence" in fields and fields["recurrence"] is None:
        # It no longer repeats from here: the series ends, and this one stands alone.
        single = replace(fresh, recurrence=None)
        write = SeriesWrite(current.department_id, series, kept, drop=drop, single_after=single)
        return write, single
    check_series(fresh, zone)
    write = SeriesWrite(current.department_id, series, kept, split=Series(fresh), drop=drop)
    return write, fresh


def _one_instance(
    storage: Storage, target: Target, series: Series, changes: Mapping[str, Any], now: str
) -> tuple[SeriesWrite, Event] | None:
    day = target.day
    assert day is not None  # noqa: S101 - an instance has its date
    base = target.event
    wanted = changed_event(base, changes)
    if wanted == base:
        return None
    if target.changed is None and len(series.changed) >= MAX_CHANGED:
        raise _too_many_exceptions()
    department_id = series.event.department_id
    if wanted.event_date != base.event_date:
        refuse_full_day(storage, department_id, wanted.event_date)
    version = series.event.version + 1
    item = replace(wanted, updated_at=now, updated_by=acting(), version=version)
    after = series.with_changed(
        replace(series.event, updated_at=now, updated_by=acting(), version=version), item
    )
    return SeriesWrite(department_id, series, after, put=(item,)), item


def _too_many_exceptions() -> Conflict:
    return Conflict(
        f"the series already has {MAX_CHANGED} changed occurrences; change the whole series "
        "or split it (scope=following)",
        code="too-many-exceptions",
    )


def _applied(storage: Storage, write: SeriesWrite) -> bool:
    """Whether ``write`` is what is stored (our own attempt, whose response was lost)."""
    if write.after is not None:
        return storage.series.find(write.department_id, write.after.event.id) == write.after
    if write.single_after is not None:
        found = storage.events.find(write.department_id, write.single_after.id)
        return found == write.single_after
    assert write.before is not None  # noqa: S101
    return storage.series.find(write.department_id, write.before.event.id) is None


# -- deleting --------------------------------------------------------------------------------


def delete(
    storage: Storage,
    department_id: str,
    event_id: str,
    if_match: IfMatch | None,
    *,
    zone: ZoneInfo,
    scope: str = "this",
) -> None:
    """Delete an event, a series (with its changed instances), an instance, or (``scope``
    following) an instance and the ones after it."""
    for _ in write_attempts():
        target = locate(storage, department_id, event_id, zone)
        series = target.series
        if series is None:
            events.delete_event(storage, department_id, event_id, if_match, first=target.event)
            return
        require(if_match, target.version)
        write = _delete_plan(series, target.day, scope, utc_now())
        try:
            storage.series.write(write)
        except VersionMoved:
            if _applied(storage, write):
                return
            if if_match is not None:
                current = locate(storage, department_id, event_id, zone)
                raise PreconditionFailed(current.version) from None
            continue
        return
    raise Conflict("the event changed too often to delete it", code="busy")


def _delete_plan(series: Series, day: str | None, scope: str, now: str) -> SeriesWrite:
    current = series.event
    department_id = current.department_id
    every = tuple(instance_id(current.id, d) for d in sorted(series.changed))
    if day is None or scope == "all" or (scope == "following" and day == current.event_date):
        return SeriesWrite(department_id, series, None, drop=every)
    version = current.version + 1
    if scope == "following":
        kept = [d for d in series.changed if d < day]
        ended = replace(
            current,
            recurrence=ended_before(current.recurrence or (), date.fromisoformat(day)),
            updated_at=now,
            updated_by=acting(),
            version=version,
        )
        drop = tuple(instance_id(current.id, d) for d in sorted(series.changed) if d >= day)
        return SeriesWrite(department_id, series, series.keeping(ended, kept), drop=drop)
    try:
        lines = with_exdate(current.recurrence or (), date.fromisoformat(day), current.start_time)
    except RuleProblem:
        raise _too_many_exceptions() from None
    after = series.keeping(
        replace(current, recurrence=lines, updated_at=now, updated_by=acting(), version=version),
        [d for d in series.changed if d != day],
    )
    drop = (instance_id(current.id, day),) if day in series.changed else ()
    cancelled = () if drop else (instance_id(current.id, day),)
    return SeriesWrite(department_id, series, after, drop=drop, cancelled=cancelled)


# -- one series's instances ------------------------------------------------------------------

INSTANCES_MAX = 2000
INSTANCES_DEFAULT = 250


def instances(
    storage: Storage,
    department_id: str,
    series_id: str,
    window: DateWindow,
    *,
    after: SortKey | None,
    limit: int,
    zone: ZoneInfo,
) -> EventPage:
    """A page of one series's instances in ``window`` (both ends given), in calendar
    order: its GetItem, and a BatchGetItem of its changed instances when it has any. A
    page expands at most ``CHUNK_DAYS`` days and then ends with where to go on."""
    series = storage.series.get(department_id, series_id)
    assert window.start is not None  # noqa: S101 - the view gives both ends
    assert window.end is not None  # noqa: S101
    if window.empty:
        return EventPage([], None)
    begin = max(window.start, after[0]) if after else window.start
    stop = date.fromisoformat(window.end)
    more: SortKey | None = None
    if (stop - date.fromisoformat(begin)).days > CHUNK_DAYS:
        stop = date.fromisoformat(begin) + timedelta(days=CHUNK_DAYS)
        more = ((stop + timedelta(days=1)).isoformat(), "", "", "")
    last = stop.isoformat()
    event = series.event

    def wanted(item: Event) -> bool:
        return (
            item.last_date >= str(window.start)
            and item.event_date <= last
            and (after is None or item.sort_key > after)
        )

    changed = sorted(
        (served(e, series) for e in storage.series.changed_instances(series)),
        key=lambda e: e.sort_key,
    )
    earliest = days_before(date.fromisoformat(begin), event.days)
    occurring = (
        instance_of(series, day.isoformat())
        for day in dates_in(event, zone, earliest, stop)
        if day.isoformat() not in series.changed
    )
    merged = heapq.merge(filter(wanted, changed), filter(wanted, occurring), key=_sort_key)
    found = list(islice(merged, limit + 1))
    if len(found) > limit:
        return EventPage(found[:limit], found[limit - 1].sort_key)
    return EventPage(found, more)


def _sort_key(event: Event) -> SortKey:
    return event.sort_key
