"""Departments and their events together: deleting with a cascade, and counting events.

A department's calendar item carries its strongly consistent ``event_count``; these rules read it
rather than the eventually consistent index wherever it exists.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from backend.domain import Department, acting, instance_id, utc_now
from backend.errors import Conflict, PreconditionFailed, StorageUnavailable
from backend.services.idempotency import Completing
from backend.storage import Storage
from backend.storage.departments import new_department
from backend.storage.dynamo import busy
from backend.storage.events import MAX_REMOVE
from backend.storage.series import SeriesWrite
from backend.storage.versioning import Contended, IfMatch, VersionMoved, require, write_attempts

# What one DELETE ?cascade=true may do: its events go in transactions of MAX_REMOVE (with
# the department's calendar item and the change record), at most this many per request.
CASCADE_BUDGET = 980
CASCADE_STEP = MAX_REMOVE
_INDEX_LAG_TRIES = 5


@dataclass(frozen=True)
class CascadeResult:
    deleted: int  # events deleted by this call
    remaining: int  # events left; the department itself is deleted only when none are


def create_department(
    storage: Storage,
    fields: Mapping[str, Any],
    completing: Completing[Department] | None = None,
    *,
    owner: str | None = None,
) -> Department:
    """A new department from a client's validated fields (``owner``: its first member,
    the person who creates it); ``name-taken`` when its name is held (by a claim, or by a
    department written without one). With ``completing``, the idempotency key's answer
    is written in the same transaction."""
    department = new_department(
        fields["name"],
        fields.get("description"),
        fields.get("notify_emails", ()),
        fields.get("visibility", "organization"),
    )
    also = completing.writes_for(department) if completing is not None else []
    members = {owner: "owner"} if owner is not None else None
    return storage.departments.add(department, also, members)


def update_department(
    storage: Storage,
    department_id: str,
    changes: Mapping[str, Any],
    if_match: IfMatch | None,
) -> Department:
    """Apply ``changes`` (name, description, notify_emails) if ``if_match`` allows it."""
    departments = storage.departments
    contended = False
    for _ in write_attempts():
        current = departments.get(department_id)
        require(if_match, current.version)
        wanted = replace(current, **changes)
        if wanted == current:
            return current
        updated = replace(
            wanted, updated_at=utc_now(), updated_by=acting(), version=current.version + 1
        )
        try:
            departments.replace(current, updated)
        except Contended:
            contended = True
            continue  # a transaction was writing the item: try again as it was
        except VersionMoved:
            if departments.holds(updated):
                return updated  # our own write, whose response was lost and retried
            if if_match is not None:
                raise PreconditionFailed(departments.get(department_id).version) from None
            contended = False
            continue  # someone else wrote in between: re-read and apply again
        return updated
    if contended:
        raise busy("update department")
    raise Conflict("the department changed too often to apply this update", code="busy")


def delete_department(
    storage: Storage,
    department_id: str,
    if_match: IfMatch | None,
    cascade: bool,
    *,
    budget: int = CASCADE_BUDGET,
) -> CascadeResult:
    """Delete a department; refuse while it has events unless ``cascade``.

    A cascade deletes at most ``budget`` events per call; when more remain, the
    department is kept and the result says how many, for the caller to repeat.
    """
    deleted = 0
    for _ in write_attempts():
        current = storage.departments.get(department_id)
        require(if_match, current.version)
        if cascade:
            gone, remaining = _delete_events(storage, department_id, budget - deleted)
            deleted += gone
            if remaining:
                return CascadeResult(deleted, remaining)
        elif has_events(storage, department_id):
            raise Conflict(
                f"department {current.name!r} still has events; delete them first "
                "or repeat with ?cascade=true",
                code="has-events",
            )
        try:
            storage.departments.delete(current)
        except (VersionMoved, Contended):
            continue  # re-read: a new version (If-Match), or an event added meanwhile
        # No write can add to its change log now (each needs its calendar item).
        storage.changes.purge(department_id)
        storage.webhooks.remove_all(department_id)
        return CascadeResult(deleted, 0)
    raise busy("delete department")


def has_events(storage: Storage, department_id: str) -> bool:
    state = storage.events.calendar_state(department_id)
    if state.series_count > 0:
        return True
    if state.counted:
        return state.event_count > 0
    # Written before counting: only the index can tell, and it may lag.
    return storage.events.has_any(department_id)


def _delete_series(storage: Storage, department_id: str, budget: int) -> tuple[int, int]:
    """Delete the department's series, each with its changed instances in one transaction
    (found by one consistent Query, never the index), within ``budget`` items; (deleted
    items, series remaining)."""
    every = storage.series.all(department_id)
    deleted = 0
    for n, series in enumerate(every):
        size = 1 + len(series.changed)
        if deleted + size > budget:
            return deleted, len(every) - n
        write = SeriesWrite(
            department_id,
            series,
            None,
            drop=tuple(instance_id(series.event.id, d) for d in sorted(series.changed)),
        )
        try:
            storage.series.write(write)
        except VersionMoved:
            return deleted, len(every) - n  # changed meanwhile: the caller reads again
        deleted += size
    return deleted, 0


def _delete_events(storage: Storage, department_id: str, budget: int) -> tuple[int, int]:
    """Delete up to ``budget`` events, the department's series first (each with its
    changed instances), then the rest in transactions of up to MAX_REMOVE; (deleted, remaining)."""
    events = storage.events
    deleted, idle = 0, 0
    while deleted < budget:
        state = events.calendar_state(department_id)
        if state.series_count > 0:
            gone, series_left = _delete_series(storage, department_id, budget - deleted)
            deleted += gone
            if series_left or not gone:
                return deleted, series_left + max(state.event_count, 0)
            continue
        if state.counted and state.event_count <= 0:
            return deleted, 0
        batch = events.some_of(department_id, min(CASCADE_STEP, budget - deleted))
        if not batch:
            if not state.counted:
                return deleted, 0
            # The count says events remain that the index does not show yet.
            idle += 1
            if idle > _INDEX_LAG_TRIES:
                raise StorageUnavailable(
                    "the department's newest events are not indexed yet; retry shortly",
                    retry_after=1,
                )
            time.sleep(0.1 * idle)
            continue
        try:
            events.remove(batch)
        except VersionMoved:
            # The index showed an event that changed or went: read them as they are.
            again = [events.find(department_id, e.id) for e in batch]
            batch = [e for e in again if e is not None]
            if not batch:
                continue
            try:
                events.remove(batch)
            except VersionMoved:
                continue
        deleted += len(batch)
    state = events.calendar_state(department_id)
    if state.counted:
        return deleted, max(state.event_count, 0)
    return deleted, int(events.has_any(department_id))


def count_events(
    storage: Storage, department_ids: Iterable[str], *, rewritten: bool = False
) -> dict[str, int]:
    """Give each department its exact event count, for items written without one (by
    the migration's batches, the first app or the console); returns the counts.

    A department already counted right keeps its calendar version, unless ``rewritten``
    (the caller may have changed its events in place: a migration with ``--overwrite``),
    when the version moves all the same, so that no list, ETag or kept page shows them
    as they were.

    One strongly consistent Scan of the events table counts every department; each
    count is then written on condition that the department's calendar did not change
    meanwhile, and a department whose calendar did is counted again on its own.
    """
    events = storage.events
    wanted = [d for d in department_ids if storage.departments.exists(d)]
    before = {d: events.calendar_state(d) for d in wanted}
    counts, multi_day = events.count_by_department(set(wanted))
    for department_id in wanted:
        state = before[department_id]
        for _ in write_attempts():
            spans = department_id in multi_day or (state.counted and state.multi_day)
            if (
                not rewritten
                and state.counted
                and state.event_count == counts[department_id]
                and state.multi_day == spans
            ):
                break  # already right: a rerun changes nothing
            if events.set_count(
                department_id, counts[department_id], state.calendar_version, spans
            ):
                break
            state = events.calendar_state(department_id)
            again, spanning = events.count_by_department({department_id})
            counts[department_id] = again[department_id]
            multi_day |= spanning
        else:
            raise busy("count events")
    return {d: counts[d] for d in wanted}
