"""What a user following the setup guide does works unchanged against this product."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from backend import create_app
from backend.config import Settings
from backend.errors import StartupError
from backend.storage.connection import connect
from localdb.server import JournalingApp
from tests.helpers import local_aws_client

BACKEND = Path(__file__).resolve().parent.parent / "backend"
CREATE_TABLES = "from models import DynamoDBDatabase\ndb = DynamoDBDatabase()\ndb.create_tables()\n"

# The setup guide's Step 4 "way 2" AWS CLI commands, as the parameters they send.
SEED_CLI_DEPARTMENTS = {
    "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "name", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "name-index",
            "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        }
    ],
    "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
}
SEED_CLI_EVENTS = {
    "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "department_id", "AttributeType": "S"},
        {"AttributeName": "event_date", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "id", "KeyType": "HASH"},
        {"AttributeName": "department_id", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "department-date-index",
            "KeySchema": [
                {"AttributeName": "department_id", "KeyType": "HASH"},
                {"AttributeName": "event_date", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
        }
    ],
    "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
}

# The DynamoDB actions of the guide's IAM policy (Step 1). TransactWriteItems has no IAM
# action of its own: AWS checks the Put/Update/Delete inside it, and a ConditionCheck
# would need dynamodb:ConditionCheckItem, which the policy does not grant.
SEED_POLICY_ACTIONS = {
    "CreateTable", "DeleteTable", "DescribeTable", "ListTables", "GetItem", "PutItem",
    "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "DescribeStream", "GetRecords", "GetShardIterator", "ListStreams",
}  # fmt: skip


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
        "AWS_REGION": settings.region,
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def test_create_tables_from_backend_prints_the_guide_lines_and_can_run_again(
    settings: Settings,
) -> None:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CREATE_TABLES],
            cwd=BACKEND,
            env=_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first, second = run(), run()

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"✓ {settings.departments_table} 테이블이 생성되었습니다.",
        f"✓ {settings.events_table} 테이블이 생성되었습니다.",
    ]
    assert second.returncode == 0, second.stderr
    assert "이미" in second.stdout
    storage, _ = connect(settings)
    assert storage.check_tables() == []


def _seed_cli_tables(settings: Settings) -> None:
    dynamodb = local_aws_client("dynamodb", str(settings.endpoint_url))
    dynamodb.create_table(TableName=settings.departments_table, **SEED_CLI_DEPARTMENTS)
    dynamodb.create_table(TableName=settings.events_table, **SEED_CLI_EVENTS)


def test_tables_made_with_the_guide_cli_serve_the_step7_calls(settings: Settings) -> None:
    _seed_cli_tables(settings)
    client = create_app(settings).test_client()  # the real start-up path: DescribeTable only

    created = client.post(
        "/api/departments",
        data=json.dumps({"name": "QA팀", "description": "품질 보증"}, ensure_ascii=False),
        headers={"Content-Type": "application/json"},
    )
    listed = client.get("/api/departments")
    dept_id = created.get_json()["id"]
    event = client.post(
        f"/api/events/{dept_id}",
        json={"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"},
    )
    events = client.get(f"/api/events/{dept_id}")

    assert created.status_code == 201
    assert [d["name"] for d in listed.get_json()["items"]] == ["QA팀"]
    assert event.status_code == 201
    assert [e["start_time"] for e in events.get_json()["items"]] == ["15:00"]


def test_missing_tables_stop_the_server_with_what_and_how(settings: Settings) -> None:
    with pytest.raises(StartupError) as error:
        create_app(settings)

    message = str(error.value)
    assert f"{settings.departments_table!r}: does not exist" in message
    assert f"{settings.events_table!r}: does not exist" in message
    assert "DynamoDBDatabase().create_tables()" in message


def test_a_table_without_its_index_is_named(settings: Settings) -> None:
    storage, _ = connect(settings)
    storage.create_tables()
    dynamodb = local_aws_client("dynamodb", str(settings.endpoint_url))
    dynamodb.delete_table(TableName=settings.events_table)
    plain = {k: v for k, v in SEED_CLI_EVENTS.items() if k != "GlobalSecondaryIndexes"}
    plain["AttributeDefinitions"] = plain["AttributeDefinitions"][:2]  # type: ignore[index]
    dynamodb.create_table(TableName=settings.events_table, **plain)

    with pytest.raises(StartupError, match="no global secondary index 'department-date-index'"):
        create_app(settings)


class _Recorder:
    """WSGI middleware in front of a test engine noting every DynamoDB request."""

    def __init__(self) -> None:
        self.engine = JournalingApp(journal=None)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        import io  # noqa: PLC0415

        environ["wsgi.input"] = io.BytesIO(body)
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
        self.calls.append((operation, json.loads(body or b"{}")))
        return self.engine(environ, start_response)


@pytest.fixture
def recorder(settings: Settings) -> Iterator[tuple[_Recorder, Settings]]:
    recorder = _Recorder()
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield recorder, Settings(**{**settings.__dict__, "endpoint_url": url})
    server.shutdown()


def test_the_server_only_uses_actions_the_guide_policy_grants(
    recorder: tuple[_Recorder, Settings],
) -> None:
    calls, settings = recorder
    _seed_cli_tables(settings)
    calls.calls.clear()

    client = create_app(settings).test_client()
    dept = client.post("/api/departments", json={"name": "개발팀"}).get_json()
    client.get("/api/departments")
    client.get("/api/departments?name=개발팀")
    client.patch(
        f"/api/departments/{dept['id']}", json={"name": "플랫폼팀"}, headers={"If-Match": '"1"'}
    )
    event = client.post(
        f"/api/events/{dept['id']}", json={"event_date": "2024-01-20", "title": "회의"}
    ).get_json()
    client.get(f"/api/events/{dept['id']}?month=2024-01")
    client.patch(f"/api/events/{dept['id']}/{event['id']}", json={"title": "회의 2"})
    token = client.get(f"/api/events/{dept['id']}?sync=true").get_json()["next_sync_token"]
    assert client.get(f"/api/events/{dept['id']}?sync_token={token}").status_code == 200
    hooks = f"/api/departments/{dept['id']}/webhooks"
    hook = client.post(hooks, json={"url": "http://127.0.0.1:9/hook", "format": "json"})
    assert hook.status_code == 201, hook.get_json()
    client.get(hooks)
    assert client.delete(f"{hooks}/{hook.get_json()['id']}").status_code == 204
    client.post(hooks, json={"url": "http://127.0.0.1:9/hook", "format": "slack"})
    client.get("/readyz")
    client.delete(f"/api/departments/{dept['id']}")
    client.delete(f"/api/departments/{dept['id']}?cascade=true")
    other = client.post("/api/departments", json={"name": "개발팀"}).get_json()
    client.delete(f"/api/events/{other['id']}/nope")

    operations = {name for name, _ in calls.calls}
    assert "TransactWriteItems" in operations
    assert operations - {"TransactWriteItems"} <= SEED_POLICY_ACTIONS - {
        "CreateTable",
        "ListTables",
        "DeleteTable",
    }
    for name, body in calls.calls:
        if name == "TransactWriteItems":
            kinds = {kind for item in body["TransactItems"] for kind in item}
            assert kinds <= {"Put", "Update", "Delete"}, kinds
    tables = {body.get("TableName") for _, body in calls.calls} - {None}
    assert tables <= {settings.departments_table, settings.events_table}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()[1]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["flask", "run", "--host", "127.0.0.1", "--port", "{port}"],
        [
            "gunicorn",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "-w",
            "1",
            "--bind",
            "127.0.0.1:{port}",
            "app:app",
        ],
    ],
    ids=["flask-run", "gunicorn"],
)
def test_guide_commands_serve_from_backend(settings: Settings, command: list[str]) -> None:
    storage, _ = connect(settings)
    storage.create_tables()
    port = _free_port()
    argv = [part.format(port=port) for part in command]
    argv[0] = str(Path(sys.executable).parent / argv[0])
    process = subprocess.Popen(
        argv, cwd=BACKEND, env=_env(settings, FLASK_ENV="development"), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/healthz", process)
        request = urllib.request.Request(
            base + "/api/departments",
            data=json.dumps({"name": "QA팀", "description": "품질 보증"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert json.loads(response.read())["name"] == "QA팀"
        with urllib.request.urlopen(base + "/api/departments", timeout=10) as response:
            assert "QA팀".encode() in response.read()
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_placeholder_keys_stop_the_guide_server_with_advice(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=BACKEND,
        env={
            "PATH": os.environ["PATH"],
            "AWS_ACCESS_KEY_ID": "your_access_key_id_here",
            "AWS_SECRET_ACCESS_KEY": "your_secret_access_key_here",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "placeholders" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_production_config_serves_json_logs(settings: Settings) -> None:
    storage, _ = connect(settings)
    storage.create_tables()
    port = _free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    token = secrets.token_urlsafe(32)
    env = _env(settings, FLASK_ENV="production", API_TOKENS=token)
    command = [
        gunicorn,
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "-w",
        "1",
        "app:app",
    ]
    process = subprocess.Popen(
        command, cwd=BACKEND, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/departments",
            data=json.dumps({"name": "운영팀"}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "X-Request-ID": "prod-check-1",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert response.headers["X-Request-ID"] == "prod-check-1"
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=60)

    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "backend.access"]
    created = next(line for line in access if line["request_id"] == "prod-check-1")
    assert created["status"] == 201
    assert created["method"] == "POST"
    assert created["dynamodb_calls"] >= 2
    assert token not in stdout
