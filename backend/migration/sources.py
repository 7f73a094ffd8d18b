"""Finding and reading the legacy files: a folder, two files, or an S3 prefix.

``departments.json`` is small and read whole. ``events.json`` can be large, so it is
streamed with ijson, event by event, in either of its two forms; memory stays flat
whatever its size.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import ijson

from backend.config import PACKAGE_DIR
from backend.errors import SourceError

DEFAULT_SOURCE = PACKAGE_DIR / "data"
DEPARTMENTS_FILE = "departments.json"
EVENTS_FILE = "events.json"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LegacyRecord:
    """One record as found in a file, with where it was found."""

    file: str
    path: str  # a JSONPath to the record, e.g. $["550e…"]["2024-01-20"][0]
    value: Any
    department_id: Any = None  # events: the key it was filed under (current form)
    event_date: Any = None  # events: the date key it was filed under (current form)
    misplaced: str | None = None  # why the value sits where no record can (current form)


def path_key(key: str) -> str:
    return "[" + json.dumps(key, ensure_ascii=False) + "]"


@dataclass
class Sources:
    """The two local files to read (S3 objects are first copied to a private folder)."""

    departments: Path
    events: Path
    label_departments: str
    label_events: str
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def resolve(
    source: str | None, departments: str | None, events: str | None, s3_client: Any = None
) -> Sources:
    """Locate both files; ``s3://bucket/prefix/`` sources are downloaded first."""
    if source is not None and source.startswith("s3://"):
        if s3_client is None:
            raise SourceError("an s3:// source needs AWS credentials for S3")
        return _from_s3(source, s3_client, departments, events)
    folder = Path(source) if source is not None else DEFAULT_SOURCE
    if source is not None and not folder.is_dir():
        raise SourceError(f"{folder}: no such folder")
    dept_path = Path(departments) if departments else folder / DEPARTMENTS_FILE
    event_path = Path(events) if events else folder / EVENTS_FILE
    for path in (dept_path, event_path):
        if not path.is_file():
            raise SourceError(f"{path}: file not found")
    return Sources(dept_path, event_path, str(dept_path), str(event_path))


def _from_s3(url: str, s3: Any, departments: str | None, events: str | None) -> Sources:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise SourceError(f"{url}: no bucket in the S3 URL")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    tmp = tempfile.TemporaryDirectory(prefix="legacy-json-")
    local: dict[str, Path] = {}
    for name, override in ((DEPARTMENTS_FILE, departments), (EVENTS_FILE, events)):
        if override:
            local[name] = Path(override)
            continue
        key = prefix + name
        target = Path(tmp.name) / name
        try:
            with target.open("wb") as handle:
                s3.download_fileobj(bucket, key, handle)  # streamed to disk, not memory
        except (ClientError, BotoCoreError) as exc:
            tmp.cleanup()
            raise SourceError(f"s3://{bucket}/{key}: cannot be read ({exc})") from exc
        local[name] = target
    return Sources(
        local[DEPARTMENTS_FILE],
        local[EVENTS_FILE],
        departments or f"s3://{bucket}/{prefix}{DEPARTMENTS_FILE}",
        events or f"s3://{bucket}/{prefix}{EVENTS_FILE}",
        tmp,
    )


# -- departments.json ----------------------------------------------------------------


