"""The only door to DynamoDB: one client and the repositories over it.

``Storage`` holds one injected client, one repository per kind of item, and the table
administration (check, create). Nothing outside this package sees the client or builds a
DynamoDB request; nothing here knows Flask. Rules that span repositories (the per-date
cap, cascades, the import's reconciliation, idempotency) live in ``backend.services``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, WaiterError

from backend.errors import StorageUnavailable
from backend.storage import item_limits, usage
from backend.storage.batch import BatchIO
from backend.storage.departments import DepartmentRepository
from backend.storage.dynamo import error_code, translated_errors
from backend.storage.events import CalendarState, DateWindow, EventRepository, SortKey
from backend.storage.expiring import ExpiringItems
from backend.storage.idempotency import IdempotencyRecords
from backend.storage.imports import ImportJobs
from backend.storage.mailings import MailingRepository
from backend.storage.schema import DEPARTMENTS, EVENTS, TableSchema
from backend.storage.series import SeriesRepository
from backend.storage.webhooks import WebhookRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["CalendarState", "DateWindow", "SortKey", "Storage", "TableProblem"]

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
        item_limits.instrument(client)
        self.departments = DepartmentRepository(client, departments_table, events_table)
        self.events = EventRepository(client, events_table, departments_table)
        self.changes = self.events.changes
        self.webhooks = WebhookRepository(client, events_table, departments_table)
        self.series = SeriesRepository(client, events_table, self.events)
        # One view of the expiring items, so that the process asks once whether items from
        # before they were spread are still live (``expiring.Unspread``).
        self.expiring = ExpiringItems(client, events_table)
        self.mailings = MailingRepository(client, self.expiring)
        self.idempotency = IdempotencyRecords(client, self.expiring)
        self.import_jobs = ImportJobs(client, events_table)

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

    def sweep(self) -> int:
        """Remove expired bookkeeping (report markers, quotas, idempotency records) and
        each department's change records past their history; returns how many went."""
        departments = (d.id for d in self.departments.list_all())
        return self.expiring.sweep() + self.changes.sweep(departments)
