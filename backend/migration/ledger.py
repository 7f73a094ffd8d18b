"""What one run owes its operator: counts per kind, every rejection, phase timings.

Every phase writes into the same ``Ledger``; the console lines, the ``--report`` file and
the closing summary are all read from it, so the counts always add up to what the files
hold.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from backend.migration.output import Console, Counts, Rejection, Report
from backend.migration.sources import LegacyRecord

KEPT = (
    "already in the table with different content (changed since an earlier run?); "
    "kept as it is. Use --overwrite to replace it"
)


@dataclass
class Options:
    dry_run: bool = False
    overwrite: bool = False
    workers: int = 8
    timezone: str = "Asia/Seoul"  # legacy times without an offset are wall-clock time here


@dataclass
class Ledger:
    console: Console
    report: Report
    departments: Counts = field(default_factory=Counts)
    events: Counts = field(default_factory=Counts)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def reject(self, kind: str, record: LegacyRecord, reason: str) -> None:
        rejection = Rejection(kind, record.file, record.path, reason, record.value)
        self.report.add(rejection)
        self.console.rejection(rejection)
        (self.departments if kind == "department" else self.events).rejected += 1

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = round(time.perf_counter() - started, 3)
