"""The embedded engine on a shared machine: its owner's tools, and nobody else, get in.

Tried as another local user or process would: the data folder and its files are
private, requests not signed with the folder's secret (or not DynamoDB at all) are refused
before moto sees them, only applied writes are journalled, a stuck request does not hold
the engine forever, and a tool never sends its data to a process that took the port of
a dead engine.
"""

from __future__ import annotations

import contextlib
import errno
import http.server
import json
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from backend import create_app
from backend.config import Mode, Settings
from localdb import credentials, ensure_running, store
from localdb.launcher import KEY_FILE, STATE
from localdb.server import JournalingApp

pytestmark = pytest.mark.slow

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_JSON_TYPE = "application/x-amz-json-1.0"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # A parent others may enter, as a home directory often is: only the folder's own
    # permissions keep them out.
    parent = Path(tempfile.mkdtemp(prefix="engine-security-"))
    parent.chmod(0o755)
    folder = parent / "localdb"
    yield folder
    state = folder / STATE
    if state.exists():
        pid = int(json.loads(state.read_text())["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    subprocess.run(["rm", "-rf", str(parent)], check=True)


def _client(url: str, secret: str, key_id: str = "local-engine") -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="ap-northeast-2",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def _post(url: str, path: str = "/", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url + path, data=b"{}", headers=headers or {}, method="POST")
    try:
        with _opener.open(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_folder_and_its_files_are_private(data_dir: Path) -> None:
    ensure_running(data_dir)
    client = create_app(Settings(mode=Mode.LOCAL, local_dir=data_dir, secret_key="k" * 32))
    client.test_client().post("/api/departments", json={"name": "개발팀"})

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    files = [p for p in data_dir.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {KEY_FILE, STATE}
    assert any(p.name.startswith("journal-") for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_requests_without_the_folders_secret_never_reach_moto(data_dir: Path) -> None:
    url = ensure_running(data_dir)
    _, secret = credentials(data_dir)
    own = _client(url, secret)

    unsigned = _post(
        url,
        headers={
            "X-Amz-Target": "DynamoDB_20120810.CreateTable",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(ClientError) as wrong_secret:
        _client(url, "0" * 64).create_table(
            TableName="intruder",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    with pytest.raises(ClientError) as wrong_key:
        _client(url, secret, key_id="AKIAIOSFODNN7EXAMPLE").list_tables()

    assert unsigned == 400
    assert wrong_secret.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert wrong_key.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert own.list_tables()["TableNames"] == []


def test_only_dynamodb_is_served(data_dir: Path) -> None:
    url = ensure_running(data_dir)
    _, secret = credentials(data_dir)
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="ap-northeast-2",
        aws_access_key_id="local-engine",
        aws_secret_access_key=secret,
    )
    with pytest.raises(ClientError):
        s3.list_buckets()
    with pytest.raises(ClientError) as not_served:
        _client(url, secret).create_backup(TableName="table", BackupName="backup")

    assert _post(url, "/moto-api/reset") == 400
    assert _post(url, "/moto-api/data.json") == 400
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "x-moto-account-id": "1"}
    assert _post(url, headers=target) == 400
    assert not_served.value.response["Error"]["Code"] == "UnknownOperationException"


def test_only_writes_moto_applied_are_journalled(data_dir: Path) -> None:
    url = ensure_running(data_dir)
    client = _client(url, credentials(data_dir)[1])
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    journal = store.journal_path(data_dir, max(store.generations(data_dir)[1]))
    before = journal.read_text(encoding="utf-8").count("\n")

    client.put_item(TableName="t", Item={"id": {"S": "a"}})
    with pytest.raises(ClientError):
        client.put_item(
            TableName="t", Item={"id": {"S": "a"}}, ConditionExpression="attribute_not_exists(id)"
        )
    with pytest.raises(ClientError):
        client.put_item(TableName="missing", Item={"id": {"S": "a"}})
    client.get_item(TableName="t", Key={"id": {"S": "a"}})
    client.scan(TableName="t")

    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) - before == 1
    assert json.loads(lines[-1])["op"] == "PutItem"


def test_a_stuck_request_is_timed_out_instead_of_holding_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    release = threading.Event()
    stuck_on: list[str] = []
    original = DynamoHandler.describe_table

    def hang(self: Any) -> Any:
        release.wait(30)
        return original(self)

    monkeypatch.setattr(DynamoHandler, "describe_table", hang)
    app = JournalingApp(lock_wait=0.3, request_timeout=0.5, on_stuck=stuck_on.append)
    app.watch(interval=0.1)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = _client(url, "local")
    try:

        def describe() -> None:
            with pytest.raises(ClientError):
                client.describe_table(TableName="x")

        hung = threading.Thread(target=describe)
        hung.start()
        time.sleep(1.0)
        started = time.monotonic()
        with pytest.raises(ClientError) as busy:
            client.list_tables()
        waited = time.monotonic() - started
        with _opener.open(url + "/_engine/health", timeout=5) as response:
            health = json.loads(response.read())
    finally:
        release.set()
        server.shutdown()

    assert busy.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert waited < 5
    assert health["status"] == "stuck"
    assert stuck_on == ["DescribeTable"]


def test_a_tool_never_writes_to_a_process_that_took_a_dead_engines_port(
    data_dir: Path,
) -> None:
    settings = Settings(mode=Mode.LOCAL, local_dir=data_dir, secret_key="k" * 32)
    client = create_app(settings).test_client()
    client.post("/api/departments", json={"name": "개발팀"})
    state = json.loads((data_dir / STATE).read_text())
    os.kill(state["pid"], signal.SIGKILL)
    time.sleep(0.3)
    received: list[str] = []

    class Impostor(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.headers.get("X-Amz-Target", ""))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ready", "proof": "0"}')

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    impostor = http.server.ThreadingHTTPServer(("127.0.0.1", state["port"]), Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        created = client.post("/api/departments", json={"name": "마케팅팀"})
        listed = client.get("/api/departments").get_json()["items"]
    finally:
        impostor.shutdown()
        impostor.server_close()

    assert created.status_code == 201
    assert {d["name"] for d in listed} == {"개발팀", "마케팅팀"}
    assert received == []
    assert json.loads((data_dir / STATE).read_text())["port"] != state["port"]


_AS_ANOTHER_USER = r"""
import json, os, sys, urllib.error, urllib.request
folder, url = sys.argv[1], sys.argv[2]
result = {}
for name, attempt in (("secret", lambda: open(folder + "/engine.key").read()),
                      ("folder", lambda: os.listdir(folder))):
    try:
        attempt()
        result[name] = "read"
    except PermissionError:
        result[name] = "denied"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
forged = ("AWS4-HMAC-SHA256 Credential=local-engine/20240101/ap-northeast-2/dynamodb/"
          "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
for name, extra in (("unsigned", {}), ("forged", {"Authorization": forged,
                                                  "X-Amz-Date": "20240101T000000Z"})):
    request = urllib.request.Request(url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0", **extra})
    try:
        opener.open(request, timeout=5)
        result[name] = 200
    except urllib.error.HTTPError as exc:
        result[name] = exc.code
print(json.dumps(result))
"""
SYSTEM_PYTHON = Path("/usr/bin/python3")  # readable by every user, unlike a venv under /root


@pytest.mark.skipif(
    os.geteuid() != 0 or not SYSTEM_PYTHON.exists(),
    reason="needs root (to run a step as another user) and a system-wide python3",
)
def test_another_os_user_can_neither_read_the_secret_nor_use_the_engine(data_dir: Path) -> None:
    url = ensure_running(data_dir)
    nobody = pwd.getpwnam("nobody")

    def become_nobody() -> None:
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", _AS_ANOTHER_USER, str(data_dir), url],
        preexec_fn=become_nobody,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        cwd="/tmp",
    )

    assert json.loads(result.stdout) == {
        "secret": "denied",
        "folder": "denied",
        "unsigned": 400,
        "forged": 400,
    }


def test_readyz_names_the_engine_starting() -> None:
    app = JournalingApp(ready=False, start_wait=0.05)
    app.state = "starting: loading 100000 items"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        service = create_app(
            Settings(
                mode=Mode.ENDPOINT,
                endpoint_url=url,
                region="ap-northeast-2",
                departments_table=f"departments-{uuid.uuid4().hex[:10]}",
                events_table=f"events-{uuid.uuid4().hex[:10]}",
                secret_key="k" * 32,
            )
        ).test_client()
        ready = service.get("/readyz")
    finally:
        server.shutdown()
        server.server_close()

    assert ready.status_code == 503
    assert "starting: loading 100000 items" in " ".join(ready.get_json()["problems"])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _send_large(port: int, headers: dict[str, str], size: int) -> int | str:
    """Send a request of ``size`` body bytes; the status answered, or how it was refused."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    chunk = b"x" * (1024 * 1024)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            start = f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
            conn.sendall(f"{start}{head}\r\n".encode())
            sent = 0
            while sent < size:
                conn.sendall(chunk[: size - sent])
                sent += len(chunk)
            answer = conn.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except TimeoutError:
        return "timeout"
    if not answer:
        return "closed"
    return int(answer.split(b" ", 2)[1])


def test_large_bodies_cost_nothing_until_signed_and_connections_are_capped(
    data_dir: Path,
) -> None:
    url = ensure_running(data_dir)
    _, secret = credentials(data_dir)
    pid = int(json.loads((data_dir / STATE).read_text())["pid"])
    port = int(json.loads((data_dir / STATE).read_text())["port"])
    own = _client(url, secret)
    own.list_tables()
    baseline = _rss_kib(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError, AssertionError):
                peak[0] = max(peak[0], _rss_kib(pid))
            time.sleep(0.01)

    target = {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
    }
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    forged = target | {
        "X-Amz-Date": now,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=local-engine/{now[:8]}/ap-northeast-2/dynamodb/"
            "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64
        ),
    }
    size = 16 * 1024 * 1024
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=48) as pool:
            unsigned = list(pool.map(lambda _: _send_large(port, target, size), range(40)))
            forgeries = list(pool.map(lambda _: _send_large(port, forged, size), range(24)))
    finally:
        done.set()
        sampler.join()

    grown_mib = (peak[0] - baseline) / 1024
    assert set(unsigned) <= {400, "closed"}, unsigned
    assert set(forgeries) <= {400, 503, "closed"}, forgeries
    assert grown_mib < 120, f"the engine grew by {grown_mib:.0f} MiB"
    # The folder's own tools still get through, large requests included.
    own.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {"PutRequest": {"Item": {"id": {"S": str(i)}, "blob": {"S": "y" * 100_000}}}}
        for i in range(25)
    ]
    assert own.batch_write_item(RequestItems={"t": items})["UnprocessedItems"] == {}
    pages = own.get_paginator("scan").paginate(TableName="t", Select="COUNT")
    assert sum(page["Count"] for page in pages) == 25


def test_requests_beyond_the_cap_are_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.test import Client  # noqa: PLC0415

    from localdb import server  # noqa: PLC0415

    monkeypatch.setattr(server, "MAX_REQUESTS", 0)  # every slot taken
    client = Client(JournalingApp())
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables"}

    refused = client.post("/", data=b"{}", headers=target, content_type=_JSON_TYPE)
    health = client.get("/_engine/health")

    assert refused.status_code == 503
    assert refused.get_json(force=True)["__type"].endswith("#ServiceUnavailable")
    assert health.status_code == 200


def test_tools_starting_together_on_a_fresh_folder_agree_on_one_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import secrets  # noqa: PLC0415

    from localdb import launcher  # noqa: PLC0415

    token_hex = secrets.token_hex

    def slow_token_hex(nbytes: int | None = None) -> str:
        time.sleep(0.2)  # a slow entropy source, or a busy disk: the key is long in coming
        return token_hex(nbytes)

    monkeypatch.setattr(secrets, "token_hex", slow_token_hex)
    folder = tmp_path / "localdb"
    barrier = threading.Barrier(8)

    def read() -> str:
        barrier.wait()
        return launcher.read_secret(folder)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: read(), range(8)))
    took = time.monotonic() - started

    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    assert keys[0] == (folder / KEY_FILE).read_text().strip()
    assert took < 2.0
    assert [p.name for p in folder.iterdir()] == [KEY_FILE]
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600


def test_a_full_disk_answers_503_and_serves_nothing_it_did_not_keep(tmp_path: Path) -> None:
    from werkzeug.test import Client  # noqa: PLC0415

    journal = store.Journal(tmp_path / "journal-000000.jsonl")
    client = Client(JournalingApp(journal))
    table = f"full-{uuid.uuid4().hex[:10]}"

    def call(operation: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = client.post(
            "/",
            data=json.dumps(payload),
            headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}"},
            content_type=_JSON_TYPE,
        )
        return answer.status_code, answer.get_json(force=True)

    class FullDisk:
        """The journal's file on a disk that takes half a line, then no more."""

        def __init__(self, real: Any) -> None:
            self.real, self.full = real, True

        def write(self, data: Any) -> int:
            if self.full:
                self.real.write(bytes(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            return int(self.real.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    assert (
        call(
            "CreateTable",
            {
                "TableName": table,
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )[0]
        == 200
    )
    disk = FullDisk(journal._file)
    journal._file = disk  # type: ignore[assignment]
    put = {
        "TableName": table,
        "Item": {"id": {"S": "a"}, "title": {"S": "회의"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }

    refused, answer = call("PutItem", put)
    served = call("GetItem", {"TableName": table, "Key": {"id": {"S": "a"}}})
    disk.full = False
    retried = call("PutItem", put)
    again = call("PutItem", put)  # refused by moto: its line is taken back
    journal.close()

    assert refused == 503
    assert answer["__type"] == "com.amazonaws.dynamodb.v20120810#InternalServerError"
    assert answer["message"].startswith("storage full: ")
    assert served == (200, {})
    assert retried[0] == 200
    assert again[1]["__type"].endswith("#ConditionalCheckFailedException")
    problems: list[str] = []
    kept = [
        (e.op, json.loads(e.body).get("Item")) for e in store.read_journal(journal.path, problems)
    ]
    assert problems == []
    assert kept == [("CreateTable", None), ("PutItem", put["Item"])]


@pytest.mark.parametrize("alteration", ["body", "header"])
def test_an_answer_altered_on_its_way_is_refused(
    data_dir: Path, caplog: pytest.LogCaptureFixture, alteration: str
) -> None:
    import http.client  # noqa: PLC0415

    from localdb import attach  # noqa: PLC0415

    url = ensure_running(data_dir)
    engine_port = int(json.loads((data_dir / STATE).read_text())["port"])
    alter = [False]

    class Relay(http.server.BaseHTTPRequestHandler):
        """Passes requests to the engine as they are; its answers, altered if told to."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = http.client.HTTPConnection("127.0.0.1", engine_port, timeout=10)
            upstream.request("POST", self.path, body=body, headers=dict(self.headers.items()))
            answer = upstream.getresponse()
            payload = answer.read()
            headers = [
                (name, value)
                for name, value in answer.getheaders()
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}
            ]
            if alter[0] and alteration == "body":
                listed = json.loads(payload)
                listed["TableNames"] = [*listed.get("TableNames", []), "planted"]
                payload = json.dumps(listed).encode()
            elif alter[0]:
                headers.append(("x-amzn-ErrorType", "ResourceNotFoundException"))
            self.send_response(answer.status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            upstream.close()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    relay_url = f"http://127.0.0.1:{relay.server_address[1]}"
    client = _client(url, credentials(data_dir)[1])
    attach(client, data_dir)
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def through_the_relay(params: dict[str, Any], **_: Any) -> None:
        params["url"] = relay_url + "/"

    client.meta.events.register("before-call.dynamodb", through_the_relay)
    try:
        honest = client.list_tables()["TableNames"]
        alter[0] = True
        with caplog.at_level(logging.WARNING, logger="localdb.launcher"):
            # Refused, then asked again of the engine itself: the write, signed anew
            # for that attempt, is not taken for a replay of the first.
            answered = client.list_tables()["TableNames"]
            client.put_item(TableName="t", Item={"id": {"S": "a"}})
    finally:
        relay.shutdown()
        relay.server_close()

    assert honest == ["t"]
    assert answered == ["t"]
    assert caplog.text.count("answered without this folder's proof") == 2
    assert client.get_item(TableName="t", Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"}}


def test_a_captured_write_cannot_be_played_again(data_dir: Path) -> None:
    import http.client  # noqa: PLC0415

    from localdb import attach  # noqa: PLC0415

    url = ensure_running(data_dir)
    port = int(json.loads((data_dir / STATE).read_text())["port"])
    client = _client(url, credentials(data_dir)[1])
    attach(client, data_dir)
    client.create_table(
        TableName="events",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        captured.append(request)

    client.meta.events.register("before-send.dynamodb", capture)
    client.put_item(TableName="events", Item={"id": {"S": "meeting"}})
    client.meta.events.unregister("before-send.dynamodb", capture)
    client.delete_item(TableName="events", Key={"id": {"S": "meeting"}})
    put = captured[-1]

    replayed = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    replayed.request("POST", "/", body=put.body, headers=dict(put.headers.items()))
    answer = replayed.getresponse()
    refusal = json.loads(answer.read())
    replayed.close()

    # Nor to the engine started again after this one died.
    os.kill(int(json.loads((data_dir / STATE).read_text())["pid"]), signal.SIGKILL)
    time.sleep(0.3)
    client.list_tables()  # brings the engine back
    port = int(json.loads((data_dir / STATE).read_text())["port"])
    after_restart = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    after_restart.request("POST", "/", body=put.body, headers=dict(put.headers.items()))
    restarted = after_restart.getresponse()
    served = restarted.read()
    after_restart.close()
    log = (data_dir / "engine.log").read_text(encoding="utf-8")

    assert answer.status == 400, refusal
    assert refusal["__type"].endswith("#InvalidSignatureException")
    assert restarted.status == 400, (put.headers.get("X-Amz-Date"), served, log)
    assert "Item" not in client.get_item(TableName="events", Key={"id": {"S": "meeting"}})
    # Reads are not writes: the same signed read may come twice (nothing changes).
    client.list_tables()


def test_replays_are_remembered_while_their_signature_is_good() -> None:
    import datetime as dt  # noqa: PLC0415

    from localdb.signing import MAX_CLOCK_SKEW, Replays, Signed  # noqa: PLC0415

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    replays = Replays(limit=2, not_before=now)
    first = Signed("r", "a" * 64, now + MAX_CLOCK_SKEW)

    assert not replays.seen(first, now)
    assert replays.seen(first, now + dt.timedelta(minutes=1))
    assert not replays.seen(Signed("r", "b" * 64, now + MAX_CLOCK_SKEW), now)
    assert replays.full(now)
    later = now + MAX_CLOCK_SKEW + dt.timedelta(seconds=1)
    assert not replays.full(later)  # expired signatures, which no check passes any more
    assert len(replays) == 0
    before_start = Signed("r", "c" * 64, now - dt.timedelta(seconds=1) + MAX_CLOCK_SKEW)
    assert replays.seen(before_start, now)  # perhaps served by the engine before this one


_READ_KEY = r"""
import sys, time
from pathlib import Path
from localdb.launcher import read_secret
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
started = time.monotonic()
key = read_secret(folder)
print(key, round(time.monotonic() - started, 3))
"""


def test_processes_starting_together_on_a_fresh_folder_agree_on_one_key(tmp_path: Path) -> None:
    folder, go = tmp_path / "localdb", tmp_path / "go"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")])
    )
    tools = [
        subprocess.Popen(
            [sys.executable, "-c", _READ_KEY, str(folder), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    time.sleep(1.0)  # every interpreter started and waiting
    go.touch()
    answers = [tool.communicate(timeout=30)[0].split() for tool in tools]

    assert all(tool.returncode == 0 for tool in tools)
    assert len({key for key, _ in answers}) == 1
    assert answers[0][0] == (folder / KEY_FILE).read_text().strip()
    assert max(float(took) for _, took in answers) < 1.0
    assert [p.name for p in folder.iterdir()] == [KEY_FILE]
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600


def test_connections_beyond_the_cap_are_closed_at_once() -> None:
    from localdb.server import capped_server  # noqa: PLC0415

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = capped_server(JournalingApp(), listener, limit=4)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = listener.getsockname()[1]
    health = b"GET /_engine/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def answer(conn: socket.socket) -> bytes:
        conn.sendall(health)
        return conn.recv(64)

    try:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
        time.sleep(0.2)
        refused = b"not closed"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            started = time.monotonic()
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                refused = answer(extra)
        closed_after = time.monotonic() - started
        served_idle = answer(idle[0])  # the connections let in are served
        for conn in idle:
            conn.close()
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as later:
            served_later = answer(later)
    finally:
        server.shutdown()
        server.server_close()
        listener.close()

    assert refused == b""
    assert closed_after < 1.0
    assert served_idle.startswith(b"HTTP/1.1 200")
    assert served_later.startswith(b"HTTP/1.1 200")
    assert server.refused_connections == 1


def test_a_full_disk_in_the_engine_process_loses_nothing_acknowledged(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(store.JOURNAL_LIMIT_ENV, "4096")  # the engine's disk is full at 4 KiB
    url = ensure_running(data_dir)
    client = _client(url, credentials(data_dir)[1])
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    acknowledged: list[str] = []
    refused: Any = {}
    for n in range(40):
        try:
            client.put_item(TableName="t", Item={"id": {"S": f"e{n}"}, "x": {"S": "y" * 200}})
        except ClientError as exc:
            refused = exc.response
            break
        acknowledged.append(f"e{n}")
    served = client.get_item(TableName="t", Key={"id": {"S": f"e{len(acknowledged)}"}})
    journal = store.journal_path(data_dir, max(store.generations(data_dir)[1]))
    kept = journal.read_bytes()
    pid = int(json.loads((data_dir / STATE).read_text())["pid"])
    os.kill(pid, signal.SIGKILL)  # a crash: no compaction
    monkeypatch.delenv(store.JOURNAL_LIMIT_ENV)
    time.sleep(0.3)
    restarted = _client(ensure_running(data_dir), credentials(data_dir)[1])
    pages = restarted.get_paginator("scan").paginate(TableName="t", ConsistentRead=True)
    stored = sorted(item["id"]["S"] for page in pages for item in page["Items"])

    assert 5 < len(acknowledged) < 40, refused
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 503, refused
    assert refused["Error"]["Code"] == "InternalServerError"
    assert refused["Error"]["Message"].startswith("storage full: the write was not applied")
    assert "Item" not in served
    assert kept.endswith(b"\n")  # the part of the line the disk took was cut off again
    assert stored == sorted(acknowledged)
    log = (data_dir / "engine.log").read_text(encoding="utf-8")
    assert "0 problems" in log.splitlines()[-1] or "(0 problems)" in log


def test_an_engine_of_an_earlier_version_is_stopped_and_not_used(tmp_path: Path) -> None:
    from localdb import launcher  # noqa: PLC0415
    from localdb.signing import proof  # noqa: PLC0415

    folder = tmp_path / "localdb"
    secret = launcher.read_secret(folder)

    class Earlier(http.server.BaseHTTPRequestHandler):
        """Health as an earlier engine answers it: proved, but with no protocol."""

        def do_GET(self) -> None:
            nonce = self.path.split("nonce=", 1)[1]
            body = json.dumps({"status": "ready", "proof": proof(secret, "health", nonce)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    earlier = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Earlier)
    threading.Thread(target=earlier.serve_forever, daemon=True).start()
    process = subprocess.Popen(["sleep", "30"])
    url = f"http://127.0.0.1:{earlier.server_address[1]}"
    (folder / STATE).write_text(json.dumps({"pid": process.pid, "port": 0, "url": url}))
    try:
        verified = launcher._verified_url(folder, secret)
        stopped = process.wait(timeout=5)
    finally:
        earlier.shutdown()
        earlier.server_close()
        if process.poll() is None:
            process.kill()
            process.wait()

    assert verified is None
    assert stopped == -signal.SIGTERM
