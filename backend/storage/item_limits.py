"""DynamoDB's refusal of an item that would grow past 400 KB, told as the field to blame.

The API bounds every field it writes, so its own items stay far below the limit; an item
written by other programs (the console, a script) may not be. A write that would take an
item past 400 KB is refused by DynamoDB with a ``ValidationException`` (a plain write) or
a cancelled transaction whose reason is ``ValidationError``; neither names the attribute.
The client's hooks keep each request's parameters beside it, and when such a refusal comes
back, add the name of the largest attribute the refused write carried
(``Error.LargestAttribute``), which ``dynamo.translated_errors`` turns into a 422 naming it.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LARGEST_ATTRIBUTE = "LargestAttribute"
_REQUEST = "calendar.request"
_SET_TERM = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


def is_size_refusal(code: str, message: str) -> bool:
    """Whether an error (or a transaction's cancellation reason) says an item is too large."""
    return code in {"ValidationException", "ValidationError"} and "item size" in message.lower()


def instrument(client: DynamoDBClient) -> None:
    events = client.meta.events

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_REQUEST] = params

    def name_largest(parsed: Any, context: dict[str, Any], **_: Any) -> None:
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        request = context.get(_REQUEST)
        if not error or request is None:
            return
        writes = _refused_writes(
            str(error.get("Code", "")), str(error.get("Message", "")), parsed, request
        )
        if writes:
            largest = max(
                (pair for write in writes for pair in _written_attributes(write)),
                key=lambda pair: pair[1],
                default=None,
            )
            if largest is not None:
                error[LARGEST_ATTRIBUTE] = largest[0]

    events.register("provide-client-params.dynamodb", keep, unique_id="cal-limits-keep")
    events.register("after-call.dynamodb", name_largest, unique_id="cal-limits-name")


def _refused_writes(
    code: str, message: str, parsed: dict[str, Any], request: dict[str, Any]
) -> list[dict[str, Any]]:
    """The writes of ``request`` that an item-size refusal is about."""
    if is_size_refusal(code, message):
        if "TransactItems" in request:
            return [next(iter(entry.values())) for entry in request["TransactItems"]]
        return [request]
    if code != "TransactionCanceledException":
        return []
    reasons = parsed.get("CancellationReasons") or []
    entries = request.get("TransactItems", [])
    return [
        next(iter(entries[n].values()))
        for n, reason in enumerate(reasons)
        if n < len(entries)
        and is_size_refusal(str(reason.get("Code", "")), str(reason.get("Message", "")))
    ]


def _written_attributes(write: dict[str, Any]) -> list[tuple[str, int]]:
    """Each attribute a Put or an Update writes, with the size of its value."""
    if "Item" in write:
        return [(name, _size(value)) for name, value in write["Item"].items()]
    values = write.get("ExpressionAttributeValues") or {}
    names = write.get("ExpressionAttributeNames") or {}
    written = []
    for target, placeholder in _SET_TERM.findall(write.get("UpdateExpression", "")):
        if placeholder in values:
            written.append((names.get(target, target), _size(values[placeholder])))
    return written


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
