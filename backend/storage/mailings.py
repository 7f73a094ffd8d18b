"""The report job's bookkeeping: who was sent which day's report, and the day's e-mail count.

Safe to deliver twice: before a department's report for a date is sent, a marker item
(``#mail-sent#<date>#<department id>``) is claimed with a conditional write, so a repeated
schedule delivery finds it and sends nothing. The day's sending limit is a counter item
(``#mail-quota#<date>``) raised atomically before each message, so that concurrent runs
together never pass it. Both are expiring bookkeeping items (see ``expiring``).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from backend.errors import QuotaReached
from backend.storage.bookkeeping import expiry_attributes, later
from backend.storage.dynamo import error_code, to_item, to_value, translated_errors
from backend.storage.expiring import ExpiringItems

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SENT_PREFIX = "#mail-sent#"
QUOTA_PREFIX = "#mail-quota#"
MARKER_DAYS = 40  # a repeated delivery comes within hours; a month is plenty
QUOTA_DAYS = 2


class MailingRepository:
    """Sent-markers per department and date, and the daily quota counter."""

    def __init__(self, client: DynamoDBClient, items: ExpiringItems) -> None:
        self._client = client
        self.table = items.table
        self._items = items

    @staticmethod
    def marker_id(day: date, department_id: str) -> str:
        return f"{SENT_PREFIX}{day.isoformat()}#{department_id}"

    @staticmethod
    def quota_id(day: date) -> str:
        return f"{QUOTA_PREFIX}{day.isoformat()}"

    def already_sent(self, day: date, department_id: str) -> bool:
        return self._items.get(self.marker_id(day, department_id)) is not None

    def claim(self, day: date, department_id: str) -> bool:
        """Take the marker for this department and date; False when another run holds it."""
        ident = self.marker_id(day, department_id)
        item = {"status": "sending", "owner": department_id} | expiry_attributes(later(MARKER_DAYS))
        try:
            with translated_errors("claim report marker"):
                self._client.put_item(
                    TableName=self.table,
                    Item=self._items.key(ident) | to_item(item),
                    ConditionExpression="attribute_not_exists(id)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        try:
            earlier = self._items.before_spreading(ident)
        except Exception:
            self.unclaim(day, department_id)  # nothing was sent: a later run may send it
            raise
        if earlier is not None:  # claimed before the upgrade
            self.unclaim(day, department_id)
            return False
        return True

    def unclaim(self, day: date, department_id: str) -> None:
        with translated_errors("release report marker"):
            self._client.delete_item(
                TableName=self.table, Key=self._items.key(self.marker_id(day, department_id))
            )

    def mark_sent(self, day: date, department_id: str, message_id: str) -> None:
        with translated_errors("mark report sent"):
            self._client.update_item(
                TableName=self.table,
                Key=self._items.key(self.marker_id(day, department_id)),
                UpdateExpression="SET #status = :sent, message_id = :message",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sent": to_value("sent"),
                    ":message": to_value(message_id or "-"),
                },
            )

    def reserve(self, day: date, count: int, limit: int) -> str:
        """Count ``count`` messages against the day's ``limit``, or raise QuotaReached.

        Returns the reservation's id, for ``release``. The id is kept on the counter, so
        a retry of a reservation whose response was lost is recognised, not counted twice.
        """
        if count > limit:
            raise QuotaReached(f"{count} recipients exceed the daily limit of {limit}")
        reservation = uuid.uuid4().hex
        expiry = expiry_attributes(later(QUOTA_DAYS))
        # What the day's counter from before the upgrade holds counts against the limit.
        earlier = self._items.before_spreading(self.quota_id(day)) or {}
        room = limit - count - int(earlier.get("sent", 0))
        if room < 0:
            raise QuotaReached(f"sending {count} more would pass the daily limit of {limit}")
        try:
            with translated_errors("reserve e-mail quota"):
                self._client.update_item(
                    TableName=self.table,
                    Key=self._items.key(self.quota_id(day)),
                    UpdateExpression="ADD sent :count, reservations :mine SET expires_at = "
                    ":expires, event_date = if_not_exists(event_date, :day)",
                    # The condition and the increment are one atomic step: two runs
                    # reserving at once can never pass the limit together.
                    ConditionExpression="(attribute_not_exists(sent) OR sent <= :room) "
                    "AND NOT contains(reservations, :id)",
                    ExpressionAttributeValues={
                        ":count": to_value(count),
                        ":room": to_value(room),
                        ":mine": to_value({reservation}),
                        ":id": to_value(reservation),
                        ":expires": to_value(expiry["expires_at"]),
                        ":day": to_value(expiry["event_date"]),
                    },
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            if reservation in self._reservations(day):
                return reservation  # our own write, retried after its response was lost
            raise QuotaReached(
                f"sending {count} more would pass the daily limit of {limit}"
            ) from exc
        return reservation

    def _reservations(self, day: date) -> set[str]:
        item = self._items.get(self.quota_id(day)) or {}
        return {str(r) for r in item.get("reservations", set())}

    def release(self, day: date, count: int, reservation: str) -> None:
        """Give back a reservation whose message was not sent (once, however retried)."""
        try:
            with translated_errors("release e-mail quota"):
                self._client.update_item(
                    TableName=self.table,
                    Key=self._items.key(self.quota_id(day)),
                    UpdateExpression="ADD sent :minus DELETE reservations :mine",
                    ConditionExpression="contains(reservations, :id)",
                    ExpressionAttributeValues={
                        ":minus": to_value(-count),
                        ":mine": to_value({reservation}),
                        ":id": to_value(reservation),
                    },
                )
        except ClientError as exc:
            # A failed condition means it was released already: nothing to give back twice.
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
