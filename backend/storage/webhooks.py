"""Webhooks and the state of their deliveries, in the ``events`` table.

All webhooks of the service share one partition (``id`` = ``#webhooks``, range key
``<department>/<webhook id>``): a delivery worker finds every webhook with one strongly
consistent Query, and a department's with one Query of its prefix. They have no
``event_date``, so no index holds them. A delivery is claimed with a lease (a conditional
update) so that two workers never deliver one webhook's changes at once, which keeps them
in order; its progress is a conditional update of ``delivered_version``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Webhook
from backend.errors import Conflict, NotFound, StorageUnavailable
from backend.storage.dynamo import (
    cancelled_by,
    error_code,
    from_item,
    pages,
    to_item,
    to_value,
    translated_errors,
)
from backend.storage.versioning import usable_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

PARTITION = "#webhooks"
_FIELDS = (
    "url",
    "format",
    "language",
    "secret",
    "created_at",
    "status",
    "failing_since",
    "next_attempt_at",
    "last_error",
    "last_delivered_at",
)


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one webhook's deliveries: the webhook as read when taken."""

    webhook: Webhook
    owner: str
    until: datetime


def _range_key(department_id: str, webhook_id: str) -> str:
    return f"{department_id}/{webhook_id}"


def _webhook(data: dict[str, Any]) -> Webhook:
    fields: dict[str, Any] = {name: data.get(name) for name in _FIELDS}
    return Webhook(
        id=str(data["webhook_id"]),
        department_id=str(data["department"]),
        delivered_version=int(data.get("delivered_version", 0)),
        attempts=int(data.get("attempts", 0)),
        **fields,
    )


