"""An iCalendar file reconciled with a department's calendar: each ``VEVENT`` creates,
updates, deletes (``STATUS:CANCELLED``) or leaves one event, or is rejected with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.domain import Event
from backend.errors import CalendarError, Invalid
from backend.ics import reader
from backend.services.events import add_event, changed_event, delete_event, new_event
from backend.services.events import update_event as update_existing
from backend.storage import Storage


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
    entries = reader.parse(body, timezone, domain)
    # What exists, read in batches of 100 rather than one GetItem per VEVENT.
    existing = storage.events.find_many(
        department_id, [e.event_id for e in entries if e.reason is None and e.event_id]
    )
    for entry in entries:
        if entry.reason is not None or entry.event_id is None:
            result.rejected.append(_rejection(entry, entry.reason or "it cannot be read"))
            continue
        try:
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
        setattr(result, outcome, getattr(result, outcome) + 1)
        # A later VEVENT with the same UID sees this one's outcome (a dry run's too).
        if after is None:
            existing.pop(entry.event_id, None)
        else:
            existing[entry.event_id] = after
    return result


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
            return "unchanged", None
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
