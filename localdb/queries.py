"""Queries that cost what they return: moto's own ``Table.query``, handed only what matters.

moto 5.2 answers every Query by sorting every item of the table (``Table.all_items``) and
walking the result, so a month of one department costs as much as the whole calendar.
Here each secondary index keeps, per partition, its items sorted exactly as moto sorts
them (the same tuples of ``DynamoType``), updated as items are put, updated and deleted.
A query then gives moto's unmodified ``Table.query`` only the items that can affect its
answer: those inside the key condition's window after ``ExclusiveStartKey``, at most
``Limit`` of them, and the next item, on which moto decides whether to return a
``LastEvaluatedKey``. Validation, sorting, filters, projections and paging stay moto's.
A base-table query is handed its one partition, which moto already finds by key.

One deliberate difference: moto ends a page when the next *candidate* would take it past
1 MB, even a candidate outside the key condition; here such items are never candidates,
as in DynamoDB, which never reads them.

Anything this module does not recognise (multi-attribute keys, ``QueryFilter``, mixed key
types, an ``ExclusiveStartKey`` without every key attribute) goes to moto unchanged.
``SUPPORTED_MOTO`` is the range this was verified against (``test_query_equivalence``
compares with moto's own query on randomised tables); outside it nothing is patched.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

SUPPORTED_MOTO = ((5, 2), (5, 3))  # [from, to): the versions whose Table.query this fits
_ATTR = "_local_engine_indexes"  # per-Table state; copied along when moto deep-copies a table

# The items moto's Table.all_items() returns while the narrowed query of that table runs.
_narrowed: contextvars.ContextVar[tuple[Any, list[Any]] | None] = contextvars.ContextVar(
    "narrowed", default=None
)
# Set while a query must run exactly as moto ships it (the equivalence test's reference).
_reference: contextvars.ContextVar[bool] = contextvars.ContextVar("reference", default=False)
_installed: dict[str, Callable[..., Any]] = {}

Key = tuple[Any, ...]  # a tuple of DynamoType, compared as moto compares them


@dataclass
class _Bucket:
    """One partition of an index: its items' sort keys in order, and the items."""

    keys: list[Key] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    types: tuple[str, ...] | None = None  # the DynamoDB type at each position of the keys
    mixed: bool = False  # keys of different types: left to moto, which sorts them itself

    def add(self, key: Key, item: Any, *, at_end: bool = False) -> None:
        types = tuple(value.type for value in key)
        if self.types is None:
            self.types = types
        elif types != self.types:
            self.mixed = True
        at = len(self.keys) if at_end or self.mixed else bisect.bisect_right(self.keys, key)
        position = at
        self.keys.insert(position, key)
        self.items.insert(position, item)

    def remove(self, key: Key, item: Any) -> None:
        if not self.mixed:
            position = bisect.bisect_left(self.keys, key)
            for at in range(position, len(self.keys)):
                if self.items[at] is item:
                    del self.keys[at], self.items[at]
                    return
        for at, candidate in enumerate(self.items):
            if candidate is item:
                del self.keys[at], self.items[at]
                return


class _Index:
    """A secondary index with one HASH and at most one RANGE attribute, kept sorted."""

    def __init__(self, table: Any, index: Any) -> None:
        from moto.dynamodb.models.table import GlobalSecondaryIndex  # noqa: PLC0415

        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        self.signature = repr(index.schema)
        self.hash_attr: str = hashes[0]
        self.range_attr: str | None = ranges[0] if ranges else None
        # The attributes moto sorts an index query by, built as its Table.query builds them.
        if self.range_attr is not None:
            range_attrs = [self.range_attr, table.range_key_attr]
        elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
            range_attrs = [table.range_key_attr, table.range_key_attr]
        else:
            range_attrs = [table.hash_key_attr, table.range_key_attr]
        self.sort_attrs: list[str] = table._generate_attr_to_sort_by(
            [self.hash_attr, table.hash_key_attr], range_attrs
        )
        self.buckets: dict[Any, _Bucket] = {}
        self.placed: dict[int, tuple[Any, Key]] = {}  # id(item) -> (bucket, key) it is under
        gathered: dict[Any, list[tuple[Key, Any]]] = {}
        for item in stored_items(table):
            placed = self._place(item)
            if placed is not None:
                gathered.setdefault(placed[0], []).append((placed[1], item))
        for bucket_value, pairs in gathered.items():
            bucket = self.buckets[bucket_value] = _Bucket()
            types = {tuple(v.type for v in key) for key, _ in pairs}
            if len(types) == 1:
                # One type per position: comparing the plain values orders the keys as
                # comparing their DynamoTypes does, at C speed.
                pairs.sort(key=lambda pair: tuple(v.cast_value for v in pair[0]))
            else:
                bucket.mixed = True
            for key, item in pairs:
                bucket.add(key, item, at_end=True)
                self.placed[id(item)] = (bucket_value, key)

    def _place(self, item: Any) -> tuple[Any, Key] | None:
        attrs = item.attrs
        # moto indexes an item only when it has every key attribute of the index
        if self.hash_attr not in attrs or (self.range_attr and self.range_attr not in attrs):
            return None
        return attrs[self.hash_attr], tuple(attrs[a] for a in self.sort_attrs)

    def add(self, item: Any) -> None:
        placed = self._place(item)
        if placed is None:
            return
        bucket_value, key = placed
        self.buckets.setdefault(bucket_value, _Bucket()).add(key, item)
        self.placed[id(item)] = (bucket_value, key)

    def remove(self, item: Any) -> None:
        placed = self.placed.pop(id(item), None)
        if placed is not None:
            bucket_value, key = placed
            bucket = self.buckets[bucket_value]
            bucket.remove(key, item)
            if not bucket.items:
                del self.buckets[bucket_value]


