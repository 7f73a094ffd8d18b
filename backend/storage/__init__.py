"""The only door to DynamoDB: the storage facade over one client and its repositories.

``Storage`` holds one injected client and the repositories over it; nothing outside this
package sees the client or builds a DynamoDB request. Nothing here knows Flask. The API,
the migration, the backup, the report job and the seed's ``DynamoDBDatabase`` all work
through ``Storage``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, WaiterError

from backend.domain import Event
from backend.errors import Conflict, PreconditionFailed, StorageUnavailable
from backend.storage import usage
from backend.storage.batch import BatchIO
from backend.storage.departments import DepartmentRepository, _Contended, _VersionMoved
from backend.storage.dynamo import busy, error_code, translated_errors
from backend.storage.events import (
    CalendarState,
    DateWindow,
    EventRepository,
    SortKey,
    _EventMoved,
    new_event,
)
from backend.storage.expiring import ExpiringItems
from backend.storage.idempotency import IdempotencyRecords
from backend.storage.mailings import MailingRepository
from backend.storage.schema import DEPARTMENTS, EVENTS, TableSchema
from backend.storage.versioning import IfMatch, write_attempts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["CascadeResult", "DateWindow", "SortKey", "Storage", "TableProblem"]

logger = logging.getLogger(__name__)

# What one DELETE ?cascade=true may do: its events go in transactions of 99 (with the
# department's count, the 100th item), at most this many per request.
CASCADE_BUDGET = 990
_CASCADE_STEP = 99
_INDEX_LAG_TRIES = 5


@dataclass(frozen=True)
class CascadeResult:
    deleted: int  # events deleted by this call
    remaining: int  # events left; the department itself is deleted only when none are


@dataclass(frozen=True)
class TableProblem:
    """Why one table cannot be used, in words an operator can act on."""

    table: str
    reason: str

    def __str__(self) -> str:
        return f"table {self.table!r}: {self.reason}"


class Storage:
    """Both tables of the calendar, reached through one injected DynamoDB client."""

    def __init__(self, client: DynamoDBClient, departments_table: str, events_table: str) -> None:
        self._client = client
        usage.instrument(client)
        self.departments = DepartmentRepository(client, departments_table)
        self.events = EventRepository(client, events_table, departments_table)
        self.mailings = MailingRepository(client, events_table)
        self.idempotency = IdempotencyRecords(client, events_table)

    def tables(self) -> list[tuple[TableSchema, str]]:
        return [(DEPARTMENTS, self.departments.table), (EVENTS, self.events.table)]

    def batch_io(self, *, max_wcu: float | None = None, max_rcu: float | None = None) -> BatchIO:
        """Batched reads and writes for the jobs that move many items (migration, backup),
        at most ``max_wcu`` / ``max_rcu`` capacity units a second when given."""
        return BatchIO(self._client, max_wcu=max_wcu, max_rcu=max_rcu)

    # -- tables -------------------------------------------------------------------------

    def check_tables(self) -> list[TableProblem]:
        """Describe both tables (DescribeTable only) and say what is missing or wrong.

        An empty list means both tables are ACTIVE with the keys and GSIs this service
        needs. Connection and credential failures raise ``StorageUnavailable``.
        """
        problems = []
        for schema, name in self.tables():
            try:
                with translated_errors("describe table"):
                    table = self._client.describe_table(TableName=name)["Table"]
            except StorageUnavailable as exc:
                cause = exc.__cause__
                if (
                    isinstance(cause, ClientError)
                    and error_code(cause) == "ResourceNotFoundException"
                ):
                    problems.append(TableProblem(name, "does not exist"))
                    continue
                raise
            if table.get("TableStatus") not in {"ACTIVE", "UPDATING"}:
                problems.append(TableProblem(name, f"is {table.get('TableStatus')}, not ACTIVE"))
            problems.extend(TableProblem(name, p) for p in schema.problems_with(dict(table)))
        return problems

    def create_tables(self, report: Callable[[str, bool], None] | None = None) -> None:
        """Create any missing table with its GSIs and wait until ACTIVE; safe to repeat.

        ``report(table_name, created)`` is told about each table (``created`` is False
        when it already existed).
        """
        for schema, name in self.tables():
            try:
                with translated_errors("create table"):
                    self._client.create_table(**schema.create_table_request(name))
                created = True
            except ClientError as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
                created = False  # already there, perhaps from the AWS CLI: that is success
            try:
                self._client.get_waiter("table_exists").wait(
                    TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
                )
            except WaiterError as exc:
                raise StorageUnavailable(f"table {name!r} did not become ACTIVE") from exc
            if report is not None:
                report(name, created)

    # -- departments --------------------------------------------------------------------

    def delete_department(
        self,
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
            current = self.departments.get(department_id)
            if if_match is not None and not if_match.allows(current.version):
                raise PreconditionFailed(current.version)
            if cascade:
                gone, remaining = self._delete_events(department_id, budget - deleted)
                deleted += gone
                if remaining:
                    return CascadeResult(deleted, remaining)
            elif self._has_events(department_id):
                raise Conflict(
                    f"department {current.name!r} still has events; delete them first "
                    "or repeat with ?cascade=true",
                    code="has-events",
                )
            try:
                self.departments.delete(current)
            except (_VersionMoved, _Contended):
                continue  # re-read: a new version (If-Match), or an event added meanwhile
            return CascadeResult(deleted, 0)
        raise busy("delete department")

    def _has_events(self, department_id: str) -> bool:
        state = self.events.calendar_state(department_id)
        if state.counted:
            return state.event_count > 0
        # Written before counting: only the index can tell, and it may lag.
        return self.events.has_any(department_id)

    def _delete_events(self, department_id: str, budget: int) -> tuple[int, int]:
        """Delete up to ``budget`` events in transactions of up to 99; (deleted, remaining)."""
        deleted, idle = 0, 0
        while deleted < budget:
            state = self.events.calendar_state(department_id)
            if state.counted and state.event_count <= 0:
                return deleted, 0
            batch = self.events.some_of(department_id, min(_CASCADE_STEP, budget - deleted))
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
                self.events.remove(batch)
            except _EventMoved:
                # The index showed an event that changed or went: read them as they are.
                found = [self.events.find(department_id, e.id) for e in batch]
                batch = [e for e in found if e is not None]
                if not batch:
                    continue
                try:
                    self.events.remove(batch)
                except _EventMoved:
                    continue
            deleted += len(batch)
        state = self.events.calendar_state(department_id)
        if state.counted:
            return deleted, max(state.event_count, 0)
        return deleted, int(self.events.has_any(department_id))

    # -- events -------------------------------------------------------------------------

    def create_event(self, department_id: str, fields: Mapping[str, Any]) -> Event:
        """A new event from a client's fields; ``Invalid`` or ``NotFound`` when it cannot be."""
        return self.events.create(new_event(department_id, fields))

    def calendar(self, department_id: str) -> CalendarState:
        """The department's calendar state (its version changes whenever an event of the
        department changes); ``NotFound`` when there is no such department."""
        return self.events.calendar_state(department_id)

    def count_events(self, department_ids: Iterable[str]) -> dict[str, int]:
        """Give each department its exact event count, for items written without one (by
        the migration's batches, the first app or the console); returns the counts.

        One strongly consistent Scan of the events table counts every department; each
        count is then written on condition that the department's calendar did not change
        meanwhile, and a department whose calendar did is counted again on its own.
        """
        wanted = [d for d in department_ids if self.departments.exists(d)]
        before = {d: self.events.calendar_state(d) for d in wanted}
        counts, multi_day = self.events.count_by_department(set(wanted))
        for department_id in wanted:
            state = before[department_id]
            for _ in write_attempts():
                spans = department_id in multi_day or (state.counted and state.multi_day)
                if (
                    state.counted
                    and state.event_count == counts[department_id]
                    and state.multi_day == spans
                ):
                    break  # already right: a rerun changes nothing
                if self.events.set_count(
                    department_id, counts[department_id], state.calendar_version, spans
                ):
                    break
                state = self.events.calendar_state(department_id)
                again, spanning = self.events.count_by_department({department_id})
                counts[department_id] = again[department_id]
                multi_day |= spanning
            else:
                raise busy("count events")
        return {d: counts[d] for d in wanted}

    def sweep(self) -> int:
        """Remove expired bookkeeping (report markers, quotas, idempotency records)."""
        return ExpiringItems(self._client, self.events.table).sweep()
