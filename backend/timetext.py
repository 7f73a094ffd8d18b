"""Reading the 24-hour start time out of the free-text ``time`` of an event.

One parser serves the API and the migration, so an event reads the same whichever way it
arrived. It accepts the forms people type in Korean and English (``오후 3:00``,
``오전 9:30``, ``3:00 PM``, ``15:00``, ``오후 3시 30분``, ``3시 반``, ``정오``) and
ranges (``14:00~15:00`` starts at 14:00); anything else has no start time.
"""

from __future__ import annotations

import re
import unicodedata

_AM_WORDS = ("오전", "새벽", "아침", "am", "a.m.", "a.m")
_PM_WORDS = ("오후", "낮", "저녁", "밤", "pm", "p.m.", "p.m")
_NAMED = {"정오": (12, 0), "noon": (12, 0), "자정": (0, 0), "midnight": (0, 0)}

_MERIDIEM = "|".join(re.escape(w) for w in sorted(_AM_WORDS + _PM_WORDS, key=len, reverse=True))
_PATTERN = re.compile(
    rf"""
    ^(?:(?P<pre>{_MERIDIEM})\s*)?
    (?P<hour>\d{{1,2}})
    (?:
        \s*:\s*(?P<minute>\d{{2}})(?::\d{{2}})?      # 3:00, 15:00:00
      | \s*(?P<si>시)(?:\s*(?:(?P<kminute>\d{{1,2}})\s*분|(?P<half>반)))?   # 3시, 3시 30분, 3시 반
    )?
    \s*(?P<post>{_MERIDIEM})?
    \s*(?:(?:-|~|–|—|부터|to\b|까지).*)?$             # the start of a range
    """,
    re.VERBOSE,
)


def parse_start_time(text: str | None) -> str | None:
    """Return ``HH:MM`` (24-hour) for a time written by a person, or None if unreadable."""
    if not text:
        return None
    normal = unicodedata.normalize("NFKC", text).strip().lower()
    if normal in _NAMED:
        hour, minute = _NAMED[normal]
        return f"{hour:02d}:{minute:02d}"
    match = _PATTERN.match(normal)
    if match is None:
        return None
    pre, post = match["pre"], match["post"]
    if pre and post:
        return None  # "오후 3:00 PM": contradictory or at best redundant, so not trusted
    meridiem = pre or post
    explicit_minutes = match["minute"] or match["kminute"] or match["half"]
    if meridiem is None and explicit_minutes is None and match["si"] is None:
        return None  # a bare number ("3") could be anything
    hour = int(match["hour"])
    minute = 30 if match["half"] else int(match["minute"] or match["kminute"] or 0)
    if minute > 59:
        return None
    if meridiem is None:
        return f"{hour:02d}:{minute:02d}" if hour <= 23 else None
    if meridiem in _AM_WORDS:
        if hour > 12:
            return None
        hour = 0 if hour == 12 else hour
    elif meridiem == "밤" and hour == 12:
        hour = 0  # 밤 12시 is midnight
    elif hour < 12:
        hour += 12
    elif hour > 23:
        return None
    return f"{hour:02d}:{minute:02d}"
