"""What real DynamoDB and real data bring that moto and our own writes do not: items written
by other programs, values only AWS refuses, and writes whose response was lost."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from flask.testing import FlaskClient

from backend.config import Settings
from backend.errors import QuotaReached
from backend.migration.cli import main as migrate_main
from backend.services.departments import count_events
from backend.storage import Storage
from tests.helpers import assert_problem, create_department, create_event

# -- items the product did not write ------------------------------------------------------


@pytest.fixture
def console_items(storage: Storage, dynamodb: Any) -> dict[str, str]:
    """A department and an event as the setup guide's first app or the console wrote them:
    no version, no timestamps, no start_time, no count."""
    dynamodb.put_item(
        TableName=storage.departments.table,
        Item={"id": {"S": "console-dept"}, "name": {"S": "콘솔팀"}},
    )
    dynamodb.put_item(
        TableName=storage.events.table,
        Item={
            "id": {"S": "console-event"},
            "department_id": {"S": "console-dept"},
            "event_date": {"S": "2024-01-20"},
            "title": {"S": "콘솔 일정"},
            "time": {"S": "오후 3:00"},
        },
    )
    return {"department": "console-dept", "event": "console-event"}


def test_items_without_version_are_served_as_version_1(
    client: FlaskClient, console_items: dict[str, str]
) -> None:
    department = client.get("/api/departments/console-dept")
    event = client.get("/api/events/console-dept/console-event")

    assert (department.status_code, department.headers["ETag"]) == (200, '"1"')
    assert (event.get_json()["version"], event.get_json()["start_time"]) == (1, "15:00")


def test_items_without_version_are_editable_with_the_etag_they_were_served(
    client: FlaskClient, console_items: dict[str, str]
) -> None:
    event = client.patch(
        "/api/events/console-dept/console-event",
        json={"title": "고친 일정"},
        headers={"If-Match": '"1"'},
    )
    department = client.patch(
        "/api/departments/console-dept", json={"description": "설명"}, headers={"If-Match": '"1"'}
    )

    assert (event.status_code, event.get_json()["version"]) == (200, 2)
    assert (department.status_code, department.get_json()["version"]) == (200, 2)


def test_items_without_version_are_deletable_with_the_etag_they_were_served(
    client: FlaskClient, console_items: dict[str, str]
) -> None:
    event = client.delete("/api/events/console-dept/console-event", headers={"If-Match": '"1"'})
    department = client.delete("/api/departments/console-dept", headers={"If-Match": '"1"'})

    assert (event.status_code, department.status_code) == (204, 204)


def test_a_department_without_a_count_still_refuses_deletion_while_it_has_events(
    client: FlaskClient, console_items: dict[str, str]
) -> None:
    create_event(client, "console-dept", title="새 일정")

    assert_problem(client.delete("/api/departments/console-dept"), 409)
    assert client.delete("/api/departments/console-dept?cascade=true").status_code == 204
    assert_problem(client.get("/api/events/console-dept"), 404)


def test_the_migration_counts_events_of_departments_it_did_not_write(
    client: FlaskClient,
    storage: Storage,
    settings: Settings,
    console_items: dict[str, str],
    tmp_path: Path,
) -> None:
    (tmp_path / "departments.json").write_text("[]", encoding="utf-8")
    (tmp_path / "events.json").write_text("[]", encoding="utf-8")
    migrate_main(["--source", str(tmp_path)], settings=settings, storage=storage, out=io.StringIO())
    count_events(storage, ["console-dept"])

    assert storage.events.calendar_state("console-dept").event_count == 1
    assert_problem(client.delete("/api/departments/console-dept"), 409)


# -- values only AWS refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ['"²"', '"٣"', '"' + "9" * 40 + '"', ", ".join(f'"{n}"' for n in range(2, 150)), '""'],
)
def test_odd_if_match_tags_are_412_never_500(client: FlaskClient, header: str) -> None:
    department = create_department(client)
    event = create_event(client, department["id"])

    for url in (
        f"/api/departments/{department['id']}",
        f"/api/events/{department['id']}/{event['id']}",
    ):
        assert (
            client.patch(url, json={"description": "x"}, headers={"If-Match": header}).status_code
            == 412
        )
        assert client.delete(url, headers={"If-Match": header}).status_code == 412


def test_if_match_with_over_100_tags_including_the_current_one_applies(
    client: FlaskClient,
) -> None:
    department = create_department(client)
    tags = ", ".join(f'"{n}"' for n in range(150, 0, -1))

    response = client.patch(
        f"/api/departments/{department['id']}",
        json={"description": "x"},
        headers={"If-Match": tags},
    )

    assert response.status_code == 200


def test_legacy_values_dynamodb_cannot_hold_are_rejected_and_the_rest_migrated(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    deep: Any = "바닥"
    for _ in range(40):
        deep = {"안": deep}
    departments = [{"id": "d1", "name": "개발팀"}]
    events = [
        {"id": "deep", "department_id": "d1", "event_date": "2024-01-20", "title": "깊음",
         "meta": deep},
        {"id": "big", "department_id": "d1", "event_date": "2024-01-20", "title": "큰 수",
         "budget": int("9" * 40)},
        {"id": "tiny", "department_id": "d1", "event_date": "2024-01-20", "title": "작은 수",
         "ratio": 1e-200},
        {"id": "ok", "department_id": "d1", "event_date": "2024-01-20", "title": "정상",
         "budget": int("9" * 38)},
    ]  # fmt: skip
    (tmp_path / "departments.json").write_text(json.dumps(departments), encoding="utf-8")
    (tmp_path / "events.json").write_text(json.dumps(events), encoding="utf-8")
    report = tmp_path / "report.json"

    code = migrate_main(
        ["--source", str(tmp_path), "--report", str(report)],
        settings=settings, storage=storage, out=io.StringIO(),
    )  # fmt: skip
    again = migrate_main(
        ["--source", str(tmp_path)], settings=settings, storage=storage, out=io.StringIO()
    )
    rejected = {r["record"]["id"]: r["reason"] for r in json.loads(report.read_text())["rejected"]}

    assert (code, again) == (1, 1)
    assert set(rejected) == {"deep", "big", "tiny"}
    assert "32 levels" in rejected["deep"]
    assert "38 significant digits" in rejected["big"]
    assert storage.events.find("d1", "ok") is not None


# -- retries after a lost response ----------------------------------------------------------


@contextmanager
def responses_lost(dynamodb: Any, operations: set[str]) -> Iterator[list[str]]:
    """Deliver the first request of each of ``operations`` to DynamoDB but lose its
    response (a 500 instead), so that botocore retries a write that already happened."""
    lost: list[str] = []

    def deliver_then_lose(request: Any, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"").decode().rpartition(".")[2]
        if operation not in operations or operation in lost:
            return None
        delivered = dynamodb._endpoint.http_session.send(request)  # botocore's own session
        assert delivered.status_code == 200, delivered.content
        lost.append(operation)
        body = json.dumps({"__type": "InternalServerError", "message": "response lost"}).encode()
        return AWSResponse(request.url, 500, {}, _Raw(body))  # type: ignore[arg-type]

    dynamodb.meta.events.register_first("before-send.dynamodb", deliver_then_lose, unique_id="lost")
    try:
        yield lost
    finally:
        dynamodb.meta.events.unregister("before-send.dynamodb", unique_id="lost")


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def test_a_patch_whose_response_was_lost_is_not_its_own_412(
    client: FlaskClient, dynamodb: Any
) -> None:
    department = create_department(client)
    event = create_event(client, department["id"])

    with responses_lost(dynamodb, {"UpdateItem", "TransactWriteItems"}) as lost:
        renamed = client.patch(
            f"/api/departments/{department['id']}",
            json={"description": "새 설명"},
            headers={"If-Match": '"1"'},
        )
        retitled = client.patch(
            f"/api/events/{department['id']}/{event['id']}",
            json={"title": "새 제목"},
            headers={"If-Match": '"1"'},
        )

    assert lost == ["UpdateItem", "TransactWriteItems"]
    assert (renamed.status_code, renamed.get_json()["version"]) == (200, 2)
    assert (retitled.status_code, retitled.get_json()["title"]) == (200, "새 제목")


def test_a_delete_whose_response_was_lost_is_not_its_own_404(
    client: FlaskClient, dynamodb: Any, storage: Storage
) -> None:
    department = create_department(client)
    event = create_event(client, department["id"])

    with responses_lost(dynamodb, {"TransactWriteItems"}) as lost:
        response = client.delete(f"/api/events/{department['id']}/{event['id']}")

    assert lost == ["TransactWriteItems"]
    assert response.status_code == 204
    assert storage.events.calendar_state(department["id"]).event_count == 0


def test_a_quota_reservation_whose_response_was_lost_counts_once(
    storage: Storage, dynamodb: Any
) -> None:
    day = date(2024, 1, 20)

    with responses_lost(dynamodb, {"UpdateItem"}) as lost:
        reservation = storage.mailings.reserve(day, 60, 100)
    storage.mailings.reserve(day, 40, 100)  # exactly the rest of the day's limit

    assert lost == ["UpdateItem"]
    with pytest.raises(QuotaReached):
        storage.mailings.reserve(day, 1, 100)
    with responses_lost(dynamodb, {"UpdateItem"}):
        storage.mailings.release(day, 60, reservation)
    storage.mailings.reserve(day, 60, 100)  # released once, not twice
    with pytest.raises(QuotaReached):
        storage.mailings.reserve(day, 1, 100)
