"""Calendar limits checked by more than one writer (the API, the import, the migration)."""

from __future__ import annotations

from backend.errors import Conflict
from backend.fields import MAX_EVENTS_PER_DAY


def day_full_message(day: str) -> str:
    return (
        f"{day} already holds {MAX_EVENTS_PER_DAY} events of this department, the most one "
        "date may hold"
    )


def check_day_has_room(day: str, events_on_day: int) -> None:
    """``Conflict`` (``day-full``) when ``day`` already holds ``MAX_EVENTS_PER_DAY`` events.

    The cap bounds what one page of a list reads: DynamoDB orders the index by date alone,
    so a page ends only where a date is complete.
    """
    if events_on_day >= MAX_EVENTS_PER_DAY:
        raise Conflict(day_full_message(day), code="day-full")
