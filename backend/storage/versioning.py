"""Optimistic concurrency: every item carries ``version``, and writes are conditional on it."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

# A write without If-Match that loses a race re-reads and tries again, after a random
# pause (exponential backoff with full jitter) so that racing writers spread out instead
# of colliding again in lockstep. Past this many attempts it gives up with 409 "busy".
MAX_WRITE_ATTEMPTS = 12
_BASE_DELAY = 0.005
_MAX_DELAY = 0.25


@dataclass(frozen=True)
class IfMatch:
    """An ``If-Match`` header reduced to the versions it accepts (``None`` means ``*``)."""

    versions: frozenset[int] | None

    def allows(self, version: int) -> bool:
        return self.versions is None or version in self.versions


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
