"""Items the product keeps for itself next to the resources, and the one rule that hides them.

A GSI cannot enforce uniqueness and DynamoDB has no sequences, so some facts live in items
of their own: the claim on a department name, the report's sent-markers and its daily
quota counter, the records of idempotent requests. Their ids start with ``#``, which no
resource id may (the API never makes one, and the migration refuses legacy ids that do),
so one rule tells them apart everywhere: an id starting with ``#`` is never a resource.
Every department read refuses such ids and every department listing leaves them out.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

BOOKKEEPING_PREFIX = "#"
NAME_CLAIM_PREFIX = "#name#"


# When an idempotency key's answer cannot be written with the create it answers: another
# request took the key over (its claim had been pending past the stale limit).
KEY_TAKEN_OVER = (
    "another request took this Idempotency-Key over while this one ran; retry with the key "
    "to get its answer"
)


CALENDAR_PREFIX = "#calendar#"


def calendar_key(department_id: str) -> dict[str, Any]:
    """The key of a department's calendar item in the events table: its counters
    (``event_count``, ``series_count``), ``calendar_version`` and the rest of its calendar
    state, kept off the department's item so that event writes write no ``name-index``
    entry. It is made with its department and deleted with it."""
    return {"id": CALENDAR_PREFIX + department_id, "department_id": department_id}


def new_calendar(department_id: str) -> dict[str, Any]:
    """The calendar item of a new department: counted from the start."""
    return calendar_key(department_id) | {"event_count": 0, "calendar_version": 0}


def is_bookkeeping_id(ident: str) -> bool:
    return ident.startswith(BOOKKEEPING_PREFIX)


def claim_id(name: str) -> str:
    return NAME_CLAIM_PREFIX + name


def name_claim(name: str, department_id: str) -> dict[str, Any]:
    """The item that reserves ``name`` for ``department_id``.

    It has no ``name`` attribute, so it never appears in ``name-index``.
    """
    return {"id": claim_id(name), "department_id": department_id, "kind": "name-claim"}


# Bookkeeping that expires (report markers, the daily quota, idempotency records) lives in
# the events table under partitions of its own, where no listing of departments or events
# ever reads it. Its ``event_date`` is its expiry day, so it sits in department-date-index
# in expiry order, and ``sweep`` finds what has expired with one Query a partition. Items
# are spread over ``EXPIRING_SHARDS`` partitions (``#bookkeeping#0`` to ``#bookkeeping#f``)
# by a digest of their id, so that their index writes share no one key's throughput (an
# index key takes about 1,000 writes a second); items written before they were spread are
# under ``EXPIRING_PARTITION`` itself (see ``expiring``).
EXPIRING_PARTITION = "#bookkeeping"
EXPIRING_SHARDS = 16


def expiring_partition(ident: str) -> str:
    """The partition ``ident`` is kept in: one of ``EXPIRING_SHARDS``, by its digest."""
    shard = hashlib.sha256(ident.encode("utf-8")).digest()[0] % EXPIRING_SHARDS
    return f"{EXPIRING_PARTITION}#{shard:x}"


def expiring_partitions() -> tuple[str, ...]:
    return tuple(f"{EXPIRING_PARTITION}#{shard:x}" for shard in range(EXPIRING_SHARDS))


def expiring_key(ident: str) -> dict[str, Any]:
    return {"id": ident, "department_id": expiring_partition(ident)}


def unspread_key(ident: str) -> dict[str, Any]:
    """Where ``ident`` was kept before bookkeeping was spread over partitions."""
    return {"id": ident, "department_id": EXPIRING_PARTITION}


def expiry_attributes(expires_at: datetime) -> dict[str, Any]:
    """What makes an item expire at ``expires_at``: its epoch seconds and its expiry day.

    ``expires_at`` is also the attribute to give DynamoDB's TTL, where an administrator
    enables it; readers treat an expired item as absent either way.
    """
    return {
        "expires_at": int(expires_at.timestamp()),
        "event_date": expires_at.astimezone(UTC).date().isoformat(),
    }


def utc_datetime() -> datetime:
    return datetime.now(UTC)


def later(days: float) -> datetime:
    return utc_datetime() + timedelta(days=days)
