"""What real DynamoDB does and moto does not, injected at the botocore level.

``AwsBehaviour`` hooks one boto3 client (the one under the app's storage) and makes it see:

- **transaction conflicts**: a ``TransactWriteItems`` is cancelled with reason
  ``TransactionConflict``, and a plain write fails with ``TransactionConflictException``,
  at a given rate, as when another transaction holds the item;
- **throttling**: ``ProvisionedThroughputExceededException`` (and throttled transactions,
  cancelled with ``ThrottlingError``) at a given rate;
- **index and scan lag**: a Query on a GSI or a non-consistent Scan sees the state of
  ``lag`` writes ago: items written since are missing, items deleted since are still there;
- **the item size limit** (``item_limit`` bytes; DynamoDB's is 400 KB): a write that would
  leave an item larger is refused as DynamoDB refuses it, a plain write with a
  ``ValidationException``, a transaction cancelled with reason ``ValidationError`` at the
  item's place (moto refuses both with a ``ValidationException``, at 405,000 bytes).

Nothing of the product is replaced: retries, parsing and our error mapping all run as they
would against AWS.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

from tests.helpers import local_aws_client

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(request: Any, code: str, **extra: Any) -> AWSResponse:
    """DynamoDB's answer refusing ``request`` with ``code`` (for a ``before-send`` hook)."""
    body = json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"} | extra
    )
    return AWSResponse(request.url, 400, {"x-amzn-requestid": "lane"}, _Body(body.encode()))  # type: ignore[arg-type]


