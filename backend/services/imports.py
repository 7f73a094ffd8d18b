"""An iCalendar file reconciled with a department's calendar: each ``VEVENT`` creates,
updates, deletes (``STATUS:CANCELLED``) or leaves one event, or is rejected with why."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain import Event, Series
from backend.errors import CalendarError, Invalid, NotFound
from backend.ics import reader
from backend.recurrence import RuleProblem, Schedule, with_exdate
from backend.services import recurring
from backend.services.events import add_event, changed_event, delete_event, new_event
from backend.services.events import update_event as update_existing
from backend.storage import Storage
from backend.timetext import parse_start_time


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
        }


def import_calendar(
    storage: Storage,
    department_id: str,
    body: bytes,
    *,
    timezone: str,
    domain: str,
    dry_run: bool,
) -> ImportResult:
    """Apply (or, with ``dry_run``, only count) every VEVENT of ``body``.

    ``NotFound`` for an unknown department, ``BadRequest`` for a file that is not
    iCalendar; a VEVENT that breaks a rule is rejected on its own and the rest go on.
    """
    storage.departments.get(department_id)  # 404 before the file is read
    result = ImportResult(dry_run=dry_run)
    parsed = _cancellations_folded(reader.parse(body, timezone, domain), ZoneInfo(timezone))
    # Series first, then their changed occurrences (RECURRENCE-ID), whatever the file's order.
    entries = sorted(parsed, key=lambda e: e.series_id is not None)
    # What exists, read in batches of 100 rather than one GetItem per VEVENT, and the
    # department's series in one Query when the file has any.
    earlier = {e.event_id: reader.derived_id_for(e.uid, domain) for e in entries if e.event_id}
    existing = storage.events.find_many(
        department_id,
        [
            ident
            for e in entries
            if e.reason is None and e.event_id
            for ident in (e.event_id, earlier[e.event_id])
        ],
    )
    recurring_file = any(e.is_series or e.series_id for e in entries)
    every = {s.event.id: s for s in storage.series.all(department_id)} if recurring_file else {}
    # An event imported before under the id its UID used to map to keeps that id.
    entries = [_earlier_id(e, earlier, existing, every) for e in entries]
    book = _Book(storage, department_id, ZoneInfo(timezone), existing, every, dry_run=dry_run)
    for entry in entries:
        if entry.reason is not None or entry.event_id is None:
            result.rejected.append(_rejection(entry, entry.reason or "it cannot be read"))
            continue
        try:
            if entry.series_id is not None:
                outcome, after = book.occurrence(entry), None
            elif entry.is_series or entry.event_id in every:
                outcome, after = book.series(entry), None
            else:
                outcome, after = _apply(
                    storage, department_id, entry, existing.get(entry.event_id), dry_run=dry_run
                )
        except Invalid as exc:
            result.rejected.append(_rejection(entry, str(exc)))
            continue
        except CalendarError as exc:
            if exc.problem.status >= 500:
                raise
            result.rejected.append(_rejection(entry, str(exc)))
            continue
        except _Refused as exc:
            result.rejected.append(_rejection(entry, str(exc)))
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
        if entry.series_id is not None or entry.is_series or entry.event_id in every:
            continue  # the book keeps what it wrote
        # A later VEVENT with the same UID sees this one's outcome (a dry run's too).
        if after is None:
            existing.pop(entry.event_id, None)
        else:
            existing[entry.event_id] = after
    return result


def _earlier_id(
    entry: reader.Entry,
    earlier: dict[str, str],
    existing: dict[str, Event],
    every: dict[str, Series],
) -> reader.Entry:
    ident = entry.event_id
    if ident is None or entry.series_id is not None or ident in existing or ident in every:
        return entry
    old = earlier[ident]
    if old != ident and (old in existing or old in every):
        return dataclasses.replace(entry, event_id=old)
    return entry


def _cancellations_folded(entries: list[reader.Entry], zone: ZoneInfo) -> list[reader.Entry]:
    """The entries with each cancelled occurrence (RECURRENCE-ID, STATUS:CANCELLED) of a
    series in the same file written into that series's EXDATEs, as Google keeps them, so
    that importing the file again finds the series unchanged."""
    cancelled: dict[str, list[str]] = {}
    for entry in entries:
        if entry.cancelled and entry.series_id is not None and entry.original_date:
            cancelled.setdefault(entry.series_id, []).append(entry.original_date)
    folded = []
    for entry in entries:
        days = cancelled.get(entry.event_id or "") if entry.is_series else None
        if not days:
            folded.append(entry)
            continue
        lines = tuple(entry.fields["recurrence"])
        start = parse_start_time(entry.fields.get("time"))
        for day in sorted(set(days)):
            if Schedule(entry.fields["event_date"], lines, start, zone).occurs_on(
                date.fromisoformat(day)
            ):
                try:
                    lines = with_exdate(lines, date.fromisoformat(day), start)
                except RuleProblem:
                    break  # too many: the cancellations are applied one by one instead
        folded.append(dataclasses.replace(entry, fields={**entry.fields, "recurrence": lines}))
    return folded


class _Refused(Exception):
    """A VEVENT that cannot be applied, with why."""


class _Book:
    """The department's series as the import has them (written, or in a dry run only
    counted): each series VEVENT creates, updates or deletes a series; each occurrence
    VEVENT (RECURRENCE-ID) changes or deletes one instance of one."""

    def __init__(
        self,
        storage: Storage,
        department_id: str,
        zone: ZoneInfo,
        existing: dict[str, Event],
        every: dict[str, Series],
        *,
        dry_run: bool,
    ) -> None:
        self.storage, self.department_id, self.zone = storage, department_id, zone
        self.existing, self.every, self.dry_run = existing, every, dry_run

    def series(self, entry: reader.Entry) -> str:
        assert entry.event_id is not None  # noqa: S101
        ident = entry.event_id
        current = self.every.get(ident)
        single = self.existing.get(ident)
        if entry.cancelled:
            if current is None and single is None:
                raise _Refused(_NOTHING_TO_CANCEL)
            if not self.dry_run:
                recurring.delete(self.storage, self.department_id, ident, None, zone=self.zone)
            self.every.pop(ident, None)
            self.existing.pop(ident, None)
            return "deleted"
        if current is None and single is None:
            event = new_event(self.department_id, entry.fields, event_id=ident)
            recurring.check_series(event, self.zone)
            if not self.dry_run:
                event = recurring.create_series(
                    self.storage, self.department_id, entry.fields, self.zone, series_id=ident
                )
            self.every[ident] = Series(event)
            return "created"
        base = current.event if current is not None else single
        assert base is not None  # noqa: S101
        # A series the file has as a single event becomes one.
        fields = entry.fields if entry.is_series else {**entry.fields, "recurrence": None}
        wanted = changed_event(base, fields)
        if current is not None and wanted == current.event:
            return "unchanged"
        if self.dry_run:
            if wanted.recurrence is None:
                self.every.pop(ident, None)
            else:
                recurring.check_series(wanted, self.zone)
                self.every[ident] = Series(wanted, current.changed if current else {})
        else:
            recurring.update(
                self.storage,
                self.department_id,
                ident,
                fields,
                None,
                zone=self.zone,
                scope="all",
            )
            found = self.storage.series.find(self.department_id, ident)
            if found is None:
                self.every.pop(ident, None)
            else:
                self.every[ident] = found
        self.existing.pop(ident, None)
        return "updated"

    def occurrence(self, entry: reader.Entry) -> str:
        assert entry.event_id is not None  # noqa: S101
        assert entry.series_id is not None  # noqa: S101
        assert entry.original_date is not None  # noqa: S101
        series = self.every.get(entry.series_id)
        if series is None:
            raise _Refused(
                "RECURRENCE-ID names an occurrence of a series (the same UID) that is "
                "neither in this calendar nor in the file"
            )
        day = entry.original_date
        schedule = recurring.schedule_of(series.event, self.zone)
        if day in series.changed:
            current: Event | None = self.existing.get(entry.event_id) or self._changed(entry)
        elif schedule.occurs_on(date.fromisoformat(day)):
            current = recurring.instance_of(series, day)
        else:
            current = None
        if entry.cancelled:
            if current is None:
                if date.fromisoformat(day) in schedule.excluded:
                    return "unchanged"  # already deleted
                raise _Refused(_NOTHING_TO_CANCEL)
            self._write(entry, series, delete=True)
            return "deleted"
        if current is None:
            raise _Refused(
                f"RECURRENCE-ID {day} is not an occurrence of its series (deleted, or not "
                "made by its rule)"
            )
        wanted = changed_event(current, entry.fields)
        if wanted == current:
            return "unchanged"
        self._write(entry, series, delete=False, wanted=wanted)
        return "updated"

    def _changed(self, entry: reader.Entry) -> Event | None:
        assert entry.event_id is not None  # noqa: S101
        if self.dry_run and entry.event_id not in self.existing:
            return None
        return self.storage.events.find(self.department_id, entry.event_id)

    def _write(
        self, entry: reader.Entry, series: Series, *, delete: bool, wanted: Event | None = None
    ) -> None:
        assert entry.event_id is not None  # noqa: S101
        day = entry.original_date or ""
        if self.dry_run:
            if delete:
                lines = recurrence_without(series.event, day)
                self.every[series.event.id] = series.keeping(
                    dataclasses.replace(series.event, recurrence=lines),
                    [d for d in series.changed if d != day],
                )
            elif wanted is not None:
                self.every[series.event.id] = series.with_changed(series.event, wanted)
            if wanted is not None:
                self.existing[entry.event_id] = wanted
            return
        if delete:
            recurring.delete(self.storage, self.department_id, entry.event_id, None, zone=self.zone)
        else:
            try:
                updated = recurring.update(
                    self.storage, self.department_id, entry.event_id, entry.fields, None,
                    zone=self.zone,
                )  # fmt: skip
            except NotFound:
                raise _Refused("its occurrence is no longer in the series") from None
            self.existing[entry.event_id] = updated
        self.every[series.event.id] = self.storage.series.get(self.department_id, series.event.id)


_NOTHING_TO_CANCEL = "STATUS:CANCELLED, but nothing in this calendar has its UID: nothing to delete"


def recurrence_without(event: Event, day: str) -> tuple[str, ...]:
    """A series's lines with the occurrence on ``day`` excluded."""
    return with_exdate(event.recurrence or (), date.fromisoformat(day), event.start_time)


def _rejection(entry: reader.Entry, reason: str) -> dict[str, Any]:
    return {"uid": entry.uid or None, "line": entry.line, "reason": reason}


def _apply(
    storage: Storage,
    department_id: str,
    entry: reader.Entry,
    current: Event | None,
    *,
    dry_run: bool,
) -> tuple[str, Event | None]:
    """Create, update, delete or leave one event (``current``: as the import knows it);
    returns which, and the event as it is afterwards (None: there is none)."""
    assert entry.event_id is not None  # noqa: S101 - rejected entries never get here
    if entry.cancelled:
        if current is None:
            raise _Refused(_NOTHING_TO_CANCEL)
        if not dry_run:
            delete_event(storage, department_id, current.id, None)
        return "deleted", None
    if current is None:
        event = new_event(department_id, entry.fields, event_id=entry.event_id)
        if not dry_run:
            add_event(storage, event)
        return "created", event
    wanted = changed_event(current, entry.fields)
    if wanted == current:
        return "unchanged", current
    if not dry_run:
        wanted = update_existing(storage, department_id, current.id, entry.fields, None)
    return "updated", wanted
