"""Recurring events in the ``events`` table: series, and their changed instances.

- **A series** is one item in its department's series partition: ``id`` is
  ``#series#<department id>`` and ``department_id`` (the table's range key) is the
  series's id. All series of a department are then one strongly consistent Query of the
  table (never a Scan, never a read per series), and a series is in no index (its first
  date is stored as ``first_date``, not ``event_date``), so writing one is no index write.
  It also holds ``changed``: the original date of each changed instance and where it is
  now, so that a list whose index lags behind still finds it (``listing``).
- **A changed instance** (moved, retitled) is an ordinary event item,
  ``<series id>_<YYYYMMDD>`` with ``recurring_event_id`` and ``original_date``, so a
  window's Query finds it where it is now. An occurrence deleted on its own is an
  ``EXDATE`` on the series.
- **Every write of a series or of its instances is one transaction** with the department's
  item (``calendar_version``, ``event_count`` of the instance items, ``series_count``) and
  the series item at the version read: the version of a series is that of the whole
  family (series and instances), so two writes to one family never interleave, and no
  changed instance outlives its series (see ``SeriesWrite``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Event, Series, instance_id
from backend.errors import Conflict, NotFound
from backend.storage.batch import BatchIO
from backend.storage.bookkeeping import KEY_TAKEN_OVER
from backend.storage.changes import Action, Change
from backend.storage.dynamo import (
    cancelled_by,
    from_item,
    pages,
    to_item,
    to_value,
    translated_errors,
)
from backend.storage.events import CalendarState, EventRepository, event_from_plain, event_record
from backend.storage.versioning import VersionMoved, usable_key, version_condition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

SERIES_PARTITION = "#series#"
# A department holds at most this many series, so that reading them all stays one small
# Query (409 too-many-series past it).
MAX_SERIES = 500
# A series holds at most this many changed instances, so that deleting or splitting it
# with all of them is one transaction (DynamoDB's limit is 100 items).
MAX_CHANGED = 90


def series_partition(department_id: str) -> str:
    return SERIES_PARTITION + department_id


def series_record(series: Series) -> dict[str, Any]:
    """The attributes of a series's item."""
    record = event_record(series.event)
    department_id = record.pop("department_id")
    record["id"] = series_partition(department_id)
    record["department_id"] = series.event.id
    record["first_date"] = record.pop("event_date")
    if series.changed:
        record["changed"] = {day: list(placed) for day, placed in series.changed.items()}
    return record


def series_from_item(item: Mapping[str, Any]) -> Series:
    data = dict(from_item(item))
    department_id = str(data["id"])[len(SERIES_PARTITION) :]
    changed = {
        str(day): (str(placed[0]), str(placed[1]))
        for day, placed in (data.pop("changed", None) or {}).items()
    }
    data["id"] = data["department_id"]
    data["department_id"] = department_id
    data["event_date"] = data.pop("first_date")
    return Series(event_from_plain(data), changed)


@dataclass(frozen=True)
class SeriesWrite:
    """One transaction over a series family (with the department's calendar item).

    ``before`` is the series as read (its version is the condition; None: a new series);
    ``after`` what it becomes (None: deleted). ``split`` is a new series written beside it
    (this and following). ``put`` are changed instances to write; ``drop`` the ids of
    changed instances to delete. ``single_before``/``single_after``: a single event that
    becomes this series, or that this series becomes (the same id)."""

    department_id: str
    before: Series | None
    after: Series | None
    split: Series | None = None
    put: tuple[Event, ...] = ()
    drop: tuple[str, ...] = ()
    single_before: Event | None = None
    single_after: Event | None = None
    also: Sequence[TransactWriteItemTypeDef] = field(default_factory=tuple)
    # Occurrences without an item of their own that the write removes (a new EXDATE).
    cancelled: tuple[str, ...] = ()

    @property
    def changes(self) -> list[Change]:
        """What the write does, for the change log."""
        found: dict[str, Change] = {}
        before, after = self.before, self.after
        if after is not None:
            replaced = before is not None or self.single_before is not None
            found[after.event.id] = Change.of(after.event, "updated" if replaced else "created")
        elif before is not None:
            if self.single_after is not None:  # the series becomes a single event
                found[before.event.id] = Change.of(self.single_after, "updated")
            else:
                found[before.event.id] = Change.of(before.event, "deleted")
        if self.split is not None:
            found[self.split.event.id] = Change.of(self.split.event, "created")
        existing = before.changed if before is not None else {}
        for event in self.put:
            action: Action = "updated" if event.original_date in existing else "created"
            found[event.id] = Change(event.id, action, "event", event)
        for ident in self.drop:
            found.setdefault(ident, Change(ident, "deleted", "event"))
        for ident in self.cancelled:
            found.setdefault(ident, Change(ident, "deleted", "occurrence"))
        return list(found.values())

    @property
    def series_delta(self) -> int:
        return (self.after is not None) - (self.before is not None) + (self.split is not None)

    @property
    def event_delta(self) -> int:
        existing = self.before.changed if self.before is not None else {}
        added = sum(1 for e in self.put if e.original_date not in existing)
        return (
            added
            - len(self.drop)
            - (self.single_before is not None)
            + (self.single_after is not None)
        )

    @property
    def size(self) -> int:
        """How many items the transaction writes."""
        return (
            1
            + (self.before is not None or self.after is not None)
            + (self.split is not None)
            + len(self.put)
            + len(self.drop)
            + (self.single_before is not None)
            + (self.single_after is not None)
            + len(self.also)
        )