def _value_size(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind in {"S", "N", "B"}:
        return len(str(inner).encode())
    if kind in {"SS", "NS", "BS", "L"}:
        return 3 + sum(len(str(v).encode()) if kind != "L" else _value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    return 1


def _key_text(table: str, key: dict[str, Any]) -> str:
    return table + json.dumps(key, sort_keys=True)


@dataclass
class _Write:
    table: str
    key: dict[str, Any]
    before: dict[str, Any] | None  # the item as it was, for a lagging reader


@dataclass
class AwsBehaviour:
    client: Any
    endpoint: str
    conflict_rate: float = 0.0
    throttle_rate: float = 0.0
    lag: int = 0
    item_limit: int | None = None
    seed: int = 7
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults
        self._lock = threading.Lock()
        self._recent: deque[_Write] = deque(maxlen=max(self.lag, 1))
        self._reader = local_aws_client("dynamodb", self.endpoint)  # sees the truth
        self._two_part_keys: dict[str, bool] = {}

    # -- faults ------------------------------------------------------------------------

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return self._random.random() < rate

    def _count(self, what: str) -> None:
        with self._lock:
            self.injected[what] = self.injected.get(what, 0) + 1

    def _fault(self, request: Any, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"").decode().rpartition(".")[2]
        if self.item_limit is not None and (too_large := self._too_large(operation, request)):
            return too_large
        if operation == "TransactWriteItems":
            size = len(json.loads(request.body or b"{}").get("TransactItems", []))
            for reason, rate in (
                ("TransactionConflict", self.conflict_rate),
                ("ThrottlingError", self.throttle_rate),
            ):
                if self._roll(rate):
                    self._count(reason)
                    reasons = [{"Code": reason, "Message": "injected"}]
                    reasons += [{"Code": "None"}] * (size - 1)
                    return error_response(
                        request, "TransactionCanceledException", CancellationReasons=reasons
                    )
            return None
        if operation in _WRITES and self._roll(self.conflict_rate):
            self._count("TransactionConflictException")
            return error_response(request, "TransactionConflictException")
        if operation and self._roll(self.throttle_rate):
            self._count("ProvisionedThroughputExceededException")
            return error_response(request, "ProvisionedThroughputExceededException")
        return None

    # -- item size ---------------------------------------------------------------------

    def _too_large(self, operation: str, request: Any) -> AWSResponse | None:
        params = json.loads(request.body or b"{}")
        if operation in {"PutItem", "UpdateItem"}:
            writes = [params]
        elif operation == "TransactWriteItems":
            writes = [next(iter(entry.values())) for entry in params.get("TransactItems", [])]
        else:
            return None
        over = [
            n for n, write in enumerate(writes) if self._size_after(write) > (self.item_limit or 0)
        ]
        if not over:
            return None
        self._count("item too large")
        message = "Item size has exceeded the maximum allowed size"
        if operation != "TransactWriteItems":
            return error_response(request, "ValidationException", message=message)
        reasons = [
            {"Code": "ValidationError", "Message": message} if n in over else {"Code": "None"}
            for n in range(len(writes))
        ]
        return error_response(request, "TransactionCanceledException", CancellationReasons=reasons)

    def _size_after(self, write: dict[str, Any]) -> int:
        """The size of the item ``write`` leaves, by DynamoDB's rule: each attribute's name
        and value in UTF-8 bytes (numbers roughly as their digits)."""
        if "Item" in write:
            item = write["Item"]
        elif "UpdateExpression" in write:
            found = self._reader.get_item(
                TableName=write["TableName"], Key=write["Key"], ConsistentRead=True
            )
            item = dict(found.get("Item", {}))
            names = write.get("ExpressionAttributeNames", {})
            values = write.get("ExpressionAttributeValues", {})
            for target, placeholder in re.findall(
                r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)", write["UpdateExpression"]
            ):
                if placeholder in values:
                    item[names.get(target, target)] = values[placeholder]
        else:
            return 0
        return sum(len(name.encode()) + _value_size(value) for name, value in item.items())

    # -- lag ---------------------------------------------------------------------------

    def _writes_of(
        self, name: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any], bool]]:
        """(table, key, is_delete) of every item a write request touches."""
        if name in _WRITES:
            key = params.get("Key") or self._key_of(params["TableName"], params.get("Item", {}))
            return [(params["TableName"], key, name == "DeleteItem")]
        if name == "TransactWriteItems":
            found = []
            for entry in params.get("TransactItems", []):
                for kind, body in entry.items():
                    if kind == "ConditionCheck":
                        continue
                    key = body.get("Key") or self._key_of(body["TableName"], body.get("Item", {}))
                    found.append((body["TableName"], key, kind == "Delete"))
            return found
        if name == "BatchWriteItem":
            found = []
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "DeleteRequest" in request:
                        found.append((table, request["DeleteRequest"]["Key"], True))
                    else:
                        item = request["PutRequest"]["Item"]
                        found.append((table, self._key_of(table, item), False))
            return found
        return []

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        names = {"id"} | (
            {"department_id"} if "department_id" in item and self._is_events(table) else set()
        )
        return {k: v for k, v in item.items() if k in names}

    def _is_events(self, table: str) -> bool:
        if table not in self._two_part_keys:
            description = self._reader.describe_table(TableName=table)["Table"]
            self._two_part_keys[table] = len(description["KeySchema"]) == 2
        return self._two_part_keys[table]

    def _remember(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        context["lane_params"] = dict(params)
        if not self.lag:
            return
        for table, key, _delete in self._writes_of(model.name, params):
            before = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get(
                "Item"
            )
            with self._lock:
                self._recent.append(_Write(table, key, before))

    def _lagging(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        params = context.get("lane_params") or {}
        stale_read = (model.name == "Query" and "IndexName" in params) or (
            model.name == "Scan" and not params.get("ConsistentRead")
        )
        if not self.lag or not stale_read or "Items" not in parsed:
            return
        table = params["TableName"]
        with self._lock:
            recent = [w for w in self._recent if w.table == table]
        # What a reader ``lag`` writes behind sees: each item as it was before the oldest of
        # the recent writes that touched it (absent if it did not exist then).
        earliest: dict[str, _Write] = {}
        for write in recent:
            earliest.setdefault(_key_text(table, write.key), write)
        items = [
            i for i in parsed["Items"] if _key_text(table, self._key_of(table, i)) not in earliest
        ]
        items += [
            w.before
            for w in earliest.values()
            if w.before is not None and self._matches(params, w.before)
        ]
        parsed["Items"] = items
        parsed["Count"] = len(items)
        self._count("lagging read")

    @staticmethod
    def _matches(params: dict[str, Any], item: dict[str, Any]) -> bool:
        """Whether ``item`` answers the Query or Scan: the key conditions this product uses."""
        values = params.get("ExpressionAttributeValues", {})
        if params.get("IndexName") == "department-date-index":
            if item.get("department_id") != values.get(":d") and item.get(
                "department_id"
            ) != values.get(":p"):
                return False
            day = item.get("event_date", {}).get("S")
            if day is None:
                return False
            low, high = values.get(":from", {}).get("S"), values.get(":to", {}).get("S")
            return (low is None or day >= low) and (high is None or day <= high)
        if params.get("IndexName") == "name-index":
            return bool(item.get("name") == values.get(":name"))
        return "name" in item and not item.get("id", {}).get("S", "").startswith("#")

    @contextmanager
    def installed(self) -> Iterator[AwsBehaviour]:
        events = self.client.meta.events
        events.register_first("before-send.dynamodb", self._fault, unique_id="lane-fault")
        events.register(
            "before-parameter-build.dynamodb", self._remember, unique_id="lane-remember"
        )
        events.register("after-call.dynamodb", self._lagging, unique_id="lane-lag")
        try:
            yield self
        finally:
            events.unregister("before-send.dynamodb", unique_id="lane-fault")
            events.unregister("before-parameter-build.dynamodb", unique_id="lane-remember")
            events.unregister("after-call.dynamodb", unique_id="lane-lag")