@dataclass
class _TableIndexes:
    by_name: dict[str, _Index] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> _TableIndexes:
        # moto deep-copies a table to roll a transaction back; the copy's items are new
        # objects, so its indexes are rebuilt from them when first queried.
        return _TableIndexes()

    def get(self, table: Any, index: Any) -> _Index | None:
        if len([k for k in index.schema if k["KeyType"] == "HASH"]) != 1 or (
            len([k for k in index.schema if k["KeyType"] == "RANGE"]) > 1
        ):
            return None
        built = self.by_name.get(index.name)
        if built is None or built.signature != repr(index.schema):
            built = self.by_name[index.name] = _Index(table, index)
        return built


def prepare(table: Any) -> None:
    """Build the sorted indexes of a table now rather than at its first query."""
    state = _state(table)
    if state is None:
        state = _TableIndexes()
        table.__dict__[_ATTR] = state
    for index in table.all_indexes():
        state.get(table, index)


def stored_items(table: Any) -> Iterator[Any]:
    """Every item of a moto table, in no particular order (no sort, unlike all_items)."""
    for partition in table.items.values():
        if table.range_key_attr:
            yield from partition.values()
        else:
            yield partition


def _state(table: Any) -> _TableIndexes | None:
    state: _TableIndexes | None = table.__dict__.get(_ATTR)
    return state


def _forget(table: Any, item: Any) -> None:
    state = _state(table)
    if state is not None and item is not None:
        for index in state.by_name.values():
            index.remove(item)


def remember(table: Any, item: Any) -> None:
    """Place an item put straight into ``table.items`` in the table's sorted indexes."""
    _remember(table, item)


def _remember(table: Any, item: Any) -> None:
    state = _state(table)
    if state is not None and item is not None:
        for index in state.by_name.values():
            index.add(item)


# -- choosing the candidates -----------------------------------------------------------


def _window(bucket: _Bucket, comparison: str | None, values: list[Any]) -> tuple[int, int] | None:
    """[lo, hi) of the bucket's items whose range value meets the key condition."""
    n = len(bucket.keys)
    if comparison is None:
        return 0, n

    def first(value: Any) -> int:
        return bisect.bisect_left(bucket.keys, value, key=lambda k: k[1])

    def after(value: Any) -> int:
        return bisect.bisect_right(bucket.keys, value, key=lambda k: k[1])

    if comparison in {"=", "EQ"}:
        return first(values[0]), after(values[0])
    if comparison in {"<", "LT"}:
        return 0, first(values[0])
    if comparison in {"<=", "LE"}:
        return 0, after(values[0])
    if comparison in {">", "GT"}:
        return after(values[0]), n
    if comparison in {">=", "GE"}:
        return first(values[0]), n
    if comparison == "BETWEEN":
        lo, hi = first(values[0]), after(values[1])
        return lo, max(lo, hi)
    if comparison == "BEGINS_WITH" and values[0].type in {"S", "B"}:
        prefix = values[0].cast_value
        lo = hi = first(values[0])
        while hi < n and bucket.keys[hi][1].cast_value.startswith(prefix):
            hi += 1
        return lo, hi
    return None


