"""Recurrence rules of recurring events (RFC 5545 ``RRULE``, ``EXDATE``, ``RDATE``).

Clients send a series's ``recurrence`` as Google's API takes it: a list of lines such as
``RRULE:FREQ=WEEKLY;BYDAY=MO,WE``. ``check_lines`` says whether the contract allows them
(naming the line and the part that break it), and ``Schedule`` gives the dates they make.
The arithmetic is python-dateutil's ``rrule``; this module only checks what the contract
allows, fills in RFC 5545's defaults from the first date, and keeps every expansion bounded:

- occurrences are dates (every occurrence of a series has the series's time of day), so a
  rule is expanded from midnight of its first date;
- an expansion far from the first date starts at a whole number of periods (``INTERVAL``
  days, weeks, months or years) after it, which leaves an endless rule's dates unchanged and
  makes the cost of a window independent of how long ago the series began;
- a rule with ``COUNT`` must end within ``COUNT_HORIZON_YEARS`` of its first date, so that
  counting its occurrences is bounded too.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

MAX_LINES = 10
MAX_LINE_LENGTH = 1000
MAX_INTERVAL = 1000
MAX_COUNT = 1000
COUNT_HORIZON_YEARS = 30

FREQUENCIES: dict[str, Literal[0, 1, 2, 3]] = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
}
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The parts the contract allows, and the ones RFC 5545 has that it does not.
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYSETPOS",
    "WKST",
)
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_LINE = re.compile(r"([A-Za-z-]+)((?:;[^:]*)?):(.*)", re.S)


class RuleProblem(ValueError):
    """A recurrence line the contract does not allow: ``line`` is its index in the list."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Moment:
    """An ``EXDATE``/``RDATE``/``UNTIL`` value: a date, or a date and time of day either
    on the wall clock of ``zone`` (None: the calendar's) or in UTC."""

    day: date
    clock: tuple[int, int, int] | None = None
    utc: bool = False
    zone: str | None = None

    def local_day(self, at: str | None, calendar: ZoneInfo, *, until: bool = False) -> date:
        """The calendar date this value names for a series at ``at`` (HH:MM or None).

        For ``UNTIL`` with a time of day, a date whose occurrence would start after the
        value is not included: the last date is then the day before."""
        if self.clock is None:
            return self.day
        moment = datetime(self.day.year, self.day.month, self.day.day, *self.clock)
        if self.utc or self.zone is not None:
            source = ZoneInfo("UTC") if self.utc else ZoneInfo(str(self.zone))
            moment = moment.replace(tzinfo=source).astimezone(calendar).replace(tzinfo=None)
        if until and at is not None:
            hour, minute = (int(part) for part in at.split(":"))
            if (hour, minute, 0) > (moment.hour, moment.minute, moment.second):
                return moment.date() - timedelta(days=1)
        return moment.date()


@dataclass(frozen=True)
class Rule:
    """The lines of a recurrence, read."""

    lines: tuple[str, ...]
    parts: dict[str, str] | None  # the RRULE's parts, or None (only RDATEs)
    exdates: tuple[Moment, ...]
    rdates: tuple[Moment, ...]


