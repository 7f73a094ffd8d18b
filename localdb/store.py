"""The engine's files: snapshots of the whole state and the journal of writes after each.

A data folder holds generations. ``snapshot-N.jsonl`` is the state when generation N
began (none for generation 0: empty); ``journal-N.jsonl`` holds, one JSON line each, the
DynamoDB write requests moto applied after it, each written before it is applied (and
taken back if moto refuses it), so none is acknowledged before it is kept. A
start loads the newest snapshot and replays its journal; compaction writes the state as
snapshot N+1 (to a temporary file, fsynced, then renamed: a snapshot is whole or absent)
and starts journal N+1, so the next start replays nothing. Generation N-1 is kept as the
way back should snapshot N be found damaged: snapshot N-1 plus journals N-1 and N give
the same state. Older generations are removed.

Snapshot lines: a header, then per table a ``table`` line followed by its ``item`` lines,
then an ``end`` line with the counts and the SHA-256 of every line before it, so a
truncated or altered snapshot is recognised before anything of it is used.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

FORMAT = "local-dynamodb-snapshot"
VERSION = 1
LEGACY_JOURNAL = "journal.jsonl"  # before snapshots: HTTP requests only, replayed as generation 0
_SNAPSHOT = re.compile(r"snapshot-(\d{6})\.jsonl")
_JOURNAL = re.compile(r"journal-(\d{6})\.jsonl")
FILE_MODE = 0o600
JOURNAL_LIMIT_ENV = "LOCALDB_JOURNAL_LIMIT_BYTES"  # a test hook: see ``Journal``


class StoreError(RuntimeError):
    """The folder's data cannot be loaded without losing acknowledged writes."""


def snapshot_path(folder: Path, generation: int) -> Path:
    return folder / f"snapshot-{generation:06d}.jsonl"


def journal_path(folder: Path, generation: int) -> Path:
    return folder / f"journal-{generation:06d}.jsonl"


@dataclass
class Snapshot:
    """A verified snapshot: its tables, each with its items (DynamoDB JSON)."""

    generation: int
    tables: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(len(items) for _, items in self.tables)


@dataclass
class JournalEntry:
    number: int  # line number, for reports
    op: str
    region: str
    body: str


@dataclass
class LoadPlan:
    """What a start must apply: a snapshot (or none) and journals, oldest first."""

    generation: int  # the generation whose journal new writes are appended to
    snapshot: Snapshot | None
    journals: list[Path]
    problems: list[str] = field(default_factory=list)


def generations(folder: Path) -> tuple[list[int], list[int]]:
    """The generations that have a snapshot, and those that have a journal, ascending."""
    snapshots, journals = [], []
    for path in folder.iterdir():
        if match := _SNAPSHOT.fullmatch(path.name):
            snapshots.append(int(match.group(1)))
        elif match := _JOURNAL.fullmatch(path.name):
            journals.append(int(match.group(1)))
    return sorted(snapshots), sorted(journals)


def read_snapshot(path: Path, generation: int) -> Snapshot:
    """Read and verify a whole snapshot; raises ``StoreError`` naming what is wrong."""
    digest = hashlib.sha256()
    snapshot = Snapshot(generation)
    items: list[dict[str, Any]] | None = None
    ended: dict[str, Any] | None = None
    try:
        with path.open("rb") as source:
            for number, raw in enumerate(source, start=1):
                if ended is not None:
                    raise StoreError(f"{path.name}: line {number} follows the end line")
                if not raw.endswith(b"\n"):
                    raise StoreError(f"{path.name}: line {number} is incomplete")
                line = json.loads(raw)
                if "end" in line:
                    ended = line["end"]
                    continue
                digest.update(raw)
                if "item" in line:
                    if items is None:
                        raise StoreError(f"{path.name}: line {number} is an item before a table")
                    items.append(line["item"])
                elif "table" in line:
                    items = []
                    snapshot.tables.append((line["table"], items))
                elif line.get("format") != FORMAT or line.get("version") != VERSION:
                    raise StoreError(f"{path.name}: not a version {VERSION} snapshot")
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise StoreError(f"{path.name}: unreadable ({exc})") from exc
    if ended is None:
        raise StoreError(f"{path.name}: no end line (the file is truncated)")
    if ended.get("sha256") != digest.hexdigest():
        raise StoreError(f"{path.name}: its checksum does not match (the file was altered)")
    if ended.get("tables") != len(snapshot.tables) or ended.get("items") != snapshot.items:
        raise StoreError(f"{path.name}: its counts do not match its content")
    return snapshot


def plan(folder: Path) -> LoadPlan:
    """Choose what to load: the newest good snapshot and every journal after it."""
    snapshots, journals = generations(folder)
    newest = max([*snapshots, *journals, 0])
    problems: list[str] = []
    candidates = sorted(snapshots, reverse=True)
    for generation in candidates:
        path = snapshot_path(folder, generation)
        try:
            snapshot = read_snapshot(path, generation)
        except StoreError as exc:
            damaged = path.with_suffix(".damaged")
            problems.append(f"{exc}; kept as {damaged.name}, loading the generation before it")
            path.replace(damaged)
            continue
        return LoadPlan(newest, snapshot, _journals_from(folder, generation, journals), problems)
    # No good snapshot: only a complete history from generation 0 (or the legacy journal)
    # rebuilds the state; anything less would silently lose acknowledged writes.
    legacy = [folder / LEGACY_JOURNAL] if (folder / LEGACY_JOURNAL).exists() else []
    if (snapshots or journals) and 0 not in journals and not legacy:
        raise StoreError(
            "no usable snapshot, and the journals do not reach back to the beginning: "
            + "; ".join(problems or ["snapshots are missing"])
            + f". The files are left as they are in {folder}."
        )
    return LoadPlan(newest, None, legacy + _journals_from(folder, 0, journals), problems)


