"""An iCalendar file reconciled with a department's calendar: each ``VEVENT`` creates,
updates, deletes (``STATUS:CANCELLED``) or leaves one event, or is rejected with why."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from backend.domain import Event, Series, acting, utc_now
from backend.errors import CalendarError, Conflict, Invalid, NotFound
from backend.fields import MAX_EVENTS_PER_DAY
from backend.ics import reader
from backend.recurrence import RuleProblem, Schedule, with_exdate
from backend.services import recurring
from backend.services.events import changed_event, new_event
from backend.services.rules import check_day_has_room
from backend.storage import Storage
from backend.storage.events import MAX_BATCH, BatchMoved, EventBatch
from backend.storage.versioning import write_attempts
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

    @staticmethod
    def from_json(data: dict[str, Any]) -> ImportResult:
        return ImportResult(
            created=int(data.get("created", 0)),
            updated=int(data.get("updated", 0)),
            unchanged=int(data.get("unchanged", 0)),
            deleted=int(data.get("deleted", 0)),
            rejected=[dict(r) for r in data.get("rejected", [])],
            dry_run=bool(data.get("dry_run", False)),
        )


def read_file(body: bytes, *, timezone: str, domain: str) -> list[reader.Entry]:
    """The VEVENTs of ``body`` in the order an import applies them; ``BadRequest`` for a
    file that is not iCalendar."""
    parsed = _cancellations_folded(reader.parse(body, timezone, domain), ZoneInfo(timezone))
    # Series first, then their changed occurrences (RECURRENCE-ID), whatever the file's order.
    return sorted(parsed, key=lambda e: e.series_id is not None)


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
    importer = Importer(storage, department_id, timezone=timezone, domain=domain, dry_run=dry_run)
    importer.apply(read_file(body, timezone=timezone, domain=domain))
    return importer.result


@dataclass
class _Pending:
    """One event's write waiting for its batch: as stored (None: new) and as it will be
    (None: deleted)."""

    stored: Event | None
    after: Event | None


@dataclass
class _Staged:
    """One VEVENT's outcome (a result counter, or a rejection), taken once its batch is
    written, and what it did to the per-date counts."""

    entry: reader.Entry
    outcome: str | None
    reason: str | None = None
    days: list[tuple[str, int]] = field(default_factory=list)


class Importer:
    """Applies VEVENTs (as ``read_file`` orders them) to one department.

    Single events go in batches of up to ``MAX_BATCH`` (one transaction each, with the
    calendar item and one change record naming them); series and occurrences one by one.
    The per-date cap is checked with one count per date the import touches: the
    department's consistent ``event_count`` when that alone proves room (fewer events than
    a date may hold), else one ``Select=COUNT`` Query. ``apply`` may be called again with
    the next VEVENTs (a job does, chunk by chunk); ``result`` adds up.
    """

    def __init__(
        self,
        storage: Storage,
        department_id: str,
        *,
        timezone: str,
        domain: str,
        dry_run: bool,
        result: ImportResult | None = None,
    ) -> None:
        self.storage, self.department_id, self.domain = storage, department_id, domain
        self.zone = ZoneInfo(timezone)
        self.dry_run = dry_run
        self.result = result if result is not None else ImportResult(dry_run=dry_run)
        self.existing: dict[str, Event] = {}
        self.every: dict[str, Series] = {}
        self._series_read = False
        self._pending: dict[str, _Pending] = {}
        self._staged: list[_Staged] = []
        # Per date: its count before this import's first write to it (exact, or an upper
        # bound: the department's whole count), and this import's writes to it since.
        self._base: dict[str, tuple[int, bool]] = {}
        self._ours: dict[str, int] = {}
        self._bound: int | None = None

    def apply(self, entries: Sequence[reader.Entry]) -> None:
        """Apply ``entries`` and write everything they leave pending."""
        if not self.dry_run:
            # What earlier calls wrote is stored: read again below as needed, so a job's
            # memory does not grow with its file.
            self.existing.clear()
        readable = [e for e in entries if e.reason is None and e.event_id]
        earlier = {
            e.event_id: reader.derived_id_for(e.uid, self.domain) for e in readable if e.event_id
        }
        # What exists, read in batches of 100 rather than one GetItem per VEVENT.
        self.existing.update(
            self.storage.events.find_many(
                self.department_id,
                [
                    ident
                    for e in readable
                    if e.event_id
                    for ident in (e.event_id, earlier[e.event_id])
                ],
            )
        )
        if not self._series_read and any(e.is_series or e.series_id for e in readable):
            self.every = {s.event.id: s for s in self.storage.series.all(self.department_id)}
            self._series_read = True
        self._bound = None
        book = _Book(
            self.storage, self.department_id, self.zone, self.existing, self.every,
            dry_run=self.dry_run,
        )  # fmt: skip
        for entry in entries:
            if entry.reason is not None or entry.event_id is None:
                self._staged.append(_Staged(entry, None, entry.reason or "it cannot be read"))
                continue
            entry = _earlier_id(entry, earlier, self.existing, self.every)  # noqa: PLW2901
            assert entry.event_id is not None  # noqa: S101
            if entry.series_id is not None or entry.is_series or entry.event_id in self.every:
                self._flush()
                self._one_by_one(book, entry)
                continue
            pending = self._pending.get(entry.event_id)
            if pending is not None and pending.after is None:
                self._flush()  # deleted, then given again: the delete goes first
            self._plan(entry)
            if len(self._pending) >= MAX_BATCH:
                self._flush()
        self._flush()

    # -- series and occurrences, one write each ------------------------------------------

    def _one_by_one(self, book: _Book, entry: reader.Entry) -> None:
        try:
            outcome = book.occurrence(entry) if entry.series_id is not None else book.series(entry)
        except (Invalid, _Refused) as exc:
            self.result.rejected.append(_rejection(entry, str(exc)))
            return
        except CalendarError as exc:
            if exc.problem.status >= 500:
                raise
            self.result.rejected.append(_rejection(entry, str(exc)))
            return
        setattr(self.result, outcome, getattr(self.result, outcome) + 1)

    # -- single events, in batches --------------------------------------------------------

    def _plan(self, entry: reader.Entry) -> None:
        """Decide what ``entry`` does to its event, as the import knows it (with what is
        pending), and stage it: the write waits for the batch."""
        ident = entry.event_id
        assert ident is not None  # noqa: S101
        pending = self._pending.get(ident)
        stored = pending.stored if pending is not None else self.existing.get(ident)
        staged = _Staged(entry, None)
        try:
            after = self._decide(staged, stored, pending.after if pending else stored)
        except (Invalid, _Refused, Conflict) as exc:
            self._undo(staged)
            staged.reason = str(exc)
            self._staged.append(staged)
            return
        self._staged.append(staged)
        if staged.outcome == "unchanged":
            return
        if stored is None and after is None:
            self._pending.pop(ident, None)  # made and deleted by the same file
        else:
            self._pending[ident] = _Pending(stored, after)

    def _decide(self, staged: _Staged, stored: Event | None, known: Event | None) -> Event | None:
        """The event as ``staged.entry`` leaves it (None: deleted), its outcome set."""
        entry = staged.entry
        if entry.cancelled:
            if known is None:
                raise _Refused(_NOTHING_TO_CANCEL)
            self._move(staged, known.event_date, -1)
            staged.outcome = "deleted"
            return None
        if known is None:
            made = new_event(self.department_id, entry.fields, event_id=entry.event_id)
            self._room(staged, made.event_date)
            staged.outcome = "created"
            return made
        wanted = changed_event(known, entry.fields)
        if wanted == known:
            staged.outcome = "unchanged"
            return known
        if wanted.event_date != known.event_date:
            self._room(staged, wanted.event_date)
            self._move(staged, known.event_date, -1)
        staged.outcome = "updated"
        if stored is None:
            return wanted  # still to be made: a new event, with these fields
        return dataclasses.replace(
            wanted, updated_at=utc_now(), updated_by=acting(), version=stored.version + 1
        )

    def _room(self, staged: _Staged, day: str) -> None:
        """Count ``day``'s new event, or ``Conflict`` (day-full) when it has no room."""
        if self.dry_run:
            return
        base, exact = self._base_of(day)
        if base + self._ours[day] >= MAX_EVENTS_PER_DAY and not exact:
            # The department's count proved nothing: count the date itself, with this
            # import's writes written first so that the count sees them.
            self._flush()
            queried = self.storage.events.count_on_date(self.department_id, day)
            self._base[day] = (queried - self._ours[day], True)
            base = queried - self._ours[day]
        check_day_has_room(day, base + self._ours[day])
        self._move(staged, day, 1)

    def _move(self, staged: _Staged, day: str, delta: int) -> None:
        if self.dry_run or (delta < 0 and day not in self._base):
            # An event leaving a date not counted yet: its count, read later, may still
            # show it (one too many, never too few).
            return
        self._base_of(day)
        self._ours[day] += delta
        staged.days.append((day, delta))

    def _undo(self, staged: _Staged) -> None:
        for day, delta in staged.days:
            self._ours[day] -= delta
        staged.days.clear()

    def _base_of(self, day: str) -> tuple[int, bool]:
        """``day``'s count before this import first touched it: the department's whole
        count where that is under the cap (an upper bound, no Query), else the date's."""
        if day not in self._base:
            if self._bound is None:
                self._bound = self.storage.events.calendar_state(self.department_id).event_count
            if self._bound < MAX_EVENTS_PER_DAY:
                self._base[day] = (max(self._bound, 0), False)
            else:
                self._base[day] = (
                    self.storage.events.count_on_date(self.department_id, day),
                    True,
                )
            self._ours[day] = 0
        return self._base[day]

    def _flush(self) -> None:
        """Write the pending batch (one transaction), then take its VEVENTs' outcomes."""
        if not self.dry_run:
            self._write_pending()
        for ident, p in self._pending.items():
            if p.after is None:
                self.existing.pop(ident, None)
            else:
                self.existing[ident] = p.after
        for one in self._staged:
            if one.outcome is None:
                self.result.rejected.append(_rejection(one.entry, one.reason or ""))
            else:
                setattr(self.result, one.outcome, getattr(self.result, one.outcome) + 1)
        self._pending, self._staged = {}, []

    def _write_pending(self) -> None:
        for _ in write_attempts():
            if not self._pending:
                return
            pending = self._pending.values()
            batch = EventBatch(
                creates=[p.after for p in pending if p.stored is None and p.after is not None],
                updates=[(p.stored, p.after) for p in pending if p.stored and p.after],
                deletes=[p.stored for p in pending if p.stored is not None and p.after is None],
            )
            try:
                self.storage.events.write_batch(self.department_id, batch)
            except BatchMoved:
                if self._replanned():
                    continue
            return
        raise Conflict("the calendar changed too often to import this batch", code="busy")

    def _replanned(self) -> bool:
        """After a batch was refused because some of its events were not as read: whether
        it was planned again from them as they are now (False: the batch is what they
        hold, written by this very import, whose answer was lost)."""
        fresh = self.storage.events.find_many(self.department_id, list(self._pending))
        if all(fresh.get(ident) == p.after for ident, p in self._pending.items()):
            return False
        for ident in self._pending:
            if ident in fresh:
                self.existing[ident] = fresh[ident]
            else:
                self.existing.pop(ident, None)
        staged, self._staged, self._pending = self._staged, [], {}
        for one in staged:
            self._undo(one)
        for one in staged:
            if one.entry.reason is None and one.entry.event_id is not None:
                self._plan(one.entry)
            else:
                self._staged.append(one)
        return True


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
