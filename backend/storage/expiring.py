"""Bookkeeping items that expire, and the sweep that removes them once they have.

They live in the events table under ``bookkeeping.EXPIRING_PARTITION`` (see there): never
read by a listing, and found in expiry order through ``department-date-index``, so the
sweep reads only what it deletes. The report job sweeps after each run; DynamoDB's TTL on
``expires_at`` does the same where an administrator enables it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.storage.bookkeeping import EXPIRING_PARTITION, expiring_key, utc_datetime
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


class ExpiringItems:
    """Reads that treat an expired item as absent, and the sweep."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    @staticmethod
    def key(ident: str) -> dict[str, Any]:
        return to_item(expiring_key(ident))

    def get(self, ident: str) -> dict[str, Any] | None:
        """The item (strongly consistent), or None when missing or expired."""
        with translated_errors("read bookkeeping"):
            response = self._client.get_item(
                TableName=self.table, Key=self.key(ident), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            return None
        data = from_item(item)
        if int(data.get("expires_at", 0)) <= int(utc_datetime().timestamp()):
            return None
        return data

    def sweep(self, limit: int = SWEEP_MAX, *, seconds: float = SWEEP_SECONDS) -> int:
        """Delete expired items, page by page, until none is left or ``limit`` went or
        ``seconds`` passed; returns how many went. With DynamoDB's TTL on, few are left."""
        now = utc_datetime()
        started = time.monotonic()
        request = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": "department_id = :p AND event_date < :today",
            "ExpressionAttributeValues": {
                ":p": to_value(EXPIRING_PARTITION),
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
                    if removed >= limit or time.monotonic() - started > seconds:
                        logger.info("swept %d expired bookkeeping items; more left", removed)
                        return removed
        if removed:
            logger.info("swept %d expired bookkeeping items", removed)
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
