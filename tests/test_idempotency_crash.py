"""A retried create never makes a second resource, whether the process died after writing
it or its answer was lost: the key's answer is written in the create's own transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.storage import Storage
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
from backend.storage import Storage
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
