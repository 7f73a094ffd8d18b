"""The departments phase: check, de-duplicate and write departments with their name claims.

Departments come first because events may only follow a department that is written,
already present or kept; the phase returns those as ``{id: name}``.
"""

from __future__ import annotations

from typing import Any

from backend.errors import Rejected, WriteFailed
from backend.migration.ledger import KEPT, Ledger, Options
from backend.migration.records import Item, content_digest, department_item, legacy_id
from backend.migration.sources import LegacyRecord
from backend.storage import Storage
from backend.storage.batch import BatchIO
from backend.storage.bookkeeping import claim_id, name_claim


class DepartmentPhase:
    def __init__(
        self, storage: Storage, io: BatchIO, ledger: Ledger, options: Options, now: str
    ) -> None:
        self.storage = storage
        self.io = io
        self.ledger = ledger
        self.options = options
        self.now = now

    def run(self, records: list[LegacyRecord]) -> dict[str, str]:
        """Migrate departments; returns {id: name} of those whose events may follow."""
        console = self.ledger.console
        console.line()
        console.line("📋 부서 데이터 마이그레이션 시작...")
        accepted: list[tuple[LegacyRecord, Item]] = []
        by_id: dict[str, tuple[LegacyRecord, Item]] = {}
        by_name: dict[str, LegacyRecord] = {}
        for record in records:
            self.ledger.departments.read += 1
            try:
                item = self._department_of(record)
            except Rejected as exc:
                self.ledger.reject("department", record, str(exc))
                continue
            earlier = by_id.get(item.id)
            if earlier is not None:
                if earlier[1].digest == item.digest:
                    self.ledger.departments.duplicates += 1
                    console.record(
                        "=",
                        f"{item.label}: {earlier[0].path}와 같은 중복 (duplicate, counted once)",
                    )
                else:
                    self.ledger.reject(
                        "department",
                        record,
                        f"id {item.id!r} already appears at {earlier[0].path} "
                        "with different content",
                    )
                continue
            name = item.attributes["name"]
            if name in by_name:
                self.ledger.reject(
                    "department", record, f"name {name!r} is already used by {by_name[name].path}"
                )
                continue
            by_id[item.id] = (record, item)
            by_name[name] = record
            accepted.append((record, item))

        eligible = self._store_departments(accepted)
        console.summary("부서 데이터", self.ledger.departments, "departments")
        return eligible

    def _department_of(self, record: LegacyRecord) -> Item:
        value = record.value
        given = value.get("id") if isinstance(value, dict) else None
        if record.department_id is not None:  # keyed form: the key is the id
            key_id = legacy_id(record.department_id)
            if given is not None and legacy_id(given) != key_id:
                raise Rejected(f"its id {given!r} differs from the key {record.department_id!r}")
            given = record.department_id
        return department_item(value, given, self.now, self.options.timezone)

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
                self.ledger.reject("department", record, reason)
                continue
            eligible[item.id] = name  # written, present or kept: its events may follow
            claim = name_claim(name, item.id)
            current = existing.get(item.id)
            if current is None:
                puts += [item.attributes, claim]
                outcomes.append(("written", item, record))
            elif content_digest(current) == item.digest:
                if claims.get(claim_id(name)) != item.id:
                    puts.append(claim)  # repair a claim lost to an interrupted run
                outcomes.append(("present", item, record))
            elif self.options.overwrite:
                puts += [item.attributes | {"version": int(current.get("version", 1)) + 1}, claim]
                old = str(current.get("name") or "")
                if old and old != name and claims.get(claim_id(old), item.id) == item.id:
                    deletes.append({"id": claim_id(old)})
                outcomes.append(("written", item, record))
            else:
                self.ledger.reject("department", record, KEPT)
        if not self.options.dry_run and (puts or deletes):
            outcomes = self._write_departments(puts, deletes, outcomes, eligible)
        for status, item, _ in outcomes:
            if status == "written":
                self.ledger.departments.written += 1
                self.ledger.console.record("✓", f"{item.label} 마이그레이션 완료")
            else:
                self.ledger.departments.present += 1
                self.ledger.console.record("=", f"{item.label} 이미 있음 (already present)")
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
                    self.ledger.reject("department", record, why)
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
        # Departments without a claim, found through the index, confirmed by consistent reads.
        return self.storage.departments.unclaimed_holder(name, department_id)
