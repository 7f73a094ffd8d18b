"""The ``events`` table: calendar events keyed by (id, department_id).

Every event write is one transaction with an update of its department's calendar item
(``#calendar#<department>`` in this table, made and deleted with the department, in no
index), which carries the department's strongly consistent ``event_count`` and its
``calendar_version``. The department's own item, which ``name-index`` holds whole, is not
written, so an event write writes no index entry but its event's:

- the calendar item must exist for the event to be written (a condition on it, not on an
  index), and it goes only with its department, so no event outlives its department under
  any interleaving;
- ``event_count`` lets a department be deleted only when it holds no event, without
  trusting an eventually consistent index;
- ``calendar_version`` changes with every event change: it is the ETag of every list of
  the department, answered with one small read and no Query.

Departments written before counting existed carry no ``event_count``; their events are
written without touching a count (the condition says so), and the migration counts them.
Departments written before calendar items (or by other programs) keep their counters on
their own item until their first event write moves them, in that write's transaction.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Event
from backend.errors import Conflict, NotFound, StorageUnavailable
from backend.fields import EVENT, MAX_EVENT_DAYS
from backend.storage.batch import BatchIO
from backend.storage.bookkeeping import (
    KEY_TAKEN_OVER,
    calendar_key,
    is_bookkeeping_id,
    utc_datetime,
)
from backend.storage.changes import Change, ChangeLog
from backend.storage.dynamo import (
    busy,
    cancelled_by,
    error_code,
    from_item,
    is_contention,
    pages,
    to_item,
    to_value,
    translated_errors,
)
from backend.storage.schema import DEPARTMENT_DATE_INDEX
from backend.storage.versioning import (
    VersionMoved,
    usable_key,
    version_condition,
    versioned_update,
    write_attempts,
)
from backend.timetext import parse_start_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

SortKey = tuple[str, str, str, str]

# Extra rows read past a page so that the page's last date is usually complete in one
# Query: DynamoDB orders only by date, and the rest of the order is applied here.
_READ_AHEAD = 32
# The most index items one page of a list reads (a few Query pages, about 0.5 MB and 60
# RCU at most), whatever the table holds: a window or search that reads this much without
# filling its page answers what it has with a cursor to go on from, as Google's API does.
READ_BUDGET = 1000
# The most events one transaction deletes: DynamoDB's 100 items, less the department's
# item and the change record.
MAX_REMOVE = 98
# The most events one batched write (an import's) changes: the same 100 items.
MAX_BATCH = 98
# How far a restore moves each calendar's version (more writes than any calendar makes
# between a backup and its restore).
HISTORY_FENCE = 1_000_000
# How long after a write an index read may still miss it (DynamoDB's GSIs lag by well
# under a second; this is far past that): until then, lists and feeds do not answer with
# an ETag that only the department's item backs, and a full sync's token reaches back.
INDEX_SETTLE = timedelta(seconds=60)
# How many index pages (of READ_BUDGET items) learning whether a department written by
# other programs has multi-day events reads at most, once (EventRepository.learned).
_LEARN_PAGES = 10
# Why a conditional write was refused: another write came first.
_REFUSED = frozenset(
    {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class BatchMoved(Exception):
    """Some events of a batch were not as read: nothing of the batch was written."""

    def __init__(self, event_ids: list[str]) -> None:
        super().__init__(f"{len(event_ids)} events changed meanwhile")
        self.event_ids = event_ids


@dataclass(frozen=True)
class EventBatch:
    """Event changes of one department written in one transaction (``write_batch``):
    new events, (current, updated) pairs, and events to delete, each at its version."""

    creates: Sequence[Event] = ()
    updates: Sequence[tuple[Event, Event]] = ()
    deletes: Sequence[Event] = ()

    @property
    def size(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


@dataclass(frozen=True)
class EventPage:
    """One page of a list: its events, and where the next page starts (None: the end).

    ``after`` is the last event's position, or, when the page ended on the read budget,
    the start of the first date not yet read through (the page may then be short, even
    empty)."""

    events: list[Event]
    after: SortKey | None


@dataclass(frozen=True)
class DateWindow:
    """An inclusive range of ``YYYY-MM-DD`` dates; an open end is None."""

    start: str | None = None
    end: str | None = None

    @property
    def empty(self) -> bool:
        return self.start is not None and self.end is not None and self.start > self.end

    def narrowed(self, other: DateWindow) -> DateWindow:
        """The dates in both windows."""
        starts = [d for d in (self.start, other.start) if d is not None]
        ends = [d for d in (self.end, other.end) if d is not None]
        return DateWindow(max(starts) if starts else None, min(ends) if ends else None)


@dataclass(frozen=True)
class CalendarState:
    """What a department's calendar item says of its events (one strongly consistent read)."""

    counted: bool  # written since counting began (or counted by the migration)
    event_count: int
    calendar_version: int
    # Whether an event spanning days was ever written: only then must a list reach back
    # MAX_EVENT_DAYS before its window for events that started earlier. Unknown (and so
    # True) for a department other programs wrote, until ``EventRepository.learned``.
    multi_day: bool = True
    # How many recurring events (series) it holds: only then does a list read them.
    series_count: int = 0
    # When its calendar last changed (None: not since change times were kept), and the
    # version from which its change log is complete.
    changed_at: datetime | None = None
    history_from: int = 0
    # Where the counters live: the department's calendar item (``#calendar#<department>``
    # in the events table, in no index), or, for departments written before it existed or
    # by other programs, the department's own item until their first write moves them.
    on_calendar_item: bool = True
    # Whether ``multi_day`` was written by the product (or its count), not assumed.
    multi_day_known: bool = True

    @property
    def learned(self) -> bool:
        """Whether lists of this department cost what any other's do: its state is on its
        calendar item and says whether it has multi-day events."""
        return self.on_calendar_item and self.multi_day_known

    def settled(self, now: datetime) -> bool:
        """Whether the last change is older than ``INDEX_SETTLE``: an index read now shows
        every change up to ``calendar_version``."""
        return self.changed_at is None or now - self.changed_at >= INDEX_SETTLE


