"""The ``events`` table: calendar events keyed by (id, department_id)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Event, utc_now
from backend.errors import Conflict, NotFound, PreconditionFailed
from backend.storage.dynamo import (
    error_code,
    from_item,
    pages,
    to_item,
    to_value,
    translated_errors,
)
from backend.storage.schema import DEPARTMENT_DATE_INDEX
from backend.storage.versioning import IfMatch, usable_key, write_attempts
from backend.timetext import parse_start_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

SortKey = tuple[str, str, str, str]

# Extra rows read past a page so that the page's last date is usually complete in one
# Query: DynamoDB orders only by date, and the rest of the order is applied here.
_READ_AHEAD = 32
_BATCH_WRITE_MAX = 25


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


def event_from_item(item: Mapping[str, Any]) -> Event:
    data = from_item(item)
    time_text = None if data.get("time") is None else str(data["time"])
    created = str(data.get("created_at") or data.get("updated_at") or "")
    return Event(
        id=str(data["id"]),
        department_id=str(data["department_id"]),
        event_date=str(data.get("event_date", "")),
        title=str(data.get("title", "")),
        time=time_text,
        # Items written before start_time existed get it from their text on the way out.
        start_time=str(data["start_time"])
        if data.get("start_time")
        else parse_start_time(time_text),
        description=None if data.get("description") is None else str(data["description"]),
        created_at=created,
        updated_at=str(data.get("updated_at") or created),
        version=int(data.get("version", 1)),
    )


def event_record(event: Event) -> dict[str, Any]:
    """The item attributes of an event (``None`` fields are left off the item)."""
    return {
        "id": event.id,
        "department_id": event.department_id,
        "event_date": event.event_date,
        "title": event.title,
        "time": event.time,
        "start_time": event.start_time,
        "description": event.description,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
        "version": event.version,
    }


class EventRepository:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    def _key(self, department_id: str, event_id: str) -> dict[str, Any]:
        if not (usable_key(event_id) and usable_key(department_id)):
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

    def create(
        self,
        department_id: str,
        *,
        event_date: str,
        title: str,
        time_text: str | None,
        description: str | None,
    ) -> Event:
        now = utc_now()
        event = Event(
            id=str(uuid.uuid4()),
            department_id=department_id,
            event_date=event_date,
            title=title,
            time=time_text,
            start_time=parse_start_time(time_text),
            description=description,
            created_at=now,
            updated_at=now,
            version=1,
        )
        # No attribute_not_exists condition: the id is a fresh uuid4 (a collision is a
        # 2**-122 event), and an unconditional put is the cheapest write DynamoDB has.
        with translated_errors("create event"):
            self._client.put_item(TableName=self.table, Item=to_item(event_record(event)))
        return event

    def update(
        self,
        department_id: str,
        event_id: str,
        changes: Mapping[str, str | None],
        if_match: IfMatch | None,
    ) -> Event:
        """Apply ``changes`` (event_date, title, time, description) under ``if_match``."""
        for _ in write_attempts():
            current = self.get(department_id, event_id)
            if if_match is not None and not if_match.allows(current.version):
                raise PreconditionFailed(current.version)
            merged = event_record(current) | dict(changes)
            merged["start_time"] = parse_start_time(merged["time"])
            if all(merged[k] == v for k, v in event_record(current).items()):
                return current
            merged["updated_at"] = utc_now()
            merged["version"] = current.version + 1
            try:
                with translated_errors("update event"):
                    response = self._client.update_item(
                        **_update_request(
                            self.table, self._key(department_id, event_id), current.version, merged
                        ),
                        ReturnValues="ALL_NEW",
                    )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                if if_match is not None:
                    raise PreconditionFailed(self.get(department_id, event_id).version) from None
                continue
            return event_from_item(response["Attributes"])
        raise Conflict("the event changed too often to apply this update", code="busy")

    def delete(self, department_id: str, event_id: str, if_match: IfMatch | None) -> None:
        if if_match is not None and if_match.versions == frozenset():
            # No tag in If-Match can be a version: nothing matches, but 404 still wins.
            raise PreconditionFailed(self.get(department_id, event_id).version)
        condition = "attribute_exists(id)"
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if if_match is not None and if_match.versions is not None:
            placeholders = []
            for n, version in enumerate(sorted(if_match.versions)):
                values[f":v{n}"] = to_value(version)
                placeholders.append(f":v{n}")
            condition += f" AND #version IN ({', '.join(placeholders)})"
            names["#version"] = "version"
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(department_id, event_id),
            "ConditionExpression": condition,
            # On failure DynamoDB hands back the item, which tells 404 from 412 without
            # a second read.
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            params["ExpressionAttributeNames"] = names
            params["ExpressionAttributeValues"] = values
        try:
            with translated_errors("delete event"):
                self._client.delete_item(**params)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            if not old:
                raise NotFound("event", event_id) from None
            raise PreconditionFailed(event_from_item(old).version) from None

    def list_page(
        self,
        department_id: str,
        window: DateWindow,
        after: SortKey | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        """One page of a department's events in calendar order, and whether more follow.

        A single Query on ``department-date-index`` (never a Scan) reads the window in
        date order; the finer order (start time, title) is applied here. A page ends
        only where a date is complete, so it reads a little ahead and, in the rare case
        that one date holds more events than that, carries on until the date ends.
        """
        if not usable_key(department_id) or window.empty:
            return [], False
        start = window.start
        if after is not None and (start is None or after[0] > start):
            start = after[0]
        condition = "department_id = :d"
        values: dict[str, Any] = {":d": to_value(department_id)}
        if start is not None and window.end is not None:
            condition += " AND event_date BETWEEN :from AND :to"
            values |= {":from": to_value(start), ":to": to_value(window.end)}
        elif start is not None:
            condition += " AND event_date >= :from"
            values[":from"] = to_value(start)
        elif window.end is not None:
            condition += " AND event_date <= :to"
            values[":to"] = to_value(window.end)
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit + _READ_AHEAD,
        }
        rows: list[Event] = []
        with translated_errors("list events"):
            for response in pages(self._client.query, params):
                items = response.get("Items", [])
                rows.extend(
                    event
                    for event in map(event_from_item, items)
                    if after is None or event.sort_key > after
                )
                if "LastEvaluatedKey" not in response:
                    break
                # More follow, so only dates before the last one read are known complete.
                last_date = from_item(items[-1])["event_date"] if items else ""
                complete = sorted(
                    (e for e in rows if e.event_date < last_date), key=lambda e: e.sort_key
                )
                if len(complete) >= limit:
                    return complete[:limit], True
        rows.sort(key=lambda e: e.sort_key)
        return rows[:limit], len(rows) > limit

    def has_any(self, department_id: str) -> bool:
        with translated_errors("check events"):
            response = self._client.query(
                TableName=self.table,
                IndexName=DEPARTMENT_DATE_INDEX,
                KeyConditionExpression="department_id = :d",
                ExpressionAttributeValues={":d": to_value(department_id)},
                ProjectionExpression="id",
                Limit=1,
            )
        return bool(response.get("Items"))

    def delete_all(self, department_id: str) -> int:
        """Delete every event of a department; returns how many were deleted.

        The index is eventually consistent, so this repeats until a query finds none.
        """
        deleted = 0
        while True:
            keys = self._keys_of(department_id)
            if not keys:
                return deleted
            for start in range(0, len(keys), _BATCH_WRITE_MAX):
                chunk = keys[start : start + _BATCH_WRITE_MAX]
                self._batch_delete(chunk)
                deleted += len(chunk)

    def _keys_of(self, department_id: str) -> list[dict[str, Any]]:
        params = {
            "TableName": self.table,
            "IndexName": DEPARTMENT_DATE_INDEX,
            "KeyConditionExpression": "department_id = :d",
            "ExpressionAttributeValues": {":d": to_value(department_id)},
            "ProjectionExpression": "id, department_id",
        }
        with translated_errors("list event keys"):
            return [
                key for page in pages(self._client.query, params) for key in page.get("Items", [])
            ]

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        requests: Any = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys]}
        delay = 0.05
        while requests:
            with translated_errors("delete events"):
                response = self._client.batch_write_item(RequestItems=requests)
            requests = response.get("UnprocessedItems") or {}
            if requests:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def _update_request(
    table: str, key: dict[str, Any], version: int, merged: Mapping[str, Any]
) -> dict[str, Any]:
    sets, removes = [], []
    names = {"#version": "version"}
    values: dict[str, Any] = {":expected": to_value(version)}
    for field in (
        "event_date",
        "title",
        "time",
        "start_time",
        "description",
        "updated_at",
        "version",
    ):
        names[f"#{field}"] = field
        if merged.get(field) is None:
            removes.append(f"#{field}")
        else:
            sets.append(f"#{field} = :{field}")
            values[f":{field}"] = to_value(merged[field])
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": expression,
        "ConditionExpression": "#version = :expected",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
