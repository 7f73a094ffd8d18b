"""Reading an iCalendar file (Google Calendar, Outlook, Apple or this service) as events.

Each ``VEVENT`` becomes the fields of one event and the id it maps to, or the reason it
cannot be imported. Times are converted to the calendar time zone: a date is an all-day
event, a floating time is taken as wall-clock time there, a zoned or UTC time is converted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from backend.domain import instance_id
from backend.errors import BadRequest, FieldError, Invalid
from backend.fields import EVENT, MAX_EVENT_DAYS, FieldProblem, Text
from backend.ics.feed import LIST_PROPERTIES, TEXT_PROPERTIES, TIME_TEXT
from backend.recurrence import RuleProblem, check_lines

# Ids for events from other calendars: uuid5 of their UID, so a second import of the same
# file finds the events the first one made.
ICS_NAMESPACE = uuid.UUID("0b9f1c43-52a5-4d57-8f0e-6a0d1ef5c2a4")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[^:]*)?:", re.ASCII)
# The longest id this service writes or migrates (DynamoDB's sort key limit).
_MAX_OWN_ID_BYTES = 1024
# RRULE parts that name days: a series whose first date moves to another day when its
# zone is converted would need them moved too, which a rule cannot say.
_DAY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")


@dataclass(frozen=True)
class Entry:
    """One VEVENT: where it starts in the file, its UID, and what to do with it."""

    line: int
    uid: str
    event_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    reason: str | None = None  # set when it cannot be imported
    # A changed or cancelled occurrence (RECURRENCE-ID): its series's id and original date.
    series_id: str | None = None
    original_date: str | None = None

    @property
    def is_series(self) -> bool:
        return bool(self.fields.get("recurrence"))


def event_id_for(uid: str, domain: str) -> str:
    """Our own UIDs (``<id>@<domain>``) map back to their ids; others, and any whose local
    part could not be an id the API addresses (too long, a ``/``, a ``#``), to a derived id
    (a UUID, whatever the UID's length).

    An id this service makes is a UUID: ``<uuid>@<any host>`` maps back to it too, so a
    feed read through another name (``localhost``, ``127.0.0.1``, a load balancer's) and
    imported again finds its events rather than making copies."""
    local, at, _ = uid.rpartition("@")
    if at and _UUID.fullmatch(local):
        return local.lower()
    return derived_id_for(uid, domain)


def derived_id_for(uid: str, domain: str) -> str:
    """The id ``uid`` mapped to before UUIDs from any host were read as ours: a file
    imported then finds what it made under this id."""
    local, at, host = uid.rpartition("@")
    if (
        at
        and host == domain
        and local
        and not local.startswith("#")
        and "/" not in local
        and len(local.encode("utf-8", "surrogatepass")) <= _MAX_OWN_ID_BYTES
    ):
        return local
    return str(uuid.uuid5(ICS_NAMESPACE, uid))


def _unfolded(lines: list[str]) -> list[tuple[int, str]]:
    """Content lines with their folds undone (RFC 5545 3.1: a line that starts with a space
    or a tab continues the one before, which may be cut anywhere, even before its colon),
    each with the number of the physical line it starts on."""
    logical: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if line[:1] in (" ", "\t") and logical:
            start, text = logical[-1]
            logical[-1] = (start, text + line[1:])
        elif line.strip():
            logical.append((number, line.lstrip()))
    return logical


def _check_lines(text: str) -> list[int]:
    """The line number of each ``BEGIN:VEVENT``; BadRequest naming the first bad line."""
    starts = []
    logical = _unfolded(text.splitlines())
    if not logical:
        raise BadRequest("the body is empty; send an iCalendar file (BEGIN:VCALENDAR ...)")
    first, opening = logical[0]
    if opening.strip().upper() != "BEGIN:VCALENDAR":
        raise BadRequest(f"line {first}: an iCalendar file starts with BEGIN:VCALENDAR")
    for number, line in logical:
        if not _CONTENT_LINE.match(line):
            raise BadRequest(
                f"line {number}: not an iCalendar content line (NAME:value): {line[:60]!r}",
                [FieldError("body", f"line {number} is not iCalendar")],
            )
        if line.strip().upper() == "BEGIN:VEVENT":
            starts.append(number)
    return starts


def parse(body: bytes, timezone: str, domain: str) -> list[Entry]:
    """Every VEVENT of ``body``; ``BadRequest`` when it is not iCalendar at all."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text (byte {exc.start})") from None
    starts = _check_lines(text)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid iCalendar: {exc}") from None
    components = [c for cal in calendars for c in cal.walk("VEVENT")]
    zone = ZoneInfo(timezone)
    return [
        _entry(component, line, zone, domain)
        for component, line in zip(components, starts, strict=False)
    ]


def _entry(component: Any, line: int, zone: ZoneInfo, domain: str) -> Entry:
    uid = str(component.get("UID") or "").strip()
    if not uid:
        return Entry(line, "", reason="it has no UID")
    event_id = event_id_for(uid, domain)
    cancelled = str(component.get("STATUS") or "").upper() == "CANCELLED"
    try:
        if component.get("RECURRENCE-ID") is not None:
            return _occurrence(component, line, uid, event_id, zone, cancelled=cancelled)
        if cancelled:
            return Entry(line, uid, event_id, cancelled=True)
        fields = _fields(component, zone)
        recurrence = _recurrence(component, fields, zone)
    except (FieldProblem, ValueError) as exc:
        return Entry(line, uid, event_id, reason=str(exc))
    except OverflowError:  # e.g. DURATION:P99999999W, or 9999-12-31 23:00 UTC moved to +09:00
        return Entry(line, uid, event_id, reason="its start or end is outside the years 1 to 9999")
    except Invalid as exc:
        return Entry(line, uid, event_id, reason=str(exc))
    if recurrence is not None:
        fields["recurrence"] = recurrence
    return Entry(line, uid, event_id, fields)


def _occurrence(
    component: Any, line: int, uid: str, series_id: str, zone: ZoneInfo, *, cancelled: bool
) -> Entry:
    """A VEVENT with RECURRENCE-ID: one occurrence of the series ``uid``, changed or
    (``STATUS:CANCELLED``) deleted."""
    original = _local(component.decoded("RECURRENCE-ID"), zone)
    day = (original.date() if isinstance(original, datetime) else original).isoformat()
    ident = instance_id(series_id, day)
    if cancelled:
        return Entry(line, uid, ident, cancelled=True, series_id=series_id, original_date=day)
    return Entry(line, uid, ident, _fields(component, zone), series_id=series_id, original_date=day)


def _recurrence(component: Any, fields: dict[str, Any], zone: ZoneInfo) -> tuple[str, ...] | None:
    """The ``recurrence`` lines of a VEVENT with RRULE/RDATE/EXDATE, checked as the API
    checks them (``ValueError`` naming the line and part), or None."""
    rules = component.get("RRULE")
    if component.get("EXRULE") is not None:
        raise ValueError("EXRULE is not supported (RFC 5545 deprecated it)")
    if rules is None and component.get("RDATE") is None:
        return None
    if isinstance(rules, list):
        raise ValueError("a second RRULE is not supported: one rule per series")  # noqa: TRY004
    timed = (
        fields.get("time") is not None
        and fields.get("event_date") is not None
        and (isinstance(component.decoded("DTSTART"), datetime))
    )
    lines = []
    if rules is not None:
        text = rules.to_ical().decode()
        lines.append(f"RRULE:{text}")
        start = component.decoded("DTSTART")
        local = _local(start, zone)
        moved = (
            isinstance(start, datetime)
            and isinstance(local, datetime)
            and (local.date() != start.date())
        )
        if moved and any(f"{part}=" in text.upper() for part in _DAY_PARTS):
            raise ValueError(
                "its RRULE names days in another time zone, where its start falls on another "
                "date than in this calendar's; such a series cannot be converted"
            )
    for name in ("EXDATE", "RDATE"):
        values = [_rule_value(v, zone, timed) for v in _date_values(component, name)]
        for start in range(0, len(values), 60):  # lines of at most ~1000 characters
            lines.append(f"{name}:{','.join(values[start : start + 60])}")
    try:
        checked = check_lines(lines)
    except RuleProblem as exc:
        where = lines[exc.line].split(":", 1)[0] if 0 <= exc.line < len(lines) else "RRULE"
        raise ValueError(f"{where}: {exc.message}") from None
    return checked


def _date_values(component: Any, name: str) -> list[Any]:
    found = component.get(name)
    if found is None:
        return []
    lists = found if isinstance(found, list) else [found]
    values = []
    for listed in lists:
        for item in listed.dts:
            if isinstance(item.dt, tuple):
                message = f"{name} with a period (VALUE=PERIOD) is not supported"
                raise ValueError(message)  # noqa: TRY004 - a rejection reason, not a type error
            values.append(item.dt)
    return values


def _rule_value(value: Any, zone: ZoneInfo, timed: bool) -> str:
    local = _local(value, zone)
    if isinstance(local, datetime):
        return local.strftime("%Y%m%dT%H%M%S") if timed else local.strftime("%Y%m%d")
    return local.strftime("%Y%m%d")


def _local(value: Any, zone: ZoneInfo) -> date | datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zone)  # floating: wall-clock time in our zone
        return value.astimezone(zone)
    if isinstance(value, date):
        return value
    raise ValueError(f"DTSTART/DTEND is not a date or a date-time: {value!r}")


def _fields(component: Any, zone: ZoneInfo) -> dict[str, Any]:
    if component.get("DTSTART") is None:
        raise ValueError("it has no DTSTART")
    start = _local(component.decoded("DTSTART"), zone)
    end: date | datetime | None = None
    if component.get("DTEND") is not None:
        end = _local(component.decoded("DTEND"), zone)
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    fields = _text_fields(component)
    if isinstance(start, datetime):
        first = start.date()
        last = end.date() if isinstance(end, datetime) else first
        if isinstance(end, datetime) and end.time() == datetime.min.time() and last > first:
            last -= timedelta(days=1)  # ends at midnight: the day before is its last
        start_text = start.strftime("%H:%M")
        end_time = end.strftime("%H:%M") if isinstance(end, datetime) and end > start else None
        given = component.get(TIME_TEXT)
        fields["time"] = str(given) if given is not None else start_text
        fields["end_time"] = end_time if end_time != start_text or last != first else None
        if fields["end_time"] == "00:00" and last != first:
            fields["end_time"] = None
    else:
        first = start
        last = (end - timedelta(days=1)) if isinstance(end, date) and end > start else first
        given = component.get(TIME_TEXT)
        fields["time"] = str(given) if given is not None else None
    if (last - first).days > MAX_EVENT_DAYS:
        raise ValueError(f"it lasts more than {MAX_EVENT_DAYS + 1} days")
    fields["event_date"] = first.isoformat()
    fields["end_date"] = last.isoformat() if last != first else None
    if fields.get("time") is not None:
        fields["time"] = EVENT.field("time").clean(fields["time"])
    return fields


def _text_fields(component: Any) -> dict[str, Any]:
    """The event's text fields from the properties their declarations name (the time text
    is read with the times)."""
    fields: dict[str, Any] = {}
    for name, prop in TEXT_PROPERTIES:
        if prop == TIME_TEXT:
            continue
        spec = EVENT.field(name)
        raw = _optional(component, prop)
        if spec.required and not (raw or "").strip():
            raise ValueError(f"it has no {prop} (the {name})")
        if raw is not None and isinstance(spec, Text) and spec.trim:
            raw = raw.strip()  # counted after trimming, as the title always was
        if raw == "" and not spec.required:
            raw = None  # an empty property (DESCRIPTION:) says as little as an absent one
        try:
            fields[name] = None if raw is None else spec.clean(raw)
        except FieldProblem as exc:  # name the property: the reason is read beside the file
            raise FieldProblem(f"its {prop} (the {name}) {exc.args[0]}") from None
    return fields


def _optional(component: Any, name: str) -> str | None:
    value = component.get(name)
    if name in LIST_PROPERTIES and value is not None:
        # CATEGORIES may come as several properties, each a list: the event has one
        # category, the first one named (as Google Calendar shows one colour per event).
        first = value[0] if isinstance(value, list) else value
        found = [str(c) for c in getattr(first, "cats", [first])]
        return found[0] if found else None
    return None if value is None else str(value)
