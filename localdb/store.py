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

Damage is found, not replayed. Every journal line carries a sequence number (counted
across generations) and a chained checksum, ``sum = sha256(previous sum + the line
without its sum)``; a snapshot's header names the position (``seq``, ``sum``) it holds
the state at, where the journal of its generation goes on; and ``engine.seq`` (the
witness, rewritten in place after each line) names the last write acknowledged. At a
start:

- a line edited, cut, left out or put in the middle of a journal breaks the chain there;
- a snapshot of another generation (an older snapshot put back), or a journal that does
  not go on where its snapshot left off, breaks it at the journal's first line;
- a journal emptied, cut short or deleted, or an older snapshot with its journals put
  back, leaves the data short of the witness.

What the engine does then: it **starts from the last good state** (the snapshot and the
journal lines up to the damage), keeps each damaged journal aside as
``journal-N.damaged`` (with every journal after it: they go on from lost writes), and
logs an error naming the file, the last good sequence number and how many acknowledged
writes are lost (the health answer counts them in ``problems``). Only a last line cut short
(a write interrupted before it was acknowledged) is dropped quietly, as before. Journals
and snapshots written before sequence numbers (no ``seq``) are loaded as they were.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import time
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
WITNESS = "engine.seq"  # the last write acknowledged: generation, seq and sum
GENESIS = "0" * 64  # the sum the chain starts from
_SUM_SUFFIX = re.compile(rb', "sum": "([0-9a-f]{64})"\}')  # the end of a chained line
JOURNAL_LIMIT_ENV = "LOCALDB_JOURNAL_LIMIT_BYTES"  # a test hook: see ``Journal``


class StoreError(RuntimeError):
    """The folder's data cannot be loaded without losing acknowledged writes."""


def snapshot_path(folder: Path, generation: int) -> Path:
    return folder / f"snapshot-{generation:06d}.jsonl"


def journal_path(folder: Path, generation: int) -> Path:
    return folder / f"journal-{generation:06d}.jsonl"


@dataclass
class Position:
    """Where the chain of writes stands: the last sequence number and its sum.

    ``known`` is False after data written before sequence numbers: the next chained
    line is then taken as it comes."""

    seq: int = 0
    sum: str = GENESIS
    known: bool = True


@dataclass
class Snapshot:
    """A verified snapshot: its tables, each with its items (DynamoDB JSON)."""

    generation: int
    tables: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)
    position: Position = field(default_factory=lambda: Position(known=False))

    @property
    def items(self) -> int:
        return sum(len(items) for _, items in self.tables)


@dataclass
class JournalEntry:
    number: int  # line number, for reports
    op: str
    region: str
    body: str
    when: float | None = None  # when it was written (Unix time), if the line says
    signature: str | None = None  # the signature of the request it was, if the line says


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
                else:
                    _check_header(path, line, snapshot)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise StoreError(f"{path.name}: unreadable ({exc})") from exc
    if ended is None:
        raise StoreError(f"{path.name}: no end line (the file is truncated)")
    if ended.get("sha256") != digest.hexdigest():
        raise StoreError(f"{path.name}: its checksum does not match (the file was altered)")
    if ended.get("tables") != len(snapshot.tables) or ended.get("items") != snapshot.items:
        raise StoreError(f"{path.name}: its counts do not match its content")
    return snapshot


def _check_header(path: Path, header: dict[str, Any], snapshot: Snapshot) -> None:
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise StoreError(f"{path.name}: not a version {VERSION} snapshot")
    if header.get("generation", snapshot.generation) != snapshot.generation:
        raise StoreError(
            f"{path.name}: holds generation {header.get('generation')}, not "
            f"{snapshot.generation} (an older snapshot put back?)"
        )
    if isinstance(header.get("seq"), int) and isinstance(header.get("sum"), str):
        snapshot.position = Position(header["seq"], header["sum"])


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


