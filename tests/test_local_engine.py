"""The embedded local DynamoDB: shared by every local tool, and its data survives restarts."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend import create_app
from backend.config import Mode, Settings
from backend.local_engine import ensure_running
from backend.local_engine.launcher import JOURNAL, STATE
from backend.models import DynamoDBDatabase

pytestmark = pytest.mark.slow


def _engine_pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / STATE).read_text())["pid"])


def _stop(data_dir: Path, sig: signal.Signals) -> None:
    pid = _engine_pid(data_dir)
    os.kill(pid, sig)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"engine {pid} did not stop")


@pytest.fixture
def local_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(mode=Mode.LOCAL, local_dir=tmp_path / "localdb", secret_key="k" * 32)
    yield settings
    if (settings.local_dir / STATE).exists():
        _stop(settings.local_dir, signal.SIGTERM)


def test_server_starts_the_engine_creates_tables_and_says_so(
    local_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="backend")

    client = create_app(local_settings).test_client()

    assert client.get("/readyz").status_code == 200
    assert "embedded local DynamoDB" in caplog.text
    assert "created departments, events" in caplog.text
    assert client.post("/api/departments", json={"name": "개발팀"}).status_code == 201


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_data_survives_an_engine_restart(local_settings: Settings, sig: signal.Signals) -> None:
    client = create_app(local_settings).test_client()
    department = client.post(
        "/api/departments", json={"name": "개발팀", "description": "백엔드"}
    ).get_json()
    event = client.post(
        f"/api/events/{department['id']}",
        json={"event_date": "2024-01-20", "title": "팀 회의", "time": "오후 2:00"},
    ).get_json()
    client.patch(f"/api/departments/{department['id']}", json={"description": "백엔드 🚀"})

    _stop(local_settings.local_dir, sig)
    restarted = create_app(local_settings).test_client()

    got = restarted.get(f"/api/departments/{department['id']}").get_json()
    assert got["description"] == "백엔드 🚀"
    assert got["version"] == 2
    assert restarted.get(f"/api/events/{department['id']}/{event['id']}").get_json() == event
    assert restarted.post("/api/departments", json={"name": "개발팀"}).status_code == 409
    assert (local_settings.local_dir / JOURNAL).stat().st_size > 0


def test_tools_share_one_engine_and_lose_nothing_writing_at_once(local_settings: Settings) -> None:
    server = create_app(local_settings).test_client()
    tool = DynamoDBDatabase(local_settings)  # another tool of the same folder, e.g. the migration
    tool.create_tables()
    assert tool.target.endpoint_url == ensure_running(local_settings.local_dir)

    def via_server(n: int) -> int:
        return int(server.post("/api/departments", json={"name": f"서버팀{n}"}).status_code)

    def via_tool(n: int) -> str:
        return tool.storage.departments.create(f"도구팀{n}", None).id

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(via_server, range(40)))
        made = list(pool.map(via_tool, range(40)))

    assert statuses == [201] * 40
    _stop(local_settings.local_dir, signal.SIGKILL)
    names = {d.name for d in DynamoDBDatabase(local_settings).storage.departments.list_all()}
    assert names == {f"서버팀{n}" for n in range(40)} | {f"도구팀{n}" for n in range(40)}
    assert len(made) == 40


def test_a_torn_last_journal_line_is_ignored(local_settings: Settings) -> None:
    client = create_app(local_settings).test_client()
    client.post("/api/departments", json={"name": "개발팀"})
    _stop(local_settings.local_dir, signal.SIGKILL)
    with (local_settings.local_dir / JOURNAL).open("a", encoding="utf-8") as journal:
        journal.write('{"op": "PutItem", "region": "ap-nort')

    names = [
        d["name"]
        for d in create_app(local_settings)
        .test_client()
        .get("/api/departments")
        .get_json()["items"]
    ]

    assert names == ["개발팀"]
