"""Writes whose cost is the items they touch, not the size of the tables they name.

Two things in moto 5.2 make the engine's memory and time grow with its history:

- ``DynamoDBBackend.transact_write_items`` deep-copies every table a transaction names,
  to put it back if the transaction is cancelled: a transaction on a table of 2,000
  items copies 2,000 items, however few it writes.
- Every ``BaseModel`` moto makes (each stored item, each copy of one: every write's,
  every update's ``orig_item``, every query's results) is appended to its class's
  ``instances_tracked`` list for moto's dashboard, and never let go. The engine serves no
  dashboard, so its DynamoDB models are tracked no more (``untrack``).

The transaction here is moto's, line for line (same validation, the same order of
checks, the same errors and cancellation reasons), except for how it is undone: before
each operation it keeps the item that operation replaces (a copy of it, for an update,
which changes the stored item in place), and a cancelled transaction puts those items
back, newest first. ``copied`` counts the items kept, for tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from localdb import queries

_installed: dict[str, Callable[..., Any]] = {}
copied = [0]  # items kept to undo transactions since the engine started (for tests)


class _Untracked(list[Any]):
    """An ``instances_tracked`` that keeps nothing."""

    def append(self, item: Any) -> None:
        """Dropped: the engine has no dashboard to show it on."""


def untrack() -> None:
    """Stop moto keeping every DynamoDB model object it ever made (idempotent)."""
    from moto.core.model_instances import model_data  # noqa: PLC0415
    from moto.dynamodb.models import dynamo_type, table  # noqa: PLC0415, F401 - registers them

    for cls in model_data.get("dynamodb", {}).values():
        if not isinstance(getattr(cls, "instances_tracked", None), _Untracked):
            cls.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def install() -> None:
    """Replace moto's transaction with one that undoes only what it did (idempotent)."""
    if _installed:
        return
    untrack()
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    _installed["transact_write_items"] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


# (table, hash value, range value, the item to put back or None to remove)
_Undo = tuple[Any, Any, Any, Any]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo: list[_Undo] = []
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        failed: list[dict[str, Any] | None] = [None]  # the item a failed condition returns
        try:
            _apply(self, item, target_items, undo, failed)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            _undo(undo)
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), failed[0]))  # type: ignore[arg-type]
        except Exception as e:  # as moto: every other failure is a cancellation reason
            errors.append((type(e).__name__, str(e), failed[0]))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        _undo(undo)
        raise TransactionCanceledException(errors)


def _apply(
    backend: Any,
    item: dict[str, Any],
    target_items: set[tuple[str, str]],
    undo: list[_Undo],
    failed: list[dict[str, Any] | None],
) -> None:
    """One operation of a transaction, as moto runs it, keeping what undoes it."""
    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        ConditionalCheckFailed,
        MultipleTransactionsException,
    )

    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    table_name = op["TableName"]
    condition_expression = op.get("ConditionExpression")
    names = op.get("ExpressionAttributeNames")
    values = op.get("ExpressionAttributeValues")
    if op_type == "Put":
        attrs = op["Item"]
        table = backend.get_table(table_name)
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
    else:
        key = op["Key"]
    unique = (str(table_name), str(dict(sorted(key.items()))))
    if unique in target_items:
        raise MultipleTransactionsException()
    target_items.add(unique)

    current = backend.get_item(table_name, key)
    if condition_expression is not None:
        condition_op = get_filter_expression(condition_expression, names, values)
        if not condition_op.expr(current):
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                failed[0] = current.to_json()["Attributes"]
            raise ConditionalCheckFailed(item=failed[0])
    if op_type == "ConditionCheck":
        return

    # What puts this item back: the stored object itself when it is replaced or removed,
    # a copy when an update is about to change it in place.
    table = backend.get_table(table_name)
    hash_value, range_value = backend.get_keys_value(table, key)
    kept = copy.deepcopy(current) if op_type == "Update" else current
    undo.append((table, hash_value, range_value, kept))
    copied[0] += 1
    written = {
        "condition_expression": condition_expression,
        "expression_attribute_names": names,
        "expression_attribute_values": values,
    }
    if op_type == "Put":
        backend.put_item(table_name, op["Item"], **written)
    elif op_type == "Delete":
        backend.delete_item(table_name, key, **written)
    else:
        backend.update_item(table_name, key, update_expression=op["UpdateExpression"], **written)


def _undo(undo: list[_Undo]) -> None:
    """Put back what a cancelled transaction replaced, newest first."""
    for table, hash_value, range_value, item in reversed(undo):
        if _stored(table, hash_value, range_value) is not None:
            table.delete_item(hash_value, range_value)  # what the transaction left there
        if item is None:
            continue
        if table.range_key_attr is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item
        queries.remember(table, item)


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    """The item stored under a key, or None (without adding a partition, as moto's
    ``defaultdict`` of partitions would on a lookup)."""
    if hash_value not in table.items:
        return None
    partition = table.items[hash_value]
    return partition.get(range_value) if table.range_key_attr is not None else partition