def check_lines(value: object) -> tuple[str, ...] | None:
    """A ``recurrence`` as stored: None, or its lines (names in capitals, no surrounding
    white space). ``RuleProblem`` names the first line the contract does not allow."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise RuleProblem(-1, f"must be a list of 1 to {MAX_LINES} RFC 5545 lines, or null")
    if len(value) > MAX_LINES:
        raise RuleProblem(-1, f"must hold at most {MAX_LINES} lines (got {len(value)})")
    cleaned = []
    for n, line in enumerate(value):
        if not isinstance(line, str):
            raise RuleProblem(n, "must be a string")
        cleaned.append(line.strip())
    return read(cleaned).lines


def read(lines: Sequence[str]) -> Rule:
    """The rule of ``lines`` (already stripped), or ``RuleProblem``."""
    parts: dict[str, str] | None = None
    exdates: list[Moment] = []
    rdates: list[Moment] = []
    out = []
    for n, line in enumerate(lines):
        if len(line) > MAX_LINE_LENGTH:
            raise RuleProblem(n, f"must be at most {MAX_LINE_LENGTH} characters")
        match = _LINE.fullmatch(line)
        if not match or any(c in line for c in "\r\n"):
            raise RuleProblem(n, "is not an RFC 5545 line (NAME:VALUE)")
        name, params, values = match[1].upper(), match[2], match[3]
        if name == "RRULE":
            if parts is not None:
                raise RuleProblem(n, "a second RRULE is not supported: one rule per series")
            if params:
                raise RuleProblem(n, "RRULE takes no parameters")
            parts = _rule_parts(n, values.upper())
            out.append("RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items()))
        elif name in ("EXDATE", "RDATE"):
            moments = _moments(n, name, params, values)
            (exdates if name == "EXDATE" else rdates).extend(moments)
            out.append(f"{name}{params}:{values.upper()}")
        elif name == "EXRULE":
            raise RuleProblem(n, "EXRULE is not supported (RFC 5545 deprecated it): use EXDATE")
        else:
            raise RuleProblem(n, f"{name} is not a recurrence line (RRULE, EXDATE or RDATE)")
    return Rule(tuple(out), parts, tuple(exdates), tuple(rdates))


def _rule_parts(n: int, text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        key, sep, value = piece.partition("=")
        if not sep or not key or not value:
            raise RuleProblem(n, f"part {piece!r} is not NAME=VALUE")
        if key in _TIME_PARTS:
            raise RuleProblem(n, f"{key} is not supported: a series repeats by day, at its time")
        if key not in PARTS:
            raise RuleProblem(n, f"{key} is not a supported RRULE part")
        if key in parts:
            raise RuleProblem(n, f"{key} is given twice")
        parts[key] = value
    _check_values(n, parts)
    _check_combinations(n, parts)
    return parts


def _check_values(n: int, parts: dict[str, str]) -> None:
    if "FREQ" not in parts:
        raise RuleProblem(n, "FREQ is required")
    freq = parts["FREQ"]
    if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
        raise RuleProblem(n, f"FREQ={freq} is not supported: DAILY, WEEKLY, MONTHLY or YEARLY")
    if freq not in FREQUENCIES:
        raise RuleProblem(n, f"FREQ={freq} is not DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleProblem(n, "COUNT and UNTIL cannot both be given")
    _number(n, parts, "INTERVAL", 1, MAX_INTERVAL)
    _number(n, parts, "COUNT", 1, MAX_COUNT)
    if "UNTIL" in parts:
        _moment(n, "UNTIL", parts["UNTIL"], None)
    _check_numbers(n, parts)
    _check_days(n, parts)
    if "WKST" in parts and parts["WKST"] not in DAYS:
        raise RuleProblem(n, f"WKST={parts['WKST']} is not a day (MO to SU)")


def _check_numbers(n: int, parts: dict[str, str]) -> None:
    for key, low, high in (
        ("BYMONTHDAY", 1, 31),
        ("BYMONTH", 1, 12),
        ("BYYEARDAY", 1, 366),
        ("BYWEEKNO", 1, 53),
        ("BYSETPOS", 1, 366),
    ):
        if key in parts:
            for item in parts[key].split(","):
                number = _integer(n, key, item)
                if key == "BYMONTH" and number < 0:
                    raise RuleProblem(n, f"{key}={item} must be 1 to 12")
                if not low <= abs(number) <= high:
                    raise RuleProblem(n, f"{key}={item} must be ±{low} to ±{high}")


def _check_days(n: int, parts: dict[str, str]) -> None:
    for item in parts["BYDAY"].split(",") if "BYDAY" in parts else ():
        found = _BYDAY.fullmatch(item)
        if not found:
            raise RuleProblem(n, f"BYDAY={item} is not a day (MO, 2MO, -1FR)")
        if found[1] is not None and not 1 <= abs(int(found[1])) <= 53:
            raise RuleProblem(n, f"BYDAY={item}: the ordinal must be ±1 to ±53")


def _check_combinations(n: int, parts: dict[str, str]) -> None:
    freq = parts["FREQ"]
    for item in parts.get("BYDAY", "").split(","):
        found = _BYDAY.fullmatch(item)
        if (
            found
            and found[1] is not None
            and (freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts)
        ):
            raise RuleProblem(n, f"BYDAY={item}: an ordinal day needs FREQ=MONTHLY or YEARLY")
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise RuleProblem(n, "BYWEEKNO needs FREQ=YEARLY")
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RuleProblem(n, "BYYEARDAY needs FREQ=YEARLY")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise RuleProblem(n, "BYMONTHDAY cannot be used with FREQ=WEEKLY")
    if "BYSETPOS" in parts and not any(k.startswith("BY") and k != "BYSETPOS" for k in parts):
        raise RuleProblem(n, "BYSETPOS needs another BY part to choose from")


def _integer(n: int, key: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,4}", text):
        raise RuleProblem(n, f"{key}={text} is not a number")
    return int(text)


def _number(n: int, parts: dict[str, str], key: str, low: int, high: int) -> None:
    if key in parts:
        number = _integer(n, key, parts[key])
        if not low <= number <= high:
            raise RuleProblem(n, f"{key}={parts[key]} must be {low} to {high}")


def _moments(n: int, name: str, params: str, values: str) -> list[Moment]:
    zone: str | None = None
    kind = None
    for param in filter(None, params.split(";")):
        key, _, value = param.partition("=")
        key = key.upper()
        if key == "VALUE" and value.upper() in ("DATE", "DATE-TIME"):
            kind = value.upper()
        elif key == "TZID" and value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise RuleProblem(n, f"{name}: TZID={value} is not a known time zone") from None
            zone = value
        else:
            raise RuleProblem(n, f"{name}: parameter {param!r} is not supported")
    moments = [_moment(n, name, value.strip(), zone) for value in values.upper().split(",")]
    if kind == "DATE" and any(m.clock is not None for m in moments):
        raise RuleProblem(n, f"{name}: VALUE=DATE values must be dates (20240125)")
    return moments


def _moment(n: int, name: str, text: str, zone: str | None) -> Moment:
    if found := _DATE_TIME.fullmatch(text):
        day = _real_date(n, name, text, found)
        clock = (int(found[4]), int(found[5]), int(found[6]))
        if clock[0] > 23 or clock[1] > 59 or clock[2] > 60:
            raise RuleProblem(n, f"{name} {text} is not a real time of day")
        return Moment(day, (clock[0], clock[1], min(clock[2], 59)), bool(found[7]), zone)
    if found := _DATE.fullmatch(text):
        return Moment(_real_date(n, name, text, found))
    raise RuleProblem(
        n, f"{name} {text!r} is not a date (20240125) or a date-time (20240125T140000)"
    )


def _real_date(n: int, name: str, text: str, found: re.Match[str]) -> date:
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise RuleProblem(n, f"{name} {text} is not a real date") from None


class Schedule:
    """The dates of a series: its first date (always an occurrence, as RFC 5545's DTSTART
    is), its rule's, its ``RDATE``s, without its ``EXDATE``s."""

    def __init__(self, first: str, lines: Sequence[str], at: str | None, zone: ZoneInfo) -> None:
        rule = read(lines)
        self.first = date.fromisoformat(first)
        self.lines = tuple(lines)
        self.at = at
        self.zone = zone
        self.parts = rule.parts
        self.excluded = frozenset(m.local_day(at, zone) for m in rule.exdates)
        self.added = sorted({m.local_day(at, zone) for m in rule.rdates})
        self.until: date | None = None
        self.count: int | None = None
        if rule.parts is not None:
            if "UNTIL" in rule.parts:
                moment = _moment(0, "UNTIL", rule.parts["UNTIL"], None)
                self.until = moment.local_day(at, zone, until=True)
            if "COUNT" in rule.parts:
                self.count = int(rule.parts["COUNT"])
        self._counted: list[date] | None = None

    # -- the rule, through dateutil -----------------------------------------------------

    def _rrule(self, anchor: date | None = None, count: int | None = None) -> rrule:
        assert self.parts is not None  # noqa: S101 - callers check
        parts = self.parts
        freq = FREQUENCIES[parts["FREQ"]]
        days = [_weekday(item) for item in parts["BYDAY"].split(",")] if "BYDAY" in parts else None
        numbers = {
            key: [int(x) for x in parts[key].split(",")]
            for key in ("BYMONTHDAY", "BYMONTH", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")
            if key in parts
        }
        first = self.first
        # RFC 5545's defaults, from the first date, made explicit so that the rule can start
        # at a later period (anchor) with the same dates.
        if not (days or {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY"} & numbers.keys()):
            if freq == YEARLY:
                numbers.setdefault("BYMONTH", [first.month])
                numbers["BYMONTHDAY"] = [first.day]
            elif freq == MONTHLY:
                numbers["BYMONTHDAY"] = [first.day]
            elif freq == WEEKLY:
                days = [_weekday(DAYS[first.weekday()])]
        start = anchor or first
        until = None if self.until is None else datetime(*self.until.timetuple()[:3])
        return rrule(
            freq,
            dtstart=datetime(start.year, start.month, start.day),
            interval=int(parts.get("INTERVAL", "1")),
            wkst=DAYS.index(parts.get("WKST", "MO")),
            count=count,
            until=until,
            bysetpos=numbers.get("BYSETPOS"),
            bymonth=numbers.get("BYMONTH"),
            bymonthday=numbers.get("BYMONTHDAY"),
            byyearday=numbers.get("BYYEARDAY"),
            byweekno=numbers.get("BYWEEKNO"),
            byweekday=days,
        )

    def _counted_dates(self) -> list[date]:
        """Every date of a rule with ``COUNT`` (bounded: MAX_COUNT, within the horizon)."""
        if self._counted is None:
            assert self.count is not None  # noqa: S101
            rule: rrule | None = self._rrule(count=self.count)
            first = next(iter(rule or ()), None)
            if first is None or first.date() != self.first:
                # DTSTART counts as the first occurrence even when the rule does not make it.
                rule = self._rrule(count=self.count - 1) if self.count > 1 else None
            horizon = _years_after(self.first, COUNT_HORIZON_YEARS)
            found = [self.first]
            for moment in rule or ():
                if moment.date() > horizon:
                    break
                found.append(moment.date())
            self._counted = sorted(set(found))
        return self._counted

    def _anchor(self, start: date) -> date | None:
        """A date a whole number of periods after the first, at least two periods before
        ``start``: the rule's dates from there on are the rule's dates (no COUNT)."""
        assert self.parts is not None  # noqa: S101
        interval = int(self.parts.get("INTERVAL", "1"))
        first = self.first
        freq = self.parts["FREQ"]
        if freq == "DAILY":
            periods = (start - first).days // interval - 2
            return first + timedelta(days=periods * interval) if periods > 0 else None
        if freq == "WEEKLY":
            periods = (start - first).days // (7 * interval) - 2
            return first + timedelta(weeks=periods * interval) if periods > 0 else None
        if freq == "MONTHLY":
            months = (start.year - first.year) * 12 + start.month - first.month
            periods = months // interval - 2
            if periods <= 0:
                return None
            return date(first.year, first.month, 1) + relativedelta(months=periods * interval)
        years = start.year - first.year
        periods = years // interval - 2
        return date(first.year + periods * interval, 1, 1) if periods > 0 else None

    def _rule_dates(self, start: date) -> Iterator[date]:
        """The rule's dates from ``start`` on, ascending (the first date not included)."""
        if self.parts is None:
            return
        if self.count is not None:
            yield from (d for d in self._counted_dates() if d >= start and d != self.first)
            return
        anchor = self._anchor(start)
        begin = datetime(start.year, start.month, start.day)
        for moment in self._rrule(anchor).xafter(begin, inc=True):
            day = moment.date()
            if day != self.first:
                yield day

    # -- what the service asks ----------------------------------------------------------

    def dates(self, start: date | None = None, end: date | None = None) -> Iterator[date]:
        """The series's dates in ``[start, end]`` (open ends allowed), ascending."""
        start = max(start or self.first, self.first)
        extra = [d for d in sorted({self.first, *self.added}) if d >= start]
        for day in _merge_sorted(self._rule_dates(start), iter(extra)):
            if end is not None and day > end:
                return
            if day not in self.excluded:
                yield day

    def rule_makes_first(self) -> bool:
        """Whether the rule itself makes the first date (RFC 5545 leaves a DTSTART the
        rule does not make undefined; this service counts it, as Google does, so the
        feed names it with an RDATE)."""
        if self.parts is None:
            return True
        first = next(iter(self._rrule()), None)
        return first is not None and first.date() == self.first

    def occurs_on(self, day: date) -> bool:
        return next(self.dates(day, day), None) == day

    def ends(self) -> date | None:
        """The last date (None: never ends)."""
        if self.parts is None:
            candidates = [d for d in (self.first, *self.added) if d not in self.excluded]
            return max(candidates) if candidates else self.first
        if self.count is not None:
            return max(d for d in (*self._counted_dates(), *self.added))
        if self.until is not None:
            last: date = max(self.until, *self.added, self.first)
            return last
        return None

    def count_check(self) -> str | None:
        """Why a rule with COUNT is refused (its end past the horizon), or None."""
        if self.count is None:
            return None
        made = len([d for d in self._counted_dates() if d != self.first]) + 1
        if made < self.count:
            return (
                f"COUNT={self.count} does not end within {COUNT_HORIZON_YEARS} years of the "
                "first date: use UNTIL, or no end"
            )
        return None

    def count_before(self, day: date) -> int:
        """How many dates the rule made before ``day`` (for COUNT when a series splits)."""
        return len([d for d in self._counted_dates() if d < day])


def _weekday(item: str) -> weekday:
    found = _BYDAY.fullmatch(item)
    assert found is not None  # noqa: S101 - read() checked it
    day = weekday(DAYS.index(found[2]))
    return day(int(found[1])) if found[1] else day


def _years_after(day: date, years: int) -> date:
    return date(min(day.year + years, 9999), 12, 31)


def _merge_sorted(left: Iterator[date], right: Iterator[date]) -> Iterator[date]:
    """Two ascending streams as one, each date once."""
    last = None
    for day in heapq.merge(left, right):
        if day != last:
            yield day
            last = day


# -- rewriting a series's lines -----------------------------------------------------------


def value_of(day: date, at: str | None) -> str:
    """An EXDATE/RDATE value naming the occurrence on ``day`` (a date-time for a timed
    series, as Google writes them)."""
    text = day.strftime("%Y%m%d")
    return text if at is None else f"{text}T{at.replace(':', '')}00"


def with_exdate(lines: Sequence[str], day: date, at: str | None) -> tuple[str, ...]:
    """``lines`` with the occurrence on ``day`` excluded. ``RuleProblem`` when the lines
    cannot hold one more (MAX_LINES lines of MAX_LINE_LENGTH characters)."""
    value = value_of(day, at)
    out = list(lines)
    for n in range(len(out) - 1, -1, -1):
        line = out[n]
        kind_matches = ("T" in line.partition(":")[2]) == (at is not None)
        if line.startswith("EXDATE:") and kind_matches:
            if len(line) + 1 + len(value) <= MAX_LINE_LENGTH:
                out[n] = f"{line},{value}"
                return tuple(out)
            break
    if len(out) >= MAX_LINES:
        raise RuleProblem(len(out), f"the series already holds {MAX_LINES} lines of exceptions")
    out.append(f"EXDATE:{value}")
    return tuple(out)


def ended_before(lines: Sequence[str], day: date) -> tuple[str, ...]:
    """``lines`` with the rule ending before ``day`` (UNTIL the day before; COUNT dropped)
    and the EXDATE/RDATE values from ``day`` on left out."""
    last = day - timedelta(days=1)
    return _rewritten(lines, keep=lambda d: d <= last, until=last, count=None)


def starting_at(lines: Sequence[str], old: Schedule, day: date, new_first: date) -> tuple[str, ...]:
    """The lines of the series that continues ``old`` from its occurrence on ``day``, now
    starting on ``new_first``: COUNT reduced by the occurrences before ``day``, EXDATE and
    RDATE values before ``day`` left out."""
    count = None
    if old.count is not None:
        count = max(1, old.count - old.count_before(day))
    return _rewritten(lines, keep=lambda d: d >= min(day, new_first), until=None, count=count)


def values_from(lines: Sequence[str], day: date) -> tuple[str, ...]:
    """``lines`` without the EXDATE and RDATE values before ``day`` (a rule given for the
    series that starts on ``day``)."""
    return _rewritten(lines, keep=lambda d: d >= day, until=None, count=None)


def _rewritten(
    lines: Sequence[str],
    *,
    keep: object,
    until: date | None,
    count: int | None,
) -> tuple[str, ...]:
    assert callable(keep)  # noqa: S101
    out = []
    for line in lines:
        head, _, values = line.partition(":")
        if head == "RRULE":
            parts = dict(piece.split("=", 1) for piece in values.split(";"))
            if until is not None:
                parts.pop("COUNT", None)
                parts["UNTIL"] = until.strftime("%Y%m%d")
            if count is not None:
                parts["COUNT"] = str(count)
            out.append("RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items()))
            continue
        kept = [v for v in values.split(",") if keep(date(int(v[:4]), int(v[4:6]), int(v[6:8])))]
        if kept:
            out.append(f"{head}:{','.join(kept)}")
    return tuple(out)