def read_journal(
    path: Path, problems: list[str], position: Position | None = None
) -> Iterator[JournalEntry]:
    """The entries of a journal, each checked against the chain at ``position`` (which
    moves along with them).

    A last line without its newline is a write that was cut off before it was
    acknowledged (the engine writes each line before answering): it is reported and cut
    from the file, so that later appends start on a line of their own. A chained line
    that does not go on from ``position`` ends the reading with ``JournalDamaged``
    (``problems`` says what, and up to which seq the data is good). In a journal written
    before sequence numbers a damaged line is reported and skipped, as before.
    """
    at = position if position is not None else Position(known=False)
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
    chained = None  # whether this journal's lines carry sequence numbers (its first says)
    for number, raw in enumerate(data[:good_end].splitlines(), start=1):
        if chained is None:
            chained = _SUM_SUFFIX.search(raw) is not None
        if chained:
            entry, reason = _chained_entry(raw, at)
            if entry is None:
                problems.append(
                    f"{path.name} line {number}: {reason}; loaded up to seq {at.seq}, "
                    "and the writes after it are lost"
                )
                raise JournalDamaged(path, number, at.seq)
            yield JournalEntry(
                number,
                str(entry["op"]),
                str(entry["region"]),
                str(entry["body"]),
                entry["t"],
                entry["sig"],
            )
            continue
        try:
            entry = json.loads(raw)
            yield JournalEntry(number, str(entry["op"]), str(entry["region"]), str(entry["body"]))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name} line {number} is damaged ({exc}); skipped")
        at.known = False


class JournalDamaged(StoreError):
    """A journal's chain breaks: what follows ``seq`` in ``path`` from ``line`` is lost."""

    def __init__(self, path: Path, line: int, seq: int) -> None:
        super().__init__(f"{path.name} is damaged at line {line}; the last good seq is {seq}")
        self.path, self.line, self.seq = path, line, seq


def _chained_entry(raw: bytes, at: Position) -> tuple[dict[str, Any] | None, str]:
    """A chained line's entry if it goes on from ``at`` (which it then moves on), else
    None and why not."""
    match = _SUM_SUFFIX.search(raw)
    if match is None or match.end() != len(raw):
        return None, "not a whole journal line (its checksum is missing)"
    payload = raw[: match.start()] + b"}"
    given = match.group(1).decode("ascii")
    try:
        entry = json.loads(payload)
        seq = entry["seq"]
        fields: dict[str, Any] = {k: str(entry[k]) for k in ("op", "region", "body")}
        when = entry.get("t")
        fields["t"] = float(when) if isinstance(when, int | float) else None
        fields["sig"] = str(entry["sig"]) if isinstance(entry.get("sig"), str) else None
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable ({exc})"
    if not isinstance(seq, int):
        return None, "its sequence number is not a number"
    if at.known and seq != at.seq + 1:
        return None, f"seq {seq} where seq {at.seq + 1} was due (lines missing or put back)"
    if at.known and _chain(at.sum, payload) != given:
        return None, f"seq {seq} does not match its checksum (the line or one before it altered)"
    at.seq, at.sum, at.known = seq, given, True
    return fields, ""


def _chain(previous: str, payload: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + payload).hexdigest()


