"""The closing verification: read both tables back and compare them with the source.

Every event written or found present is read back by its key (BatchGetItem, strongly
consistent: no index lag) and its content compared with the source, per department.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from backend.migration.events import EVENT_CHUNK, EventPhase, event_key
from backend.migration.ledger import Ledger, Options
from backend.migration.records import content_digest
from backend.storage import Storage
from backend.storage.batch import BatchIO, batched, bounded_map

MAX_PROBLEMS = 20


class Verification:
    def __init__(
        self, storage: Storage, io: BatchIO, ledger: Ledger, options: Options, events: EventPhase
    ) -> None:
        self.storage = storage
        self.io = io
        self.ledger = ledger
        self.options = options
        self.events = events

    def run(self, eligible: dict[str, str]) -> list[str]:
        """Read both tables back and compare with the source, per department and record.

        Every event written or found present is read back by its key (BatchGetItem,
        strongly consistent: no index lag) and its content compared with the source.
        """
        console = self.ledger.console
        console.line()
        console.line("🔍 마이그레이션 검증 중...")
        problems = self._verify_departments(eligible)
        found, differing = self._read_back_events()
        console.line(f"  • 부서: {len(eligible) - len(problems)}개")
        console.line(f"  • 이벤트: {sum(found.values())}개")
        for department_id, name in eligible.items():
            expected = self.events.expected_per_department[department_id]
            got = found[department_id]
            if self.ledger.console.per_record or got != expected:
                mark = "✓" if got == expected else "✗"
                console.line(f"    {mark} {name}: 이벤트 {got}/{expected}개")
            if got != expected:
                problems.append(
                    f"department {name!r} ({department_id}): "
                    f"{got} of {expected} events in the table"
                )
        problems += differing
        if problems:
            console.line(f"❌ 마이그레이션 검증 실패: {len(problems)}건")
            for problem in problems[:MAX_PROBLEMS]:
                console.line(f"  ✗ {problem}")
        else:
            console.line("✅ 마이그레이션 검증 완료")
        return problems

    def _verify_departments(self, eligible: dict[str, str]) -> list[str]:
        table = self.storage.departments.table
        stored = {str(i["id"]): i for i in self.io.get(table, [{"id": d} for d in eligible])}
        return [
            f"department {name!r} ({d}) is missing from the table"
            for d, name in eligible.items()
            if d not in stored
        ]

    def _read_back_events(self) -> tuple[Counter[str], list[str]]:
        """Count, per department, stored events whose content matches their source."""
        self.events.stored.flush()
        self.events.stored.seek(0)
        keys = ({"department_id": d, "id": i} for d, i in map(json.loads, self.events.stored))
        found: Counter[str] = Counter()
        differing: list[str] = []
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="verify") as pool:
            fetch = partial(self.io.get, self.storage.events.table)
            for stored in bounded_map(
                pool, fetch, batched(keys, EVENT_CHUNK), self.options.workers * 2
            ):
                for item in stored:
                    department_id, event_id = str(item["department_id"]), str(item["id"])
                    mark = self.events.seen.get(event_key(department_id, event_id), 0)
                    if mark >> 1 == int.from_bytes(content_digest(item), "big"):
                        found[department_id] += 1
                    else:
                        differing.append(
                            f"event {event_id!r} of {department_id!r} differs from its source"
                        )
        return found, differing
