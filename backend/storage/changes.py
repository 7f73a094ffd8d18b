"""The change log: what each write did to a department's calendar, in calendar-version order.

Every event write is one transaction with the department's item, conditioned on the
``calendar_version`` it read and moving it by one (``EventRepository.transact``). The same
transaction puts one change record, keyed by that new version, in the department's change
partition of the events table (``id`` = ``#changes#<department>``, range key the version
zero-padded). So:

- records commit in version order, one per version, with no gap: a strongly consistent
  Query after version ``v`` sees every change after ``v`` that has committed, and nothing
  that commits later can land before what it returned;
- a record is in no index (it has no ``event_date``), so writing it is one item more in
  the transaction and no index write;
- a record names each event, series or occurrence the write changed, with a short summary
  of it (title, dates, time) for change notifications, for at most ``SUMMARIES`` of them.

Sync deltas and webhook deliveries read this log and nothing else to learn what changed.
Records expire after ``HISTORY_DAYS`` and a day (DynamoDB's TTL on ``expires_at`` where
enabled, and ``sweep``); the department item's ``history_from`` says from which version the
log is complete (the migration, which writes without records, moves it past its writes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from backend.domain import Event
from backend.errors import StorageUnavailable, WriteFailed
from backend.storage.batch import BatchIO
from backend.storage.bookkeeping import utc_datetime
from backend.storage.dynamo import from_item, pages, to_item, to_value, translated_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

CHANGES_PREFIX = "#changes#"
# Deletions (and every other change) are remembered at least this long.
HISTORY_DAYS = 30
# A record's entries carry a summary (title, dates, time) for at most this many.
SUMMARIES = 10
_VERSION_WIDTH = 12
# The most records a read of the last moments' changes returns.
RECENT_MAX = 2000
# The most records a department's deletion removes with it (40 BatchWriteItem calls).
PURGE_MAX = 1000

Action = Literal["created", "updated", "deleted"]
Kind = Literal["event", "series", "occurrence"]


@dataclass(frozen=True)
class Change:
    """One event, series or occurrence a write changed.

    ``kind`` says where it lives: ``event`` (a single event or a changed instance, an item
    of its own), ``series``, or ``occurrence`` (an instance that has no item: only its
    cancellation is recorded). ``event`` is its new state (its old one for a deletion).
    """

    id: str
    action: Action
    kind: Kind
    event: Event | None = None

    @staticmethod
    def of(event: Event, action: Action) -> Change:
        kind: Kind = "series" if event.recurrence is not None else "event"
        return Change(event.id, action, kind, event)


@dataclass(frozen=True)
class Summary:
    """What a record says about one change (the event itself is not kept)."""

    id: str
    action: Action
    kind: Kind
    title: str | None = None
    event_date: str | None = None
    end_date: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class ChangeRecord:
    """The changes of one write: the calendar version it made, and when."""

    department_id: str
    version: int
    at: datetime
    changes: tuple[Summary, ...]


def partition(department_id: str) -> str:
    return CHANGES_PREFIX + department_id


def _sort_key(version: int) -> str:
    return f"{version:0{_VERSION_WIDTH}d}"


def record_item(
    department_id: str, version: int, changes: Iterable[Change], at: datetime | None = None
) -> dict[str, Any]:
    """The item of the record of ``changes``, the write that makes ``version``."""
    when = at or utc_datetime()
    entries: list[dict[str, Any]] = []
    for n, change in enumerate(changes):
        entry: dict[str, Any] = {"id": change.id, "a": change.action, "k": change.kind}
        event = change.event
        if event is not None and n < SUMMARIES:
            entry["t"] = event.title
            entry["d"] = event.event_date
            for short, value in (("e", event.end_date), ("h", event.time)):
                if value is not None:
                    entry[short] = value
        entries.append(entry)
    return {
        "id": partition(department_id),
        "department_id": _sort_key(version),
        "version": version,
        "at": when.isoformat(timespec="milliseconds"),
        "changes": entries,
        # The history kept, plus a day: a token is refused after HISTORY_DAYS, so every
        # record a valid token still needs is younger than this.
        "expires_at": int((when + timedelta(days=HISTORY_DAYS + 1)).timestamp()),
    }


def _record(data: Mapping[str, Any]) -> ChangeRecord:
    department_id = str(data["id"]).removeprefix(CHANGES_PREFIX)
    changes = tuple(
        Summary(
            id=str(entry["id"]),
            action=entry["a"],
            kind=entry["k"],
            title=entry.get("t"),
            event_date=entry.get("d"),
            end_date=entry.get("e"),
            time=entry.get("h"),
        )
        for entry in data.get("changes", [])
    )
    return ChangeRecord(
        department_id, int(data["version"]), datetime.fromisoformat(str(data["at"])), changes
    )


class ChangeLog:
    """The records of the events table's change partitions."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    def put_request(
        self, department_id: str, version: int, changes: Iterable[Change]
    ) -> TransactWriteItemTypeDef:
        """The transaction item that records ``changes`` as the write making ``version``."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(record_item(department_id, version, changes)),
            }
        }

    def after(
        self, department_id: str, version: int, *, limit: int | None = None
    ) -> Iterator[ChangeRecord]:
        """The records after ``version``, oldest first (strongly consistent), at most
        ``limit`` of them."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "id = :p AND department_id > :v",
            "ExpressionAttributeValues": {
                ":p": to_value(partition(department_id)),
                ":v": to_value(_sort_key(version)),
            },
            "ConsistentRead": True,
        }
        if limit is not None:
            request["Limit"] = limit
        found = 0
        with translated_errors("read calendar changes"):
            for response in pages(self._client.query, request):
                for item in response.get("Items", []):
                    yield _record(from_item(item))
                    found += 1
                    if limit is not None and found >= limit:
                        return

    def written_since(
        self, department_id: str, since: datetime, *, limit: int = RECENT_MAX
    ) -> list[ChangeRecord]:
        """The records written at or after ``since``, newest first (strongly consistent):
        reading back from the newest, only those and one more."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "id = :p",
            "ExpressionAttributeValues": {":p": to_value(partition(department_id))},
            "ConsistentRead": True,
            "ScanIndexForward": False,
            "Limit": 50,
        }
        found: list[ChangeRecord] = []
        with translated_errors("read calendar changes"):
            for response in pages(self._client.query, request, growing_to=500):
                for item in response.get("Items", []):
                    record = _record(from_item(item))
                    if record.at < since or len(found) >= limit:
                        return found
                    found.append(record)
        return found

    def purge(self, department_id: str, limit: int = PURGE_MAX) -> int:
        """Delete the change log of a department that is gone (up to ``limit`` records; any
        left expire on their own); returns how many went."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "id = :p",
            "ExpressionAttributeValues": {":p": to_value(partition(department_id))},
            "ProjectionExpression": "id, department_id",
            "ConsistentRead": True,
            "Limit": 1000,
        }
        keys: list[dict[str, Any]] = []
        try:
            with translated_errors("find calendar changes"):
                for response in pages(self._client.query, request):
                    keys.extend(from_item(item) for item in response.get("Items", []))
                    if len(keys) >= limit:
                        break
            keys = keys[:limit]
            with translated_errors("delete calendar changes"):
                BatchIO(self._client).write(self.table, (), keys)
        except (WriteFailed, StorageUnavailable) as exc:
            # The department is gone already: what is left expires on its own.
            logger.warning("change log of deleted department %s kept: %s", department_id, exc)
            return 0
        if len(keys) == limit:
            logger.info("left the rest of a deleted department's change log to expire")
        return len(keys)

    def sweep(self, department_ids: Iterable[str], limit: int = 5000) -> int:
        """Delete expired records of ``department_ids`` (the oldest of each first), at
        most ``limit`` in all; returns how many went."""
        now = int(utc_datetime().timestamp())
        removed = 0
        for department_id in department_ids:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "id = :p",
                "ExpressionAttributeValues": {":p": to_value(partition(department_id))},
                "ProjectionExpression": "id, department_id, expires_at",
                "Limit": 100,
            }
            keys = self._expired(request, now, limit - removed)
            for key in keys:
                with translated_errors("sweep calendar changes"):
                    self._client.delete_item(TableName=self.table, Key=key)
            removed += len(keys)
            if removed >= limit:
                break
        if removed:
            logger.info("swept %d expired calendar change records", removed)
        return removed

    def _expired(self, request: dict[str, Any], now: int, limit: int) -> list[dict[str, Any]]:
        """The keys of the partition's expired records (they expire in version order, so
        the first one still alive ends the read), at most ``limit``."""
        keys: list[dict[str, Any]] = []
        with translated_errors("find expired calendar changes"):
            for response in pages(self._client.query, request):
                for item in response.get("Items", []):
                    if int(from_item(item).get("expires_at", 0)) >= now or len(keys) >= limit:
                        return keys
                    keys.append({"id": item["id"], "department_id": item["department_id"]})
        return keys
