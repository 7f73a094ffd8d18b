"""The events phase: stream events.json, check each record, write in parallel batches.

Memory stays flat whatever the file's size: records are read one by one, at most
``workers * 2`` chunks are in flight, and the keys of stored events go to a temporary
file that the verification reads back.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import IO

from backend.errors import Conflict, Rejected, WriteFailed
from backend.migration.ledger import KEPT, Ledger, Options
from backend.migration.records import (
    Item,
    content_digest,
    event_item,
    legacy_id,
    normalise_date,
)
from backend.migration.sources import LegacyRecord, Sources, iter_events
from backend.services.rules import check_day_has_room
from backend.storage import Storage
from backend.storage.batch import BatchIO, batched, bounded_map

EVENT_CHUNK = 100  # one BatchGetItem of existing items, then four BatchWriteItems

Pending = tuple[LegacyRecord, Item]


def event_key(department_id: str, event_id: str) -> int:
    """A compact, collision-safe (128-bit) key of an event, for the run's bookkeeping."""
    raw = f"{department_id}\x00{event_id}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")


@dataclass
class ChunkResult:
    written: list[Pending] = field(default_factory=list)
    present: list[Pending] = field(default_factory=list)
    refused: list[tuple[Pending, str]] = field(default_factory=list)


class EventPhase:
    def __init__(
        self,
        storage: Storage,
        io: BatchIO,
        ledger: Ledger,
        options: Options,
        now: str,
        *,
        sources: Sources,
        stored: IO[str],
    ) -> None:
        self.storage = storage
        self.io = io
        self.ledger = ledger
        self.options = options
        self.now = now
        self.sources = sources
        # key → (digest << 1) | 1 once written or present with the same content; the low
        # bit 0 marks a record seen but not stored (kept as it was, or refused).
        self.seen: dict[int, int] = {}
        self.expected_per_department: Counter[str] = Counter()
        self.per_day: Counter[tuple[str, str]] = Counter()  # accepted events per date
        # Keys of stored events, on disk so that memory does not grow with the file.
        self.stored = stored

    def run(self, eligible: dict[str, str], total: int) -> None:
        console = self.ledger.console
        console.line()
        console.line("📅 캘린더 이벤트 데이터 마이그레이션 시작...")
        # A first migration into an empty table (one strongly consistent read says so)
        # skips the per-chunk existence reads: it costs what the writes cost. Any later
        # run, resumed or repeated, finds items and checks every chunk.
        check_existing = not self.io.is_empty(self.storage.events.table)
        console.start_progress(total, "events")
        store = partial(self._store_events, check_existing=check_existing)
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="migrate") as pool:
            chunks = batched(self._event_items(eligible, total), EVENT_CHUNK)
            for result in bounded_map(pool, store, chunks, self.options.workers * 2):
                self._account(result)
        console.end_progress()
        console.summary("이벤트 데이터", self.ledger.events, "events")

    def _event_items(self, eligible: dict[str, str], total: int) -> Iterator[Pending]:
        """Each event record to store with its item; rejections and duplicates are
        accounted for here, on the main thread, as the file is read."""
        for record in iter_events(self.sources.events, self.sources.label_events):
            self.ledger.events.read += 1
            self.ledger.console.advance(1, total, "events")
            try:
                item = self._event_of(record, eligible)
            except Rejected as exc:
                self.ledger.reject("event", record, str(exc))
                continue
            key = event_key(item.department_id or "", item.id)
            digest = int.from_bytes(item.digest, "big")
            seen = self.seen.get(key)
            if seen is not None:
                if seen >> 1 == digest:
                    self.ledger.events.duplicates += 1
                    self.ledger.console.record("=", f"{item.label}: 중복 (duplicate, counted once)")
                else:
                    self.ledger.reject(
                        "event",
                        record,
                        f"event id {item.id!r} appears earlier with different content",
                    )
                continue
            day = (item.department_id or "", str(item.attributes["event_date"]))
            try:
                check_day_has_room(day[1], self.per_day[day])
            except Conflict as exc:
                self.ledger.reject("event", record, str(exc))
                continue
            self.per_day[day] += 1
            self.seen[key] = digest << 1
            yield record, item

    def _event_of(self, record: LegacyRecord, eligible: dict[str, str]) -> Item:
        value = record.value
        if record.misplaced is not None:
            raise Rejected(record.misplaced)
        if not isinstance(value, dict):
            raise Rejected("an event must be an object")
        department = (
            record.department_id if record.department_id is not None else value.get("department_id")
        )
        day = record.event_date if record.event_date is not None else value.get("event_date")
        keyed_department = record.department_id is not None and "department_id" in value
        if keyed_department and legacy_id(value["department_id"]) != legacy_id(department):
            raise Rejected(f"its department_id differs from the key {record.department_id!r}")
        keyed_date = record.event_date is not None and "event_date" in value
        if keyed_date and normalise_date(value["event_date"]) != normalise_date(day):
            raise Rejected(f"its event_date differs from the key {record.event_date!r}")
        department_id = legacy_id(department)
        if department_id is None:
            raise Rejected("department_id is missing")
        if day is None:
            raise Rejected("event_date is missing")
        item = event_item(value, department_id, day, self.now, self.options.timezone)
        if department_id not in eligible:
            raise Rejected(
                f"orphan: department {department_id!r} is not in departments.json "
                "(or was rejected there)"
            )
        return item

    def _store_events(self, chunk: list[Pending], *, check_existing: bool) -> ChunkResult:
        """Runs on a worker thread: read what exists, then write what is missing."""
        table = self.storage.events.table
        result = ChunkResult()
        keys = [{"id": i.id, "department_id": i.department_id} for _, i in chunk if check_existing]
        existing = {(str(e["id"]), str(e["department_id"])): e for e in self.io.get(table, keys)}
        puts: list[Pending] = []
        for pending in chunk:
            item = pending[1]
            current = existing.get((item.id, item.department_id or ""))
            if current is None:
                puts.append(pending)
            elif content_digest(current) == item.digest:
                result.present.append(pending)
            elif self.options.overwrite:
                version = int(current.get("version", 1)) + 1
                replacement = Item(
                    item.kind,
                    item.id,
                    item.department_id,
                    item.attributes | {"version": version},
                    item.digest,
                )
                puts.append((pending[0], replacement))
            else:
                result.refused.append((pending, KEPT))
        if puts and not self.options.dry_run:
            try:
                self.io.write(table, [item.attributes for _, item in puts])
            except WriteFailed as exc:
                failed = {
                    (str(f.get("id")), str(f.get("department_id"))): why for f, why in exc.failures
                }
                written = []
                for pending in puts:
                    why = failed.get((pending[1].id, pending[1].department_id or ""))
                    if why is None:
                        written.append(pending)
                    else:
                        result.refused.append((pending, why))
                puts = written
        result.written = puts
        return result

    def _account(self, result: ChunkResult) -> None:
        """Main thread: count, print and remember a finished chunk."""
        for _, item in result.written:
            self.ledger.events.written += 1
            self._remember(item)
            self.ledger.console.record("✓", f"{item.label} 마이그레이션 완료")
        for _, item in result.present:
            self.ledger.events.present += 1
            self._remember(item)
            self.ledger.console.record("=", f"{item.label} 이미 있음 (already present)")
        for (record, _), reason in result.refused:
            self.ledger.reject("event", record, reason)

    def _remember(self, item: Item) -> None:
        """Note a stored event for the verification: its digest here, its key on disk."""
        self.stored.write(json.dumps([item.department_id, item.id], ensure_ascii=False) + "\n")
        key = event_key(item.department_id or "", item.id)
        self.seen[key] = (int.from_bytes(item.digest, "big") << 1) | 1
        self.expected_per_department[item.department_id or ""] += 1
