"""A department's events: built from a client's fields, written under the calendar's rules.

``new_event`` and ``changed_event`` are pure (no DynamoDB); the writes re-read and retry
when another writer got in between, and answer ``If-Match`` with 412.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from backend.domain import Event, acting, utc_now
from backend.errors import Conflict, PreconditionFailed
from backend.fields import EVENT, event_times
from backend.services.idempotency import Completing
from backend.services.rules import check_day_has_room
from backend.storage import Storage
from backend.storage.versioning import IfMatch, VersionMoved, require, write_attempts

# Fields a client writes; the rest (ids, start_time, timestamps, version) are derived.
WRITABLE = EVENT.writable_names


def new_event(
    department_id: str, fields: Mapping[str, Any], *, event_id: str | None = None
) -> Event:
    """An event at version 1 from a client's fields (already validated one by one).

    Raises ``Invalid`` when the fields break a rule between them (end before start).
    """
    start, end = event_times(
        fields["event_date"],
        fields.get("end_date"),
        fields.get("time"),
        fields.get("end_time"),
        end_time_sent="end_time" in fields,
    )
    now = utc_now()
    values: dict[str, Any] = {name: fields.get(name) for name in WRITABLE}
    values |= {"start_time": start, "end_time": end}
    return Event(
        id=event_id or str(uuid.uuid4()),
        department_id=department_id,
        created_at=now,
        created_by=acting(),
        updated_at=now,
        updated_by=acting(),
        version=1,
        **values,
    )


def changed_event(current: Event, changes: Mapping[str, Any]) -> Event:
    """``current`` with a client's ``changes`` applied and its times derived again."""
    merged = replace(current, **{k: v for k, v in changes.items() if k in WRITABLE})
    end_time_sent = "end_time" in changes or (
        "time" not in changes and current.end_time is not None
    )
    start, end = event_times(
        merged.event_date,
        merged.end_date,
        merged.time,
        merged.end_time,
        end_time_sent=end_time_sent,
    )
    return replace(merged, start_time=start, end_time=end)


def matcher(text: str) -> Callable[[Event], bool]:
    """Whether an event's title, description or location contains ``text`` (Latin letters
    compared case-insensitively). Text is compared as typed and in Unicode NFC, so 회의
    typed on macOS (decomposed jamo) finds the 회의 stored in NFC, and the other way round."""
    needles = {text.lower(), unicodedata.normalize("NFC", text).lower()}

    def matches(event: Event) -> bool:
        for value in (event.title, event.description, event.location):
            if value:
                forms = {value.lower()}
                if not value.isascii():
                    forms.add(unicodedata.normalize("NFC", value).lower())
                if any(needle in form for needle in needles for form in forms):
                    return True
        return False

    return matches


def refuse_full_day(storage: Storage, department_id: str, day: str) -> None:
    """``Conflict`` when ``day`` already holds the most events one date may hold."""
    check_day_has_room(day, storage.events.count_on_date(department_id, day))


def create_event(
    storage: Storage,
    department_id: str,
    fields: Mapping[str, Any],
    completing: Completing[Event] | None = None,
) -> Event:
    """A new event from a client's fields; ``Invalid``, ``NotFound`` or ``day-full``.
    With ``completing``, the idempotency key's answer is written in the same transaction."""
    return add_event(storage, new_event(department_id, fields), completing)


def add_event(storage: Storage, event: Event, completing: Completing[Event] | None = None) -> Event:
    """Write ``event`` (its id must be free) if its date has room."""
    refuse_full_day(storage, event.department_id, event.event_date)
    also = completing.writes_for(event) if completing is not None else []
    return storage.events.create(event, also)


def update_event(
    storage: Storage,
    department_id: str,
    event_id: str,
    changes: Mapping[str, Any],
    if_match: IfMatch | None,
    *,
    first: Event | None = None,
) -> Event:
    """Apply a client's ``changes`` under ``if_match``; a move checks its new date's room.
    ``first``: the event as just read (the first attempt does not read it again)."""
    events = storage.events
    for attempt in write_attempts():
        current = (
            first if attempt == 0 and first is not None else events.get(department_id, event_id)
        )
        require(if_match, current.version)
        wanted = changed_event(current, changes)
        if wanted == current:
            return current
        if wanted.event_date != current.event_date:
            refuse_full_day(storage, department_id, wanted.event_date)
        updated = replace(
            wanted, updated_at=utc_now(), updated_by=acting(), version=current.version + 1
        )
        try:
            events.replace(current, updated)
        except VersionMoved:
            if if_match is not None:
                raise PreconditionFailed(events.get(department_id, event_id).version) from None
            continue
        return updated
    raise Conflict("the event changed too often to apply this update", code="busy")


def delete_event(
    storage: Storage,
    department_id: str,
    event_id: str,
    if_match: IfMatch | None,
    *,
    first: Event | None = None,
) -> None:
    events = storage.events
    for attempt in write_attempts():
        current = (
            first if attempt == 0 and first is not None else events.get(department_id, event_id)
        )
        require(if_match, current.version)
        try:
            events.remove([current])
        except VersionMoved:
            if events.find(department_id, event_id) is None:
                return  # deleted meanwhile, perhaps by our own retried request
            if if_match is not None:
                raise PreconditionFailed(events.get(department_id, event_id).version) from None
            continue
        return
    raise Conflict("the event changed too often to delete it", code="busy")
