"""What an operator meets at the command line: clear one-line failures, options checked
before anything is written, and dumps that stay inside their folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from backend.backup.__main__ import main as backup_main
from backend.config import Settings
from backend.errors import ConfigError
from backend.migration.cli import main as migrate_main
from backend.storage import Storage
from backend.storage.connection import connect
from tests.test_seed_compat import BACKEND, CREATE_TABLES, _env


def test_create_tables_without_dynamodb_says_so_in_one_line(settings: Settings) -> None:
    env = _env(settings, AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9")  # nothing listens

    result = subprocess.run(
        [sys.executable, "-c", CREATE_TABLES],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "cannot create the tables" in line
    ]
    assert "cannot be reached" in result.stderr


@pytest.mark.parametrize("workers", ["0", "-1", "500", "many"])
def test_out_of_range_workers_are_refused_before_anything_is_written(
    settings: Settings, storage: Storage, workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        migrate_main(["--workers", workers], settings=settings, storage=storage)

    assert exit_.value.code == 2
    assert "--workers" in capsys.readouterr().err
    assert storage.departments.list_all() == []


def test_a_bad_report_timezone_is_a_clear_settings_error() -> None:
    with pytest.raises(ConfigError, match="REPORT_TIMEZONE='Mars/Olympus'"):
        Settings.from_env({"REPORT_TIMEZONE": "Mars/Olympus"}, dotenv_path=None)


def _dump(tmp_path: Path, settings: Settings, storage: Storage) -> Path:
    storage.departments.create("개발팀", None)
    folder = tmp_path / "dump"
    assert backup_main(["dump", str(folder)], storage=storage, settings=settings) == 0
    return folder


def test_restore_refuses_a_manifest_that_points_outside_the_dump(
    tmp_path: Path, settings: Settings, storage: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _dump(tmp_path, settings, storage)
    secret = tmp_path / "secret.json.gz"
    secret.write_bytes(b"not yours")
    manifest = folder / "departments" / "manifest-files.json"
    entry = json.loads(manifest.read_text())
    entry["dataFileS3Key"] = "departments/data/../../../secret.json.gz"
    manifest.write_text(json.dumps(entry) + "\n")

    code = backup_main(["restore", str(folder), "--force"], storage=storage, settings=settings)

    assert code == 2
    assert "outside the dump folder" in capsys.readouterr().err


def test_dump_and_restore_refuse_symbolic_links(
    tmp_path: Path, settings: Settings, storage: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _dump(tmp_path, settings, storage)
    summary = folder / "events" / "manifest-summary.json"
    target = tmp_path / "elsewhere.json"
    target.write_text(summary.read_text())
    summary.unlink()
    summary.symlink_to(target)

    restored = backup_main(["restore", str(folder), "--force"], storage=storage, settings=settings)
    redumped = backup_main(["dump", str(folder)], storage=storage, settings=settings)

    assert (restored, redumped) == (2, 2)
    assert "symbolic link" in capsys.readouterr().err
    assert json.loads(target.read_text())["tableName"] == storage.events.table  # untouched


def test_restoring_onto_missing_tables_says_how_to_create_them(
    tmp_path: Path, settings: Settings, storage: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _dump(tmp_path, settings, storage)
    suffix = uuid.uuid4().hex[:8]
    bare = Settings(
        **{**settings.__dict__, "departments_table": f"n-{suffix}", "events_table": f"m-{suffix}"}
    )
    nowhere, _ = connect(bare)

    code = backup_main(["restore", str(folder)], storage=nowhere, settings=bare)

    assert code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "DynamoDBDatabase().create_tables()" in err


def test_the_migration_report_never_follows_a_symbolic_link(
    tmp_path: Path, settings: Settings, storage: Storage
) -> None:
    victim = tmp_path / "important.txt"
    victim.write_text("keep me")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    out = io.StringIO()

    code = migrate_main(["--report", str(link)], settings=settings, storage=storage, out=out)

    assert code == 2
    assert "--report" in out.getvalue()
    assert victim.read_text() == "keep me"
    assert storage.departments.list_all() == []  # refused before anything was written
