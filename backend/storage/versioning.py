"""Optimistic concurrency: every item carries ``version``, and writes are conditional on it."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from backend.errors import PreconditionFailed
from backend.storage.dynamo import to_value

# A write without If-Match that loses a race re-reads and tries again, after a random
# pause (exponential backoff with full jitter) so that racing writers spread out instead
# of colliding again in lockstep. Past this many attempts it gives up with 409 "busy".
MAX_WRITE_ATTEMPTS = 12
_BASE_DELAY = 0.005
_MAX_DELAY = 0.25


class VersionMoved(Exception):
    """The item's version changed (or the item went) between our read and our write."""


class Contended(Exception):
    """A transaction held the item, or the table throttled: the same write may succeed."""


@dataclass(frozen=True)
class IfMatch:
    """An ``If-Match`` header reduced to the versions it accepts (``None`` means ``*``)."""

    versions: frozenset[int] | None

    def allows(self, version: int) -> bool:
        return self.versions is None or version in self.versions


def require(if_match: IfMatch | None, version: int) -> None:
    """``PreconditionFailed`` (412) unless ``if_match`` is absent or allows ``version``."""
    if if_match is not None and not if_match.allows(version):
        raise PreconditionFailed(version)


# DynamoDB refuses a sort key over 1024 bytes (and a partition key over 2048) with a
# ValidationException; no stored id is that long, so such an id is simply not found.
MAX_KEY_BYTES = 1024


def usable_key(value: str) -> bool:
    return 0 < len(value.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def write_attempts() -> Iterator[int]:
    """Yield attempt numbers, sleeping with jittered backoff before each retry."""
    for attempt in range(MAX_WRITE_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(_MAX_DELAY, _BASE_DELAY * 2**attempt)))  # noqa: S311
        yield attempt


def version_condition(version: int) -> str:
    """A condition that ``#version`` still equals ``:expected`` (which is ``version``).

    Items written by another program (the setup guide's first app, the console) may lack
    ``version``; they are served as version 1, so where 1 is expected a missing attribute
    passes too, and such an item can be edited and deleted with the ETag it was served.
    """
    if version == 1:
        return "attribute_exists(id) AND (#version = :expected OR attribute_not_exists(#version))"
    return "#version = :expected"


def versioned_update(
    table: str,
    key: dict[str, Any],
    version: int,
    attributes: dict[str, Any],
    *,
    keys: tuple[str, ...],
) -> Any:
    """An ``UpdateItem`` request that writes ``attributes`` (``None``: remove it) over the
    item at ``key``, provided it is still at ``version``.

    The condition on the version read a moment ago is what makes If-Match safe under
    concurrency: of N writers that read version v, exactly one moves it to v + 1.
    Attributes the declarations do not name (counters, legacy fields) are left alone.
    """
    sets, removes = [], []
    names = {"#version": "version"}
    values: dict[str, Any] = {":expected": to_value(version)}
    for n, (attribute, value) in enumerate((a, v) for a, v in attributes.items() if a not in keys):
        name = "#version" if attribute == "version" else f"#a{n}"
        names[name] = attribute
        if value is None:
            removes.append(name)
        else:
            sets.append(f"{name} = :a{n}")
            values[f":a{n}"] = to_value(value)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": expression,
        "ConditionExpression": version_condition(version),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
