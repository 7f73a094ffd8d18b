"""A department's events as one ``VCALENDAR`` that calendar apps can subscribe to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from backend.domain import Department, Event
from backend.fields import EVENT, Text

PRODID = "-//Department Calendar//department-calendar//KO"
# The event's own text for its time (오후 3:00), kept beside DTSTART for a round trip.
TIME_TEXT = EVENT.text("time").ical or "X-CALENDAR-TIME-TEXT"
# The text fields an iCalendar property carries, by their declarations.
TEXT_PROPERTIES = tuple(
    (spec.name, spec.ical) for spec in EVENT.fields if isinstance(spec, Text) and spec.ical
)


def uid_of(event: Event, domain: str) -> str:
    return f"{event.id}@{domain}"


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _clock(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def vevent(event: Event, zone: ZoneInfo, domain: str) -> icalendar.Event:
    component = icalendar.Event()
    component.add("uid", uid_of(event, domain))
    if event.updated_at:
        component.add("dtstamp", _instant(event.updated_at))
        component.add("last-modified", _instant(event.updated_at))
    if event.created_at:
        component.add("created", _instant(event.created_at))
    component.add("sequence", max(event.version - 1, 0))
    for name, prop in TEXT_PROPERTIES:
        value = getattr(event, name)
        if value is not None and (value or prop == TIME_TEXT):
            component.add(prop, value)
    first, last = date.fromisoformat(event.event_date), date.fromisoformat(event.last_date)
    if event.start_time is None:
        component.add("dtstart", first)
        component.add("dtend", last + timedelta(days=1))  # exclusive, as RFC 5545 wants
    else:
        start = datetime.combine(first, _clock(event.start_time), zone)
        if event.end_time is not None:
            end = datetime.combine(last, _clock(event.end_time), zone)
        else:
            end = datetime.combine(last, _clock(event.start_time), zone) + timedelta(hours=1)
        component.add("dtstart", start)
        component.add("dtend", end)
    return component


def calendar(department: Department, events: Iterable[Event], timezone: str, domain: str) -> bytes:
    """The ``VCALENDAR`` of ``events``: CRLF lines folded at 75 octets, with a
    ``VTIMEZONE`` for ``timezone``."""
    zone = ZoneInfo(timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", department.name)
    cal.add("x-wr-timezone", timezone)
    if department.description:
        cal.add("x-wr-caldesc", department.description)
    cal.add_component(icalendar.Timezone.from_tzid(timezone))
    for event in events:
        cal.add_component(vevent(event, zone, domain))
    return bytes(cal.to_ical())
