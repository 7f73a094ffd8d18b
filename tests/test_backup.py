"""Backups in DynamoDB's export layout, to a folder and to S3, and restores that round-trip."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.backup.__main__ import main
from backend.config import Settings
from backend.services.events import create_event
from backend.storage import Storage
from backend.storage.connection import connect
from tests.helpers import local_aws_client
from tests.test_migration import items


def fill(storage: Storage) -> None:
    dev = storage.departments.create("개발팀 🚀", "백엔드/프론트엔드 — 개발", ("lead@example.com",))
    storage.departments.create("마케팅팀", None)
    for n in range(30):
        create_event(
            storage,
            dev.id,
            {
                "event_date": f"2024-01-{n % 28 + 1:02d}",
                "title": f"회의 {n} ✓",
                "time": "오후 3:00",
                "description": "주간",
            },
        )


# What a restore moves on purpose: each calendar's history starts afresh (fence).
FENCED = ("calendar_version", "history_from", "changed_at")


def snapshot(storage: Storage) -> dict[str, list[dict[str, Any]]]:
    def unfenced(table: str) -> list[dict[str, Any]]:
        found = [{k: v for k, v in i.items() if k not in FENCED} for i in items(storage, table)]
        return sorted(found, key=lambda i: str(i["id"]))

    return {
        "departments": unfenced(storage.departments.table),
        "events": unfenced(storage.events.table),
    }


def other_tables(settings: Settings) -> tuple[Settings, Storage]:
    suffix = uuid.uuid4().hex[:8]
    fresh = Settings(
        **{**settings.__dict__, "departments_table": f"d-{suffix}", "events_table": f"e-{suffix}"}
    )
    storage, _ = connect(fresh)
    storage.create_tables()
    return fresh, storage


def test_folder_dump_uses_the_export_layout_and_restores_equal(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    fill(storage)
    dump_dir = tmp_path / "backup"

    assert main(["dump", str(dump_dir)], storage=storage, settings=settings) == 0

    summary = json.loads((dump_dir / "events" / "manifest-summary.json").read_text())
    # 30 events, the change log's 30 records (one per write), 2 calendar items
    assert (summary["outputFormat"], summary["itemCount"]) == ("DYNAMODB_JSON", 62)
    [entry] = [
        json.loads(line)
        for line in (dump_dir / "events" / "manifest-files.json").read_text().splitlines()
    ]
    lines = gzip.decompress((dump_dir / entry["dataFileS3Key"]).read_bytes()).decode().splitlines()
    assert len(lines) == 62
    assert all(set(json.loads(line)) == {"Item"} for line in lines)
    titles = [json.loads(line)["Item"].get("title", {}).get("S", "") for line in lines]
    assert sum(title.startswith("회의") for title in titles) == 30

    restored_settings, restored = other_tables(settings)
    assert main(["restore", str(dump_dir)], storage=restored, settings=restored_settings) == 0
    assert snapshot(restored) == snapshot(storage)


def test_restore_refuses_tables_with_items_unless_forced(
    tmp_path: Path, settings: Settings, storage: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(storage)
    main(["dump", str(tmp_path / "b")], storage=storage, settings=settings)

    assert main(["restore", str(tmp_path / "b")], storage=storage, settings=settings) == 2
    assert "already holds items" in capsys.readouterr().err
    assert (
        main(["restore", str(tmp_path / "b"), "--force"], storage=storage, settings=settings) == 0
    )
    # 30 events, 30 change records, 2 calendar items
    assert len(items(storage, storage.events.table)) == 62


def test_a_damaged_dump_is_refused(tmp_path: Path, settings: Settings, storage: Storage) -> None:
    fill(storage)
    main(["dump", str(tmp_path / "b")], storage=storage, settings=settings)
    data_file = next((tmp_path / "b" / "events" / "data").iterdir())
    data_file.write_bytes(gzip.compress(b'{"Item": {"id": {"S": "x"}}}\n'))
    restored_settings, restored = other_tables(settings)

    assert main(["restore", str(tmp_path / "b")], storage=restored, settings=restored_settings) == 2
    assert (
        main(["restore", str(tmp_path / "nowhere")], storage=restored, settings=restored_settings)
        == 2
    )


def test_s3_round_trip(settings: Settings, storage: Storage, aws_url: str) -> None:
    fill(storage)
    s3 = local_aws_client("s3", aws_url)
    bucket = f"backups-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    with_s3 = Settings(**{**settings.__dict__, "s3_endpoint_url": aws_url})

    assert (
        main(["dump", f"s3://{bucket}/backups/2024-01-20/"], storage=storage, settings=with_s3) == 0
    )
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "backups/2024-01-20/departments/manifest-summary.json" in keys

    restored_settings, restored = other_tables(with_s3)
    assert (
        main(
            ["restore", f"s3://{bucket}/backups/2024-01-20/"],
            storage=restored,
            settings=restored_settings,
        )
        == 0
    )
    assert snapshot(restored) == snapshot(storage)


def test_a_restore_refuses_sync_tokens_issued_before_it(
    tmp_path: Path, settings: Settings, storage: Storage, client: FlaskClient
) -> None:
    department = client.post("/api/departments", json={"name": "복원"}).get_json()["id"]
    client.post(f"/api/events/{department}", json={"event_date": "2024-01-02", "title": "전"})
    synced = client.get(f"/api/events/{department}?sync=true").get_json()
    assert main(["dump", str(tmp_path / "b")], storage=storage, settings=settings) == 0
    client.post(f"/api/events/{department}", json={"event_date": "2024-01-03", "title": "후"})
    later = client.get(f"/api/events/{department}?sync_token={synced['next_sync_token']}")
    token = later.get_json()["next_sync_token"]

    args = ["restore", str(tmp_path / "b"), "--force"]
    assert main(args, storage=storage, settings=settings) == 0

    for old in (synced["next_sync_token"], token):
        response = client.get(f"/api/events/{department}?sync_token={old}")
        assert response.status_code == 410
    fresh = client.get(f"/api/events/{department}?sync=true").get_json()
    assert [e["title"] for e in fresh["items"]] == ["전", "후"]  # --force kept the later one
    assert (
        client.get(f"/api/events/{department}?sync_token={fresh['next_sync_token']}").status_code
        == 200
    )