def read_witness(folder: Path) -> tuple[int, Position] | None:
    """The generation and position of the last write acknowledged, or None if unknown."""
    try:
        witness = json.loads((folder / WITNESS).read_bytes())
        return int(witness["generation"]), Position(int(witness["seq"]), str(witness["sum"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Journal:
    """The open journal of the current generation: one line per write, written before moto
    applies it and taken back if moto refuses it, so the file holds exactly the writes
    applied.

    Lines go straight to the OS (no buffer of this process), so an acknowledged write
    survives the engine being killed. fsync is left to compaction and shutdown (a power cut
    is not what local development guards against). A line that could not be written whole
    (the disk full, say) is cut off again, at once or before the next line. Each line goes
    on from ``position``; after it the witness (``engine.seq``) names it.
    """

    def __init__(self, path: Path, position: Position | None = None) -> None:
        self.path = path
        self.generation = int(path.stem.rsplit("-", 1)[1]) if "-" in path.stem else 0
        self.position = position if position is not None else Position()
        self._file: IO[bytes] = _open_private(path, "ab", buffering=0)
        self._end = os.fstat(self._file.fileno()).st_size  # where the last kept line ends
        self._torn = False  # whether the file may hold bytes past ``_end``
        self._before = self.position  # the position before the last line, for ``discard``
        self.entries = 0
        self.bytes = 0  # written to this journal by this process
        # A test hook: a journal that would grow past this many bytes fails as a full disk
        # does (ENOSPC, having taken part of the line), so tests can fill the disk.
        self._limit = int(os.environ.get(JOURNAL_LIMIT_ENV) or 0) or None
        self._witness = os.open(path.parent / WITNESS, os.O_RDWR | os.O_CREAT, FILE_MODE)
        self._witness_next()

    def append(self, op: str, region: str, body: bytes, signature: str | None = None) -> int:
        """Write one line (with the request's signature, so that a start after a crash
        still refuses it played again); returns where it starts (for ``discard``).

        Raises ``OSError`` if the line could not be written whole; the journal is then as
        it was (or is made so before the next line is written).
        """
        seq = self.position.seq + 1
        entry = {
            "seq": seq,
            "t": round(time.time(), 3),
            "op": op,
            "region": region,
            "body": body.decode("utf-8"),
        }
        if signature is not None:
            entry["sig"] = signature
        payload = json.dumps(entry).encode("utf-8")
        line_sum = _chain(self.position.sum, payload)
        encoded = payload[:-1] + f', "sum": "{line_sum}"}}\n'.encode("ascii")
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
        self.bytes += len(encoded)
        self._before, self.position = self.position, Position(seq, line_sum)
        self._witness_next()
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
        self.position = self._before
        with contextlib.suppress(OSError):
            self._trim()
        self._witness_next()

    def _witness_next(self) -> None:
        """Name the last line kept in the witness (in place: a fixed-size record)."""
        record = json.dumps(
            {
                "generation": self.generation,
                "seq": self.position.seq,
                "sum": self.position.sum,
            }
        ).encode("ascii")
        with contextlib.suppress(OSError):  # only ever a lower bound of what is kept
            os.pwrite(self._witness, record.ljust(120) + b"\n", 0)

    def _trim(self) -> None:
        if self._torn:
            self._file.truncate(self._end)
            self._torn = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._trim()
            self._file.flush()
            os.fsync(self._file.fileno())
            os.fsync(self._witness)
        self._file.close()
        with contextlib.suppress(OSError):
            os.close(self._witness)


def write_snapshot(
    folder: Path,
    generation: int,
    tables: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]],
    position: Position | None = None,
) -> int:
    """Write snapshot ``generation`` (the state at ``position``) atomically; returns the
    number of items in it."""
    final = snapshot_path(folder, generation)
    tmp = final.with_suffix(".tmp")
    digest = hashlib.sha256()
    counts = {"tables": 0, "items": 0}
    try:
        _write_snapshot_file(
            tmp,
            generation=generation,
            tables=tables,
            digest=digest,
            counts=counts,
            position=position or Position(),
        )
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half snapshot behind
        raise
    tmp.replace(final)
    _fsync_dir(folder)
    return counts["items"]


def _write_snapshot_file(
    tmp: Path,
    *,
    generation: int,
    tables: Iterable[tuple[dict[str, Any], Iterable[dict[str, Any]]]],
    digest: Any,
    counts: dict[str, int],
    position: Position,
) -> None:
    with _open_private(tmp, "wb") as out:

        def put(line: dict[str, Any]) -> None:
            raw = json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n"
            digest.update(raw)
            out.write(raw)

        put(
            {
                "format": FORMAT,
                "version": VERSION,
                "generation": generation,
                "seq": position.seq,
                "sum": position.sum,
            }
        )
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


def start_generation(folder: Path, generation: int, position: Position | None = None) -> Journal:
    """Open the (empty) journal of a new generation, going on from ``position``, and drop
    generations before the last."""
    journal = Journal(journal_path(folder, generation), position)
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