def _candidates(  # noqa: PLR0912, PLR0917 - one decision per parameter of moto's query
    table: Any,
    index_name: str | None,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
    filter_kwargs: dict[str, Any],
) -> list[Any] | None:
    """The items moto's query needs to see to give its full answer, or None: let it scan."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    if filter_kwargs or len(hash_key_conditions or []) > 1 or len(range_key_conditions or []) > 1:
        return None
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        return None  # moto fails such a query in its own way
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key) if hash_key in table.items else None
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]

    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None or not hash_key_conditions:
        return None
    if _state(table) is None:
        prepare(table)
    state = _state(table)
    built = state.get(table, index) if state is not None else None
    if built is None or hash_key_conditions[0][0] != built.hash_attr:
        return None
    if range_comparison is not None and (
        built.range_attr is None
        or not range_key_conditions
        or range_key_conditions[0][0] != built.range_attr
    ):
        return None
    bucket = built.buckets.get(hash_key_conditions[0][1])
    if bucket is None:
        return []
    if bucket.mixed or bucket.types is None:
        return list(bucket.items)
    if range_comparison is not None and any(v.type != bucket.types[1] for v in range_objs):
        return None  # moto compares across types in its own way; let it
    window = _window(bucket, range_comparison, range_objs)
    if window is None:
        return None
    lo, hi = window
    if exclusive_start_key is not None:
        try:
            start = tuple(DynamoType(exclusive_start_key[a]) for a in built.sort_attrs)
        except (KeyError, TypeError, AttributeError):
            return None
        if tuple(v.type for v in start) != bucket.types:
            return None
        if forward:
            lo = max(lo, bisect.bisect_right(bucket.keys, start))
        else:
            hi = min(hi, bisect.bisect_left(bucket.keys, start))
    count = hi - lo
    items = bucket.items
    if count <= 0:
        return []
    # Up to Limit results, then the next item in query order: moto returns a
    # LastEvaluatedKey when it meets one more item after a full page.
    if forward:
        if limit is not None and count > limit:
            return items[lo : lo + limit + 1]
        return items[lo : hi + 1]
    if limit is not None and count > limit:
        return items[hi - limit - 1 : hi]
    return items[max(lo - 1, 0) : hi]


# -- the patch ---------------------------------------------------------------------------


def install() -> bool:  # noqa: PLR0915 - the wrappers share the originals they replace
    """Patch moto's DynamoDB models in this process (idempotent); False if not supported."""
    if _installed:
        return True
    import moto  # noqa: PLC0415
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    version = tuple(int(p) for p in moto.__version__.split(".")[:2])
    if not SUPPORTED_MOTO[0] <= version < SUPPORTED_MOTO[1]:
        logger.warning(
            "moto %s is outside the range the fast queries were verified for; "
            "queries scan the whole table",
            moto.__version__,
        )
        return False

    original_query = Table.query
    original_all_items = Table.all_items
    original_put = Table.put_item
    original_delete = Table.delete_item
    original_update = DynamoDBBackend.update_item

    def query(  # noqa: PLR0917 - moto's own signature
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, Any]] | None = None,
        range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        def run() -> Any:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        if _reference.get():
            return run()
        candidates = _candidates(
            self,
            index_name,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward is not False,
            hash_key_conditions,
            range_key_conditions,
            filter_kwargs,
        )
        if candidates is None:
            return run()
        token = _narrowed.set((self, candidates))
        try:
            return run()
        finally:
            _narrowed.reset(token)

    def all_items(self: Any) -> list[Any]:
        narrowed = _narrowed.get()
        if narrowed is not None and narrowed[0] is self:
            return list(narrowed[1])
        return original_all_items(self)

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if _state(self) is None:
            return original_put(self, item_attrs, *args, **kwargs)
        before = _current(self, item_attrs)
        item = original_put(self, item_attrs, *args, **kwargs)
        _forget(self, before)
        _remember(self, item)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = original_delete(self, hash_key, range_key)
        _forget(self, item)
        return item

    def update_item(backend: Any, table_name: str, key: dict[str, Any], *a: Any, **kw: Any) -> Any:
        # moto changes the stored item in place, so it is re-placed whatever happened
        table = backend.tables.get(table_name)
        state = _state(table) if table is not None else None
        before = None
        if state is not None:
            with contextlib.suppress(Exception):
                before = backend.get_item(table_name, key)
        try:
            return original_update(backend, table_name, key, *a, **kw)
        finally:
            if state is not None:
                after = None
                with contextlib.suppress(Exception):
                    after = backend.get_item(table_name, key)
                _forget(table, before)
                _forget(table, after)  # a new item was placed by put_item, before its update
                _remember(table, after)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign, assignment]
    _installed.update(query=original_query)
    return True


def _current(table: Any, item_attrs: dict[str, Any]) -> Any:
    """The stored item a put of ``item_attrs`` replaces, if any."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    try:
        hash_value = DynamoType(item_attrs[table.hash_key_attr])
        if table.range_key_attr is None:
            return table.items.get(hash_value) if hash_value in table.items else None
        partition = table.items.get(hash_value) if hash_value in table.items else None
        return partition.get(DynamoType(item_attrs[table.range_key_attr])) if partition else None
    except (KeyError, TypeError, AttributeError):
        return None


@contextlib.contextmanager
def as_moto_ships_it() -> Iterator[None]:
    """Run the queries made inside this block (on this thread) with moto's own code."""
    token = _reference.set(True)
    try:
        yield
    finally:
        _reference.reset(token)
