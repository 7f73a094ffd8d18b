"""Backups of both tables in DynamoDB's export layout, to a folder or S3, and restores.

    python -m backend.backup dump DEST        # DEST: a folder or s3://bucket/prefix/
    python -m backend.backup restore SRC [--force]

A dump holds, per table, what DynamoDB's "Export to S3" writes: ``manifest-summary.json``,
``manifest-files.json`` (one JSON object per data file) and ``data/<uuid>.json.gz`` files
whose lines are ``{"Item": {...}}`` in DynamoDB JSON. So a dump can be restored here, fed
to tools that read exports, and an AWS export can be restored with ``restore``. Restore
refuses tables that already hold items unless ``--force``, and checks the item counts
against the manifests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.domain import utc_now
from backend.errors import BackupError
from backend.storage import Storage
from backend.storage.batch import batched

logger = logging.getLogger(__name__)

ITEMS_PER_FILE = 10_000
EXPORT_VERSION = "2020-06-30"


@dataclass
class Location:
    """A folder or an S3 prefix, with the few file operations a dump needs."""

    root: str
    s3: Any = None

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def _split(self, key: str) -> tuple[str, str]:
        bucket, _, prefix = self.root.removeprefix("s3://").partition("/")
        prefix = prefix.rstrip("/")
        return bucket, f"{prefix}/{key}" if prefix else key

    def _inside(self, key: str) -> Path:
        """The file for ``key``, which must stay inside the folder: no ``..``, no absolute
        path, and no symbolic link on the way (a manifest is data, not a path to trust)."""
        root = Path(self.root)
        parts = Path(key).parts
        if Path(key).is_absolute() or ".." in parts or not parts:
            raise BackupError(f"{key!r} points outside the dump folder {self.root}")
        current = root
        for part in parts:
            current = current / part
            if current.is_symlink():
                raise BackupError(f"{current} is a symbolic link; a dump holds plain files")
        return current

    def write(self, key: str, data: bytes) -> None:
        if self.is_s3:
            bucket, path = self._split(key)
            self.s3.put_object(Bucket=bucket, Key=path, Body=data)
            return
        target = self._inside(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a link planted between the check and the write is refused too.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def read(self, key: str) -> bytes:
        if not self.is_s3:
            target = self._inside(key)
        try:
            if self.is_s3:
                bucket, path = self._split(key)
                return bytes(self.s3.get_object(Bucket=bucket, Key=path)["Body"].read())
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                return handle.read()
        except Exception as exc:
            raise BackupError(f"{self.root}/{key}: cannot be read ({exc})") from exc


def dump(
    storage: Storage, destination: Location, *, max_rcu: float | None = None
) -> dict[str, int]:
    """Write both tables to ``destination``; returns items per table."""
    counts = {}
    for schema, table in storage.tables():
        counts[table] = _dump_table(storage, table, schema.logical_name, destination, max_rcu)
    return counts


def _dump_table(
    storage: Storage, table: str, logical: str, destination: Location, max_rcu: float | None
) -> int:
    started = utc_now()
    files: list[dict[str, Any]] = []
    total = 0
    for batch in batched(storage.batch_io(max_rcu=max_rcu).scan_raw(table), ITEMS_PER_FILE):
        lines = "".join(json.dumps({"Item": item}, ensure_ascii=False) + "\n" for item in batch)
        data = gzip.compress(lines.encode("utf-8"))
        key = f"{logical}/data/{uuid.uuid4().hex}.json.gz"
        destination.write(key, data)
        files.append(
            {
                "itemCount": len(batch),
                "md5Checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "dataFileS3Key": key,
            }
        )
        total += len(batch)
    manifest_files = "".join(json.dumps(f) + "\n" for f in files)
    destination.write(f"{logical}/manifest-files.json", manifest_files.encode())
    summary = {
        "version": EXPORT_VERSION,
        "exportArn": None,
        "startTime": started,
        "endTime": utc_now(),
        "tableArn": None,
        "tableName": table,
        "exportTime": started,
        "exportType": "FULL_EXPORT",
        "outputFormat": "DYNAMODB_JSON",
        "itemCount": total,
        "manifestFilesS3Key": f"{logical}/manifest-files.json",
    }
    destination.write(f"{logical}/manifest-summary.json", json.dumps(summary, indent=2).encode())
    logger.info("dumped %d items of %s", total, table)
    return total


def restore(
    storage: Storage, source: Location, *, force: bool = False, max_wcu: float | None = None
) -> dict[str, int]:
    """Load a dump into the tables; refuses tables holding items unless ``force``."""
    missing = [str(p) for p in storage.check_tables()]
    if missing:
        raise BackupError(
            "the tables are not ready to restore into: "
            + "; ".join(missing)
            + '. Create them first: cd backend && python -c "from models import '
            'DynamoDBDatabase; DynamoDBDatabase().create_tables()"'
        )
    plan = []
    for schema, table in storage.tables():
        summary = json.loads(source.read(f"{schema.logical_name}/manifest-summary.json"))
        if summary.get("outputFormat") != "DYNAMODB_JSON":
            raise BackupError(f"{schema.logical_name}: only DYNAMODB_JSON exports can be restored")
        if not force and not storage.batch_io().is_empty(table):
            raise BackupError(
                f"table {table!r} already holds items; restore into empty tables, or pass "
                "--force to write over what is there"
            )
        plan.append((schema.logical_name, table, summary))
    io_ = storage.batch_io(max_wcu=max_wcu)
    counts = {}
    for logical, table, summary in plan:
        manifest = source.read(
            summary.get("manifestFilesS3Key") or f"{logical}/manifest-files.json"
        )
        restored = 0
        for line in manifest.decode().splitlines():
            entry = json.loads(line)
            data = source.read(_relative(entry["dataFileS3Key"], logical))
            if (
                "md5Checksum" in entry
                and hashlib.md5(data, usedforsecurity=False).hexdigest() != entry["md5Checksum"]
            ):
                raise BackupError(f"{entry['dataFileS3Key']}: checksum does not match the manifest")
            items = [
                json.loads(row)["Item"]
                for row in gzip.decompress(data).decode("utf-8").splitlines()
                if row
            ]
            io_.write_raw(table, items)
            restored += len(items)
        if restored != summary.get("itemCount", restored):
            raise BackupError(
                f"{table}: restored {restored} items, the manifest says {summary['itemCount']}"
            )
        counts[table] = restored
        logger.info("restored %d items into %s", restored, table)
    fence(storage)
    return counts


def fence(storage: Storage) -> int:
    """Start every department's change history afresh after a restore (this one, or
    DynamoDB's point-in-time recovery): sync tokens issued before are refused (410, the
    client syncs in full) and webhook deliveries never reuse an id. Returns how many."""
    departments = storage.departments.list_all()
    for department in departments:
        storage.events.fence_history(department.id)
    logger.info("started the change history of %d departments afresh", len(departments))
    return len(departments)


def _relative(key: str, logical: str) -> str:
    """A data file key relative to the dump root (AWS exports carry their full prefix)."""
    marker = f"{logical}/data/"
    if marker in key:
        return marker + key.split(marker, 1)[1]
    return f"{logical}/data/{key.rsplit('/', 1)[-1]}"
