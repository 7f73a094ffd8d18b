"""A retried create never makes a second resource, whether the process died after writing
it or its answer was lost: the key's answer is written in the create's own transaction."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.domain import Event
from backend.errors import Conflict
from backend.services import events as event_services
from backend.services.idempotency import Completing, run_once
from backend.storage import Storage
from backend.storage.idempotency import (
    PREFIX,
    STALE_PENDING_SECONDS,
    StoredResponse,
    fingerprint,
)
from tests.helpers import create_department
from tests.test_real_dynamodb import responses_lost

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("keyed", [True, False])
def test_a_create_whose_answer_was_lost_is_answered_as_created(
    client: FlaskClient, dynamodb: Any, storage: Storage, keyed: bool
) -> None:
    department = create_department(client)["id"]
    headers = {"Idempotency-Key": "lost-answer"} if keyed else {}
    body = {"event_date": "2024-01-20", "title": "팀 회의"}

    with responses_lost(dynamodb, {"TransactWriteItems"}) as lost:
        created = client.post(f"/api/events/{department}", json=body, headers=headers)

    assert lost == ["TransactWriteItems"]
    assert created.status_code == 201, created.get_json()
    items = client.get(f"/api/events/{department}").get_json()["items"]
    assert [e["id"] for e in items] == [created.get_json()["id"]]
    assert storage.events.calendar_state(department).event_count == 1
    if keyed:
        again = client.post(f"/api/events/{department}", json=body, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == created.get_json()


def test_a_department_whose_answer_was_lost_is_answered_as_created(
    client: FlaskClient, dynamodb: Any
) -> None:
    with responses_lost(dynamodb, {"TransactWriteItems"}) as lost:
        created = client.post("/api/departments", json={"name": "재시도팀"})

    assert lost == ["TransactWriteItems"]
    assert created.status_code == 201, created.get_json()
    names = [d["name"] for d in client.get("/api/departments").get_json()["items"]]
    assert names == ["재시도팀"]


_DIE_AFTER_THE_WRITE = """
import os, sys
from backend import create_app
from backend.config import Mode, Settings
from backend.domain import Event
from backend.errors import Conflict
from backend.services import events as event_services
from backend.services.idempotency import Completing, run_once
from backend.storage import Storage
from backend.storage.idempotency import (
    PREFIX,
    STALE_PENDING_SECONDS,
    StoredResponse,
    fingerprint,
)
from backend.storage.dynamo import make_client

url, departments, events, path, key = sys.argv[1:]
client = make_client(region="ap-northeast-2", endpoint_url=url, access_key="l", secret_key="l")

def die(**_):  # the process is killed once the create's transaction is in, before it answers
    os._exit(9)

client.meta.events.register("after-call.dynamodb.TransactWriteItems", die)
settings = Settings(mode=Mode.ENDPOINT, endpoint_url=url, region="ap-northeast-2",
                    departments_table=departments, events_table=events, secret_key="k" * 32)
