"""Bookkeeping items that expire, and the sweep that removes them once they have.

They live in the events table under the partitions of ``bookkeeping.expiring_partition``
(see there): never read by a listing, and found in expiry order through
``department-date-index``, so the sweep reads only what it deletes. The report job sweeps
after each run; DynamoDB's TTL on ``expires_at`` (on in the SAM template) does the same.

Items written before bookkeeping was spread over partitions are under the one partition
``EXPIRING_PARTITION``. While it holds any that are live (``Unspread.may_hold``: one
Query when a process first needs to know, again every ``REPROBE_SECONDS`` while it finds
some), reads look there too, so that a request retried across the upgrade is still
answered as the first was. The sweep moves them into their partitions, so after the first
sweep following the upgrade the old partition is empty and no process reads it again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.storage.bookkeeping import (
    EXPIRING_PARTITION,
    expiring_key,
    expiring_partition,
    expiring_partitions,
    unspread_key,
    utc_datetime,
)
from backend.storage.dynamo import (
    error_code,
    from_item,
    pages,
    to_item,
    to_value,
    translated_errors,
)
from backend.storage.schema import DEPARTMENT_DATE_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

# What one sweep removes at most: the report job runs it daily, beside DynamoDB's TTL.
SWEEP_MAX = 50_000
SWEEP_SECONDS = 120.0
# How often a process asks again whether the partition from before spreading still holds
# live items, while it found some the last time.
REPROBE_SECONDS = 600.0
# Every write to a bookkeeping item changes one of these: a move that meets another
# value than it read leaves the item where it was.
_CHANGING = ("expires_at", "status", "sent")
# What one sweep moves at most from the partition from before spreading.
MOVE_MAX = 1000


class Unspread:
    """Whether the partition from before spreading may still hold live items."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._lock = threading.Lock()
        self._empty = False
        self._checked_at: float | None = None

    def may_hold(self) -> bool:
        """True until a probe finds no live item there; once it finds none, never again
        (nothing writes there any more)."""
        with self._lock:
            if self._empty:
                return False
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= REPROBE_SECONDS:
                self._empty = not self.live_keys(limit=1)
                self._checked_at = now
            return not self._empty

    def live_keys(self, *, limit: int) -> list[dict[str, Any]]:
        """Keys of live items there (eventually consistent, so a write of the last moments
        may be missing: only the service from before spreading wrote there)."""
        with translated_errors("look for unspread bookkeeping"):
            response = self._client.query(
                TableName=self._table,
                IndexName=DEPARTMENT_DATE_INDEX,
                KeyConditionExpression="department_id = :p AND event_date >= :today",
                ExpressionAttributeValues={
                    ":p": to_value(EXPIRING_PARTITION),
                    ":today": to_value(utc_datetime().date().isoformat()),
                },
                ProjectionExpression="id, department_id",
                Limit=limit,
            )
        return list(response.get("Items", []))


class ExpiringItems:
    """Reads that treat an expired item as absent, and the sweep."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table
        self.unspread = Unspread(client, table)

    @staticmethod
    def key(ident: str) -> dict[str, Any]:
        return to_item(expiring_key(ident))

    def get(self, ident: str) -> dict[str, Any] | None:
        """The item (strongly consistent), or None when missing or expired; while the
        partition from before spreading may hold it, also looked for there."""
        found = self._live_at(self.key(ident))
        if found is None:
            return self.before_spreading(ident)
        return found

    def before_spreading(self, ident: str) -> dict[str, Any] | None:
        """The live item ``ident`` written before bookkeeping was spread, if any may be."""
        if not self.unspread.may_hold():
            return None
        return self._live_at(to_item(unspread_key(ident)))

    def _live_at(self, key: dict[str, Any]) -> dict[str, Any] | None:
        with translated_errors("read bookkeeping"):
            response = self._client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        item = response.get("Item")
        if item is None:
            return None
        data = from_item(item)
        if int(data.get("expires_at", 0)) <= int(utc_datetime().timestamp()):
            return None
        return data

    def sweep(self, limit: int = SWEEP_MAX, *, seconds: float = SWEEP_SECONDS) -> int:
        """Delete expired items, partition by partition and page by page, until none is
        left or ``limit`` went or ``seconds`` passed; returns how many went. Then move the
        live items written before spreading into their partitions. With DynamoDB's TTL
        on, few are left."""
        now = utc_datetime()
        deadline = time.monotonic() + seconds
        removed = 0
        for partition in (*expiring_partitions(), EXPIRING_PARTITION):
            removed += self._sweep_partition(partition, now, limit - removed, deadline)
            if removed >= limit or time.monotonic() > deadline:
                logger.info("swept %d expired bookkeeping items; more left", removed)
                return removed
        if removed:
            logger.info("swept %d expired bookkeeping items", removed)
        moved = sum(self._move(key) for key in self.unspread.live_keys(limit=MOVE_MAX))
        if moved:
            logger.info("moved %d bookkeeping items into their partitions", moved)
        return removed

    def _sweep_partition(self, partition: str, now: datetime, limit: int, deadline: float) -> int:
        request = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": "department_id = :p AND event_date < :today",
            "ExpressionAttributeValues": {
                ":p": to_value(partition),
                ":today": to_value(now.date().isoformat()),
            },
            "ProjectionExpression": "id, department_id",
            "Limit": 500,
        }
        removed = 0
        with translated_errors("find expired bookkeeping"):
            for response in pages(self._client.query, request):
                for key in response.get("Items", []):
                    removed += self._remove_expired(key, now)
                    if removed >= limit or time.monotonic() > deadline:
                        return removed
        return removed

    def _remove_expired(self, key: dict[str, Any], now: datetime) -> int:
        try:
            with translated_errors("sweep bookkeeping"):
                self._client.delete_item(
                    TableName=self.table,
                    Key=key,
                    # The index may lag: delete only what has really expired.
                    ConditionExpression="expires_at < :now",
                    ExpressionAttributeValues={":now": to_value(int(now.timestamp()))},
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return 0
        return 1

    def _move(self, key: dict[str, Any]) -> int:
        """Move one item from the partition from before spreading into its own: copied
        unless its partition holds one already (written since: the old one then expires
        where it is), then deleted there unless it changed meanwhile (the copy is then
        taken back). Returns 1 when it moved."""
        with translated_errors("move bookkeeping"):
            found = self._client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        item = found.get("Item")
        if item is None:
            return 0
        copy = item | {"department_id": to_value(expiring_partition(item["id"]["S"]))}
        try:
            with translated_errors("move bookkeeping"):
                self._client.put_item(
                    TableName=self.table, Item=copy, ConditionExpression="attribute_not_exists(id)"
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return 0
        names = {f"#{n}": n for n in _CHANGING}
        conditions, values = [], {}
        for name in _CHANGING:
            if name in item:
                conditions.append(f"#{name} = :{name}")
                values[f":{name}"] = item[name]
            else:
                conditions.append(f"attribute_not_exists(#{name})")
        try:
            with translated_errors("move bookkeeping"):
                self._client.delete_item(
                    TableName=self.table,
                    Key=key,
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            with translated_errors("move bookkeeping"):
                self._client.delete_item(
                    TableName=self.table,
                    Key={"id": copy["id"], "department_id": copy["department_id"]},
                )
            return 0
        return 1