def event_from_item(item: Mapping[str, Any]) -> Event:
    """An event from its item, by the declarations of ``fields.EVENT``."""
    return event_from_plain(from_item(item))


def event_from_plain(data: Mapping[str, Any]) -> Event:
    """An event from its item's plain attributes.

    Items written by older code or other programs may lack derived attributes: the
    creation time falls back to the update time, and ``start_time`` is read from the text.
    """
    values = EVENT.from_attributes(data)
    created = values["created_at"] or values["updated_at"]
    values["created_at"] = created
    values["updated_at"] = values["updated_at"] or created
    if not values["start_time"]:
        values["start_time"] = parse_start_time(values["time"])
    return Event(**values)


def event_record(event: Event) -> dict[str, Any]:
    """The item attributes of an event (``None`` values are left off the item)."""
    return EVENT.to_attributes(event)


class EventRepository:
    def __init__(self, client: DynamoDBClient, table: str, departments_table: str) -> None:
        self.changes = ChangeLog(client, table)
        self._client = client
        self.table = table
        self._departments = departments_table

    def _versioned_delete(self, event: Event) -> Any:
        """A transaction's delete of ``event``, provided it is still at its version."""
        return {
            "TableName": self.table,
            "Key": self._key(event.department_id, event.id),
            "ConditionExpression": version_condition(event.version),
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": to_value(event.version)},
        }

    def _key(self, department_id: str, event_id: str) -> dict[str, Any]:
        if not (usable_key(event_id) and usable_key(department_id)) or is_bookkeeping_id(
            department_id
        ):
            raise NotFound("event", event_id)
        return {"id": to_value(event_id), "department_id": to_value(department_id)}

    def get(self, department_id: str, event_id: str) -> Event:
        with translated_errors("get event"):
            response = self._client.get_item(
                TableName=self.table, Key=self._key(department_id, event_id), ConsistentRead=True
            )
        if "Item" not in response:
            raise NotFound("event", event_id)
        return event_from_item(response["Item"])

    def find(self, department_id: str, event_id: str) -> Event | None:
        try:
            return self.get(department_id, event_id)
        except NotFound:
            return None

    def find_many(self, department_id: str, event_ids: Iterable[str]) -> dict[str, Event]:
        """The events among ``event_ids`` that exist, by id: BatchGetItem, 100 keys a call
        (strongly consistent), for an import that must know which of its events exist."""
        keys = [
            {"id": ident, "department_id": department_id}
            for ident in dict.fromkeys(event_ids)
            if usable_key(ident) and usable_key(department_id)
        ]
        if not keys or is_bookkeeping_id(department_id):
            return {}
        with translated_errors("read events"):
            found = BatchIO(self._client).get(self.table, keys)
        return {str(data["id"]): event_from_plain(data) for data in found}

    # -- the department's calendar item --------------------------------------------------

    def calendar_state(self, department_id: str) -> CalendarState:
        """The department's count and calendar version, or ``NotFound``: one strongly
        consistent GetItem of its calendar item (one more of the department's item for a
        department that has none yet)."""
        if not usable_key(department_id) or is_bookkeeping_id(department_id):
            raise NotFound("department", department_id)
        with translated_errors("read department calendar"):
            response = self._client.get_item(
                TableName=self.table,
                Key=to_item(calendar_key(department_id)),
                ConsistentRead=True,
                ProjectionExpression=_STATE_ATTRIBUTES,
            )
        on_calendar = "Item" in response
        if not on_calendar:
            with translated_errors("read department calendar"):
                response = self._client.get_item(
                    TableName=self._departments,
                    Key={"id": to_value(department_id)},
                    ConsistentRead=True,
                    ProjectionExpression=_STATE_ATTRIBUTES,
                )
        item = response.get("Item")
        if item is None:
            raise NotFound("department", department_id)
        data = from_item(item)
        return CalendarState(
            counted="event_count" in data,
            event_count=int(data.get("event_count", 0)),
            calendar_version=int(data.get("calendar_version", 0)),
            # Departments written before the flag existed may hold multi-day events.
            multi_day=bool(data.get("multi_day", "event_count" not in data)),
            series_count=int(data.get("series_count", 0)),
            changed_at=_instant(data.get("changed_at")),
            history_from=int(data.get("history_from", 0)),
            on_calendar_item=on_calendar,
            multi_day_known="multi_day" in data or "event_count" in data,
        )

    def learned(self, department_id: str, state: CalendarState) -> CalendarState:
        """``state``, with what a department written by other programs lacks learned once
        and kept, so that its lists cost what any other's do from then on.

        Such a department has no calendar item (one more GetItem on every read) and no
        word on multi-day events (every list reads 31 days more). Once the index has
        settled since its last change, one ``Select=COUNT`` Query of its events with an
        ``end_date`` (at most ``_LEARN_PAGES`` pages; past that, it is taken to have some)
        says whether it has multi-day events, and the calendar item is written with that
        and its counters, at the version read: conditioned on nothing having changed since
        (an event write moves the version; a concurrent learner's write is refused by
        ours, or ours by its). A refused or failed write changes nothing: ``state`` as read
        is still true, and the next read learns again.
        """
        if state.learned or not state.settled(utc_datetime()):
            return state
        try:
            multi_day = state.multi_day
            if not state.multi_day_known:
                multi_day = self._has_multi_day(department_id)
            learned = replace(
                state, multi_day=multi_day, multi_day_known=True, on_calendar_item=True
            )
            item = calendar_key(department_id) | {
                "calendar_version": state.calendar_version,
                "multi_day": multi_day,
                "series_count": state.series_count,
                "history_from": state.history_from,
            }
            if state.counted:
                item["event_count"] = state.event_count
            if state.changed_at is not None:
                item["changed_at"] = state.changed_at.isoformat(timespec="milliseconds")
            with translated_errors("learn department calendar"):
                if state.on_calendar_item:
                    condition, values = _state_condition(state, {})
                    self._client.update_item(
                        TableName=self.table,
                        Key=to_item(calendar_key(department_id)),
                        UpdateExpression="SET multi_day = :multi",
                        ConditionExpression=f"attribute_exists(id) AND {condition}",
                        ExpressionAttributeNames={
                            "#count": "event_count",
                            "#version": "calendar_version",
                        },
                        ExpressionAttributeValues={
                            ":multi": to_value(multi_day),
                            ":seen": values[":seen"],
                        },
                    )
                else:
                    self._client.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": self.table,
                                    "Item": to_item(item),
                                    "ConditionExpression": "attribute_not_exists(id)",
                                }
                            },
                            self._release_department_counters(department_id, state),
                        ]
                    )
        except ClientError as exc:
            if error_code(exc) not in _REFUSED:
                # Learning only saves later reads; it never fails the read it serves.
                logger.warning("could not keep the calendar state of %s: %s", department_id, exc)
            return state
        except StorageUnavailable:
            return state  # throttled or unreachable: learn another time
        return learned

    def _has_multi_day(self, department_id: str) -> bool:
        """Whether the department has an event with an ``end_date``, by the index."""
        params = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": "department_id = :d",
            "FilterExpression": "attribute_exists(end_date)",
            "ExpressionAttributeValues": {":d": to_value(department_id)},
            "Select": "COUNT",
            "Limit": READ_BUDGET,
        }
        with translated_errors("learn department calendar"):
            for number, response in enumerate(pages(self._client.query, params), 1):
                if response.get("Count", 0):
                    return True
                if number >= _LEARN_PAGES and "LastEvaluatedKey" in response:
                    return True  # too many to read through in a request: assume some
        return False

    def touch_department(
        self,
        department_id: str,
        state: CalendarState,
        delta: int,
        multi_day: bool = False,
        *,
        series_delta: int = 0,
    ) -> TransactWriteItemTypeDef:
        """The calendar half of an event write: the department's calendar item must exist
        (it goes with its department), still be at the version read (``state``), and its
        version and counters move. For a department whose counters are still on its own
        item, the calendar item is made here from them (``transact`` adds the department's
        item, which must exist and gives its counters up).

        The condition on ``calendar_version`` orders a department's writes, one version
        each, so its change log has one record per version and no gap. The condition on
        ``event_count`` keeps a count exact: an uncounted department's count is never
        started by a write that cannot know the events before it. The calendar item is in
        no index: an event write writes no index entry but its event's.
        """
        now = utc_datetime().isoformat(timespec="milliseconds")
        if not state.on_calendar_item:
            return {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(
                        _moved_calendar(
                            department_id, state, _Moves(now, delta, series_delta, multi_day)
                        )
                    ),
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
        names = {"#count": "event_count", "#version": "calendar_version"}
        values: dict[str, Any] = {":now": to_value(now)}
        condition, values = _state_condition(state, values)
        condition = f"attribute_exists(id) AND {condition}"
        sets = ["#version = :next", "changed_at = :now"]
        adds = []
        if multi_day:
            sets.append("multi_day = :yes")
            values[":yes"] = to_value(True)
        if state.counted and delta:
            adds.append("#count :delta")
            values[":delta"] = to_value(delta)
        if series_delta:
            adds.append("series_count :series")
            values[":series"] = to_value(series_delta)
        expression = "SET " + ", ".join(sets)
        if adds:
            expression += " ADD " + ", ".join(adds)
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(calendar_key(department_id)),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _release_department_counters(
        self, department_id: str, state: CalendarState
    ) -> TransactWriteItemTypeDef:
        """The department's item, in the write that moves its counters to the calendar
        item: it must exist and be at the state read; its counters go."""
        condition, values = _state_condition(state, {})
        return {
            "Update": {
                "TableName": self._departments,
                "Key": {"id": to_value(department_id)},
                "UpdateExpression": "REMOVE #count, #version, multi_day, series_count, "
                "changed_at, history_from",
                "ConditionExpression": f"attribute_exists(id) AND {condition}",
                "ExpressionAttributeNames": {
                    "#count": "event_count",
                    "#version": "calendar_version",
                },
                "ExpressionAttributeValues": {k: v for k, v in values.items() if k != ":next"},
            }
        }

    def transact(
        self,
        what: str,
        department_id: str,
        build: Callable[[CalendarState], list[TransactWriteItemTypeDef]],
        on_condition: Callable[[ClientError], None],
        changes: Sequence[Change],
    ) -> None:
        """Run a transaction that includes the department's calendar item (always item 0, from
        ``touch_department``) and, last, the change log's record of ``changes``.

        Retries what no condition caused (conflicting transactions, throttling) with
        jittered backoff; a failed department condition is re-read: a department that is
        gone is ``NotFound``, one that another write moved on or whose counting changed
        is simply tried again at its new version.
        """
        for _ in write_attempts():
            state = self.calendar_state(department_id)
            if not state.learned:
                state = self.learned(department_id, state)
            items = build(state)
            items.append(
                self.changes.put_request(department_id, state.calendar_version + 1, changes)
            )
            if not state.on_calendar_item:
                items.append(self._release_department_counters(department_id, state))
            try:
                with translated_errors(what):
                    # A token per attempt: botocore's own retries of it (a lost response)
                    # are answered without applying it twice, while an attempt DynamoDB
                    # cancelled is retried here as a new request.
                    self._client.transact_write_items(
                        TransactItems=items, ClientRequestToken=str(uuid.uuid4())
                    )
            except ClientError as exc:
                if is_contention(exc):
                    continue
                if cancelled_by(exc, 0) or (
                    not state.on_calendar_item and cancelled_by(exc, len(items) - 1)
                ):
                    continue  # the next calendar_state() says whether it still exists
                on_condition(exc)
                raise
            return
        raise busy(what)

    # -- writes --------------------------------------------------------------------------

    def create(self, event: Event, also: Sequence[TransactWriteItemTypeDef] = ()) -> Event:
        """Write a new event (its id must be free) and count it on its department, with
        ``also`` (an idempotency key's answer) in the same transaction."""
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(event_record(event)),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }

        def refuse(exc: ClientError) -> None:
            if cancelled_by(exc, 1):
                if self.find(event.department_id, event.id) == event:
                    raise _AlreadyWritten from exc  # ours: a retry of a lost response
                raise Conflict(f"event {event.id!r} already exists", code="busy") from exc
            if any(cancelled_by(exc, 2 + n) for n in range(len(also))):
                raise Conflict(KEY_TAKEN_OVER, code="idempotency-key-in-use") from exc

        # _AlreadyWritten: the first attempt was applied (DynamoDB's token would say so).
        with contextlib.suppress(_AlreadyWritten):
            self.transact(
                "create event",
                event.department_id,
                lambda state: [
                    self.touch_department(
                        event.department_id, state, 1, event.end_date is not None
                    ),
                    put,
                    *also,
                ],
                refuse,
                [Change.of(event, "created")],
            )
        return event

    def replace(self, current: Event, updated: Event) -> None:
        """Write ``updated`` over ``current``, provided it is still at its version.

        If the item is found already holding ``updated`` (our own write, whose response
        was lost and retried), that is success.
        """
        update = _update_request(
            self.table, self._key(current.department_id, current.id), current.version, updated
        )

        def moved(exc: ClientError) -> None:
            if cancelled_by(exc, 1):
                if self.find(current.department_id, current.id) == updated:
                    return
                raise VersionMoved from exc

        try:
            self.transact(
                "update event",
                current.department_id,
                lambda state: [
                    self.touch_department(
                        current.department_id, state, 0, updated.end_date is not None
                    ),
                    {"Update": update},
                ],
                moved,
                [Change.of(updated, "updated")],
            )
        except ClientError:
            if self.find(current.department_id, current.id) == updated:
                return
            raise

    def remove(self, events: list[Event]) -> None:
        """Delete ``events`` of one department (at most ``MAX_REMOVE``) at their versions,
        uncounting them in the same transaction; ``VersionMoved`` when one of them changed
        or went."""
        department_id = events[0].department_id
        deletes: list[TransactWriteItemTypeDef] = [
            {"Delete": self._versioned_delete(event)} for event in events
        ]

        def moved(exc: ClientError) -> None:
            if any(cancelled_by(exc, n + 1) for n in range(len(events))):
                raise VersionMoved from exc

        self.transact(
            "delete events",
            department_id,
            lambda state: [
                self.touch_department(department_id, state, -len(events)),
                *deletes,
            ],
            moved,
            [Change.of(event, "deleted") for event in events],
        )

    def write_batch(self, department_id: str, batch: EventBatch) -> None:
        """Write up to ``MAX_BATCH`` event changes of one department in one transaction:
        the calendar item (at the version read, counting the events made and deleted), each
        create (its id must be free), update and delete (each at its version read), and one
        change record naming them all. ``BatchMoved`` names the events whose condition
        failed (changed, made or deleted by another writer, or by this very write whose
        response was lost): nothing of the batch was written then."""
        if not batch.size:
            return
        if batch.size > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} events")
        writes: list[TransactWriteItemTypeDef] = []
        ids: list[str] = []
        changes: list[Change] = []
        for event in batch.creates:
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(event_record(event)),
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            )
            ids.append(event.id)
            changes.append(Change.of(event, "created"))
        for current, updated in batch.updates:
            key = self._key(department_id, current.id)
            writes.append({"Update": _update_request(self.table, key, current.version, updated)})
            ids.append(current.id)
            changes.append(Change.of(updated, "updated"))
        for event in batch.deletes:
            writes.append({"Delete": self._versioned_delete(event)})
            ids.append(event.id)
            changes.append(Change.of(event, "deleted"))
        delta = len(batch.creates) - len(batch.deletes)
        multi_day = any(e.end_date is not None for e in batch.creates) or any(
            u.end_date is not None for _, u in batch.updates
        )

        def moved(exc: ClientError) -> None:
            failed = [ident for n, ident in enumerate(ids) if cancelled_by(exc, n + 1)]
            if failed:
                raise BatchMoved(failed) from exc

        self.transact(
            "write events",
            department_id,
            lambda state: [
                self.touch_department(department_id, state, delta, multi_day),
                *writes,
            ],
            moved,
            changes,
        )

    # -- reads ---------------------------------------------------------------------------

    def list_page(
        self,
        department_id: str,
        window: DateWindow,
        after: SortKey | None,
        limit: int,
        matches: Callable[[Event], bool] | None = None,
        *,
        reach_back: bool = True,
        budget: int = READ_BUDGET,
    ) -> EventPage:
        """One page of a department's events in calendar order, and where the next starts.

        A single Query on ``department-date-index`` (never a Scan) reads the window in
        date order, reaching back ``MAX_EVENT_DAYS`` before it (when ``reach_back``: the
        department has multi-day events) for those that started earlier and overlap it;
        the finer order (start time, title) and ``matches`` (a search) are applied here.
        A page ends only where a date is complete, so it reads a little ahead and
        carries on until the date ends; past ``budget`` items read it ends early, at the
        last date it read through.
        """
        if not usable_key(department_id) or window.empty:
            return EventPage([], None)
        reach = window.start
        if reach is not None and reach_back:
            first = date.fromisoformat(reach)
            earliest = date.fromordinal(max(first.toordinal() - MAX_EVENT_DAYS, 1))
            reach = earliest.isoformat()
        if after is not None and (reach is None or after[0] > reach):
            reach = after[0]
        condition = "department_id = :d"
        values: dict[str, Any] = {":d": to_value(department_id)}
        if reach is not None and window.end is not None:
            condition += " AND event_date BETWEEN :from AND :to"
            values |= {":from": to_value(reach), ":to": to_value(window.end)}
        elif reach is not None:
            condition += " AND event_date >= :from"
            values[":from"] = to_value(reach)
        elif window.end is not None:
            condition += " AND event_date <= :to"
            values[":to"] = to_value(window.end)
        params = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit + _READ_AHEAD,
        }

        def wanted(event: Event) -> bool:
            return (
                (after is None or event.sort_key > after)
                and (window.start is None or event.last_date >= window.start)
                and (matches is None or matches(event))
            )

        rows: list[Event] = []
        read, first_date = 0, None
        with translated_errors("list events"):
            for response in pages(self._client.query, params, growing_to=budget):
                items = response.get("Items", [])
                read += len(items)
                rows.extend(event for event in map(event_from_item, items) if wanted(event))
                if "LastEvaluatedKey" not in response:
                    break
                # More follow, so only dates before the last one read are known complete.
                last_date = str(from_item(items[-1])["event_date"]) if items else ""
                first_date = first_date or (str(from_item(items[0])["event_date"]) if items else "")
                complete = sorted(
                    (e for e in rows if e.event_date < last_date), key=lambda e: e.sort_key
                )
                if len(complete) >= limit:
                    return EventPage(complete[:limit], complete[limit - 1].sort_key)
                if read >= budget and last_date > first_date:
                    # Every date before last_date is read through: go on from there.
                    return EventPage(complete, (last_date, "", "", ""))
        rows.sort(key=lambda e: e.sort_key)
        page = rows[:limit]
        return EventPage(page, page[-1].sort_key if len(rows) > limit else None)

    def all_in(
        self,
        department_id: str,
        window: DateWindow,
        page_size: int = 200,
        *,
        reach_back: bool = True,
    ) -> Iterator[Event]:
        """Every event of the department overlapping ``window``, in calendar order."""
        after: SortKey | None = None
        while True:
            page = self.list_page(department_id, window, after, page_size, reach_back=reach_back)
            yield from page.events
            if page.after is None:
                return
            after = page.after

    def some_of(self, department_id: str, limit: int) -> list[Event]:
        """Up to ``limit`` events of a department, through the index (it may lag)."""
        with translated_errors("list events to delete"):
            response = self._client.query(
                TableName=self.table,
                IndexName=DEPARTMENT_DATE_INDEX,
                KeyConditionExpression="department_id = :d",
                ExpressionAttributeValues={":d": to_value(department_id)},
                Limit=limit,
            )
        return [event_from_item(i) for i in response.get("Items", [])][:limit]

    def count_by_department(self, department_ids: set[str]) -> tuple[Counter[str], set[str]]:
        """How many events each department has, and which have multi-day events: a strongly
        consistent Scan (billed for the whole table; for the migration's one-off count,
        never for a request)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "ProjectionExpression": "id, department_id, end_date",
        }
        if len(department_ids) == 1:
            params["FilterExpression"] = "department_id = :d"
            params["ExpressionAttributeValues"] = {":d": to_value(next(iter(department_ids)))}
        counts: Counter[str] = Counter(dict.fromkeys(department_ids, 0))
        multi_day: set[str] = set()
        with translated_errors("count events"):
            for page in pages(self._client.scan, params):
                for item in page.get("Items", []):
                    if is_bookkeeping_id(str(item["id"].get("S", ""))):
                        continue  # series, change records: not events
                    department = str(item["department_id"].get("S", ""))
                    if department in department_ids:
                        counts[department] += 1
                        if "end_date" in item:
                            multi_day.add(department)
        return counts, multi_day

    def set_count(
        self, department_id: str, count: int, calendar_version: int, multi_day: bool
    ) -> bool:
        """Write a department's count unless its calendar changed since ``calendar_version``
        (then False); the calendar's version moves on, as the events it counts arrived.

        Events written without change records (the migration's) come before
        ``history_from``, which moves to the new version: a sync token from before them is
        refused. A department whose counters are still on its own item gets its calendar
        item here, in one transaction with its item (which must exist, at that version).
        """
        try:
            state = self.calendar_state(department_id)
        except NotFound:
            return False
        if state.calendar_version != calendar_version:
            return False
        now = utc_datetime().isoformat(timespec="milliseconds")
        counted = replace(state, counted=True, event_count=count, multi_day=multi_day)
        calendar = _moved_calendar(department_id, counted, _Moves(now=now))
        calendar["history_from"] = calendar["calendar_version"]
        write: TransactWriteItemTypeDef
        if state.on_calendar_item:
            write = {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(calendar | {"series_count": state.series_count}),
                    "ConditionExpression": "attribute_exists(id) AND #version = :seen",
                    "ExpressionAttributeNames": {"#version": "calendar_version"},
                    "ExpressionAttributeValues": {":seen": to_value(calendar_version)},
                }
            }
            items = [write]
        else:
            write = {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item(calendar),
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
            items = [write, self._release_department_counters(department_id, state)]
        try:
            with translated_errors("set event count"):
                self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if is_contention(exc) or error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    def fence_history(self, department_id: str) -> None:
        """Move the department's calendar version ``HISTORY_FENCE`` ahead and start its
        history there: after a restore, versions written before it could come again, so
        every sync token issued before is refused (410) and no webhook delivery id repeats.
        """
        state = self.calendar_state(department_id)
        table, key = self.table, to_item(calendar_key(department_id))
        if not state.on_calendar_item:
            table, key = self._departments, {"id": to_value(department_id)}
        with translated_errors("fence calendar history"):
            self._client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET calendar_version = if_not_exists(calendar_version, :zero)"
                " + :jump, history_from = if_not_exists(calendar_version, :zero) + :jump, "
                "changed_at = :now",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues={
                    ":zero": to_value(0),
                    ":jump": to_value(HISTORY_FENCE),
                    ":now": to_value(utc_datetime().isoformat(timespec="milliseconds")),
                },
            )

    def count_on_date(self, department_id: str, day: str) -> int:
        """How many events the department has on ``day``: one ``Select=COUNT`` Query of
        ``department-date-index`` (at most one page: a date holds at most 200 events).

        The index is eventually consistent: under concurrent writers it may not show the
        newest few events yet (see ARCHITECTURE.md, "Where a rule reads an index").
        """
        if not usable_key(department_id):
            return 0
        with translated_errors("count the date's events"):
            response = self._client.query(
                TableName=self.table,
                IndexName=DEPARTMENT_DATE_INDEX,
                KeyConditionExpression="department_id = :d AND event_date = :day",
                ExpressionAttributeValues={":d": to_value(department_id), ":day": to_value(day)},
                Select="COUNT",
            )
        return int(response.get("Count", 0))

    def has_any(self, department_id: str) -> bool:
        return bool(self.some_of(department_id, 1))


class _AlreadyWritten(Exception):
    """The item a create found in its way is the one it was writing."""


def _update_request(table: str, key: dict[str, Any], version: int, updated: Event) -> Any:
    record = event_record(updated)
    return versioned_update(table, key, version, record, keys=("id", "department_id"))


def _instant(value: Any) -> datetime | None:
    """A stored ISO 8601 time, or None when absent or unreadable (written by others)."""
    try:
        return datetime.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


_STATE_ATTRIBUTES = (
    "id, event_count, calendar_version, multi_day, series_count, changed_at, history_from"
)


def _state_condition(state: CalendarState, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """That an item holding a department's counters is at ``state``: its version, and
    counted or not as read (names ``#count`` and ``#version``)."""
    values = values | {
        ":seen": to_value(state.calendar_version),
        ":next": to_value(state.calendar_version + 1),
    }
    version = "#version = :seen"
    if state.calendar_version == 0:
        version = f"(attribute_not_exists(#version) OR {version})"
    counted = "attribute_exists(#count)" if state.counted else "attribute_not_exists(#count)"
    return f"{counted} AND {version}", values


@dataclass(frozen=True)
class _Moves:
    """What a write does to a calendar's counters."""

    now: str
    delta: int = 0
    series_delta: int = 0
    multi_day: bool = False


def _moved_calendar(department_id: str, state: CalendarState, moves: _Moves) -> dict[str, Any]:
    """The calendar item made from counters read on the department's item, after a write
    that ``moves`` them."""
    item: dict[str, Any] = calendar_key(department_id) | {
        "calendar_version": state.calendar_version + 1,
        "multi_day": state.multi_day or moves.multi_day,
        "series_count": state.series_count + moves.series_delta,
        "changed_at": moves.now,
        "history_from": state.history_from,
    }
    if state.counted:
        item["event_count"] = state.event_count + moves.delta
    return item
