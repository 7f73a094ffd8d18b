"""Change notifications end to end: webhooks registered through HTTP, deliveries to a real
local receiver (order, signature, retries, failing, formats, refused private targets), the
worker CLI and the Lambda handler of the stream."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app, lambda_handler
from backend.config import Settings
from backend.services.notifications import MAX_WEBHOOKS, Sending, deliver
from backend.storage import Storage
from backend.storage.webhooks import PARTITION
from backend.webhooks.signing import verify
from tests.helpers import assert_problem, create_department, create_event
from tests.receiver import Receiver

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DEV = Sending(allow_private=True, timeout=2.0)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def department(client: FlaskClient) -> str:
    return str(create_department(client, "개발팀")["id"])


def register(
    client: FlaskClient, department: str, url: str, fmt: str = "json", **extra: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/departments/{department}/webhooks", json={"url": url, "format": fmt, **extra}
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def payloads(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests]


def make_due(
    dynamodb: DynamoDBClient, settings: Settings, hook: dict[str, Any], **state: str
) -> None:
    """As if the retry's wait had passed (and ``state`` held, such as an older first
    failure): the webhook's next attempt is due now."""
    earlier = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    values = {"next_attempt_at": earlier, **state}
    dynamodb.update_item(
        TableName=settings.events_table,
        Key={
            "id": {"S": PARTITION},
            "department_id": {"S": f"{hook['department_id']}/{hook['id']}"},
        },
        UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in values),
        ExpressionAttributeValues={f":{k}": {"S": v} for k, v in values.items()},
    )


