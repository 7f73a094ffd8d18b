"""A file too big for one request is imported as a job: 202 with its address, progress and
the result there, a job whose runner died taken over, and no look at another
department's jobs."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from backend import create_app
from backend.config import Settings
from backend.domain import Actor, acting_as
from backend.services.import_jobs import SYNC_MAX_EVENTS, run_import_job, start_import
from backend.storage import DateWindow, Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.imports import CHUNK_ENTRIES, partition
from tests.helpers import create_department
from tests.test_import_batches import calendar_file

ICS = {"Content-Type": "text/calendar"}


def finished(client: FlaskClient, location: str, seconds: float = 90) -> dict[str, Any]:
    """Poll the job's address until it is done."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        assert response.headers["Retry-After"]
        time.sleep(0.2)


def test_a_file_past_the_limit_is_a_job_with_progress_and_the_result(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client)["id"]
    total = SYNC_MAX_EVENTS + 200

    response = client.post(
        f"/api/events/{department}/import", data=calendar_file(total, 4), headers=ICS
    )

    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    location = response.headers["Location"]
    assert location == f"/api/departments/{department}/imports/{job['id']}"
    assert (job["status"], job["total"], job["done"]) == ("queued", total, 0)
    done = finished(client, location)
    assert (done["status"], done["done"], done["total"]) == ("succeeded", total, total)
    assert done["result"] == {
        "created": total, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": [],
        "dry_run": False,
    }  # fmt: skip
    assert storage.events.calendar_state(department).event_count == total
    # Its chunks went with it; the job itself stays a day.
    left = dynamodb.query(
        TableName=settings.events_table,
        KeyConditionExpression="id = :p",
        ExpressionAttributeValues={":p": {"S": partition(department)}},
    )["Items"]
    assert [i["department_id"]["S"] for i in left] == [job["id"]]


def test_prefer_respond_async_makes_a_job_of_a_small_file_and_says_so(
    client: FlaskClient,
) -> None:
    department = create_department(client)["id"]

    response = client.post(
        f"/api/events/{department}/import?dry_run=true",
        data=calendar_file(3, 3),
        headers=ICS | {"Prefer": "respond-async, wait=10"},
    )

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    done = finished(client, response.headers["Location"])
    assert done["result"]["created"] == 3
    assert done["result"]["dry_run"] is True
    assert client.get(f"/api/events/{department}").get_json()["items"] == []
    # ?async=false keeps even a large file within the request.
    body = calendar_file(SYNC_MAX_EVENTS + 1, 5)
    direct = client.post(f"/api/events/{department}/import?async=false&dry_run=true", data=body,
                         headers=ICS)  # fmt: skip
    assert direct.status_code == 200
    assert direct.get_json()["created"] == SYNC_MAX_EVENTS + 1


def test_a_job_whose_runner_died_is_taken_over_by_the_next_poll(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    started: list[tuple[str, str]] = []
    # A process that accepts the job and dies before its runner gets far.
    dying = create_app(settings, storage, start_job=lambda d, j: started.append((d, j)))
    dead = dying.test_client()
    department = create_department(dead)["id"]
    total = 2 * CHUNK_ENTRIES + 100
    response = dead.post(
        f"/api/events/{department}/import?async=true", data=calendar_file(total, 5), headers=ICS
    )
    assert response.status_code == 202
    job_id = response.get_json()["id"]
    assert started == [(department, job_id)]
    # Its runner applied the first chunk, then stopped (out of time) ...
    assert run_import_job(storage, department, job_id, time_left=lambda: 0).more
    # ... and another took the job and died holding it.
    job = storage.import_jobs.find(department, job_id)
    assert job is not None
    assert storage.import_jobs.take(job, "a dead runner", utc_datetime() + timedelta(minutes=1))
    location = response.headers["Location"]
    held = dead.get(location).get_json()
    assert (held["status"], held["done"]) == ("running", CHUNK_ENTRIES)
    assert len(started) == 1  # held: nobody else starts it
    past = (utc_datetime() - timedelta(seconds=1)).isoformat()
    dynamodb.update_item(  # the dead runner's lease lapses
        TableName=settings.events_table,
        Key={"id": {"S": partition(department)}, "department_id": {"S": job_id}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"S": past}},
    )

    done = finished(client, location)  # a poll through a living process

    assert (done["status"], done["done"]) == ("succeeded", total)
    assert done["result"]["created"] == total
    assert storage.events.calendar_state(department).event_count == total


def test_a_job_is_found_only_under_its_own_department(client: FlaskClient) -> None:
    department = create_department(client)["id"]
    other = create_department(client, "다른 부서")["id"]
    response = client.post(
        f"/api/events/{department}/import?async=true", data=calendar_file(2, 2), headers=ICS
    )
    job_id = response.get_json()["id"]

    assert client.get(f"/api/departments/{other}/imports/{job_id}").status_code == 404
    assert client.get(f"/api/departments/{department}/imports/no-such-job").status_code == 404
    assert client.get(f"/api/departments/{department}/imports/{job_id}%23x").status_code == 404
    assert finished(client, response.headers["Location"])["status"] == "succeeded"


def test_an_import_job_of_an_unknown_department_or_a_broken_file_is_refused_at_once(
    client: FlaskClient,
) -> None:
    department = create_department(client)["id"]
    unknown = client.post(
        "/api/events/nope/import?async=true", data=calendar_file(1, 1), headers=ICS
    )
    assert unknown.status_code == 404
    broken = client.post(
        f"/api/events/{department}/import?async=true", data=b"not a calendar", headers=ICS
    )
    assert broken.status_code == 400


def test_a_job_writes_in_the_name_of_who_started_it(client: FlaskClient, storage: Storage) -> None:
    department = create_department(client)["id"]
    person = Actor("user:kim", "김민지")
    with acting_as(person):
        job = start_import(
            storage, department, calendar_file(3, 3),
            timezone="Asia/Seoul", domain="localhost", dry_run=False,
        )  # fmt: skip

    assert run_import_job(storage, department, job.id).finished  # in another thread, later

    events = list(storage.events.all_in(department, DateWindow()))
    assert [(e.created_by, e.updated_by) for e in events] == [(person, person)] * 3
