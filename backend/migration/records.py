"""Turning one legacy JSON record into the item it becomes, or the reason it cannot.

Everything here is pure: the same input gives the same item, id and digest on every run,
which is what makes a migration safe to repeat and to resume.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from backend.errors import Invalid, Rejected
from backend.fields import DEPARTMENT, EVENT, Text, event_times, json_kind
from backend.storage.bookkeeping import BOOKKEEPING_PREFIX, is_bookkeeping_id
from backend.timetext import parse_start_time

# Ids given to records that have none: uuid5 of their normalised content in this
# namespace, so a second run derives the same id instead of making a duplicate.
LEGACY_NAMESPACE = uuid.UUID("5b0d7f8e-3c51-4c1e-9a53-2f0f6b7c2d11")

# Attributes the product maintains itself. A legacy field of the same name is kept under
# "legacy_<name>" rather than silently replaced.
SYSTEM_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "version",
        "start_time",
        "event_count",
        "calendar_version",
        "multi_day",
    }
)
DEPARTMENT_FIELDS = frozenset({"id", "name", "description"})
EVENT_FIELDS = frozenset(
    {
        "id",
        "department_id",
        "event_date",
        "title",
        "time",
        "description",
        "end_date",
        "end_time",
        "location",
    }
)
# Read from the time text (or given): not part of what a record "says" for comparisons.
DERIVED_FIELDS = frozenset({"end_time"})

DEFAULT_ZONE = "Asia/Seoul"  # the old app wrote Korean wall-clock time
_LEGACY_DATE = re.compile(r"\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*\.?\s*")
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
    if not isinstance(raw, str):
        raise Rejected(f"the date must be text like 2024-01-20, not {json_kind(raw)}")
    match = _LEGACY_DATE.fullmatch(raw)
    if match is None:
        raise Rejected(f"{raw!r} is not a date (expected YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        raise Rejected(f"{raw!r} is not a real calendar date") from None


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


def _text(record: dict[str, Any], spec: Text, *, required: bool) -> str | None:
    """A text field of a legacy record by its declaration (limit, trimming).

    Legacy text is kept as written otherwise: the API's one-line rule is not applied to
    what the old app stored.
    """
    name, limit, trim = spec.name, spec.max_length, spec.trim
    value = record.get(name)
    if value is None:
        if required:
            raise Rejected(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise Rejected(f"{name} must be text, not {json_kind(value)}")
    if trim:
        value = value.strip()
    if required and not value:
        raise Rejected(f"{name} is empty")
    if len(value) > limit:
        raise Rejected(f"{name} is longer than {limit} characters ({len(value)})")
    return value


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


def department_item(record: Any, given_id: Any, now: str, wall_clock: str = DEFAULT_ZONE) -> Item:
    """A legacy department as the item to store. ``given_id`` is the id from the file."""
    if not isinstance(record, dict):
        raise Rejected(f"a department must be an object, not {json_kind(record)}")
    name = _text(record, DEPARTMENT.text("name"), required=True)
    description = _text(record, DEPARTMENT.text("description"), required=False)
    attributes: dict[str, Any] = {"name": name}
    if description is not None:
        attributes["description"] = description
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
    day = normalise_date(event_date)
    title = _text(record, EVENT.text("title"), required=True)
    raw_time = record.get("time")
    if isinstance(raw_time, int | Decimal) and not isinstance(raw_time, bool):
        raw_time = str(raw_time)  # a number typed as a time keeps its text form
    time_text = _text({"time": raw_time}, EVENT.text("time"), required=False)
    description = _text(record, EVENT.text("description"), required=False)
    location = _text(record, EVENT.text("location"), required=False) or None
    end_date = None if record.get("end_date") in (None, "") else normalise_date(record["end_date"])
    given_end = record.get("end_time")
    end_time = None
    if given_end not in (None, ""):
        end_time = parse_start_time(str(given_end))  # "15:00", "오후 3시": read as a time
        if end_time is None:
            raise Rejected(f"end_time {given_end!r} is not a time of day")
    try:
        start, end = event_times(
            day, end_date, time_text, end_time, end_time_sent=end_time is not None
        )
    except Invalid as exc:
        raise Rejected(str(exc)) from None
    attributes: dict[str, Any] = {"department_id": department_id, "event_date": day, "title": title}
    optional = {"time": time_text, "description": description, "location": location}
    attributes |= {k: v for k, v in optional.items() if v is not None}
    if end_date is not None:
        attributes["end_date"] = end_date
    attributes |= _extras(record, EVENT_FIELDS | {"created_at"})
    ident = legacy_id(record.get("id")) or _derived_id("event", attributes)
    attributes["id"] = ident
    created = timestamp(record.get("created_at"), now, attributes, wall_clock)
    if start is not None:
        attributes["start_time"] = start
    if end is not None:
        attributes["end_time"] = end
    return _finish("event", ident, department_id, attributes, created)


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
