"""One migration run: read and check everything, write in batches, verify, account for all.

The order is what makes it safe. Both files are read to the end before anything is
written, so a broken file stops the run with nothing written. Writes never overwrite an
item unless asked, and every id is fixed by the source, so a run that is killed and
started again finds what the first run wrote as "already present" and finishes the rest.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import IO, Any, TypeVar

from backend.domain import utc_now
from backend.migration.output import Console, Counts, Rejection, Report
from backend.migration.records import (
    Item,
    Rejected,
    content_digest,
    department_item,
    event_item,
    legacy_id,
    normalise_date,
)
from backend.migration.sources import (
    LegacyRecord,
    Sources,
    check_events,
    iter_events,
    not_a_calendar,
    not_a_day,
    read_departments,
    unwrap,
)
from backend.migration.writer import BatchIO, WriteFailed
from backend.storage import Storage
from backend.storage.departments import claim_id
from backend.storage.dynamo import translated_errors

KEPT = (
    "already in the table with different content (changed since an earlier run?); "
    "kept as it is. Use --overwrite to replace it"
)
T = TypeVar("T")
R = TypeVar("R")
EVENT_CHUNK = 100  # one BatchGetItem of existing items, then four BatchWriteItems
MAX_PROBLEMS = 20


def _key(department_id: str, event_id: str) -> int:
    """A compact, collision-safe (128-bit) key of an event, for the run's bookkeeping."""
    raw = f"{department_id}\x00{event_id}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")


Pending = tuple[LegacyRecord, Item]


