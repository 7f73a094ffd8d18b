"""What each request costs in DynamoDB: its calls, consumed capacity and throttled attempts.

The client is instrumented with botocore event hooks once, when ``Storage`` is built;
the calls made between ``begin()`` and ``end()`` on one thread (or context) are counted
against that unit of work. The access log reads the result; nothing here knows Flask.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Operations that accept ReturnConsumedCapacity.
_CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
_THROTTLING = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@dataclass
class DynamoUsage:
    """The DynamoDB calls of one request and the capacity units they consumed."""

    operations: list[str] = field(default_factory=list)
    capacity: float = 0.0
    transaction_actions: set[str] = field(default_factory=set)
    throttled_attempts: int = 0  # attempts DynamoDB throttled, retried or not

    def iam_actions(self) -> set[str]:
        """The IAM actions these calls need (a transaction needs those of its parts)."""
        return {
            op for op in self.operations if op != "TransactWriteItems"
        } | self.transaction_actions


_current: ContextVar[DynamoUsage | None] = ContextVar("dynamodb_usage", default=None)


def begin() -> Token[DynamoUsage | None]:
    """Start counting the calls of the current context; pass the token to ``end``."""
    return _current.set(DynamoUsage())


def current() -> DynamoUsage:
    return _current.get() or DynamoUsage()


def end(token: Token[DynamoUsage | None]) -> None:
    _current.reset(token)


def instrument(client: DynamoDBClient) -> None:
    """Count every call of ``client`` (and its consumed capacity) against the current work."""
    events = client.meta.events

    def prepare(params: dict[str, Any], model: Any, **_: Any) -> None:
        usage = _current.get()
        if usage is None:
            return
        if model.name in _CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if model.name == "TransactWriteItems":
            # IAM authorises a transaction by the actions inside it.
            for entry in params.get("TransactItems", []):
                usage.transaction_actions.update(_TRANSACT_ACTIONS[k] for k in entry)

    def count(model: Any, **_: Any) -> None:
        usage = _current.get()
        if usage is not None:
            usage.operations.append(model.name)

    def add_capacity(parsed: dict[str, Any], **_: Any) -> None:
        usage = _current.get()
        consumed = parsed.get("ConsumedCapacity") if isinstance(parsed, dict) else None
        if usage is None or not consumed:
            return
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            usage.capacity += float(entry.get("CapacityUnits") or 0)

    def note_throttling(response: Any = None, **_: Any) -> None:
        usage = _current.get()
        if usage is None or not response:
            return
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        if isinstance(parsed, dict) and parsed.get("Error", {}).get("Code") in _THROTTLING:
            usage.throttled_attempts += 1

    # unique_id makes this idempotent: storages built twice on one client count calls once.
    events.register("needs-retry.dynamodb", note_throttling, unique_id="cal-throttles")
    events.register("provide-client-params.dynamodb", prepare, unique_id="cal-prepare")
    events.register("before-call.dynamodb", count, unique_id="cal-count")
    events.register("after-call.dynamodb", add_capacity, unique_id="cal-consumed")
