"""The ``departments`` table: departments, and the name claims that keep names unique."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.domain import Department, acting, utc_now
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
    name: str,
    description: str | None,
    notify_emails: tuple[str, ...] = (),
    visibility: str = "organization",
) -> Department:
    """A department at version 1, not yet written, made by whoever is acting."""
    now = utc_now()
    return Department(
        id=str(uuid.uuid4()),
        name=name,
        description=description,
        created_at=now,
        updated_at=now,
        version=1,
        notify_emails=notify_emails,
        visibility=visibility,
        created_by=acting(),
        updated_by=acting(),
    )


def new_feed_key() -> str:
    """A secret feed address's key: 192 bits from the operating system's random source."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class DepartmentAccess:
    """A department with who may use it: its members (principal -> role) and the key of
    its secret feed address (None until first asked for, on data from before)."""

    department: Department
    members: Mapping[str, str] = field(default_factory=dict)
    feed_key: str | None = field(default=None, repr=False)


def access_from_item(item: Mapping[str, Any]) -> DepartmentAccess:
    plain = from_item(item)
    members = plain.get("members")
    key = plain.get("feed_key")
    return DepartmentAccess(
        department_from_item(item),
        {str(p): str(r) for p, r in members.items()} if isinstance(members, Mapping) else {},
        key if isinstance(key, str) else None,
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
        return self.access(department_id).department

    def access(self, department_id: str) -> DepartmentAccess:
        """A department with its members and feed key (one strongly consistent read), or
        ``NotFound``."""
        if not _could_be_department(department_id):
            raise NotFound("department", department_id)
        with translated_errors("get department"):
            response = self._client.get_item(
                TableName=self.table, Key={"id": to_value(department_id)}, ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            raise NotFound("department", department_id)
        return access_from_item(item)

    # -- members and the feed key (attributes of the department's item) -------------------

    def set_member(
        self,
        department_id: str,
        principal: str,
        role: str,
        *,
        expected: str | None,
        has_members: bool,
        other_owner: str | None,
        max_members: int,
    ) -> None:
        """Give ``principal`` ``role``, provided the member still holds ``expected`` (None:
        is not a member), ``other_owner`` (if given) is still an owner, and a new member
        still fits. ``VersionMoved`` when the department changed in between; ``NotFound``
        when it is gone."""
        names = {"#members": "members", "#p": principal, "#version": "version"}
        values: dict[str, Any] = {":one": to_value(1), ":now": to_value(utc_now())}
        conditions = ["attribute_exists(id)"]
        if has_members:
            target = "#members.#p"
            values[":role"] = to_value(role)
            if expected is None:
                conditions.append("attribute_not_exists(#members.#p)")
                conditions.append("size(#members) < :max")
                values[":max"] = to_value(max_members)
            else:
                conditions.append("#members.#p = :expected")
                values[":expected"] = to_value(expected)
        else:
            target = "#members"
            del names["#p"]
            values[":role"] = to_value({principal: role})
            conditions.append("(attribute_not_exists(#members) OR size(#members) = :zero)")
            values[":zero"] = to_value(0)
        if other_owner is not None:
            names["#o"] = other_owner
            conditions.append("#members.#o = :owner")
            values[":owner"] = to_value("owner")
        self._member_update(
            department_id,
            f"SET {target} = :role, #version = if_not_exists(#version, :one) + :one, "
            "updated_at = :now",
            " AND ".join(conditions),
            names,
            values,
        )

    def remove_member(
        self, department_id: str, principal: str, *, expected: str, other_owner: str | None
    ) -> None:
        """Remove ``principal``, provided it still holds ``expected`` and ``other_owner``
        (if given) is still an owner; ``VersionMoved`` otherwise."""
        names = {"#members": "members", "#p": principal, "#version": "version"}
        values: dict[str, Any] = {
            ":one": to_value(1),
            ":now": to_value(utc_now()),
            ":expected": to_value(expected),
        }
        condition = "#members.#p = :expected"
        if other_owner is not None:
            names["#o"] = other_owner
            condition += " AND #members.#o = :owner"
            values[":owner"] = to_value("owner")
        self._member_update(
            department_id,
            "REMOVE #members.#p SET #version = if_not_exists(#version, :one) + :one, "
            "updated_at = :now",
            condition,
            names,
            values,
        )

    def _member_update(
        self,
        department_id: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> None:
        try:
            with translated_errors("change members"):
                self._client.update_item(
                    TableName=self.table,
                    Key={"id": to_value(department_id)},
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if is_contention(exc) or error_code(exc) == "ConditionalCheckFailedException":
                raise VersionMoved from exc
            raise

    def set_feed_key(self, department_id: str, key: str, *, only_if_missing: bool) -> bool:
        """Store ``key`` as the department's feed key (``only_if_missing``: unless it has
        one). False when it has one already (or is gone). The department's version does
        not move: the key is not part of what the API shows of it."""
        condition = "attribute_exists(id)"
        if only_if_missing:
            condition += " AND attribute_not_exists(feed_key)"
        try:
            with translated_errors("store feed key"):
                self._client.update_item(
                    TableName=self.table,
                    Key={"id": to_value(department_id)},
                    UpdateExpression="SET feed_key = :key",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={":key": to_value(key)},
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
        return [entry.department for entry in self.find_access_by_name(name)]

    def find_access_by_name(self, name: str) -> list[DepartmentAccess]:
        """Departments named exactly ``name``, with their members (``name-index`` holds
        whole items)."""
        params = {
            "TableName": self.table,
            "IndexName": NAME_INDEX,
            "KeyConditionExpression": "#name = :name",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":name": to_value(name)},
        }
        with translated_errors("find department by name"):
            found = [
                access_from_item(item)
                for page in pages(self._client.query, params)
                for item in page.get("Items", [])
                if _could_be_department(str(item["id"].get("S", "")))
            ]
        return sorted(found, key=lambda a: a.department.id)

    def list_all(self) -> list[Department]:
        """Every department, ordered by name then id."""
        return [entry.department for entry in self.list_all_access()]

    def list_all_access(self) -> list[DepartmentAccess]:
        """Every department with its members, ordered by name then id.

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
                access_from_item(item)
                for page in pages(self._client.scan, params)
                for item in page.get("Items", [])
            ]
        return sorted(found, key=lambda a: (a.department.name, a.department.id))

    def list_page(
        self,
        name: str | None,
        after: DepartmentPosition | None,
        limit: int,
        visible: Callable[[DepartmentAccess], bool] | None = None,
    ) -> tuple[list[DepartmentAccess], bool]:
        """A page of departments in name order (``name``: only those named so; ``visible``:
        only those it accepts) and whether more follow. ``after`` is the (name, id) of the
        previous page's last."""
        rows = self.find_access_by_name(name) if name is not None else self.list_all_access()
        if visible is not None:
            rows = [a for a in rows if visible(a)]
        if after is not None:
            rows = [a for a in rows if (a.department.name, a.department.id) > after]
        return rows[:limit], len(rows) > limit

    def create(
        self, name: str, description: str | None, notify_emails: tuple[str, ...] = ()
    ) -> Department:
        """A new department with its name claim."""
        return self.add(new_department(name, description, notify_emails))

    def add(
        self,
        department: Department,
        also: Sequence[TransactWriteItemTypeDef] = (),
        members: Mapping[str, str] | None = None,
    ) -> Department:
        """Write ``department`` (a new one, with ``members`` and a new feed key) with its
        name claim, and ``also`` (an idempotency key's answer) in the same transaction."""
        name = department.name
        self._refuse_unclaimed_holder(name, exclude=None)
        record = _record(department) | {"feed_key": new_feed_key()}
        if members:
            record["members"] = dict(members)
        put_department: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(record),
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
