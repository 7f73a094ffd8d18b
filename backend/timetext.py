"""Reading 24-hour start and end times out of the free-text ``time`` of an event.

One parser serves the API and the migration, so an event reads the same whichever way it
arrived. It accepts the forms people type in Korean and English (``오후 3:00``,
``오전 9:30``, ``3:00 PM``, ``15:00``, ``오후 3시 30분``, ``3시 반``, ``정오``) and ranges
(``14:00~15:00``, ``오후 2시-3시``, ``2:00 PM - 3:30 PM``, ``3-4pm``); anything else has
no time. A bare Korean hour without 오전/오후 is read as office hours: 1 to 6 o'clock are
in the afternoon (``3시`` is 15:00), 7 to 12 as written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_AM_WORDS = ("오전", "새벽", "아침", "am", "a.m.", "a.m")
_PM_WORDS = ("오후", "낮", "저녁", "밤", "pm", "p.m.", "p.m")
_NAMED = {"정오": (12, 0), "noon": (12, 0), "자정": (0, 0), "midnight": (0, 0)}
_LAST_AFTERNOON_HOUR = 6  # 1시 to 6시 without 오전/오후 mean the afternoon

_MERIDIEM = "|".join(re.escape(w) for w in sorted(_AM_WORDS + _PM_WORDS, key=len, reverse=True))
_POINT = re.compile(
    rf"""
    ^(?:(?P<pre>{_MERIDIEM})\s*)?
    (?P<hour>\d{{1,2}})
    (?:
        \s*:\s*(?P<minute>\d{{2}})(?::\d{{2}})?      # 3:00, 15:00:00
      | \s*(?P<si>시)(?:\s*(?:(?P<kminute>\d{{1,2}})\s*분|(?P<half>반)))?   # 3시, 3시 30분, 3시 반
    )?
    \s*(?P<post>{_MERIDIEM})?$
    """,
    re.VERBOSE,
)
_RANGE = re.compile(r"\s*(?:~|〜|-|–|—|부터|\bto\b)\s*")
_UNTIL = re.compile(r"\s*까지$")


@dataclass(frozen=True)
class _Point:
    hour: int
    minute: int
    meridiem: str | None  # "am", "pm" or None
    korean_hour: bool  # written as N시
    explicit: bool  # minutes or 시 written: readable without a meridiem


def _point(text: str) -> _Point | None:
    if text in _NAMED:
        hour, minute = _NAMED[text]
        return _Point(hour, minute, None, korean_hour=False, explicit=True)
    match = _POINT.match(text)
    if match is None:
        return None
    pre, post = match["pre"], match["post"]
    if pre and post:
        return None  # "오후 3:00 PM": contradictory or at best redundant, so not trusted
    word = pre or post
    meridiem = None if word is None else ("am" if word in _AM_WORDS else "pm")
    if word == "밤" and int(match["hour"]) == 12:
        return _Point(0, 0 if not match["minute"] else int(match["minute"]), None, False, True)
    minute = 30 if match["half"] else int(match["minute"] or match["kminute"] or 0)
    if minute > 59:
        return None
    explicit = bool(match["minute"] or match["kminute"] or match["half"] or match["si"])
    return _Point(int(match["hour"]), minute, meridiem, bool(match["si"]), explicit)


def _clock(point: _Point, meridiem: str | None) -> tuple[int, int] | None:
    """The 24-hour (hour, minute) of a point read with ``meridiem``."""
    hour = point.hour
    if meridiem == "am":
        if hour > 12:
            return None
        hour = 0 if hour == 12 else hour
    elif meridiem == "pm":
        if hour > 23:
            return None
        if hour < 12:
            hour += 12
    elif point.korean_hour and 1 <= hour <= _LAST_AFTERNOON_HOUR:
        hour += 12  # office hours: 3시 is three in the afternoon
    elif hour > 23 or not point.explicit:
        return None  # a bare number ("3") could be anything
    return hour, point.minute


def _text(clock: tuple[int, int] | None) -> str | None:
    return None if clock is None else f"{clock[0]:02d}:{clock[1]:02d}"


def parse_time_range(text: str | None) -> tuple[str | None, str | None]:
    """``(start, end)`` as ``HH:MM`` (24-hour) for a time written by a person.

    Either is None when it cannot be read; an end that is not after its start is None.
    """
    if not text:
        return None, None
    normal = _UNTIL.sub("", unicodedata.normalize("NFKC", text).strip().lower())
    if normal in _NAMED:
        return _text(_NAMED[normal]), None
    parts = _RANGE.split(normal, maxsplit=1)
    first = _point(parts[0])
    if first is None:
        return None, None
    second = _point(parts[1]) if len(parts) > 1 and parts[1] else None
    if second is None:
        return _text(_clock(first, first.meridiem)), None
    start = _clock(first, first.meridiem or second.meridiem)
    if first.meridiem is None and second.meridiem is not None:
        end_alone = _clock(second, second.meridiem)
        if start is None or (end_alone is not None and start >= end_alone):
            start = _clock(first, "am" if second.meridiem == "pm" else None)  # 11-1pm
    end = _clock(second, second.meridiem or first.meridiem)
    if start is not None and end is not None and end <= start and second.meridiem is None:
        later = (end[0] + 12, end[1])  # 오전 11시-1시: the end comes after noon
        end = later if later[0] <= 23 and later > start else end
    if start is None or end is None or end <= start:
        return _text(start), None
    return _text(start), _text(end)


def parse_start_time(text: str | None) -> str | None:
    """Return ``HH:MM`` (24-hour) for the start of a time written by a person, or None."""
    return parse_time_range(text)[0]
