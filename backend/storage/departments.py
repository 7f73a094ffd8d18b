"""The ``departments`` table: departments, and the name claims that keep names unique."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Department, utc_now
from backend.errors import Conflict, NotFound
from backend.fields import DEPARTMENT
from backend.storage.bookkeeping import (
    BOOKKEEPING_PREFIX,
    KEY_TAKEN_OVER,
    calendar_key,
    claim_id,
    is_bookkeeping_id,
    name_claim,
    new_calendar,
)
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
from backend.storage.schema import NAME_INDEX
from backend.storage.versioning import (
    Contended,
    VersionMoved,
    usable_key,
    version_condition,
    versioned_update,
    write_attempts,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

DepartmentPosition = tuple[str, str]  # (name, id) of a department in list order


def department_position(department: Department) -> DepartmentPosition:
    return (department.name, department.id)


def new_department(
    name: str, description: str | None, notify_emails: tuple[str, ...] = ()
) -> Department:
    """A department at version 1, not yet written."""
    now = utc_now()
    return Department(
        id=str(uuid.uuid4()),
        name=name,
        description=description,
        created_at=now,
        updated_at=now,
        version=1,
        notify_emails=notify_emails,
    )


def _could_be_department(ident: str) -> bool:
    return usable_key(ident) and not is_bookkeeping_id(ident)


def department_from_item(item: Mapping[str, Any]) -> Department:
    """A department from its item, by the declarations of ``fields.DEPARTMENT``."""
    values = DEPARTMENT.from_attributes(from_item(item))
    created = values["created_at"] or values["updated_at"]
    values["created_at"] = created
    values["updated_at"] = values["updated_at"] or created
    return Department(**values)


class DepartmentRepository:
    """Departments by id and by name; names stay unique through claim items.

    A GSI cannot enforce uniqueness, so each name is also claimed by an item of its own in
    the same table (see ``bookkeeping``), written in the same transaction as the
    department. Concurrent creates or renames to one name then race on that key, and
    DynamoDB lets exactly one of them win.
    """

    def __init__(self, client: DynamoDBClient, table: str, events_table: str) -> None:
        self._client = client
        self.table = table
        self._events_table = events_table  # where each department's calendar item is

    def get(self, department_id: str) -> Department:
        """Read one department with a strongly consistent read, or raise ``NotFound``."""
        if not _could_be_department(department_id):
            raise NotFound("department", department_id)
        with translated_errors("get department"):
            response = self._client.get_item(
                TableName=self.table, Key={"id": to_value(department_id)}, ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            raise NotFound("department", department_id)
        return department_from_item(item)

    def exists(self, department_id: str) -> bool:
        if not _could_be_department(department_id):
            return False
        with translated_errors("check department"):
            response = self._client.get_item(
                TableName=self.table,
                Key={"id": to_value(department_id)},
                ConsistentRead=True,
                ProjectionExpression="id",
            )
        return "Item" in response

    def find_by_name(self, name: str) -> list[Department]:
        """Departments named exactly ``name``, through the ``name-index`` GSI."""
        params = {
            "TableName": self.table,
            "IndexName": NAME_INDEX,
            "KeyConditionExpression": "#name = :name",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":name": to_value(name)},
        }
        with translated_errors("find department by name"):
            found = [
                department_from_item(item)
                for page in pages(self._client.query, params)
                for item in page.get("Items", [])
                if _could_be_department(str(item["id"].get("S", "")))
            ]
        return sorted(found, key=lambda d: d.id)

    def list_all(self) -> list[Department]:
        """Every department, ordered by name then id.

        There is no index that lists a whole table in name order, so this scans, leaving
        out every bookkeeping item (it still reads them: a Scan is billed for what it reads).
        """
        params = {
            "TableName": self.table,
            "FilterExpression": "attribute_exists(#name) AND NOT begins_with(id, :bookkeeping)",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":bookkeeping": to_value(BOOKKEEPING_PREFIX)},
        }
        with translated_errors("list departments"):
            found = [
                department_from_item(item)
                for page in pages(self._client.scan, params)
                for item in page.get("Items", [])
            ]
        return sorted(found, key=lambda d: (d.name, d.id))

    def list_page(
        self, name: str | None, after: DepartmentPosition | None, limit: int
    ) -> tuple[list[Department], bool]:
        """A page of departments in name order (``name``: only those named so) and
        whether more follow. ``after`` is the (name, id) of the previous page's last."""
        rows = self.find_by_name(name) if name is not None else self.list_all()
        if after is not None:
            rows = [d for d in rows if (d.name, d.id) > after]
        return rows[:limit], len(rows) > limit

    def create(
        self, name: str, description: str | None, notify_emails: tuple[str, ...] = ()
    ) -> Department:
        """A new department with its name claim."""
        return self.add(new_department(name, description, notify_emails))

    def add(
        self, department: Department, also: Sequence[TransactWriteItemTypeDef] = ()
    ) -> Department:
        """Write ``department`` (a new one) with its name claim, and ``also`` (an
        idempotency key's answer) in the same transaction."""
        name = department.name
        self._refuse_unclaimed_holder(name, exclude=None)
        put_department: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(_record(department)),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
        # A new department counts its events from the start, on its calendar item (see
        # storage.events), made in the same transaction.
        put_calendar: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._events_table,
                "Item": to_item(new_calendar(department.id)),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
        try:
            self._write_with_claim(
                put_department, department.id, name, old_name=None, also=(put_calendar, *also)
            )
        except VersionMoved:
            if self.holds(department):
                return department  # ours: a retry of an attempt whose response was lost
            raise Conflict(f"department {department.id!r} already exists", code="busy") from None
        return department

    def replace(self, current: Department, updated: Department) -> None:
        """Write ``updated`` over ``current``, provided it is still at its version; a new
        name is claimed (and the old one released) in the same transaction.

        ``VersionMoved`` when another write got in first, ``Contended`` when a transaction
        held the item or the table throttled (the same write may then succeed).
        """
        update = _versioned_update(self.table, current.version, updated)
        if updated.name != current.name:
            self._refuse_unclaimed_holder(updated.name, exclude=current.id)
            self._write_with_claim(
                {"Update": update}, current.id, updated.name, old_name=current.name
            )
        else:
            self._conditional_update(update)

    def holds(self, updated: Department) -> bool:
        """Whether the stored department is exactly ``updated`` (a lost response's write)."""
        try:
            return self.get(updated.id) == updated
        except NotFound:
            return False

    def _conditional_update(self, update: Any) -> None:
        try:
            with translated_errors("update department"):
                self._client.update_item(**update)
        except ClientError as exc:
            if is_contention(exc):
                raise Contended from exc
            if error_code(exc) == "ConditionalCheckFailedException":
                raise VersionMoved from exc
            raise

    def delete(self, current: Department) -> None:
        """Delete ``current`` and its name claim, provided it is still at that version and
        holds no event (its strongly consistent count; see ``storage.events``)."""
        items: list[TransactWriteItemTypeDef] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"id": to_value(current.id)},
                    "ConditionExpression": f"({version_condition(current.version)}) AND "
                    "(attribute_not_exists(event_count) OR event_count = :zero) AND "
                    "(attribute_not_exists(series_count) OR series_count = :zero)",
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {
                        ":expected": to_value(current.version),
                        ":zero": to_value(0),
                    },
                }
            },
            {"Delete": self._release_claim(current.name, current.id)},
            {
                "Delete": {
                    # Its calendar item goes with it, and only while it counts nothing.
                    "TableName": self._events_table,
                    "Key": to_item(calendar_key(current.id)),
                    "ConditionExpression": "attribute_not_exists(id) OR ("
                    "(attribute_not_exists(event_count) OR event_count = :zero) AND "
                    "(attribute_not_exists(series_count) OR series_count = :zero))",
                    "ExpressionAttributeValues": {":zero": to_value(0)},
                }
            },
        ]
        try:
            self._delete_transaction(items)
        except ClientError as exc:
            if not (cancelled_by(exc, 1) and not cancelled_by(exc, 0)):
                raise
            # Its name's claim is another department's (this one was written with a taken
            # name by another program): delete it without touching that claim.
            self._delete_transaction([items[0], items[2]], calendar_at=1)

    def _delete_transaction(
        self, items: list[TransactWriteItemTypeDef], calendar_at: int = 2
    ) -> None:
        try:
            with translated_errors("delete department"):
                self._client.transact_write_items(
                    TransactItems=items, ClientRequestToken=str(uuid.uuid4())
                )
        except ClientError as exc:
            if is_contention(exc):
                raise Contended from exc
            if cancelled_by(exc, 0) or cancelled_by(exc, calendar_at):
                raise VersionMoved from exc
            raise

    # -- name claims -------------------------------------------------------------------

    def _write_with_claim(
        self,
        write: TransactWriteItemTypeDef,
        department_id: str,
        name: str,
        old_name: str | None,
        also: Sequence[TransactWriteItemTypeDef] = (),
    ) -> None:
        """Write the department together with the claim on ``name`` (and release old_name).

        The claim's condition lets the department re-take its own claim and lets a stale
        claim (its department deleted or renamed outside this service) be taken over, so
        a name is only ever refused because a live department holds it.
        """
        stale_owner: str | None = None
        release_old = True
        for _ in write_attempts():
            claim_condition = "attribute_not_exists(id) OR department_id = :me"
            values = {":me": to_value(department_id)}
            if stale_owner is not None:
                claim_condition += " OR department_id = :stale"
                values[":stale"] = to_value(stale_owner)
            items: list[TransactWriteItemTypeDef] = [
                write,
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(name_claim(name, department_id)),
                        "ConditionExpression": claim_condition,
                        "ExpressionAttributeValues": values,
                    }
                },
            ]
            if old_name is not None and release_old:
                items.append({"Delete": self._release_claim(old_name, department_id)})
            first_also = len(items)
            items.extend(also)
            try:
                with translated_errors("write department"):
                    # A token per attempt: botocore's retry of a lost response is answered,
                    # not applied twice; an attempt DynamoDB cancelled is tried anew.
                    self._client.transact_write_items(
                        TransactItems=items, ClientRequestToken=str(uuid.uuid4())
                    )
            except ClientError as exc:
                if is_contention(exc):
                    continue
                if cancelled_by(exc, 0):
                    raise VersionMoved from exc
                if any(cancelled_by(exc, first_also + n) for n in range(len(also))):
                    raise Conflict(KEY_TAKEN_OVER, code="idempotency-key-in-use") from exc
                if old_name is not None and release_old and cancelled_by(exc, 2):
                    # The old name's claim is another department's (this one was written
                    # with a taken name by another program): it is not ours to release.
                    release_old = False
                    continue
                if not cancelled_by(exc, 1):
                    raise
                owner = self._claim_owner(name)
                if owner is None or self._holds_name(owner, name):
                    raise _name_taken(name) from exc
                stale_owner = owner
                logger.info("taking over the stale name claim on %r from %s", name, owner)
                continue
            return
        raise busy("write department")

    def _release_claim(self, name: str, department_id: str) -> Any:
        return {
            "TableName": self.table,
            "Key": {"id": to_value(claim_id(name))},
            # Only release a claim we hold; a missing claim (data written before claims
            # existed) is fine to "release".
            "ConditionExpression": "attribute_not_exists(id) OR department_id = :me",
            "ExpressionAttributeValues": {":me": to_value(department_id)},
        }

    def _claim_owner(self, name: str) -> str | None:
        with translated_errors("read name claim"):
            response = self._client.get_item(
                TableName=self.table, Key={"id": to_value(claim_id(name))}, ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else str(from_item(item).get("department_id"))

    def _holds_name(self, department_id: str, name: str) -> bool:
        try:
            return self.get(department_id).name == name
        except NotFound:
            return False

    def unclaimed_holder(self, name: str, exclude: str | None) -> str | None:
        """A department other than ``exclude`` holding ``name`` without a claim (written by
        hand, or by old code), or None.

        The index is eventually consistent, so each hit is confirmed with a consistent read
        before it counts: a department deleted or renamed a moment ago does not hold it.
        """
        for other in self.find_by_name(name):
            if other.id != exclude and self._holds_name(other.id, name):
                return other.id
        return None

    def _refuse_unclaimed_holder(self, name: str, exclude: str | None) -> None:
        if self.unclaimed_holder(name, exclude) is not None:
            raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a department named {name!r} already exists", code="name-taken")


def _record(department: Department) -> dict[str, Any]:
    return DEPARTMENT.to_attributes(department)


def _versioned_update(table: str, version: int, updated: Department) -> Any:
    # created_at is left as it is: an item written by another program without one keeps
    # none (it is served from updated_at), and one written as a number keeps its number.
    return versioned_update(
        table, {"id": to_value(updated.id)}, version, _record(updated), keys=("id", "created_at")
    )
