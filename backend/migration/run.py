"""One migration run: read and check everything, write in batches, verify, account for all.

The order is what makes it safe. Both files are read to the end before anything is
written, so a broken file stops the run with nothing written. Writes never overwrite an
item unless asked, and every id is fixed by the source, so a run that is killed and
started again finds what the first run wrote as "already present" and finishes the rest.
The phases (``departments``, ``events``, ``verification``) share one ``Ledger``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from backend.domain import utc_now
from backend.migration.departments import DepartmentPhase
from backend.migration.events import EventPhase
from backend.migration.ledger import Ledger, Options
from backend.migration.output import Console, Counts, Report
from backend.migration.sources import LegacyRecord, Sources, check_events, read_departments
from backend.migration.verification import Verification
from backend.services.departments import count_events
from backend.storage import Storage


@dataclass
class Outcome:
    departments: Counts
    events: Counts
    verified: bool | None  # None when not verified (dry run)
    problems: list[str]
    timings: dict[str, float]  # seconds per phase

    @property
    def exit_code(self) -> int:
        failed = self.departments.rejected or self.events.rejected or self.verified is False
        return 1 if failed else 0


class Migration:
    def __init__(
        self,
        storage: Storage,
        sources: Sources,
        console: Console,
        report: Report,
        *,
        dry_run: bool = False,
        overwrite: bool = False,
        workers: int = 8,
        max_wcu: float | None = None,
        max_rcu: float | None = None,
        timezone: str = "Asia/Seoul",
    ) -> None:
        self.storage = storage
        self.sources = sources
        self.ledger = Ledger(console, report)
        self.options = Options(
            dry_run=dry_run, overwrite=overwrite, workers=workers, timezone=timezone
        )
        self._limits = {"max_wcu": max_wcu, "max_rcu": max_rcu}

    def load(self) -> tuple[list[LegacyRecord], int]:
        """Read departments.json whole and events.json once through; raises SourceError."""
        with self.ledger.timed("checking files"):
            departments = read_departments(self.sources.departments, self.sources.label_departments)
            return departments, check_events(self.sources.events, self.sources.label_events)

    def run(self, departments: list[LegacyRecord], event_total: int) -> Outcome:
        ledger, options, now = self.ledger, self.options, utc_now()
        io = self.storage.batch_io(**self._limits)
        with tempfile.TemporaryFile("w+", encoding="utf-8") as stored:
            with ledger.timed("departments"):
                phase = DepartmentPhase(self.storage, io, ledger, options, now)
                eligible = phase.run(departments)
            events = EventPhase(
                self.storage, io, ledger, options, now, sources=self.sources, stored=stored
            )
            with ledger.timed("events"):
                events.run(eligible, event_total)
            verified: bool | None = None
            problems: list[str] = []
            if not options.dry_run:
                with ledger.timed("counting"):
                    # Batches write events without their departments' counts: set them.
                    count_events(self.storage, eligible, rewritten=options.overwrite)
                with ledger.timed("verification"):
                    problems = Verification(self.storage, io, ledger, options, events).run(eligible)
                verified = not problems
        return Outcome(ledger.departments, ledger.events, verified, problems, ledger.timings)
