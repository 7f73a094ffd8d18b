"""Turning one legacy JSON record into the item it becomes, or the reason it cannot.

Everything here is pure: the same input gives the same item, id and digest on every run,
which is what makes a migration safe to repeat and to resume.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from backend.errors import Invalid, Rejected
from backend.fields import DEPARTMENT, EVENT, Resource, event_times, json_kind, legacy_date
from backend.storage.bookkeeping import BOOKKEEPING_PREFIX, is_bookkeeping_id

# Ids given to records that have none: uuid5 of their normalised content in this
# namespace, so a second run derives the same id instead of making a duplicate.
LEGACY_NAMESPACE = uuid.UUID("5b0d7f8e-3c51-4c1e-9a53-2f0f6b7c2d11")

# Attributes the product maintains itself, and fields the old app never had (whatever a
# legacy file holds under such a name is not the product's). A legacy field of the same
# name is kept under "legacy_<name>" rather than silently replaced or misread.
SYSTEM_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "version",
        "start_time",
        "event_count",
        "calendar_version",
        "multi_day",
        "series_count",
        "changed_at",
        "history_from",
        "webhook_count",
        "recurrence",
        "recurring_event_id",
        "original_date",
        "category",
    }
)
# Fields a legacy record may carry as the product's own (the declarations, plus the keys);
# anything else is kept on the item as it was written.
DEPARTMENT_FIELDS = frozenset({"id", *(f.name for f in DEPARTMENT.migrated)})
EVENT_FIELDS = frozenset({"id", "department_id", *(f.name for f in EVENT.migrated)})
# Read from the time text (or given): not part of what a record "says" for comparisons.
DERIVED_FIELDS = frozenset({"end_time"})

DEFAULT_ZONE = "Asia/Seoul"  # the old app wrote Korean wall-clock time
_MAX_ITEM_BYTES = 350_000  # DynamoDB's limit is 400 KB per item; keep a margin


@dataclass(frozen=True)
class Item:
    """A record ready to store: its table key, full attributes and content digest."""

    kind: str  # "department" or "event"
    id: str
    department_id: str | None  # events only
    attributes: dict[str, Any] = field(repr=False)
    digest: bytes

    @property
    def label(self) -> str:
        if self.kind == "department":
            return f"부서 '{self.attributes['name']}'"
        return f"이벤트 '{self.attributes['title']}' ({self.attributes['event_date']})"


def content_digest(attributes: dict[str, Any]) -> bytes:
    """A digest of what a record says, leaving out what the product maintains itself.

    An item read back from DynamoDB and the record it came from give the same digest,
    so "already present" means the same content whatever the timestamps and version.
    """
    content = {
        k: v for k, v in attributes.items() if k not in SYSTEM_FIELDS and k not in DERIVED_FIELDS
    }
    text = json.dumps(_canonical(content), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return f"n:{number:f}"
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return str(value)


def normalise_date(raw: Any) -> str:
    """``2024-1-5``, ``2024/01/05``, ``2024.01.05`` → ``2024-01-05``; impossible dates raise."""
    return legacy_date(raw)


def legacy_id(raw: Any) -> str | None:
    """The record's id as text (numbers keep their string form); None when missing."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise Rejected(f"id must be text or a number, not {json_kind(raw)}")
    if isinstance(raw, int):
        text = str(raw)
    elif isinstance(raw, Decimal | float):
        number = Decimal(str(raw))
        text = str(int(number)) if number == number.to_integral_value() else str(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:
        raise Rejected(f"id must be text or a number, not {json_kind(raw)}")
    if not text:
        return None
    if is_bookkeeping_id(text):
        raise Rejected(f"id {text!r} starts with {BOOKKEEPING_PREFIX!r}, which is reserved")
    if len(text.encode("utf-8")) > 1024:
        raise Rejected("id is longer than 1024 bytes")
    return text


def timestamp(
    raw: Any, fallback: str, attributes: dict[str, Any], wall_clock: str = DEFAULT_ZONE
) -> str:
    """A legacy ``created_at`` as ISO 8601 UTC with ``Z``.

    Times without an offset are the old app's wall-clock time, read in ``wall_clock``
    (``CALENDAR_TIMEZONE``). A value that is not a time is kept on the item as
    ``legacy_created_at`` and the migration time is used instead.
    """
    if raw is None or raw == "":
        return fallback
    moment = _instant(raw)
    if moment is None:
        attributes["legacy_created_at"] = raw
        return fallback
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(wall_clock))
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def _instant(raw: Any) -> datetime | None:
    """An ISO 8601 time written in the file, or None when it is not one."""
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _extras(record: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for name, value in record.items():
        if name in known:
            continue
        if not name:
            raise Rejected("a field has an empty name, which DynamoDB cannot store")
        extras[f"legacy_{name}" if name in SYSTEM_FIELDS else name] = value
    return extras


def _derived_id(kind: str, attributes: dict[str, Any]) -> str:
    digest = content_digest(attributes).hex()
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{kind}:{digest}"))


def _declared(resource: Resource, record: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Each writable field of ``resource`` read from a legacy record by its declaration
    (``given`` supplies the ones the file's structure holds, such as an event's date)."""
    return {
        spec.name: given[spec.name] if spec.name in given else spec.legacy(record.get(spec.name))
        for spec in resource.migrated
    }


def department_item(record: Any, given_id: Any, now: str, wall_clock: str = DEFAULT_ZONE) -> Item:
    """A legacy department as the item to store. ``given_id`` is the id from the file."""
    if not isinstance(record, dict):
        raise Rejected(f"a department must be an object, not {json_kind(record)}")
    values = _declared(DEPARTMENT, record, {})
    attributes = _stored(DEPARTMENT, values)
    attributes |= _extras(record, DEPARTMENT_FIELDS | {"created_at"})
    ident = legacy_id(given_id) or _derived_id("department", attributes)
    attributes["id"] = ident
    created = timestamp(record.get("created_at"), now, attributes, wall_clock)
    return _finish("department", ident, None, attributes, created)


def event_item(
    record: Any, department_id: str, event_date: Any, now: str, wall_clock: str = DEFAULT_ZONE
) -> Item:
    """A legacy event of ``department_id`` on ``event_date`` as the item to store."""
    if not isinstance(record, dict):
        raise Rejected(f"an event must be an object, not {json_kind(record)}")
    values = _declared(EVENT, record, {"event_date": normalise_date(event_date)})
    try:
        start, end = event_times(
            values["event_date"],
            values["end_date"],
            values["time"],
            values["end_time"],
            end_time_sent=values["end_time"] is not None,
        )
    except Invalid as exc:
        raise Rejected(str(exc)) from None
    # end_time is derived (read from the time text, or given): stored after the digest's
    # content is fixed, as start_time is.
    values["end_time"] = None
    attributes = {"department_id": department_id, **_stored(EVENT, values)}
    attributes |= _extras(record, EVENT_FIELDS | {"created_at"})
    ident = legacy_id(record.get("id")) or _derived_id("event", attributes)
    attributes["id"] = ident
    created = timestamp(record.get("created_at"), now, attributes, wall_clock)
    if start is not None:
        attributes["start_time"] = start
    if end is not None:
        attributes["end_time"] = end
    return _finish("event", ident, department_id, attributes, created)


def _stored(resource: Resource, values: dict[str, Any]) -> dict[str, Any]:
    """The item attributes of declared values; absent (``None``) values are left off."""
    by_name = {spec.name: spec for spec in resource.migrated}
    stored = {by_name[name].attribute: by_name[name].to_attribute(v) for name, v in values.items()}
    return {k: v for k, v in stored.items() if v is not None}


# What DynamoDB refuses that JSON allows: documents nested deeper than 32 levels, numbers
# with more than 38 significant digits or outside 1E-130 .. 9.99E+125.
MAX_DEPTH = 32
MAX_DIGITS = 38


def _unstorable(value: Any, path: str, depth: int = 0) -> str | None:
    """Why DynamoDB would refuse ``value`` (at ``path``), or None."""
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            return f"{path} is nested deeper than DynamoDB's {MAX_DEPTH} levels"
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            problem = _unstorable(child, f"{path}.{key}", depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
        if not number.is_finite():
            return f"{path} is not a finite number"
        # Counted from the digits themselves: normalize() would round them to 28 first.
        significant = "".join(map(str, number.as_tuple().digits)).strip("0")
        if len(significant) > MAX_DIGITS:
            return f"{path} has more than DynamoDB's {MAX_DIGITS} significant digits"
        if number and not Decimal("1E-130") <= abs(number) < Decimal("1E+126"):
            return f"{path} is outside the numbers DynamoDB can store"
    return None


def _finish(
    kind: str, ident: str, department_id: str | None, attributes: dict[str, Any], created: str
) -> Item:
    for name, value in attributes.items():
        problem = _unstorable(value, name)
        if problem:
            raise Rejected(problem)
    attributes |= {"created_at": created, "updated_at": created, "version": 1}
    size = len(json.dumps(_canonical(attributes), ensure_ascii=False).encode("utf-8"))
    if size > _MAX_ITEM_BYTES:
        raise Rejected(f"the record is {size} bytes, over what one DynamoDB item can hold")
    return Item(kind, ident, department_id, attributes, content_digest(attributes))
