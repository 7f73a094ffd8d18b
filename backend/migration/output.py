"""What the migration tells its operator: seed-shaped lines, progress, and the report file."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

RULE = "=" * 50
# Up to this many records in total, every record gets its own line, as in the setup
# guide's example; above it, a progress bar on a terminal or periodic lines otherwise.
PER_RECORD_LINES = 200
MAX_REJECTION_LINES = 50


@dataclass
class Counts:
    """Where every record of one file ended up; the buckets add up to the file."""

    read: int = 0
    written: int = 0
    present: int = 0
    rejected: int = 0
    duplicates: int = 0  # exact repeats inside the files, counted once

    @property
    def accounted(self) -> int:
        return self.written + self.present + self.rejected + self.duplicates

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "written": self.written,
            "already_present": self.present,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True)
class Rejection:
    kind: str  # "department" or "event"
    file: str
    path: str
    reason: str
    record: Any


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


class Report:
    """Collects rejections on disk as they come (memory stays flat) for ``--report``."""

    def __init__(self) -> None:
        self._spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def add(self, rejection: Rejection) -> None:
        self._spool.write(
            json.dumps(rejection.__dict__, ensure_ascii=False, default=_json_default) + "\n"
        )
        self.count += 1

    def write(self, path: Path, summary: dict[str, Any]) -> None:
        """Write ``{"summary": ..., "rejected": [...]}``: each rejection with its record."""
        self._spool.flush()
        self._spool.seek(0)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write('{"summary": ')
            out.write(json.dumps(summary, ensure_ascii=False, indent=2))
            out.write(',\n "rejected": [')
            for n, line in enumerate(self._spool):
                out.write(("\n  " if n == 0 else ",\n  ") + line.rstrip("\n"))
            out.write("\n ]\n}\n")

    def close(self) -> None:
        self._spool.close()


@dataclass
class Console:
    """The operator's view, shaped like the setup guide's example output."""

    out: IO[str]
    per_record: bool = True
    interactive: bool = False
    _bar: Any = field(default=None, repr=False)
    _shown_rejections: int = 0
    _progress_every: int = 0
    _progress_done: int = 0

    def line(self, text: str = "") -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def header(self, dry_run: bool, target: str, sources: str) -> None:
        self.line(RULE)
        self.line(
            "🚀 JSON → DynamoDB 마이그레이션 시작"
            + (" (dry run: 아무것도 쓰지 않음)" if dry_run else "")
        )
        self.line(RULE)
        self.line(f"   대상 (target): {target}")
        self.line(f"   원본 (source): {sources}")

    def record(self, symbol: str, text: str) -> None:
        if self.per_record:
            self.line(f"  {symbol} {text}")

    def rejection(self, rejection: Rejection) -> None:
        self._shown_rejections += 1
        if self.per_record or self._shown_rejections <= MAX_REJECTION_LINES:
            self.line(
                f"  ✗ {_naming(rejection.record)}{rejection.file} {rejection.path}: "
                f"{rejection.reason}"
            )
        elif self._shown_rejections == MAX_REJECTION_LINES + 1:
            self.line(
                "  ✗ … more rejections are counted below and listed in full with --report FILE"
            )

    def start_progress(self, total: int, unit: str) -> None:
        if self.per_record:
            return
        if self.interactive:
            self._bar = tqdm(total=total, unit=unit, file=self.out, dynamic_ncols=True, leave=False)
        else:
            self._progress_every = max(1, total // 10)
            self._progress_done = 0

    def advance(self, count: int, total: int, unit: str) -> None:
        if self._bar is not None:
            self._bar.update(count)
        elif not self.per_record:
            before = self._progress_done // self._progress_every
            self._progress_done += count
            if self._progress_done // self._progress_every > before or self._progress_done == total:
                self.line(f"  … {self._progress_done}/{total} {unit}")

    def end_progress(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def summary(self, title: str, counts: Counts, noun: str) -> None:
        done = counts.written + counts.present
        self.line(f"✅ {title} 마이그레이션 완료: {done}개")
        self.line(
            f"   (읽음 read {counts.read} = 새로 씀 written {counts.written}"
            f" + 이미 있음 already present {counts.present}"
            f" + 거부 rejected {counts.rejected}"
            f" + 중복 duplicates {counts.duplicates}) {noun}"
        )


def _naming(record: Any) -> str:
    """The record's own words for an operator scanning the output: its id, title or name."""
    if not isinstance(record, dict):
        return ""
    parts = [
        f"{key} {record[key]!r}"
        for key in ("id", "title", "name")
        if isinstance(record.get(key), str | int) and not isinstance(record.get(key), bool)
    ]
    return f"[{', '.join(parts)}] " if parts else ""
