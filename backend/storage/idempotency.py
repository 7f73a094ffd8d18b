"""Records of idempotent creates: a retried POST with the same ``Idempotency-Key`` gets the
first answer again instead of creating twice.

A record is claimed before the create runs (``pending``), then holds the response
(``done``), written in the same transaction as the resource it answers; it expires 24
hours after the first request (see ``expiring``). The claim is a conditional put, so of two
requests racing with one key exactly one runs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.storage.bookkeeping import expiry_attributes, later, utc_datetime
from backend.storage.dynamo import error_code, from_item, to_item, to_value, translated_errors
from backend.storage.expiring import ExpiringItems

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PREFIX = "#idempotency#"
KEEP_HOURS = 24
# A pending record older than this belongs to a request that died (a killed worker); a new
# request with the key may take it over rather than be refused for a day.
STALE_PENDING_SECONDS = 60


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    location: str | None


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: run the request (``token`` set), or answer from a
    record that holds a response, is still running, or was made for another body."""

    token: str | None = None
    response: StoredResponse | None = None
    in_progress: bool = False
    other_body: bool = False


def fingerprint(scope: str, body: Any) -> str:
    """What makes two requests "the same": the route and the JSON body, canonicalised."""
    text = json.dumps([scope, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class IdempotencyRecords:
    def __init__(self, client: DynamoDBClient, items: ExpiringItems) -> None:
        self._client = client
        self.table = items.table
        self._items = items

    @staticmethod
    def _ident(scope: str, key: str) -> str:
        digest = hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()
        return PREFIX + digest

    def claim(self, scope: str, key: str, request: str) -> Claim:
        """Claim ``key`` for a request with fingerprint ``request`` under ``scope``."""
        ident = self._ident(scope, key)
        token = uuid.uuid4().hex
        now = int(utc_datetime().timestamp())
        item = {
            "status": "pending",
            "request": request,
            "token": token,
            "started_at": now,
        } | expiry_attributes(later(KEEP_HOURS / 24))
        try:
            with translated_errors("claim idempotency key"):
                self._client.put_item(
                    TableName=self.table,
                    Item=self._items.key(ident) | to_item(item),
                    # Free, expired, or left pending by a request that died.
                    ConditionExpression="attribute_not_exists(id) OR expires_at <= :now OR "
                    "(#status = :pending AND started_at < :stale)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":now": to_value(now),
                        ":pending": to_value("pending"),
                        ":stale": to_value(now - STALE_PENDING_SECONDS),
                    },
                    # The record that holds the key comes back with the refusal: a replay
                    # costs no second read.
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            held: Any = exc.response.get("Item")
            record = from_item(held) if held else self._items.get(ident)
            return self._existing(record, request)
        try:
            earlier = self._items.before_spreading(ident)
        except Exception:
            self.release(scope, key, token)  # the request cannot run: free the key for its retry
            raise
        if earlier is not None and not _abandoned(earlier, now):
            self.release(scope, key, token)  # the key was taken before the upgrade
            return self._existing(earlier, request)
        return Claim(token=token)

    def _existing(self, record: dict[str, Any] | None, request: str) -> Claim:
        if record is None:  # expired between our write and this read: a rare race
            return Claim(in_progress=True)
        if record.get("request") != request:
            return Claim(other_body=True)
        if record.get("status") != "done":
            return Claim(in_progress=True)
        return Claim(response=_stored(record))

    def completion(
        self, scope: str, key: str, token: str, response: StoredResponse
    ) -> TransactWriteItemTypeDef:
        """The write that keeps ``response`` as the answer to every repeat of the key, for
        the same transaction as the create it answers: the key is done exactly when the
        resource exists, whatever happens to the process or the response afterwards."""
        values = {
            ":done": to_value("done"),
            ":status": to_value(response.status),
            ":body": to_value(json.dumps(response.body, ensure_ascii=False)),
            ":token": to_value(token),
        }
        expression = "SET #status = :done, response_status = :status, response_body = :body"
        if response.location:
            expression += ", response_location = :location"
            values[":location"] = to_value(response.location)
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._items.key(self._ident(scope, key)),
                "UpdateExpression": expression,
                "ConditionExpression": "#token = :token",
                "ExpressionAttributeNames": {"#status": "status", "#token": "token"},
                "ExpressionAttributeValues": values,
            }
        }

    def answered(self, scope: str, key: str, token: str) -> StoredResponse | None:
        """The response kept for our own claim (``token``) if its create went through,
        although its answer was lost on the way back (a cancelled retry of it, say)."""
        record = self._items.get(self._ident(scope, key))
        if record is None or record.get("token") != token or record.get("status") != "done":
            return None
        return _stored(record)

    def release(self, scope: str, key: str, token: str) -> None:
        """Forget a claim whose request failed, so that the client can retry with the key.

        Only while it is still pending: a key whose answer is written holds a resource that
        exists (its create's transaction went in after all), and keeps answering with it."""
        try:
            with translated_errors("release idempotency key"):
                self._client.delete_item(
                    TableName=self.table,
                    Key=self._items.key(self._ident(scope, key)),
                    ConditionExpression="#token = :token AND #status = :pending",
                    ExpressionAttributeNames={"#token": "token", "#status": "status"},
                    ExpressionAttributeValues={
                        ":token": to_value(token),
                        ":pending": to_value("pending"),
                    },
                )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise


def _abandoned(record: dict[str, Any], now: int) -> bool:
    """A pending record past the stale limit: its request died, and the key is free."""
    started = int(record.get("started_at", 0))
    return record.get("status") == "pending" and started < now - STALE_PENDING_SECONDS


def _stored(record: dict[str, Any]) -> StoredResponse:
    return StoredResponse(
        int(record["response_status"]),
        json.loads(str(record["response_body"])),
        record.get("response_location"),
    )
