"""A department's events as one ``VCALENDAR`` that calendar apps can subscribe to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from backend.domain import Department, Event, Series
from backend.fields import EVENT, Text
from backend.recurrence import Schedule

PRODID = "-//Department Calendar//department-calendar//KO"
# The event's own text for its time (오후 3:00), kept beside DTSTART for a round trip.
TIME_TEXT = EVENT.text("time").ical or "X-CALENDAR-TIME-TEXT"
# The text fields an iCalendar property carries, by their declarations.
TEXT_PROPERTIES = tuple(
    (spec.name, spec.ical) for spec in EVENT.fields if isinstance(spec, Text) and spec.ical
)
# Those whose property holds a list (CATEGORIES): one value is written as a list of one.
LIST_PROPERTIES = frozenset(
    spec.ical for spec in EVENT.fields if isinstance(spec, Text) and spec.ical and spec.ical_list
)


# Characters an iCalendar TEXT value cannot hold (RFC 5545 3.3.11: controls but HTAB); a
# line break is written as the escape \n instead, whichever of CR LF, CR or LF it was.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_BREAKS = re.compile("\r\n?|\n")


def ical_text(value: str) -> icalendar.vText:
    """``value`` as an iCalendar TEXT value: line breaks become escaped ``\n`` (a bare CR
    never reaches the file, where it would end the line), other controls U+FFFD."""
    return icalendar.vText(_CONTROLS.sub("\ufffd", _BREAKS.sub("\n", value)))


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
            text = ical_text(value)
            # A list's commas are escaped in its one value ("회의, 외부" stays one category).
            component.add(prop, [text] if prop in LIST_PROPERTIES else text)
    first, last = date.fromisoformat(event.event_date), date.fromisoformat(event.last_date)
    if event.start_time is None:
        component.add("dtstart", first)
        if last < date.max:
            component.add("dtend", last + timedelta(days=1))  # exclusive, as RFC 5545 wants
        else:  # the calendar's last day: its exclusive end is past what a date can hold
            component.add("duration", timedelta(days=(last - first).days + 1))
    else:
        start = datetime.combine(first, _clock(event.start_time), zone)
        component.add("dtstart", start)
        if event.end_time is not None:
            component.add("dtend", datetime.combine(last, _clock(event.end_time), zone))
        else:
            hour = datetime.combine(last, _clock(event.start_time)) - start.replace(tzinfo=None)
            hour += timedelta(hours=1)  # an hour from the start of its last day
            try:
                component.add("dtend", start + hour)
            except OverflowError:  # 9999-12-31 late: the end is past what a date can hold
                component.add("duration", hour)
    return component


def series_vevents(
    series: Series, changed: Sequence[Event], zone: ZoneInfo, domain: str
) -> list[icalendar.Event]:
    """A series as RFC 5545 writes one: a ``VEVENT`` for its first occurrence with
    ``RRULE``/``EXDATE``/``RDATE`` (times in the calendar's ``TZID``, ``UNTIL`` in UTC for
    a timed series), then one per changed instance, with the series's ``UID`` and a
    ``RECURRENCE-ID`` naming the occurrence it replaces."""
    event = series.event
    schedule = Schedule(event.event_date, event.recurrence or (), event.start_time, zone)
    clock = None if event.start_time is None else _clock(event.start_time)

    def moment(day: date) -> date | datetime:
        return day if clock is None else datetime.combine(day, clock, zone)

    master = vevent(replace(event, recurrence=None), zone, domain)
    synced = schedule.rule_makes_first()
    if schedule.parts is not None:
        parts = {k: v for k, v in schedule.parts.items() if k != "UNTIL"}
        until = schedule.until
        if not synced and "COUNT" in parts:
            # Readers would count COUNT from the rule's own first date: say where it ends.
            del parts["COUNT"]
            until = schedule.ends()
        if until is not None:
            last = moment(until)
            if isinstance(last, datetime):
                parts["UNTIL"] = last.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            else:
                parts["UNTIL"] = last.strftime("%Y%m%d")
        text = ";".join(f"{k}={v}" for k, v in parts.items())
        master.add("rrule", icalendar.vRecur.from_ical(text))
    if schedule.excluded:
        master.add("exdate", [moment(day) for day in sorted(schedule.excluded)])
    added = {day for day in schedule.added if day != schedule.first}
    if not synced:
        added.add(schedule.first)  # the first date is an occurrence the rule does not make
    if added:
        master.add("rdate", [moment(day) for day in sorted(added)])
    components = [master]
    for item in changed:
        component = vevent(replace(item, recurring_event_id=None), zone, domain)
        component["UID"] = icalendar.vText(uid_of(event, domain))
        component.add("recurrence-id", moment(date.fromisoformat(item.original_date or "")))
        components.append(component)
    return components


def calendar(
    department: Department,
    events: Iterable[Event],
    timezone: str,
    domain: str,
    series: Iterable[tuple[Series, Sequence[Event]]] = (),
) -> bytes:
    """The ``VCALENDAR`` of ``events`` and ``series`` (each with its changed instances):
    CRLF lines folded at 75 octets, with a ``VTIMEZONE`` for ``timezone``."""
    zone = ZoneInfo(timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", ical_text(department.name))
    cal.add("x-wr-timezone", timezone)
    if department.description:
        cal.add("x-wr-caldesc", ical_text(department.description))
    cal.add_component(icalendar.Timezone.from_tzid(timezone))
    for event in events:
        cal.add_component(vevent(event, zone, domain))
    for one, changed in series:
        for component in series_vevents(one, changed, zone, domain):
            cal.add_component(component)
    return bytes(cal.to_ical())