class _Recent:
    """The series of the departments read last, each with the calendar version it was
    read at (per process). Every write of a series is in a transaction that moves its
    department's ``calendar_version``, so series read at a version are exactly the series
    at that version: a list that has just read the version (strongly consistent) may use
    them without reading again."""

    def __init__(self, departments: int = 64, series: int = 20_000) -> None:
        self._found: OrderedDict[str, tuple[int, list[Series]]] = OrderedDict()
        self._departments, self._series = departments, series
        self._lock = threading.Lock()

    def get(self, department_id: str, version: int) -> list[Series] | None:
        with self._lock:
            found = self._found.get(department_id)
            if found is None or found[0] != version:
                return None
            self._found.move_to_end(department_id)
            return found[1]

    def put(self, department_id: str, version: int, series: list[Series]) -> None:
        with self._lock:
            self._found[department_id] = (version, series)
            self._found.move_to_end(department_id)
            held = sum(len(s) for _, s in self._found.values())
            while len(self._found) > self._departments or (
                held > self._series and len(self._found) > 1
            ):
                _, (_, dropped) = self._found.popitem(last=False)
                held -= len(dropped)


class SeriesRepository:
    def __init__(self, client: DynamoDBClient, table: str, events: EventRepository) -> None:
        self._client = client
        self.table = table
        self._events = events
        self._recent = _Recent()

    def _key(self, department_id: str, series_id: str) -> dict[str, Any]:
        if not (usable_key(department_id) and usable_key(series_id)):
            raise NotFound("event", series_id)
        return {
            "id": to_value(series_partition(department_id)),
            "department_id": to_value(series_id),
        }

    # -- reads ---------------------------------------------------------------------------

    def all(self, department_id: str, calendar_version: int | None = None) -> list[Series]:
        """Every series of a department: one strongly consistent Query of its partition
        (more pages only past 1 MB). With ``calendar_version`` (just read, strongly
        consistent), series this process read at that version are answered without a read.
        """
        if not usable_key(department_id):
            return []
        if calendar_version is not None:
            known = self._recent.get(department_id, calendar_version)
            if known is not None:
                return known
        params = {
            "TableName": self.table,
            "KeyConditionExpression": "id = :p",
            "ExpressionAttributeValues": {":p": to_value(series_partition(department_id))},
            "ConsistentRead": True,
        }
        with translated_errors("read series"):
            found = [
                series_from_item(item)
                for page in pages(self._client.query, params)
                for item in page.get("Items", [])
            ]
        if calendar_version is not None:
            self._recent.put(department_id, calendar_version, found)
        return found

    def get(self, department_id: str, series_id: str) -> Series:
        found = self.find(department_id, series_id)
        if found is None:
            raise NotFound("event", series_id)
        return found

    def find(self, department_id: str, series_id: str) -> Series | None:
        if not (usable_key(department_id) and usable_key(series_id)):
            return None
        with translated_errors("get series"):
            response = self._client.get_item(
                TableName=self.table, Key=self._key(department_id, series_id), ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else series_from_item(item)

    def find_with_item(
        self, department_id: str, event_id: str, series_id: str
    ) -> tuple[Event | None, Series | None]:
        """The event item ``event_id`` and the series ``series_id``, in one BatchGetItem
        (strongly consistent): how an instance is read."""
        if not (usable_key(department_id) and usable_key(event_id) and usable_key(series_id)):
            return None, None
        keys = [
            {"id": event_id, "department_id": department_id},
            {"id": series_partition(department_id), "department_id": series_id},
        ]
        with translated_errors("get instance"):
            found = BatchIO(self._client).get(self.table, keys)
        event = series = None
        for data in found:
            if str(data["id"]).startswith(SERIES_PARTITION):
                series = series_from_item(to_item(data))
            else:
                event = event_from_plain(data)
        return event, series

    def find_items(
        self, department_id: str, event_ids: Iterable[str], series_ids: Iterable[str]
    ) -> tuple[dict[str, Event], dict[str, Series]]:
        """The event items and series among the ids given that exist, by id: BatchGetItem,
        100 keys a call (strongly consistent)."""
        if not usable_key(department_id):
            return {}, {}
        keys = [
            {"id": ident, "department_id": department_id}
            for ident in dict.fromkeys(event_ids)
            if usable_key(ident)
        ] + [
            {"id": series_partition(department_id), "department_id": ident}
            for ident in dict.fromkeys(series_ids)
            if usable_key(ident)
        ]
        if not keys:
            return {}, {}
        with translated_errors("read changed events"):
            found = BatchIO(self._client).get(self.table, keys)
        events: dict[str, Event] = {}
        every: dict[str, Series] = {}
        for data in found:
            if str(data["id"]).startswith(SERIES_PARTITION):
                series = series_from_item(to_item(data))
                every[series.event.id] = series
            else:
                event = event_from_plain(data)
                events[event.id] = event
        return events, every

    def changed_instances(self, series: Series) -> list[Event]:
        """A series's changed instances (BatchGetItem, strongly consistent)."""
        return self.changed_of([series]).get(series.event.id, [])

    def changed_of(self, every: Sequence[Series]) -> dict[str, list[Event]]:
        """The changed instances of each series, by series id, in calendar order: one
        BatchGetItem per 100 of them (strongly consistent)."""
        keys = [
            {"id": instance_id(s.event.id, day), "department_id": s.event.department_id}
            for s in every
            for day in sorted(s.changed)
        ]
        if not keys:
            return {}
        with translated_errors("read changed instances"):
            found = BatchIO(self._client).get(self.table, keys)
        by_series: dict[str, list[Event]] = {}
        for data in found:
            event = event_from_plain(data)
            by_series.setdefault(event.recurring_event_id or "", []).append(event)
        for events in by_series.values():
            events.sort(key=lambda e: e.sort_key)
        return by_series

    # -- the one write -------------------------------------------------------------------

    def write(self, change: SeriesWrite) -> None:
        """Apply ``change`` in one transaction; ``VersionMoved`` when the series (or the
        single event it replaces) is no longer at the version read, ``Conflict``
        ``too-many-series`` when the department is full."""
        department_id = change.department_id
        items: list[TransactWriteItemTypeDef] = []
        guarded: list[int] = []  # the items whose failed condition means "it moved"
        if change.before is not None or change.after is not None:
            guarded.append(len(items) + 1)
            items.append(self._series_write(change.before, change.after))
        if change.split is not None:
            guarded.append(len(items) + 1)
            items.append(self._series_write(None, change.split))
        if change.single_before is not None:
            guarded.append(len(items) + 1)
            single = change.single_before
            items.append(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {
                            "id": to_value(single.id),
                            "department_id": to_value(department_id),
                        },
                        "ConditionExpression": version_condition(single.version),
                        "ExpressionAttributeNames": {"#version": "version"},
                        "ExpressionAttributeValues": {":expected": to_value(single.version)},
                    }
                }
            )
        for event in (*change.put, *([change.single_after] if change.single_after else [])):
            guarded.append(len(items) + 1)
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(event_record(event)),
                        # Never over a single event that happens to have the same id.
                        "ConditionExpression": "attribute_not_exists(id) OR "
                        "attribute_exists(recurring_event_id)",
                    }
                }
            )
        for ident in change.drop:
            items.append(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": {"id": to_value(ident), "department_id": to_value(department_id)},
                    }
                }
            )
        multi_day = any(
            s is not None and s.event.end_date is not None for s in (change.after, change.split)
        ) or any(e.end_date is not None for e in change.put)
        adding = change.series_delta > 0

        def build(state: CalendarState) -> list[TransactWriteItemTypeDef]:
            if adding and state.series_count + change.series_delta > MAX_SERIES:
                raise Conflict(
                    f"the department already holds {MAX_SERIES} recurring events (series); "
                    "end or delete one first",
                    code="too-many-series",
                )
            touch = self._events.touch_department(
                department_id,
                state,
                change.event_delta,
                multi_day,
                series_delta=change.series_delta,
            )
            return [touch, *items, *change.also]

        def moved(exc: ClientError) -> None:
            if any(cancelled_by(exc, n) for n in guarded):
                raise VersionMoved from exc
            first_also = 1 + len(items)
            if any(cancelled_by(exc, first_also + n) for n in range(len(change.also))):
                raise Conflict(KEY_TAKEN_OVER, code="idempotency-key-in-use") from exc

        self._events.transact("write recurring event", department_id, build, moved, change.changes)

    def _series_write(
        self, before: Series | None, after: Series | None
    ) -> TransactWriteItemTypeDef:
        if after is None:
            assert before is not None  # noqa: S101 - SeriesWrite has one of them
            return {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(before.event.department_id, before.event.id),
                    "ConditionExpression": version_condition(before.event.version),
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {":expected": to_value(before.event.version)},
                }
            }
        put: Any = {"TableName": self.table, "Item": to_item(series_record(after))}
        if before is None:
            put["ConditionExpression"] = "attribute_not_exists(id)"
        else:
            put["ConditionExpression"] = version_condition(before.event.version)
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":expected": to_value(before.event.version)}
        return {"Put": put}
