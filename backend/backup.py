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

import argparse
import gzip
import hashlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.config import Settings
from backend.connection import connect, make_s3_client
from backend.domain import utc_now
from backend.errors import CalendarError
from backend.migration.writer import BatchIO
from backend.storage import Storage
from backend.storage.dynamo import translated_errors

logger = logging.getLogger(__name__)

ITEMS_PER_FILE = 10_000
EXPORT_VERSION = "2020-06-30"


class BackupError(CalendarError):
    """A dump or restore cannot go on; the message says why."""


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

    def write(self, key: str, data: bytes) -> None:
        if self.is_s3:
            bucket, path = self._split(key)
            self.s3.put_object(Bucket=bucket, Key=path, Body=data)
        else:
            target = Path(self.root) / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def read(self, key: str) -> bytes:
        try:
            if self.is_s3:
                bucket, path = self._split(key)
                return bytes(self.s3.get_object(Bucket=bucket, Key=path)["Body"].read())
            return (Path(self.root) / key).read_bytes()
        except Exception as exc:
            raise BackupError(f"{self.root}/{key}: cannot be read ({exc})") from exc


def dump(storage: Storage, destination: Location) -> dict[str, int]:
    """Write both tables to ``destination``; returns items per table."""
    counts = {}
    for schema, table in storage.tables():
        counts[table] = _dump_table(storage, table, schema.logical_name, destination)
    return counts


def _dump_table(storage: Storage, table: str, logical: str, destination: Location) -> int:
    started = utc_now()
    files: list[dict[str, Any]] = []
    total = 0
    for batch in _batches(_scan(storage, table), ITEMS_PER_FILE):
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


def _scan(storage: Storage, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` in DynamoDB JSON, with strongly consistent reads."""
    params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        with translated_errors("backup scan"):
            page = storage.client.scan(**params)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def restore(storage: Storage, source: Location, *, force: bool = False) -> dict[str, int]:
    """Load a dump into the tables; refuses tables holding items unless ``force``."""
    plan = []
    for schema, table in storage.tables():
        summary = json.loads(source.read(f"{schema.logical_name}/manifest-summary.json"))
        if summary.get("outputFormat") != "DYNAMODB_JSON":
            raise BackupError(f"{schema.logical_name}: only DYNAMODB_JSON exports can be restored")
        if not force and _has_items(storage, table):
            raise BackupError(
                f"table {table!r} already holds items; restore into empty tables, or pass "
                "--force to write over what is there"
            )
        plan.append((schema.logical_name, table, summary))
    io_ = BatchIO(storage.client)
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
            for start in range(0, len(items), 25):
                io_.write_raw(table, items[start : start + 25])
            restored += len(items)
        if restored != summary.get("itemCount", restored):
            raise BackupError(
                f"{table}: restored {restored} items, the manifest says {summary['itemCount']}"
            )
        counts[table] = restored
        logger.info("restored %d items into %s", restored, table)
    return counts


def _relative(key: str, logical: str) -> str:
    """A data file key relative to the dump root (AWS exports carry their full prefix)."""
    marker = f"{logical}/data/"
    if marker in key:
        return marker + key.split(marker, 1)[1]
    return f"{logical}/data/{key.rsplit('/', 1)[-1]}"


def _has_items(storage: Storage, table: str) -> bool:
    with translated_errors("check table"):
        page = storage.client.scan(TableName=table, Limit=1, ProjectionExpression="id")
    return bool(page.get("Items")) or "LastEvaluatedKey" in page


def main(
    argv: list[str] | None = None,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.backup", description="Back up or restore both tables."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dump_cmd = commands.add_parser(
        "dump", help="write both tables to a folder or s3://bucket/prefix/"
    )
    dump_cmd.add_argument("destination")
    restore_cmd = commands.add_parser("restore", help="load a dump into the tables")
    restore_cmd.add_argument("source")
    restore_cmd.add_argument(
        "--force", action="store_true", help="write into tables that hold items"
    )
    args = parser.parse_args(argv)
    try:
        settings = settings if settings is not None else Settings.from_env()
        if storage is None:
            storage, _ = connect(settings)
        where = args.destination if args.command == "dump" else args.source
        location = Location(where, make_s3_client(settings) if where.startswith("s3://") else None)
        if args.command == "dump":
            counts = dump(storage, location)
        else:
            counts = restore(storage, location, force=args.force)
    except CalendarError as exc:
        print(f"❌ {args.command}: {exc}", file=sys.stderr)
        return 2
    verb = "dumped to" if args.command == "dump" else "restored from"
    for table, count in counts.items():
        print(f"✓ {table}: {count} items ({verb} {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
