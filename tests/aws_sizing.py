"""DynamoDB's item sizes and capacity units, by AWS's published rules (moto bills nothing
like AWS, so the tests compute what AWS would).

Sources, in the DynamoDB Developer Guide:

- "Item sizes and formats" (attribute names and values; numbers; lists and maps);
- "DynamoDB read and write operations" / "Capacity unit calculations"
  (CapacityUnitCalculations.html: reads by 4 KB, writes by 1 KB, Query and Scan by the
  total size of the items read, eventually consistent reads half, transactions twice);
- "Provisioned throughput considerations for Global Secondary Indexes" (which table
  writes are index writes, one or two, sized by the index entry) and "Storage
  considerations for Global Secondary Indexes" (an entry's storage: its attributes plus
  100 bytes of overhead, which ``index_storage_size`` adds; the write of an entry is
  sized by the entry itself, so ``index_write_units`` does not).

Items are in the low-level form boto3's client speaks: ``{"name": {"S": "…"}}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

KB = 1024
READ_UNIT = 4 * KB  # a read capacity unit: one strongly consistent read of up to 4 KB
WRITE_UNIT = KB  # a write capacity unit: one write of up to 1 KB
INDEX_OVERHEAD = 100  # bytes each index entry adds to storage

Item = Mapping[str, Mapping[str, Any]]


def number_size(text: str) -> int:
    """A number: 1 byte per two significant digits (leading and trailing zeros trimmed),
    plus 1 byte."""
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0")
    return math.ceil(max(len(digits), 1) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value (its name not included)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute type: {kind!r}")


def item_size(item: Item) -> int:
    """An item's size: each attribute's name (UTF-8 bytes) and value."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int | None, *, consistent: bool) -> float:
    """One GetItem (or one item of a BatchGetItem or TransactGetItems before its 2×):
    1 unit per 4 KB, at least 1 even for a missing item; half if eventually consistent."""
    units = max(1, math.ceil((size or 0) / READ_UNIT))
    return units if consistent else units / 2


def query_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """A Query or Scan page: the total size of the items it READ (what a filter drops and
    what ``Select=COUNT`` never returns included), rounded up to 4 KB, at least 1 unit;
    half if eventually consistent (a query of a global secondary index always is)."""
    units = max(1, math.ceil(sum(sizes) / READ_UNIT))
    return units if consistent else units / 2


def write_units(before: Item | None, after: Item | None) -> int:
    """One PutItem, UpdateItem or DeleteItem (or an item of a BatchWriteItem, or of a
    transaction before its 2×): the larger of the item before and after, by 1 KB, at
    least 1."""
    size = max(item_size(before) if before else 0, item_size(after) if after else 0)
    return max(1, math.ceil(size / WRITE_UNIT))


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index: its key attributes and what it projects (None: ALL)."""

    name: str
    hash_key: str
    range_key: str | None
    table_keys: tuple[str, ...]
    projected: frozenset[str] | None = None

    def entry(self, item: Item | None) -> dict[str, Mapping[str, Any]] | None:
        """The item's entry in the index, or None when the item is not in it (an item
        without every index key attribute is not)."""
        keys = (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)
        if item is None or any(k not in item for k in keys):
            return None
        if self.projected is None:
            return dict(item)
        kept = set(keys) | set(self.table_keys) | self.projected
        return {k: v for k, v in item.items() if k in kept}

    def key(self, item: Item) -> tuple[Any, ...]:
        keys = (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)
        return tuple(tuple(item[k].items()) for k in keys)


def index_storage_size(entry: Item) -> int:
    """What an index entry takes in storage: its attributes plus 100 bytes."""
    return item_size(entry) + INDEX_OVERHEAD


def index_write_units(index: IndexShape, before: Item | None, after: Item | None) -> int:
    """The index writes a table write makes: a new entry 1 write, a removed entry 1, a
    changed index key 2 (the old entry deleted, the new one put), a changed projected
    attribute 1, nothing projected changed 0; each by the entry's size, per 1 KB."""
    old, new = index.entry(before), index.entry(after)
    if old is None and new is None:
        return 0
    if old is None or new is None:
        return write_units(old, new)
    if index.key(old) != index.key(new):
        return write_units(old, None) + write_units(None, new)
    if old == new:
        return 0
    return write_units(old, new)
