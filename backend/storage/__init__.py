"""The only door to DynamoDB: the storage facade over one client and its repositories.

``Storage`` holds one injected client and the repositories over it; nothing outside this
package sees the client or builds a DynamoDB request. Nothing here knows Flask. The API,
the migration, the backup, the report job and the seed's ``DynamoDBDatabase`` all work
through ``Storage``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, WaiterError

from backend.domain import Event
from backend.errors import Conflict, NotFound, PreconditionFailed, StorageUnavailable
from backend.storage import usage
from backend.storage.batch import BatchIO
from backend.storage.departments import DepartmentRepository, _VersionMoved
from backend.storage.dynamo import error_code, translated_errors
from backend.storage.events import DateWindow, EventRepository, SortKey
from backend.storage.mailings import MailingRepository
from backend.storage.schema import DEPARTMENTS, EVENTS, TableSchema
from backend.storage.versioning import IfMatch, write_attempts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["DateWindow", "SortKey", "Storage", "TableProblem"]

logger = logging.getLogger(__name__)


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
        self.events = EventRepository(client, events_table)
        self.mailings = MailingRepository(client, departments_table)

    def tables(self) -> list[tuple[TableSchema, str]]:
        return [(DEPARTMENTS, self.departments.table), (EVENTS, self.events.table)]

    def batch_io(self) -> BatchIO:
        """Batched reads and writes for the jobs that move many items (migration, backup)."""
        return BatchIO(self._client)

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

    def delete_department(self, department_id: str, if_match: IfMatch | None, cascade: bool) -> int:
        """Delete a department; refuse while it has events unless ``cascade``.

        Returns the number of events deleted with it.
        """
        deleted = 0
        for _ in write_attempts():
            current = self.departments.get(department_id)
            if if_match is not None and not if_match.allows(current.version):
                raise PreconditionFailed(current.version)
            if cascade:
                deleted += self.events.delete_all(department_id)
            elif self.events.has_any(department_id):
                raise Conflict(
                    f"department {current.name!r} still has events; delete them first "
                    "or repeat with ?cascade=true",
                    code="has-events",
                )
            try:
                self.departments.delete(current)
            except _VersionMoved:
                if if_match is not None:
                    raise PreconditionFailed(self.departments.get(department_id).version) from None
                continue
            return deleted
        raise Conflict("the department changed too often to delete it", code="busy")

    # -- events -------------------------------------------------------------------------

    def create_event(
        self,
        department_id: str,
        *,
        event_date: str,
        title: str,
        time_text: str | None,
        description: str | None,
    ) -> Event:
        if not self.departments.exists(department_id):
            raise NotFound("department", department_id)
        return self.events.create(
            department_id,
            event_date=event_date,
            title=title,
            time_text=time_text,
            description=description,
        )

    def list_events(
        self, department_id: str, window: DateWindow, after: SortKey | None, limit: int
    ) -> tuple[list[Event], bool]:
        """A page of a department's events; 404 only costs a read when the page is empty."""
        page, more = self.events.list_page(department_id, window, after, limit)
        if not page and not self.departments.exists(department_id):
            raise NotFound("department", department_id)
        return page, more