def test_a_webhook_is_registered_listed_without_its_secret_and_deleted(
    client: FlaskClient, department: str
) -> None:
    url = "http://127.0.0.1:9/services/T000/B000/SECRETPART"
    created = register(client, department, url, "slack", language="en")
    assert created["secret"].startswith("whsec_")
    assert created["url"] == "http://127.0.0.1:9/…PART"
    assert (created["format"], created["language"], created["status"]) == ("slack", "en", "active")

    listed = client.get(f"/api/departments/{department}/webhooks").get_json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "SECRET" not in json.dumps(listed)
    one = client.get(f"/api/departments/{department}/webhooks/{created['id']}")
    assert one.status_code == 200
    assert "secret" not in one.get_json()

    assert (
        client.delete(f"/api/departments/{department}/webhooks/{created['id']}").status_code == 204
    )
    assert_problem(client.get(f"/api/departments/{department}/webhooks/{created['id']}"), 404)
    assert_problem(client.delete(f"/api/departments/{department}/webhooks/{created['id']}"), 404)
    assert_problem(client.get("/api/departments/nope/webhooks"), 404)
    assert_problem(
        client.post("/api/departments/nope/webhooks", json={"url": url, "format": "json"}), 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/x", "format": "xml"}, "format"),
        ({"url": "http://127.0.0.1:9/x", "format": "json", "language": "ja"}, "language"),
        ({"url": "ftp://example.com/x", "format": "json"}, "url"),
        ({"url": "https://user:pw@example.com/x", "format": "json"}, "url"),
        ({"format": "json"}, "url"),
        ({"url": "http://127.0.0.1:9/x", "format": "json", "secret": "mine"}, "secret"),
    ],
)
def test_bad_webhooks_are_422_naming_the_field(
    client: FlaskClient, department: str, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(client.post(f"/api/departments/{department}/webhooks", json=body), 422)
    assert field in {e["field"] for e in problem["errors"]}


def test_production_refuses_private_and_plain_http_targets(
    settings: Settings, storage: Storage
) -> None:
    token = "a-token-0123456789abcdef"
    app = create_app(
        replace(settings, flask_env="production", api_tokens=(token,), secret_key="s" * 40),
        storage,
    )
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    department = client.post("/api/departments", json={"name": "운영"}, headers=auth).get_json()
    url = f"/api/departments/{department['id']}/webhooks"
    for target in (
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "https://localhost/hook",
        "http://hooks.slack.com/services/x",
    ):
        response = client.post(url, json={"url": target, "format": "json"}, headers=auth)
        assert_problem(response, 422)
    # Webhook URLs are credentials: reading them needs the token, as writes do.
    assert_problem(client.get(url), 401)
    assert client.get(url, headers=auth).status_code == 200


def test_changes_are_delivered_in_order_signed_and_in_korean(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    with Receiver() as receiver:
        hook = register(client, department, receiver.url)
        event = create_event(client, department, title="팀 회의", time="14:00")
        client.patch(f"/api/events/{department}/{event['id']}", json={"title": "팀 회의 (변경)"})
        client.delete(f"/api/events/{department}/{event['id']}")

        done = deliver(storage, DEV)

    assert (done.delivered, done.failed) == (3, 0)
    bodies = payloads(receiver)
    assert [b["changes"][0]["action"] for b in bodies] == ["created", "updated", "deleted"]
    assert [b["version"] for b in bodies] == sorted(b["version"] for b in bodies)
    assert bodies[0]["changes"][0]["title"] == "팀 회의"
    assert bodies[1]["changes"][0]["title"] == "팀 회의 (변경)"
    assert bodies[0]["department_name"] == "개발팀"
    assert "팀 회의".encode() in receiver.requests[0].body  # UTF-8, not \\u escapes
    for received, body in zip(receiver.requests, bodies, strict=True):
        assert received.headers["Calendar-Delivery"] == body["id"]
        assert verify(hook["secret"], received.headers["Calendar-Signature"], received.body)
        assert not verify("whsec_other", received.headers["Calendar-Signature"], received.body)
    # Nothing new: the next pass sends nothing.
    assert deliver(storage, DEV).delivered == 0
    state = client.get(f"/api/departments/{department}/webhooks/{hook['id']}").get_json()
    assert state["delivered_version"] == bodies[-1]["version"]
    assert state["last_delivered_at"] is not None


def test_a_failing_receiver_is_retried_in_order_and_a_deduplicating_one_sees_each_once(
    client: FlaskClient,
    storage: Storage,
    department: str,
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    with Receiver(statuses=[500, 503]) as receiver:
        hook = register(client, department, receiver.url)
        titles = [create_event(client, department, title=f"일정 {n}")["title"] for n in range(3)]

        assert (deliver(storage, DEV).failed, len(receiver.requests)) == (1, 1)
        state = client.get(f"/api/departments/{department}/webhooks/{hook['id']}").get_json()
        assert state["attempts"] == 1
        assert "HTTP 500" in state["last_error"]
        assert state["next_attempt_at"] > datetime.now(UTC).isoformat()
        assert deliver(storage, DEV).waiting == 1  # not due yet: nothing sent
        assert len(receiver.requests) == 1

        make_due(dynamodb, settings, hook)
        assert deliver(storage, DEV).failed == 1  # 503
        make_due(dynamodb, settings, hook)
        done = deliver(storage, DEV)

    assert done.delivered == 3
    ids = [r.headers["Calendar-Delivery"] for r in receiver.requests]
    assert ids[0] == ids[1] == ids[2]  # the same delivery, retried
    unique = list(dict.fromkeys(ids))  # what a receiver that de-duplicates applies
    applied = [
        json.loads(receiver.requests[ids.index(i)].body)["changes"][0]["title"] for i in unique
    ]
    assert applied == titles
    state = client.get(f"/api/departments/{department}/webhooks/{hook['id']}").get_json()
    assert (state["status"], state["attempts"], state["last_error"]) == ("active", 0, None)


def test_after_a_day_of_failures_the_webhook_is_marked_failing_and_recovers(
    client: FlaskClient,
    storage: Storage,
    department: str,
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    with Receiver(statuses=[500, 500]) as receiver:
        hook = register(client, department, receiver.url, "teams")
        create_event(client, department, title="주간 회의")
        deliver(storage, DEV)
        day_ago = (datetime.now(UTC) - timedelta(hours=24, minutes=1)).isoformat()
        make_due(dynamodb, settings, hook, failing_since=day_ago)
        deliver(storage, DEV)
        state = client.get(f"/api/departments/{department}/webhooks/{hook['id']}").get_json()
        assert state["status"] == "failing"
        wait = datetime.fromisoformat(state["next_attempt_at"]) - datetime.now(UTC)
        assert timedelta(minutes=55) < wait <= timedelta(hours=1)
        make_due(dynamodb, settings, hook)
        assert deliver(storage, DEV).delivered == 1

    state = client.get(f"/api/departments/{department}/webhooks/{hook['id']}").get_json()
    assert state["status"] == "active"
    card = json.loads(receiver.requests[-1].body)
    assert card["type"] == "message"
    assert "주간 회의" in json.dumps(card, ensure_ascii=False)


def test_a_slow_receiver_times_out_and_never_slows_the_api(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    with Receiver(delay=3.0) as receiver:
        register(client, department, receiver.url, "slack")
        started = datetime.now(UTC)
        create_event(client, department, title="느린 수신")
        assert datetime.now(UTC) - started < timedelta(seconds=1)  # no delivery in a request
        done = deliver(storage, Sending(allow_private=True, timeout=0.5))
    assert done.failed == 1
    state = client.get(f"/api/departments/{department}/webhooks").get_json()["items"][0]
    assert "timed out" in state["last_error"]


def test_private_targets_are_refused_at_delivery_in_production(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    with Receiver() as receiver:
        register(client, department, receiver.url)  # allowed in development
        create_event(client, department)
        done = deliver(storage, Sending(allow_private=False))
    assert done.failed == 1
    assert receiver.connections == 0
    state = client.get(f"/api/departments/{department}/webhooks").get_json()["items"][0]
    assert state["last_error"].startswith("refused")


def test_two_workers_at_once_deliver_each_change_once(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    with Receiver(delay=0.2) as receiver:
        register(client, department, receiver.url)
        for n in range(3):
            create_event(client, department, title=f"동시 {n}")
        threads = [threading.Thread(target=deliver, args=(storage, DEV)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = [r.headers["Calendar-Delivery"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 3


def test_deleting_a_department_deletes_its_webhooks(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    register(client, department, "http://127.0.0.1:9/hook")
    assert client.delete(f"/api/departments/{department}").status_code == 204
    assert storage.webhooks.all() == []


def test_the_stream_handler_delivers_for_the_departments_in_its_records(
    app: Flask,
    storage: Storage,
    settings: Settings,
    department: str,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DYNAMODB_MODE", "endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", str(settings.endpoint_url))
    monkeypatch.setenv("DEPARTMENTS_TABLE", settings.departments_table)
    monkeypatch.setenv("EVENTS_TABLE", settings.events_table)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", settings.region)
    with Receiver() as receiver:
        hook = register(client, department, receiver.url)
        create_event(client, department, title="스트림")
        other = str(create_department(client, "다른 팀")["id"])
        stream: dict[str, Any] = {
            "Records": [
                {"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": f"#changes#{other}"}}}}
            ]
        }
        # The record names another department: nothing to send for this one.
        assert lambda_handler.deliver(stream, None)["delivered"] == 0
        stream["Records"][0]["dynamodb"]["Keys"]["id"]["S"] = f"#changes#{department}"
        summary = lambda_handler.deliver(stream, None)
    # In production (the Lambda), a loopback receiver is refused: the attempt is recorded.
    assert summary == {"delivered": 0, "failed": 1, "waiting": 0}
    assert receiver.connections == 0
    state = storage.webhooks.get(department, hook["id"])
    assert state.attempts == 1


@pytest.mark.slow
def test_scripts_serve_runs_the_worker_that_delivers(tmp_path: Path) -> None:
    """``./scripts/serve`` on a fresh data folder: a change reaches a local receiver, and
    stopping the script stops its worker too."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PORT": str(port),
        "LOCAL_DYNAMODB_DIR": str(tmp_path / "localdb"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(ROOT / "scripts" / "serve")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with Receiver() as receiver:
            _until(lambda: _get(f"{base}/healthz") == 200, 90)
            department = _post(f"{base}/api/departments", {"name": "서버"})["id"]
            _post(
                f"{base}/api/departments/{department}/webhooks",
                {"url": receiver.url, "format": "json"},
            )
            _post(f"{base}/api/events/{department}", {"event_date": "2024-05-01", "title": "배달"})
            _until(lambda: len(receiver.requests) == 1, 30)
        assert json.loads(receiver.requests[0].body)["changes"][0]["title"] == "배달"
        children = _children(serve.pid)
        assert len(children) == 2  # the server and the worker
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=20)
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
            log.close()
    _until(lambda: not any(_alive(pid) for pid in children), 20)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.2)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except OSError:
        return 0


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def test_a_lease_is_released_only_by_its_holder(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    hook = register(client, department, "http://127.0.0.1:9/hook")
    webhook = storage.webhooks.get(department, hook["id"])
    now = datetime.now(UTC)
    first = storage.webhooks.claim(webhook, now, now + timedelta(seconds=60))
    assert first is not None
    assert storage.webhooks.claim(webhook, now, now + timedelta(seconds=60)) is None
    later = now + timedelta(seconds=61)  # the first worker outlived its lease
    second = storage.webhooks.claim(webhook, later, later + timedelta(seconds=60))
    assert second is not None
    storage.webhooks.release(first)  # too late: it is not the first worker's any more
    assert storage.webhooks.claim(webhook, later, later + timedelta(seconds=60)) is None
    assert storage.webhooks.delivered(first, 5, "2024-01-01T00:00:00Z") is None
    storage.webhooks.release(second)
    assert storage.webhooks.claim(webhook, later, later + timedelta(seconds=60)) is not None


def test_a_json_delivery_names_every_event_one_write_changed(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    weekly = client.post(
        f"/api/events/{department}",
        json={
            "event_date": "2024-01-01",
            "title": "주간",
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=20"],
        },
    ).get_json()
    days = [f"2024{(datetime(2024, 1, 1) + timedelta(weeks=n)):%m%d}" for n in range(12)]
    for day in days:
        client.patch(f"/api/events/{department}/{weekly['id']}_{day}", json={"location": "B"})
    with Receiver() as receiver:
        register(client, department, receiver.url)
        # One write: the series and its twelve changed instances.
        assert client.delete(f"/api/events/{department}/{weekly['id']}").status_code == 204
        deliver(storage, DEV)
    [body] = payloads(receiver)
    assert body["total"] == 13
    assert {c["id"] for c in body["changes"]} == {
        weekly["id"],
        *(f"{weekly['id']}_{day}" for day in days),
    }
    assert {c["action"] for c in body["changes"]} == {"deleted"}


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".example.com"])
def test_a_malformed_host_name_is_422(
    client: FlaskClient, storage: Storage, department: str, host: str
) -> None:
    response = client.post(
        f"/api/departments/{department}/webhooks",
        json={"url": f"https://{host}/hook", "format": "json"},
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "url"


def test_a_version_moved_without_changes_is_passed_over_once(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    with Receiver() as receiver:
        hook = register(client, department, receiver.url)
        state = storage.events.calendar_state(department)
        # The migration's recount moves the version without a change record.
        assert storage.events.set_count(department, 0, state.calendar_version, False)
        deliver(storage, DEV)
        moved = storage.webhooks.get(department, hook["id"])
        assert moved.delivered_version == state.calendar_version + 1
        assert deliver(storage, DEV).waiting == 0  # nothing claimed again
        create_event(client, department, title="그 다음")
        assert deliver(storage, DEV).delivered == 1
    assert payloads(receiver)[0]["changes"][0]["title"] == "그 다음"


def test_the_documented_signature_check_accepts_a_real_delivery(
    client: FlaskClient, storage: Storage, department: str
) -> None:
    """docs/api.md's few lines for receivers, run against what the worker sends."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "def is_genuine" in snippet
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the documentation's own code
    with Receiver() as receiver:
        hook = register(client, department, receiver.url)
        create_event(client, department, title="서명 확인")
        deliver(storage, DEV)
    [received] = receiver.requests
    header = received.headers["Calendar-Signature"]
    assert namespace["is_genuine"](hook["secret"], header, received.body)
    assert not namespace["is_genuine"](hook["secret"], header, received.body + b" ")
    assert not namespace["is_genuine"]("whsec_wrong", header, received.body)


def test_a_webhook_left_by_a_deleted_department_is_removed_by_the_next_pass(
    client: FlaskClient,
    storage: Storage,
    department: str,
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    hook = register(client, department, "http://127.0.0.1:9/hook")
    key = {"id": {"S": PARTITION}, "department_id": {"S": f"{department}/{hook['id']}"}}
    item = dynamodb.get_item(TableName=settings.events_table, Key=key)["Item"]
    assert client.delete(f"/api/departments/{department}").status_code == 204
    dynamodb.put_item(TableName=settings.events_table, Item=item)  # as if its removal failed
    create_department(client, "다른 부서")
    deliver(storage, DEV)
    assert storage.webhooks.all() == []


def test_the_limit_of_webhooks_holds_under_concurrent_registrations(
    app: Flask, department: str
) -> None:
    def one(n: int) -> int:
        response = app.test_client().post(
            f"/api/departments/{department}/webhooks",
            json={"url": f"http://127.0.0.1:9/hook{n}", "format": "json"},
        )
        return int(response.status_code)

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(one, range(14)))
    assert statuses.count(201) == MAX_WEBHOOKS
    assert set(statuses) <= {201, 409, 503}
    listed = app.test_client().get(f"/api/departments/{department}/webhooks").get_json()
    assert len(listed["items"]) == MAX_WEBHOOKS
    first = listed["items"][0]["id"]
    client = app.test_client()
    assert client.delete(f"/api/departments/{department}/webhooks/{first}").status_code == 204
    assert one(99) == 201  # a deletion frees a place
