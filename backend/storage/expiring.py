"""Bookkeeping items that expire, and the sweep that removes them once they have.

They live in the events table under the partitions of ``bookkeeping.expiring_partition``
(see there): never read by a listing, and found in expiry order through
``department-date-index``, so the sweep reads only what it deletes. The report job sweeps
after each run; DynamoDB's TTL on ``expires_at`` (on in the SAM template) does the same.

Items written before bookkeeping was spread over partitions are under the one partition
``EXPIRING_PARTITION``. While it holds any that are live (``Unspread.may_hold``: one
Query when a process first needs to know, again every ``REPROBE_SECONDS``, until it has
found none for a day), reads look there too, so that a request retried across the
upgrade is still answered as the first was. The sweep moves answered requests and sent
reports into their partitions; what is still running there, and the days' quota
counters, expire where they are (within two days), after which no process reads there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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
# live items; once it has found none for ``SETTLED_SECONDS`` (longer than any deployment
# runs the earlier version beside this one), it stops asking.
REPROBE_SECONDS = 600.0
SETTLED_SECONDS = 86_400.0
# Every write to a bookkeeping item changes one of these: a move that meets another
# value than it read leaves the item where it was.
_CHANGING = ("expires_at", "status", "token")
# What one sweep moves at most from the partition from before spreading: answered
# requests and sent reports, which nothing writes again. The rest (a request or a report
# still running, a day's quota counter) is left where it is until it expires, within
# two days (a report marker a crashed run left "sending": 40 days).
MOVE_MAX = 1000
_FINAL = frozenset({"done", "sent"})


class Unspread:
    """Whether the partition from before spreading may still hold live items."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._lock = threading.Lock()
        self._holds = True
        self._checked_at: float | None = None
        self._empty_since: float | None = None
        self._settled = False

    def may_hold(self) -> bool:
        """Whether the last probe (at most ``REPROBE_SECONDS`` old) found live items
        there; False for good once probes have found none for ``SETTLED_SECONDS``."""
        with self._lock:
            if self._settled:
                return False
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= REPROBE_SECONDS:
                self._holds = bool(self.live_keys(limit=1))
                self._checked_at = now
                if self._holds:
                    self._empty_since = None
                elif self._empty_since is None:
                    self._empty_since = now
                since = self._empty_since
                self._settled = since is not None and now - since >= SETTLED_SECONDS
            return self._holds

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
        removed = self._conditional(
            self._client.delete_item,
            Key=key,
            # The index may lag: delete only what has really expired.
            ConditionExpression="expires_at < :now",
            ExpressionAttributeValues={":now": to_value(int(now.timestamp()))},
        )
        return int(removed)

    def _move(self, key: dict[str, Any]) -> int:
        """Move one answered request or sent report from the partition from before
        spreading into its own: copied unless its partition holds one already (the old one
        then expires where it is), then deleted there unless it changed meanwhile (the copy
        is then taken back, if it is still as copied). Returns 1 when it moved."""
        with translated_errors("move bookkeeping"):
            found = self._client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        item = found.get("Item")
        if item is None or item.get("status", {}).get("S") not in _FINAL:
            return 0
        copy = item | {"department_id": to_value(expiring_partition(item["id"]["S"]))}
        put = self._conditional(
            self._client.put_item, Item=copy, ConditionExpression="attribute_not_exists(id)"
        )
        if not put:
            return 0
        if self._delete_unchanged(item):
            return 1
        self._delete_unchanged(copy)
        return 0

    def _delete_unchanged(self, item: dict[str, Any]) -> bool:
        """Delete ``item`` if it is still as it was; False when it changed or is gone."""
        conditions, values = [], {}
        for name in _CHANGING:
            if name in item:
                conditions.append(f"#{name} = :{name}")
                values[f":{name}"] = item[name]
            else:
                conditions.append(f"attribute_not_exists(#{name})")
        return self._conditional(
            self._client.delete_item,
            Key={"id": item["id"], "department_id": item["department_id"]},
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames={f"#{n}": n for n in _CHANGING},
            ExpressionAttributeValues=values,
        )

    def _conditional(self, call: Callable[..., Any], **request: Any) -> bool:
        """One conditional write; False when its condition failed."""
        try:
            with translated_errors("sweep bookkeeping"):
                call(TableName=self.table, **request)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True