class WebhookRepository:
    def __init__(self, client: DynamoDBClient, table: str, departments_table: str) -> None:
        self._client = client
        self.table = table
        self._departments = departments_table

    def _key(self, department_id: str, webhook_id: str) -> dict[str, Any]:
        return {
            "id": to_value(PARTITION),
            "department_id": to_value(_range_key(department_id, webhook_id)),
        }

    def add(self, webhook: Webhook, limit: int) -> None:
        """Write a new webhook, provided its department exists and has fewer than ``limit``
        (one transaction with the department's ``webhook_count``: exact under concurrent
        registrations); ``NotFound`` or ``Conflict`` ``too-many-webhooks``."""
        record = {
            "id": PARTITION,
            "department_id": _range_key(webhook.department_id, webhook.id),
            "webhook_id": webhook.id,
            "department": webhook.department_id,
            "delivered_version": webhook.delivered_version,
            "attempts": webhook.attempts,
            **{name: getattr(webhook, name) for name in _FIELDS},
        }
        try:
            with translated_errors("add webhook"):
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._departments,
                                "Key": {"id": to_value(webhook.department_id)},
                                "UpdateExpression": "ADD webhook_count :one",
                                "ConditionExpression": "attribute_exists(id) AND "
                                "(attribute_not_exists(webhook_count) OR webhook_count < :max)",
                                "ExpressionAttributeValues": {
                                    ":one": to_value(1),
                                    ":max": to_value(limit),
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": to_item({k: v for k, v in record.items() if v is not None}),
                                "ConditionExpression": "attribute_not_exists(id)",
                            }
                        },
                    ]
                )
        except ClientError as exc:
            if cancelled_by(exc, 0):
                if not self._department_exists(webhook.department_id):
                    raise NotFound("department", webhook.department_id) from exc
                raise Conflict(
                    f"the department already has {limit} webhooks; delete one first",
                    code="too-many-webhooks",
                ) from exc
            raise

    def _department_exists(self, department_id: str) -> bool:
        with translated_errors("read department"):
            response = self._client.get_item(
                TableName=self._departments,
                Key={"id": to_value(department_id)},
                ConsistentRead=True,
                ProjectionExpression="id",
            )
        return "Item" in response

    def of_department(self, department_id: str) -> list[Webhook]:
        """A department's webhooks, oldest first (one strongly consistent Query)."""
        if not usable_key(department_id):
            return []
        found = self._query(
            "id = :p AND begins_with(department_id, :prefix)",
            {":p": to_value(PARTITION), ":prefix": to_value(department_id + "/")},
        )
        hooks = [w for w in found if w.department_id == department_id]
        return sorted(hooks, key=lambda w: (w.created_at, w.id))

    def all(self) -> list[Webhook]:
        """Every webhook of the service (one strongly consistent Query of their partition)."""
        return self._query("id = :p", {":p": to_value(PARTITION)})

    def get(self, department_id: str, webhook_id: str) -> Webhook:
        if not (usable_key(department_id) and usable_key(webhook_id)):
            raise NotFound("webhook", webhook_id)
        with translated_errors("get webhook"):
            response = self._client.get_item(
                TableName=self.table,
                Key=self._key(department_id, webhook_id),
                ConsistentRead=True,
            )
        if "Item" not in response:
            raise NotFound("webhook", webhook_id)
        return _webhook(from_item(response["Item"]))

    def remove(self, department_id: str, webhook_id: str, *, counted: bool = True) -> None:
        """Delete a webhook (and, ``counted``, uncount it on its department, in the same
        transaction); ``NotFound`` when there is none."""
        if not (usable_key(department_id) and usable_key(webhook_id)):
            raise NotFound("webhook", webhook_id)
        delete: Any = {
            "TableName": self.table,
            "Key": self._key(department_id, webhook_id),
            "ConditionExpression": "attribute_exists(id)",
        }
        uncount: Any = {
            "TableName": self._departments,
            "Key": {"id": to_value(department_id)},
            "UpdateExpression": "ADD webhook_count :minus",
            "ConditionExpression": "attribute_exists(id)",
            "ExpressionAttributeValues": {":minus": to_value(-1)},
        }
        try:
            with translated_errors("delete webhook"):
                if counted:
                    self._client.transact_write_items(
                        TransactItems=[{"Delete": delete}, {"Update": uncount}]
                    )
                else:
                    self._client.delete_item(**delete)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException" or cancelled_by(exc, 0):
                raise NotFound("webhook", webhook_id) from exc
            if cancelled_by(exc, 1):  # its department is gone: the webhook goes alone
                self.remove(department_id, webhook_id, counted=False)
                return
            raise

    def remove_all(self, department_id: str) -> int:
        """Delete a department's webhooks (it is gone); returns how many went. Best effort:
        a webhook left behind delivers nothing (its department is gone) and the next
        delivery pass removes it."""
        try:
            hooks = self.of_department(department_id)
            for hook in hooks:
                with contextlib.suppress(NotFound):
                    self.remove(department_id, hook.id, counted=False)
        except StorageUnavailable as exc:
            logger.warning("webhooks of deleted department %s kept: %s", department_id, exc)
            return 0
        return len(hooks)

    # -- deliveries ---------------------------------------------------------------------

    def claim(self, webhook: Webhook, now: datetime, until: datetime) -> Lease | None:
        """Take the webhook's deliveries until ``until`` unless another worker holds them;
        the lease carries the webhook as it is now (the write's answer)."""
        owner = secrets.token_hex(8)
        try:
            with translated_errors("claim webhook"):
                response = self._client.update_item(
                    TableName=self.table,
                    Key=self._key(webhook.department_id, webhook.id),
                    UpdateExpression="SET lease_until = :until, lease_owner = :me",
                    ConditionExpression="attribute_exists(id) AND "
                    "(attribute_not_exists(lease_until) OR lease_until < :now)",
                    ExpressionAttributeValues={
                        ":until": to_value(until.isoformat()),
                        ":now": to_value(now.isoformat()),
                        ":me": to_value(owner),
                    },
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return Lease(_webhook(from_item(response["Attributes"])), owner, until)

    def renew(self, lease: Lease, until: datetime) -> Lease | None:
        """Hold the lease until ``until``; None when it is no longer this worker's."""
        if not self._update(
            lease, "SET lease_until = :until", {":until": to_value(until.isoformat())}
        ):
            return None
        return replace(lease, until=until)

    def release(self, lease: Lease) -> None:
        """Give the lease back (if it is still this worker's)."""
        self._update(lease, "REMOVE lease_until, lease_owner", {}, from_state=False)

    def delivered(self, lease: Lease, version: int, at: str) -> Lease | None:
        """Record that every change up to ``version`` has been delivered; None when the
        webhook was deleted meanwhile, or the lease lost."""
        if not self._update(
            lease,
            "SET delivered_version = :v, attempts = :zero, #status = :active, "
            "last_delivered_at = :at REMOVE failing_since, next_attempt_at, last_error",
            {
                ":v": to_value(version),
                ":zero": to_value(0),
                ":active": to_value("active"),
                ":at": to_value(at),
            },
        ):
            return None
        webhook = replace(
            lease.webhook,
            delivered_version=version,
            attempts=0,
            status="active",
            last_delivered_at=at,
            failing_since=None,
            next_attempt_at=None,
            last_error=None,
        )
        return replace(lease, webhook=webhook)

    def failed(self, lease: Lease, webhook: Webhook) -> None:
        """Record the state of a failing delivery (``webhook`` as it now is)."""
        self._update(
            lease,
            "SET attempts = :attempts, #status = :status, failing_since = :since, "
            "next_attempt_at = :next, last_error = :error",
            {
                ":attempts": to_value(webhook.attempts),
                ":status": to_value(webhook.status),
                ":since": to_value(webhook.failing_since),
                ":next": to_value(webhook.next_attempt_at),
                ":error": to_value(webhook.last_error),
            },
        )

    def _update(
        self, lease: Lease, expression: str, values: dict[str, Any], *, from_state: bool = True
    ) -> bool:
        """Update the webhook while ``lease`` holds it (and, ``from_state``, while it is at
        the delivered version the lease read); False when not."""
        webhook = lease.webhook
        names = {"#status": "status"} if "#status" in expression else None
        condition = "lease_owner = :me"
        values = values | {":me": to_value(lease.owner)}
        if from_state:
            condition += " AND delivered_version = :seen"
            values[":seen"] = to_value(webhook.delivered_version)
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(webhook.department_id, webhook.id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            with translated_errors("update webhook"):
                self._client.update_item(**request)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            logger.info("webhook %s went, or its lease was lost, while it delivered", webhook.id)
            return False
        return True

    def _query(self, condition: str, values: dict[str, Any]) -> list[Webhook]:
        request = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: list[Webhook] = []
        with translated_errors("read webhooks"):
            for response in pages(self._client.query, request):
                found.extend(_webhook(from_item(i)) for i in response.get("Items", []))
        return found
