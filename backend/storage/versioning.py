"""Optimistic concurrency: every item carries ``version``, and writes are conditional on it."""

from __future__ import annotations

from dataclasses import dataclass

# How often a write without If-Match re-reads and retries after losing a race to another
# writer before giving up with 409; a handful is plenty outside pathological contention.
MAX_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class IfMatch:
    """An ``If-Match`` header reduced to the versions it accepts (``None`` means ``*``)."""

    versions: frozenset[int] | None

    def allows(self, version: int) -> bool:
        return self.versions is None or version in self.versions