app = create_app(settings, Storage(client, departments, events))
app.test_client().post(path, json=BODY, headers={"Idempotency-Key": key})
sys.exit(0)
"""


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/events/{department}", {"event_date": "2024-01-20", "title": "살아남은 회의"}),
        ("/api/departments", {"name": "살아남은 팀"}),
    ],
)
def test_a_create_killed_between_its_write_and_its_answer_is_not_made_twice(
    client: FlaskClient, settings: Settings, path: str, body: dict[str, Any]
) -> None:
    department = create_department(client)["id"]
    url = path.format(department=department)
    script = textwrap.dedent(_DIE_AFTER_THE_WRITE).replace("BODY", repr(body))
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(settings.endpoint_url),
            settings.departments_table,
            settings.events_table,
            url,
            "crash-key",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr

    retried = client.post(url, json=body, headers={"Idempotency-Key": "crash-key"})

    assert retried.status_code == 201, retried.get_json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    listing = "/api/departments" if "departments" in url else url
    items = client.get(listing).get_json()["items"]
    made = [i for i in items if i.get("title", i.get("name")) in body.values()]
    assert [i["id"] for i in made] == [retried.get_json()["id"]]


def test_a_create_whose_key_was_taken_over_while_it_ran_makes_nothing(
    client: FlaskClient, dynamodb: Any, storage: Storage
) -> None:
    """A request that stalls past the stale limit between its claim and its write (a frozen
    worker, not a dead one) loses the key to the retry that took it over: its own
    transaction is refused, so the two make one event, and both answer with it."""
    department = create_department(client)["id"]
    url = f"/api/events/{department}"
    body = {"event_date": "2024-01-20", "title": "한 번만"}
    headers = {"Idempotency-Key": "taken-over"}
    retries: list[Any] = []
    stalled_once: list[bool] = []

    def retry_meanwhile(**_: Any) -> None:
        if not stalled_once:  # the stalled request's transaction, about to be sent
            stalled_once.append(True)
            _age_pending_claims(dynamodb, storage.events.table)
            retries.append(client.post(url, json=body, headers=headers))

    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", retry_meanwhile)
    try:
        stalled = client.post(url, json=body, headers=headers)
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", retry_meanwhile)

    (retry,) = retries
    assert retry.status_code == 201, retry.get_json()
    assert stalled.status_code == 409, stalled.get_json()
    assert stalled.get_json()["type"] == "/problems/idempotency-key-in-use"
    again = client.post(url, json=body, headers=headers)
    assert (again.status_code, again.get_json()) == (201, retry.get_json())
    items = client.get(url).get_json()["items"]
    assert [e["id"] for e in items] == [retry.get_json()["id"]]
    assert storage.events.calendar_state(department).event_count == 1


def test_a_create_refused_after_its_own_write_went_through_answers_as_created(
    client: FlaskClient, storage: Storage
) -> None:
    """A create whose transaction went in but which then failed (its retry found the event
    already there and changed, say) answers what it created, keeping its key done."""
    department = create_department(client)["id"]
    scope, key = f"POST /api/events/{department}", "refused-after-write"
    body = {"event_date": "2024-01-20", "title": "이미 있음"}

    def render(event: Event) -> StoredResponse:
        return StoredResponse(201, {"id": event.id}, None)

    def create_then_conflict(completing: Completing[Event] | None) -> Event:
        event_services.create_event(storage, department, body, completing)
        raise Conflict("event already exists", code="busy")

    answer, replayed = run_once(
        storage, scope, key, body, create=create_then_conflict, render=render
    )

    assert (answer.status, replayed) == (201, False)
    items = client.get(f"/api/events/{department}").get_json()["items"]
    assert [e["id"] for e in items] == [answer.body["id"]]
    again = storage.idempotency.claim(scope, key, fingerprint(scope, body))
    assert again.response == answer


def test_a_released_key_never_loses_an_answer_it_holds(storage: Storage, dynamodb: Any) -> None:
    """Releasing a claim forgets only a pending key: once the answer is written (by the
    create's transaction, perhaps just after the request gave up on it) it stays."""
    scope, key, request = "POST /api/departments", "answered", fingerprint("s", {})
    claim = storage.idempotency.claim(scope, key, request)
    assert claim.token is not None
    answer = StoredResponse(201, {"id": "d1"}, "/api/departments/d1")
    completion = storage.idempotency.completion(scope, key, claim.token, answer)
    dynamodb.transact_write_items(TransactItems=[completion])

    storage.idempotency.release(scope, key, claim.token)

    assert storage.idempotency.claim(scope, key, request).response == answer


# -- the production server, killed for real ---------------------------------------------------

# gunicorn's configuration for these tests: production's own file, run in this one's
# namespace, plus a crash switch in each worker. The switch is a file: when it says
# "before" or "after", the next TransactWriteItems of the worker SIGKILLs the worker just
# before the request is sent or just after DynamoDB committed it, and the file is removed,
# so the switch fires once. Nothing of this is in the product.
_CRASHING_CONF = """
import os
import signal
from pathlib import Path

_PRODUCTION = {production!r}
exec(compile(Path(_PRODUCTION).read_text(encoding="utf-8"), _PRODUCTION, "exec"))
_production_post_worker_init = post_worker_init


def _switched(moment):
    switch = Path(os.environ["CRASH_SWITCH"])
    try:
        if switch.read_text(encoding="utf-8").strip() != moment:
            return False
        switch.unlink()
    except FileNotFoundError:
        return False
    return True


def post_worker_init(worker):
    _production_post_worker_init(worker)
    import botocore.client  # after gevent patched the worker, as the app's own import is

    send = botocore.client.BaseClient._make_api_call

    def crashing(self, operation, params):
        if operation == "TransactWriteItems" and _switched("before"):
            os.kill(os.getpid(), signal.SIGKILL)
        answer = send(self, operation, params)
        if operation == "TransactWriteItems" and _switched("after"):
            os.kill(os.getpid(), signal.SIGKILL)
        return answer

    botocore.client.BaseClient._make_api_call = crashing
"""

BACKEND = ROOT / "backend"
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


class CrashingServer:
    """The production server (gunicorn, one gevent worker, from backend/ with its
    configuration) on the test's tables, with the crash switch; ``restart`` starts a new
    one on the same tables, as an operator or a supervisor would after a crash."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.switch = folder / "crash-switch"
        conf = folder / "crashing.conf.py"
        conf.write_text(
            _CRASHING_CONF.format(production=str(BACKEND / "gunicorn.conf.py")), encoding="utf-8"
        )
        self.token = secrets.token_urlsafe(32)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(folder),  # gunicorn's control socket: this server's own
            "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
            "AWS_REGION": settings.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "DEPARTMENTS_TABLE": settings.departments_table,
            "EVENTS_TABLE": settings.events_table,
            "FLASK_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "API_TOKENS": self.token,
            "WEB_CONCURRENCY": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CRASH_SWITCH": str(self.switch),
        }
        self.command = [
            str(Path(sys.executable).parent / "gunicorn"),
            *("-c", str(conf), "--bind", "127.0.0.1:{port}", "app:app"),
        ]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.logs: list[str] = []

    def start(self) -> None:
        port = _free_port()
        command = [part.format(port=port) for part in self.command]
        self.process = subprocess.Popen(
            command,
            cwd=BACKEND,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        self._answering()

    def _answering(self) -> None:
        """Wait until a worker answers (a worker that gunicorn is still booting would hold
        up its shutdown for the graceful timeout)."""
        assert self.process is not None
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.process.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn never answered"
            try:
                with _no_proxy.open(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self._answering()
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            self.logs.append(self.process.communicate(timeout=60)[0])
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def crash(self, moment: str) -> None:
        """Kill the worker at ``moment`` ("before" or "after") of its next transaction."""
        self.switch.write_text(moment, encoding="utf-8")

    def send(self, method: str, path: str, body: Any = None, key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with _no_proxy.open(request, timeout=30) as response:
                return Answer(response.status, json.loads(response.read()), response.headers)
        except urllib.error.HTTPError as error:
            return Answer(error.code, json.loads(error.read()), error.headers)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings, storage: Storage, tmp_path: Path) -> Iterator[CrashingServer]:
    running = CrashingServer(settings, tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _killed(server: CrashingServer, path: str, body: Any, key: str) -> None:
    """Send the create; the worker dies under it, so no answer comes back."""
    with pytest.raises((OSError, http.client.HTTPException)):
        server.send("POST", path, body, key)
    assert not server.switch.exists(), "the create never reached its transaction"


def _worker_was_killed(server: CrashingServer) -> bool:
    return any("was sent SIGKILL" in log for log in server.logs)


_CREATES = [
    pytest.param(
        "/api/events/{department}", {"event_date": "2024-01-20", "title": "회의"}, id="event"
    ),
    pytest.param(
        "/api/events/{department}",
        {
            "event_date": "2024-01-20",
            "title": "주간 회의",
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        },
        id="series",
    ),
    pytest.param("/api/departments", {"name": "살아남은 팀"}, id="department"),
]


def _made(server: CrashingServer, storage: Storage, path: str, body: Any) -> list[str]:
    """The ids of what the creates of ``body`` made, read through the API and storage."""
    if path == "/api/departments":
        items = server.send("GET", path).body["items"]
        return [d["id"] for d in items if d["name"] == body["name"]]
    listed = server.send("GET", f"{path}?expand=false").body["items"]
    state = storage.events.calendar_state(path.rpartition("/")[2])
    assert state.event_count + state.series_count == len(listed)  # its own count agrees
    return [e["id"] for e in listed if e["title"] == body["title"]]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "body"), _CREATES)
def test_a_server_killed_after_the_write_answers_the_retry_with_the_first_create(
    server: CrashingServer, storage: Storage, path: str, body: dict[str, Any]
) -> None:
    department = server.send("POST", "/api/departments", {"name": "개발팀"}).body["id"]
    url = path.format(department=department)
    server.crash("after")

    _killed(server, url, body, "crash-after-write")
    server.restart()
    retried = server.send("POST", url, body, "crash-after-write")

    assert _worker_was_killed(server)
    assert retried.status == 201, retried.body
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert _made(server, storage, url, body) == [retried.body["id"]]
    again = server.send("POST", url, body, "crash-after-write")
    assert (again.status, again.body) == (201, retried.body)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "body"), _CREATES)
def test_a_key_left_pending_by_a_killed_server_makes_one_resource_once_taken_over(
    server: CrashingServer, storage: Storage, dynamodb: Any, path: str, body: dict[str, Any]
) -> None:
    department = server.send("POST", "/api/departments", {"name": "개발팀"}).body["id"]
    url = path.format(department=department)
    server.crash("before")

    _killed(server, url, body, "crash-before-write")
    server.restart()
    assert _worker_was_killed(server)
    assert _made(server, storage, url, body) == []
    # While the claim is younger than the stale limit, its key is refused, not run again.
    refused = server.send("POST", url, body, "crash-before-write")
    assert refused.status == 409, refused.body
    assert refused.body["type"] == "/problems/idempotency-key-in-use"
    _age_pending_claims(dynamodb, storage.events.table)

    created = server.send("POST", url, body, "crash-before-write")
    replayed = server.send("POST", url, body, "crash-before-write")

    assert created.status == 201, created.body
    assert "Idempotent-Replayed" not in created.headers
    assert (replayed.status, replayed.body) == (201, created.body)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert _made(server, storage, url, body) == [created.body["id"]]


def _age_pending_claims(dynamodb: Any, table: str) -> None:
    """Let the stale limit pass for every pending idempotency record, without waiting."""
    pending = dynamodb.scan(
        TableName=table,
        FilterExpression="begins_with(id, :prefix) AND #status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":prefix": {"S": PREFIX}, ":pending": {"S": "pending"}},
        ConsistentRead=True,
    )["Items"]
    assert len(pending) == 1, pending
    for item in pending:
        started = int(item["started_at"]["N"]) - STALE_PENDING_SECONDS - 1
        dynamodb.update_item(
            TableName=table,
            Key={"id": item["id"], "department_id": item["department_id"]},
            UpdateExpression="SET started_at = :started",
            ExpressionAttributeValues={":started": {"N": str(started)}},
        )