@dataclass
class ChunkResult:
    written: list[Pending] = field(default_factory=list)
    present: list[Pending] = field(default_factory=list)
    refused: list[tuple[Pending, str]] = field(default_factory=list)


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
    ) -> None:
        self.storage = storage
        self.sources = sources
        self.console = console
        self.report = report
        self.dry_run = dry_run
        self.overwrite = overwrite
        self.workers = workers
        self.io = BatchIO(storage.client)
        self.now = utc_now()
        self.departments = Counts()
        self.events = Counts()
        # key → (digest << 1) | 1 once written or present with the same content; the low
        # bit 0 marks a record seen but not stored (kept as it was, or refused).
        self._events_seen: dict[int, int] = {}
        self._expected_per_department: Counter[str] = Counter()
        self.timings: dict[str, float] = {}
        # Keys of stored events, on disk so that memory does not grow with the file.
        self._stored: IO[str]

    # -- reading and checking everything first ------------------------------------------

    def load(self) -> tuple[list[LegacyRecord], int]:
        """Read departments.json whole and events.json once through; raises SourceError."""
        with self._timed("checking files"):
            departments = read_departments(self.sources.departments, self.sources.label_departments)
            return departments, check_events(self.sources.events, self.sources.label_events)

    def run(self, departments: list[LegacyRecord], event_total: int) -> Outcome:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as self._stored:
            with self._timed("departments"):
                eligible = self._migrate_departments(departments)
            with self._timed("events"):
                self._migrate_events(eligible, event_total)
            if self.dry_run:
                return Outcome(self.departments, self.events, None, [], self.timings)
            with self._timed("verification"):
                problems = self._verify(eligible)
            return Outcome(self.departments, self.events, not problems, problems, self.timings)

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = round(time.perf_counter() - started, 3)

    def _reject(self, kind: str, record: LegacyRecord, reason: str) -> None:
        rejection = Rejection(kind, record.file, record.path, reason, unwrap(record.value))
        self.report.add(rejection)
        self.console.rejection(rejection)
        (self.departments if kind == "department" else self.events).rejected += 1

    # -- departments --------------------------------------------------------------------

    def _migrate_departments(self, records: list[LegacyRecord]) -> dict[str, str]:
        """Migrate departments; returns {id: name} of those whose events may follow."""
        console = self.console
        console.line()
        console.line("📋 부서 데이터 마이그레이션 시작...")
        accepted: list[tuple[LegacyRecord, Item]] = []
        by_id: dict[str, tuple[LegacyRecord, Item]] = {}
        by_name: dict[str, LegacyRecord] = {}
        for record in records:
            self.departments.read += 1
            try:
                item = self._department_of(record)
            except Rejected as exc:
                self._reject("department", record, str(exc))
                continue
            earlier = by_id.get(item.id)
            if earlier is not None:
                if earlier[1].digest == item.digest:
                    self.departments.duplicates += 1
                    console.record(
                        "=",
                        f"{item.label}: {earlier[0].path}와 같은 중복 (duplicate, counted once)",
                    )
                else:
                    self._reject(
                        "department",
                        record,
                        f"id {item.id!r} already appears at {earlier[0].path} "
                        "with different content",
                    )
                continue
            name = item.attributes["name"]
            if name in by_name:
                self._reject(
                    "department", record, f"name {name!r} is already used by {by_name[name].path}"
                )
                continue
            by_id[item.id] = (record, item)
            by_name[name] = record
            accepted.append((record, item))

        eligible = self._store_departments(accepted)
        console.summary("부서 데이터", self.departments, "departments")
        return eligible

    def _department_of(self, record: LegacyRecord) -> Item:
        value = record.value
        given = value.get("id") if isinstance(value, dict) else None
        if record.department_id is not None:  # keyed form: the key is the id
            key_id = legacy_id(record.department_id)
            if given is not None and legacy_id(given) != key_id:
                raise Rejected(f"its id {given!r} differs from the key {record.department_id!r}")
            given = record.department_id
        return department_item(value, given, self.now)

    def _store_departments(self, accepted: list[tuple[LegacyRecord, Item]]) -> dict[str, str]:
        existing, claims, owners = self._department_state(accepted)
        eligible: dict[str, str] = {}
        puts: list[dict[str, Any]] = []
        deletes: list[dict[str, Any]] = []
        outcomes: list[tuple[str, Item, LegacyRecord]] = []
        for record, item in accepted:
            name = item.attributes["name"]
            holder = self._name_holder(name, item.id, claims, owners)
            if holder is not None:
                reason = f"name {name!r} is already taken in the table by department {holder!r}"
                self._reject("department", record, reason)
                continue
            eligible[item.id] = name  # written, present or kept: its events may follow
            claim = {"id": claim_id(name), "department_id": item.id, "kind": "name-claim"}
            current = existing.get(item.id)
            if current is None:
                puts += [item.attributes, claim]
                outcomes.append(("written", item, record))
            elif content_digest(current) == item.digest:
                if claims.get(claim_id(name)) != item.id:
                    puts.append(claim)  # repair a claim lost to an interrupted run
                outcomes.append(("present", item, record))
            elif self.overwrite:
                puts += [item.attributes | {"version": int(current.get("version", 1)) + 1}, claim]
                old = str(current.get("name") or "")
                if old and old != name and claims.get(claim_id(old), item.id) == item.id:
                    deletes.append({"id": claim_id(old)})
                outcomes.append(("written", item, record))
            else:
                self._reject("department", record, KEPT)
        if not self.dry_run and (puts or deletes):
            outcomes = self._write_departments(puts, deletes, outcomes, eligible)
        for status, item, _ in outcomes:
            if status == "written":
                self.departments.written += 1
                self.console.record("✓", f"{item.label} 마이그레이션 완료")
            else:
                self.departments.present += 1
                self.console.record("=", f"{item.label} 이미 있음 (already present)")
        return eligible

    def _department_state(
        self, accepted: list[tuple[LegacyRecord, Item]]
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
        """What the table holds now: the departments, their name claims, claim owners."""
        table = self.storage.departments.table
        existing = {i["id"]: i for i in self.io.get(table, [{"id": it.id} for _, it in accepted])}
        claim_keys = [{"id": claim_id(item.attributes["name"])} for _, item in accepted]
        claims = {str(c["id"]): str(c.get("department_id")) for c in self.io.get(table, claim_keys)}
        missing_owners = [{"id": o} for o in set(claims.values()) if o not in existing]
        owners = existing | {i["id"]: i for i in self.io.get(table, missing_owners)}
        return existing, claims, owners

    def _write_departments(
        self,
        puts: list[dict[str, Any]],
        deletes: list[dict[str, Any]],
        outcomes: list[tuple[str, Item, LegacyRecord]],
        eligible: dict[str, str],
    ) -> list[tuple[str, Item, LegacyRecord]]:
        """Write; a department whose item or claim could not be written is rejected."""
        try:
            self.io.write(self.storage.departments.table, puts, deletes)
        except WriteFailed as exc:
            reasons = {str(f.get("id")): why for f, why in exc.failures}
            kept = []
            for outcome in outcomes:
                _, item, record = outcome
                why = reasons.get(item.id) or reasons.get(claim_id(item.attributes["name"]))
                if why is None:
                    kept.append(outcome)
                else:
                    self._reject("department", record, why)
                    eligible.pop(item.id, None)
            return kept
        return outcomes

    def _name_holder(
        self, name: str, department_id: str, claims: dict[str, str], owners: dict[str, Any]
    ) -> str | None:
        """Another live department holding ``name`` in the table, if any."""
        owner = claims.get(claim_id(name))
        if owner is not None and owner != department_id:
            held = owners.get(owner)
            if held is not None and held.get("name") == name:
                return owner
        for other in self.storage.departments.find_by_name(name):  # departments without a claim
            if other.id != department_id:
                return other.id
        return None

    # -- events -------------------------------------------------------------------------

    def _migrate_events(self, eligible: dict[str, str], total: int) -> None:
        console = self.console
        console.line()
        console.line("📅 캘린더 이벤트 데이터 마이그레이션 시작...")
        check_existing = not self._events_table_empty()
        console.start_progress(total, "events")
        store = partial(self._store_events, check_existing=check_existing)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="migrate") as pool:
            chunks = batched(self._event_items(eligible, total), EVENT_CHUNK)
            for result in bounded_map(pool, store, chunks, self.workers * 2):
                self._account(result)
        console.end_progress()
        console.summary("이벤트 데이터", self.events, "events")

    def _event_items(self, eligible: dict[str, str], total: int) -> Iterator[Pending]:
        """Each event record to store with its item; rejections and duplicates are
        accounted for here, on the main thread, as the file is read."""
        for record in iter_events(self.sources.events, self.sources.label_events):
            self.events.read += 1
            self.console.advance(1, total, "events")
            try:
                item = self._event_of(record, eligible)
            except Rejected as exc:
                self._reject("event", record, str(exc))
                continue
            key = _key(item.department_id or "", item.id)
            digest = int.from_bytes(item.digest, "big")
            seen = self._events_seen.get(key)
            if seen is not None:
                if seen >> 1 == digest:
                    self.events.duplicates += 1
                    self.console.record("=", f"{item.label}: 중복 (duplicate, counted once)")
                else:
                    self._reject(
                        "event",
                        record,
                        f"event id {item.id!r} appears earlier with different content",
                    )
                continue
            self._events_seen[key] = digest << 1
            yield record, item

    def _event_of(self, record: LegacyRecord, eligible: dict[str, str]) -> Item:
        value = record.value
        if not_a_calendar(value):
            raise Rejected("a department's calendar must be an object of dates")
        if not_a_day(value):
            raise Rejected("a date's events must be an array")
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
        item = event_item(value, department_id, day, self.now)
        if department_id not in eligible:
            raise Rejected(
                f"orphan: department {department_id!r} is not in departments.json "
                "(or was rejected there)"
            )
        return item

    def _events_table_empty(self) -> bool:
        """Whether the events table holds nothing yet (a strongly consistent read).

        Then no event can already exist and the per-chunk existence reads are skipped: a
        first migration costs what the writes cost. Any later run, resumed or repeated,
        finds items and checks every chunk.
        """
        with translated_errors("check events table"):
            page = self.storage.client.scan(
                TableName=self.storage.events.table,
                Limit=1,
                ConsistentRead=True,
                ProjectionExpression="id",
            )
        return not page.get("Items") and "LastEvaluatedKey" not in page

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
            elif self.overwrite:
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
        if puts and not self.dry_run:
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
            self.events.written += 1
            self._remember(item)
            self.console.record("✓", f"{item.label} 마이그레이션 완료")
        for _, item in result.present:
            self.events.present += 1
            self._remember(item)
            self.console.record("=", f"{item.label} 이미 있음 (already present)")
        for (record, _), reason in result.refused:
            self._reject("event", record, reason)

    def _remember(self, item: Item) -> None:
        """Note a stored event for the verification: its digest here, its key on disk."""
        self._stored.write(json.dumps([item.department_id, item.id], ensure_ascii=False) + "\n")
        key = _key(item.department_id or "", item.id)
        self._events_seen[key] = (int.from_bytes(item.digest, "big") << 1) | 1
        self._expected_per_department[item.department_id or ""] += 1

    # -- verification -------------------------------------------------------------------

    def _verify(self, eligible: dict[str, str]) -> list[str]:
        """Read both tables back and compare with the source, per department and record.

        Every event written or found present is read back by its key (BatchGetItem,
        strongly consistent: no index lag) and its content compared with the source.
        """
        console = self.console
        console.line()
        console.line("🔍 마이그레이션 검증 중...")
        problems = self._verify_departments(eligible)
        found, differing = self._read_back_events()
        console.line(f"  • 부서: {len(eligible) - len(problems)}개")
        console.line(f"  • 이벤트: {sum(found.values())}개")
        for department_id, name in eligible.items():
            expected = self._expected_per_department[department_id]
            got = found[department_id]
            if self.console.per_record or got != expected:
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
        self._stored.flush()
        self._stored.seek(0)
        keys = ({"department_id": d, "id": i} for d, i in map(json.loads, self._stored))
        found: Counter[str] = Counter()
        differing: list[str] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="verify") as pool:
            fetch = partial(self.io.get, self.storage.events.table)
            for stored in bounded_map(pool, fetch, batched(keys, EVENT_CHUNK), self.workers * 2):
                for item in stored:
                    department_id, event_id = str(item["department_id"]), str(item["id"])
                    mark = self._events_seen.get(_key(department_id, event_id), 0)
                    if mark >> 1 == int.from_bytes(content_digest(item), "big"):
                        found[department_id] += 1
                    else:
                        differing.append(
                            f"event {event_id!r} of {department_id!r} differs from its source"
                        )
        return found, differing


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bounded_map(
    pool: ThreadPoolExecutor, function: Callable[[T], R], inputs: Iterable[T], window: int
) -> Iterator[R]:
    """``pool.map`` that pulls its inputs lazily, with at most ``window`` in flight, and
    yields results as they complete: memory stays flat however long ``inputs`` is."""
    in_flight: set[Future[R]] = set()
    for value in inputs:
        if len(in_flight) >= window:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
        in_flight.add(pool.submit(function, value))
    for future in as_completed(in_flight):
        yield future.result()