def read_departments(path: Path, label: str) -> list[LegacyRecord]:
    """Every record of departments.json, in file order, in either of its forms."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SourceError(f"{label}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{label}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{label}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise SourceError(f"{label}: not valid JSON: {exc}") from exc
    if isinstance(data, list):
        return [LegacyRecord(label, f"$[{n}]", value) for n, value in enumerate(data)]
    if isinstance(data, dict):
        # The first app's form: {"<id>": {...}}; the key is the id.
        return [
            LegacyRecord(label, "$" + path_key(key), value, department_id=key)
            for key, value in data.items()
        ]
    raise SourceError(
        f"{label}: neither form of departments.json (expected an array of departments, "
        f"or an object keyed by department id; found {type(data).__name__})"
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# -- events.json: streamed --------------------------------------------------------------


def _open_events(path: Path, label: str) -> IO[bytes]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(f"{label}: cannot be read ({exc.strerror})") from exc
    if handle.read(3) != _BOM:
        handle.seek(0)
    return handle


def check_events(path: Path, label: str) -> int:
    """Read the whole file once, O(1) memory, and return how many records it holds.

    This runs before anything is written, so a file that is broken at its very end stops
    the run with nothing written.
    """
    return sum(1 for _ in iter_events(path, label))


def iter_events(path: Path, label: str) -> Iterator[LegacyRecord]:
    """Each event record of events.json in file order, streamed."""
    with _open_events(path, label) as handle:
        try:
            yield from _walk(ijson.basic_parse(handle, use_float=False), label)
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            raise SourceError(f"{label}: not valid JSON: {_position(path, exc)}") from exc


class _Stream:
    """ijson's flat event stream with one event of look-ahead."""

    _OPEN = frozenset({"start_map", "start_array"})
    _CLOSE = frozenset({"end_map", "end_array"})

    def __init__(self, events: Iterator[tuple[str, Any]]) -> None:
        self._events = events
        self._peeked: tuple[str, Any] | None = None

    def take(self) -> tuple[str, Any]:
        if self._peeked is not None:
            event, self._peeked = self._peeked, None
            return event
        return next(self._events)

    def peek(self) -> str | None:
        if self._peeked is None:
            self._peeked = next(self._events, None)
        return None if self._peeked is None else self._peeked[0]

    def value(self) -> Any:
        """Build the next complete JSON value."""
        builder = ijson.ObjectBuilder()
        depth = 0
        while True:
            kind, value = self.take()
            builder.event(kind, value)
            depth += (kind in self._OPEN) - (kind in self._CLOSE)
            if depth == 0:
                return builder.value

    def map_keys(self) -> Iterator[str]:
        """Inside a map just opened: each key; the caller consumes its value in between."""
        while True:
            kind, value = self.take()
            if kind == "end_map":
                return
            yield str(value)

    def items(self) -> Iterator[Any]:
        """Inside an array just opened: each element, built in full."""
        while self.peek() != "end_array":
            yield self.value()
        self.take()


def _walk(events: Iterator[tuple[str, Any]], label: str) -> Iterator[LegacyRecord]:
    stream = _Stream(events)
    kind = stream.peek()
    if kind is None:
        raise SourceError(f"{label}: the file is empty")
    if kind == "start_array":  # older form: a flat array of events
        stream.take()
        for n, value in enumerate(stream.items()):
            yield LegacyRecord(label, f"$[{n}]", value)
    elif kind == "start_map":  # current form: {department: {date: [events]}}
        stream.take()
        for dept_key in stream.map_keys():
            dept_path = "$" + path_key(dept_key)
            if stream.peek() != "start_map":
                yield LegacyRecord(
                    label,
                    dept_path,
                    stream.value(),
                    department_id=dept_key,
                    misplaced="a department's calendar must be an object of dates",
                )
                continue
            stream.take()
            for date_key in stream.map_keys():
                date_path = dept_path + path_key(date_key)
                if stream.peek() != "start_array":
                    yield LegacyRecord(
                        label,
                        date_path,
                        stream.value(),
                        dept_key,
                        date_key,
                        misplaced="a date's events must be an array",
                    )
                    continue
                stream.take()
                for n, value in enumerate(stream.items()):
                    yield LegacyRecord(label, f"{date_path}[{n}]", value, dept_key, date_key)
    else:
        raise SourceError(
            f"{label}: neither form of events.json (expected an object keyed by department "
            "id, or an array of events)"
        )
    if stream.peek() is not None:
        raise SourceError(f"{label}: unexpected data after the end of the JSON document")


def _position(path: Path, exc: Exception) -> str:
    """Where the JSON breaks, as line and column; found by the json module on error only."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as decode_error:
        return f"not UTF-8 text (byte {decode_error.start})"
    except OSError:
        return str(exc)
    try:
        json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    except ValueError as error:
        return str(error)
    return str(exc)