def _journals_from(folder: Path, generation: int, journals: list[int]) -> list[Path]:
    return [journal_path(folder, g) for g in journals if g >= generation]


def read_journal(path: Path, problems: list[str]) -> Iterator[JournalEntry]:
    """The entries of a journal; a damaged line is reported in ``problems`` and skipped.

    A last line without its newline is a write that was cut off before it was
    acknowledged (the engine flushes each line before answering): it is reported and cut
    from the file, so that later appends start on a line of their own.
    """
    with path.open("rb") as source:
        data = source.read()
    good_end = data.rfind(b"\n") + 1
    if good_end < len(data):
        problems.append(
            f"{path.name}: the last line is incomplete (a write interrupted before it was "
            "acknowledged); ignored"
        )
        with path.open("r+b") as out:
            out.truncate(good_end)
    for number, raw in enumerate(data[:good_end].splitlines(), start=1):
        try:
            entry = json.loads(raw)
            yield JournalEntry(number, str(entry["op"]), str(entry["region"]), str(entry["body"]))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name} line {number} is damaged ({exc}); skipped")


class Journal:
    """The open journal of the current generation: one line per write, written before moto
    applies it and taken back if moto refuses it, so the file holds exactly the writes
    applied.

    Lines go straight to the OS (no buffer of this process), so an acknowledged write
    survives the engine being killed. fsync is left to compaction and shutdown (a power cut
    is not what local development guards against). A line that could not be written whole
    (the disk full, say) is cut off again, at once or before the next line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = _open_private(path, "ab", buffering=0)
        # A test hook: a journal that would grow past this many bytes fails as a full disk
        # does (ENOSPC, having taken part of the line), so tests can fill the disk.
        self._limit = int(os.environ.get(JOURNAL_LIMIT_ENV) or 0) or None
        self._end = os.fstat(self._file.fileno()).st_size  # where the last kept line ends
        self._torn = False  # whether the file may hold bytes past ``_end``
        self.entries = 0

    def append(self, op: str, region: str, body: bytes) -> int:
        """Write one line; returns where it starts (for ``discard``).

        Raises ``OSError`` if the line could not be written whole; the journal is then as
        it was (or is made so before the next line is written).
        """
        line = json.dumps({"op": op, "region": region, "body": body.decode("utf-8")})
        encoded = line.encode("utf-8") + b"\n"
        self._trim()
        start = self._end
        self._torn = True
        try:
            if self._limit is not None and start + len(encoded) > self._limit:
                self._fill(encoded)
            data = memoryview(encoded)
            while data:
                data = data[self._file.write(data) :]
        except OSError:
            with contextlib.suppress(OSError):
                self._trim()
            raise
        self._end = start + len(encoded)
        self._torn = False
        self.entries += 1
        return start

    def _fill(self, encoded: bytes) -> None:
        """What a disk with ``_limit`` bytes does with a line it cannot take whole."""
        self._file.write(encoded[: max(0, (self._limit or 0) - self._end)])
        raise OSError(errno.ENOSPC, f"No space left on device ({JOURNAL_LIMIT_ENV})")

    def discard(self, start: int) -> None:
        """Take back the line ``append`` wrote at ``start``: moto did not apply it."""
        self._end = start
        self._torn = True
        self.entries -= 1
        with contextlib.suppress(OSError):
            self._trim()

    def _trim(self) -> None:
        if self._torn:
            self._file.truncate(self._end)
            self._torn = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._trim()
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()


def write_snapshot(
    folder: Path,
    generation: int,
    tables: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]],
) -> int:
    """Write snapshot ``generation`` atomically; returns the number of items in it."""
    final = snapshot_path(folder, generation)
    tmp = final.with_suffix(".tmp")
    digest = hashlib.sha256()
    counts = {"tables": 0, "items": 0}
    try:
        _write_snapshot_file(tmp, generation, tables, digest, counts)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half snapshot behind
        raise
    tmp.replace(final)
    _fsync_dir(folder)
    return counts["items"]


def _write_snapshot_file(
    tmp: Path,
    generation: int,
    tables: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]],
    digest: Any,
    counts: dict[str, int],
) -> None:
    with _open_private(tmp, "wb") as out:

        def put(line: dict[str, Any]) -> None:
            raw = json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n"
            digest.update(raw)
            out.write(raw)

        put({"format": FORMAT, "version": VERSION, "generation": generation})
        for table, items in tables:
            put({"table": table})
            counts["tables"] += 1
            for item in items:
                put({"item": item})
                counts["items"] += 1
        end = {"end": counts | {"sha256": digest.hexdigest()}}
        out.write(json.dumps(end).encode("utf-8") + b"\n")
        out.flush()
        os.fsync(out.fileno())


def start_generation(folder: Path, generation: int) -> Journal:
    """Open the (empty) journal of a new generation and drop generations before the last."""
    journal = Journal(journal_path(folder, generation))
    _fsync_dir(folder)
    for path in folder.iterdir():
        match = _SNAPSHOT.fullmatch(path.name) or _JOURNAL.fullmatch(path.name)
        if (match and int(match.group(1)) < generation - 1) or path.name == LEGACY_JOURNAL:
            if path.name == LEGACY_JOURNAL and generation < 2:
                continue  # still the way back until a second snapshot exists
            path.unlink()
    return journal


def _open_private(path: Path, mode: str, buffering: int = -1) -> IO[bytes]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode, buffering=buffering)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
