"""An iCalendar file reconciled with a department's calendar: each ``VEVENT`` creates,
updates, deletes (``STATUS:CANCELLED``) or leaves one event, or is rejected with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    for entry in reader.parse(body, timezone, domain):
        if entry.reason is not None or entry.event_id is None:
            result.rejected.append(_rejection(entry, entry.reason or "it cannot be read"))
            continue
        try:
            outcome = _apply(storage, department_id, entry, dry_run=dry_run)
        except Invalid as exc:
            result.rejected.append(_rejection(entry, str(exc)))
            continue
        except CalendarError as exc:
            if exc.problem.status >= 500:
                raise
            result.rejected.append(_rejection(entry, str(exc)))
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _rejection(entry: reader.Entry, reason: str) -> dict[str, Any]:
    return {"uid": entry.uid or None, "line": entry.line, "reason": reason}


def _apply(storage: Storage, department_id: str, entry: reader.Entry, *, dry_run: bool) -> str:
    """Create, update, delete or leave one event; returns which."""
    assert entry.event_id is not None  # noqa: S101 - rejected entries never get here
    current = storage.events.find(department_id, entry.event_id)
    if entry.cancelled:
        if current is None:
            return "unchanged"
        if not dry_run:
            delete_event(storage, department_id, current.id, None)
        return "deleted"
    if current is None:
        event = new_event(department_id, entry.fields, event_id=entry.event_id)
        if not dry_run:
            add_event(storage, event)
        return "created"
    if changed_event(current, entry.fields) == current:
        return "unchanged"
    if not dry_run:
        update_existing(storage, department_id, current.id, entry.fields, None)
    return "updated"
