"""The embedded local DynamoDB: shared by every local tool, and its data survives restarts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from backend import create_app
from backend.config import Mode, Settings
from backend.models import DynamoDBDatabase
from backend.storage.connection import connect, connect_client
from localdb import ensure_running, store
from localdb.launcher import STATE, health

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


def _journal(data_dir: Path) -> Path:
    """The journal new writes go to: the newest generation's."""
    return store.journal_path(data_dir, max(store.generations(data_dir)[1]))


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
    snapshots, journals = store.generations(local_settings.local_dir)
    assert snapshots
    assert journals


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
    with _journal(local_settings.local_dir).open("a", encoding="utf-8") as journal:
        journal.write('{"op": "PutItem", "region": "ap-nort')

    names = [
        d["name"]
        for d in create_app(local_settings)
        .test_client()
        .get("/api/departments")
        .get_json()["items"]
    ]

    assert names == ["개발팀"]


def _restarted(data_dir: Path, old_pid: int, timeout: float = 30) -> None:
    """Wait until an engine other than ``old_pid`` serves the folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if _engine_pid(data_dir) != old_pid:
                return
        time.sleep(0.05)
    raise AssertionError("the engine was not started again")


def test_no_acknowledged_write_is_lost_when_the_engine_is_killed_while_writing(
    local_settings: Settings,
) -> None:
    storage, _ = connect(local_settings)
    storage.create_tables()
    client, _ = connect_client(local_settings, max_pool_connections=8)
    table = storage.events.table
    acknowledged: set[str] = set()
    stop = threading.Event()

    def writer(number: int) -> None:
        n = 0
        while not stop.is_set():
            event_id = f"w{number}-{n}"
            n += 1
            item = {"id": {"S": event_id}, "department_id": {"S": f"d{number}"}}
            try:
                client.put_item(TableName=table, Item=item)
            except (ClientError, BotoCoreError):
                continue  # not acknowledged: may or may not be stored
            acknowledged.add(event_id)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(10):
            time.sleep(0.4)
            pid = _engine_pid(local_settings.local_dir)
            os.kill(pid, signal.SIGKILL)
            _restarted(local_settings.local_dir, pid)  # by the writers' next requests
        time.sleep(0.4)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    stored: set[str] = set()
    scan: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**scan)
        stored |= {item["id"]["S"] for item in page["Items"]}
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert len(acknowledged) > 100
    assert acknowledged - stored == set()


def test_a_killed_engine_is_started_once_for_many_waiting_threads(
    local_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = create_app(local_settings).test_client()
    department = client.post("/api/departments", json={"name": "개발팀"}).get_json()
    pid = _engine_pid(local_settings.local_dir)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    caplog.set_level("INFO", logger="localdb")

    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda _: client.get(f"/api/departments/{department['id']}").status_code,
                range(16),
            )
        )

    assert statuses == [200] * 16
    assert caplog.text.count("starting the local DynamoDB engine") == 1
    assert _engine_pid(local_settings.local_dir) != pid


def test_a_clean_stop_leaves_a_snapshot_and_an_empty_journal(local_settings: Settings) -> None:
    client = create_app(local_settings).test_client()
    names = [f"부서{n}" for n in range(30)]
    for name in names:
        client.post("/api/departments", json={"name": name})

    _stop(local_settings.local_dir, signal.SIGTERM)

    assert _journal(local_settings.local_dir).stat().st_size == 0
    restarted = create_app(local_settings).test_client()
    listed = restarted.get("/api/departments?limit=100").get_json()["items"]
    assert sorted(d["name"] for d in listed) == sorted(names)


def test_a_damaged_snapshot_is_reported_and_the_generation_before_it_used(
    local_settings: Settings,
) -> None:
    data_dir = local_settings.local_dir
    client = create_app(local_settings).test_client()
    client.post("/api/departments", json={"name": "첫째"})
    _stop(data_dir, signal.SIGTERM)  # snapshot N
    client = create_app(local_settings).test_client()
    client.post("/api/departments", json={"name": "둘째"})
    _stop(data_dir, signal.SIGTERM)  # snapshot N+1; N and journal N kept as the way back
    newest = store.snapshot_path(data_dir, max(store.generations(data_dir)[0]))
    damaged = bytearray(newest.read_bytes())
    damaged[len(damaged) // 2] ^= 0x20
    newest.write_bytes(bytes(damaged))

    names = {
        d["name"]
        for d in create_app(local_settings)
        .test_client()
        .get("/api/departments")
        .get_json()["items"]
    }

    assert names == {"첫째", "둘째"}
    log = (data_dir / "engine.log").read_text(encoding="utf-8")
    assert "loading the generation before it" in log
    assert newest.with_suffix(".damaged").exists()


def test_a_journal_line_that_no_longer_applies_is_skipped_and_reported(
    local_settings: Settings,
) -> None:
    data_dir = local_settings.local_dir
    client = create_app(local_settings).test_client()
    client.post("/api/departments", json={"name": "앞"})
    _stop(data_dir, signal.SIGKILL)
    # A well-formed line (in the chain) that moto refuses, then a damaged one.
    at = store.Position(known=False)
    list(store.read_journal(_journal(data_dir), [], at))
    journal = store.Journal(_journal(data_dir), store.Position(at.seq, at.sum))
    journal.append("PutItem", "ap-northeast-2", b'{"TableName": "gone"}')
    journal.close()
    with _journal(data_dir).open("a", encoding="utf-8") as damaged:
        damaged.write("not json at all\n")
    client = create_app(local_settings).test_client()
    client.post("/api/departments", json={"name": "뒤"})
    _stop(data_dir, signal.SIGKILL)

    names = {
        d["name"]
        for d in create_app(local_settings)
        .test_client()
        .get("/api/departments")
        .get_json()["items"]
    }

    assert names == {"앞", "뒤"}
    log = (data_dir / "engine.log").read_text(encoding="utf-8")
    assert "(PutItem) no longer applies" in log
    assert "not a whole journal line" in log
    assert ".damaged" in log


def test_an_engine_killed_while_it_answers_its_health_check_counts_as_down() -> None:
    """The engine dies half-way through a chunked answer: the check says "no engine here"
    (and a tool starts a new one) rather than failing with http.client's IncompleteRead."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_half() -> None:
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n10\r\n{"status": "re'
        )
        connection.close()

    server = threading.Thread(target=answer_half, daemon=True)
    server.start()
    try:
        assert health(f"http://127.0.0.1:{port}", "secret") is None
    finally:
        server.join(timeout=5)
        listener.close()
