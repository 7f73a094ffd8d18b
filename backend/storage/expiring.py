"""Bookkeeping items that expire, and the sweep that removes them once they have.

They live in the events table under ``bookkeeping.EXPIRING_PARTITION`` (see there): never
read by a listing, and found in expiry order through ``department-date-index``, so the
sweep reads only what it deletes. The report job sweeps after each run; DynamoDB's TTL on
``expires_at`` does the same where an administrator enables it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.storage.bookkeeping import EXPIRING_PARTITION, expiring_key, utc_datetime
from backend.storage.dynamo import error_code, from_item, to_item, to_value, translated_errors
from backend.storage.schema import DEPARTMENT_DATE_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)


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

    def sweep(self, limit: int = 500) -> int:
        """Delete up to ``limit`` expired items; returns how many went."""
        now = utc_datetime()
        with translated_errors("find expired bookkeeping"):
            response = self._client.query(
                TableName=self.table,
                IndexName=DEPARTMENT_DATE_INDEX,
                KeyConditionExpression="department_id = :p AND event_date < :today",
                ExpressionAttributeValues={
                    ":p": to_value(EXPIRING_PARTITION),
                    ":today": to_value(now.date().isoformat()),
                },
                ProjectionExpression="id, department_id",
                Limit=limit,
            )
        removed = 0
        for key in response.get("Items", []):
            try:
                with translated_errors("sweep bookkeeping"):
                    self._client.delete_item(
                        TableName=self.table,
                        Key=key,
                        # The index may lag: delete only what has really expired.
                        ConditionExpression="expires_at < :now",
                        ExpressionAttributeValues={":now": to_value(int(now.timestamp()))},
                    )
                removed += 1
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        if removed:
            logger.info("swept %d expired bookkeeping items", removed)
        return removed
