"""The product's records as plain data, shared by storage, the API and the migration."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


def utc_now() -> str:
    """The current instant as ISO 8601 in UTC with ``Z``, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Actor:
    """Who wrote a record (``created_by`` / ``updated_by``): a signed-in person
    (``user:<sub>``, with the name the provider gives) or a service token
    (``service:<name>``)."""

    principal: str
    name: str | None = None

    def json(self) -> dict[str, Any]:
        return {"principal": self.principal, "name": self.name}


_ACTING: ContextVar[Actor | None] = ContextVar("acting", default=None)


def acting() -> Actor | None:
    """Who the writes of this request (or job) are made for; None when nobody is known
    (development without sign-in, the migration, data from before)."""
    return _ACTING.get()


@contextmanager
def acting_as(actor: Actor | None) -> Iterator[None]:
    token = _ACTING.set(actor)
    try:
        yield
    finally:
        _ACTING.reset(token)


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    description: str | None
    created_at: str
    updated_at: str
    version: int
    notify_emails: tuple[str, ...] = ()  # who receives the department's report e-mail
    visibility: str = "organization"  # who reads it besides its members (access.rights)
    created_by: Actor | None = None
    updated_by: Actor | None = None


@dataclass(frozen=True)
class Event:
    id: str
    department_id: str
    event_date: str
    title: str
    time: str | None
    start_time: str | None
    description: str | None
    created_at: str
    updated_at: str
    version: int
    end_date: str | None = None  # the last day of a multi-day event (inclusive)
    end_time: str | None = None
    location: str | None = None
    recurrence: tuple[str, ...] | None = None  # a series: its RFC 5545 lines
    recurring_event_id: str | None = None  # an instance: the id of its series
    original_date: str | None = None  # an instance: the date its series gives it
    category: str | None = None  # what kind of event (회의, 연차): one line, trimmed
    created_by: Actor | None = None
    updated_by: Actor | None = None

    @property
    def last_date(self) -> str:
        return self.end_date or self.event_date

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        """Calendar order: date, then start time (untimed, all-day events first), then title.

        The id breaks the remaining ties so that pages never overlap or skip.
        """
        return (self.event_date, self.start_time or "", self.title, self.id)

    @property
    def days(self) -> int:
        """How many days after its first day it ends (0: a single day)."""
        if self.end_date is None:
            return 0
        return (date.fromisoformat(self.end_date) - date.fromisoformat(self.event_date)).days


@dataclass(frozen=True)
class Series:
    """A recurring event as stored: the series (an ``Event`` whose ``recurrence`` is set
    and whose ``event_date`` is its first occurrence) and the original dates of its
    changed instances, each an event item of its own (``<series id>_<YYYYMMDD>``)."""

    event: Event
    # Each changed instance: its original date, and where it is now (first and last date).
    changed: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def with_changed(self, event: Event, instance: Event) -> Series:
        """``event`` (the series after a write) with ``instance`` among its changes."""
        placed = (instance.event_date, instance.last_date)
        return Series(event, {**self.changed, str(instance.original_date): placed})

    def keeping(self, event: Event, days: Iterable[str]) -> Series:
        """``event`` with only the changes of ``days`` (original dates) kept."""
        return Series(event, {d: self.changed[d] for d in days if d in self.changed})


def instance_id(series_id: str, day: str) -> str:
    """The id of a series's occurrence on ``day`` (``YYYY-MM-DD``): ``<id>_<YYYYMMDD>``."""
    return f"{series_id}_{day.replace('-', '')}"


def split_instance_id(ident: str) -> tuple[str, str] | None:
    """(series id, ``YYYY-MM-DD``) of an instance id, or None."""
    head, sep, tail = ident.rpartition("_")
    if not sep or not head or len(tail) != 8 or not tail.isdigit():
        return None
    return head, f"{tail[:4]}-{tail[4:6]}-{tail[6:]}"


@dataclass(frozen=True)
class Webhook:
    """Where a department's changes are announced (a team chat, or any HTTPS receiver).

    ``delivered_version`` is the department's calendar version up to which every change
    has been delivered; the rest is the state of the next delivery while it fails.
    """

    id: str
    department_id: str
    url: str
    format: str  # "json" (ours, signed), "slack" or "teams"
    language: str  # "ko" or "en": the words of chat messages
    secret: str  # signs "json" deliveries; shown once, at creation
    created_at: str
    delivered_version: int
    status: str = "active"  # "active", or "failing" after a day of failed attempts
    attempts: int = 0  # failed attempts of the next delivery
    failing_since: str | None = None  # its first failed attempt
    next_attempt_at: str | None = None
    last_error: str | None = None
    last_delivered_at: str | None = None
