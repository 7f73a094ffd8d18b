"""Item values written to the wire directly, not walked shape by shape.

moto 5.2 serialises every response through botocore's service model, one method call per
member of every ``AttributeValue``: answering a BatchGetItem of 100 events costs ~45 ms,
nearly all of it there. An ``AttributeValue`` is already its own wire form (DynamoDB JSON,
with binary values as raw bytes that are base64-encoded), so this writes it in one
recursive pass and hands anything it does not recognise back to moto's serializer.
``test_query_equivalence`` compares both on randomised values.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_installed: list[bool] = []
_reference: contextvars.ContextVar[bool] = contextvars.ContextVar("reference", default=False)


def wire_value(value: Any) -> Any:  # noqa: PLR0912 - a branch per DynamoDB type
    """The JSON form moto's serializer gives an ``AttributeValue``, or None if unsure."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in {"S", "N"}:
        return {kind: str(inner)} if isinstance(inner, str) else None
    if kind == "B":
        return {kind: _b64(inner)} if isinstance(inner, bytes) else None
    if kind in {"SS", "NS"}:
        if isinstance(inner, list) and all(isinstance(v, str) for v in inner):
            return {kind: list(inner)}
        return None
    if kind == "BS":
        if isinstance(inner, list) and all(isinstance(v, bytes) for v in inner):
            return {kind: [_b64(v) for v in inner]}
        return None
    if kind in {"BOOL", "NULL"}:
        return {kind: inner} if isinstance(inner, bool) else None
    if kind == "M" and isinstance(inner, dict):
        members = {}
        for name, member in inner.items():
            wired = wire_value(member)
            if wired is None or not isinstance(name, str):
                return None
            members[name] = wired
        return {kind: members}
    if kind == "L" and isinstance(inner, list):
        elements = []
        for member in inner:
            wired = wire_value(member)
            if wired is None:
                return None
            elements.append(wired)
        return {kind: elements}
    return None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).strip().decode("utf-8")


def install() -> None:
    """Give moto's JSON serializer the direct path for ``AttributeValue`` (idempotent)."""
    if _installed:
        return
    from moto.core.serialize import BaseJSONSerializer  # noqa: PLC0415

    original = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and not _reference.get():
            wired = wire_value(value)
            if wired is not None:
                self._default_serialize(serialized, wired, shape, key)
                return
        original(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
    _installed.append(True)


@contextlib.contextmanager
def as_moto_ships_it() -> Iterator[None]:
    """Serialise the responses made inside this block (on this thread) with moto's code."""
    token = _reference.set(True)
    try:
        yield
    finally:
        _reference.reset(token)
