"""A month page rendered at a calendar state is answered again, at the cost of the calendar
item's read alone, for as long as that state stands; every write, in any process, ends it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from backend import create_app
from backend.api.rendered_pages import RenderedPages
from backend.config import Settings
from backend.storage import Storage
from tests.helpers import create_department, create_event

MONTH = "/api/events/{}?month=2025-03"


@contextmanager
def dynamodb_calls(dynamodb: Any) -> Iterator[list[str]]:
    """The names of the DynamoDB operations made meanwhile, in order."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    dynamodb.meta.events.register("before-call.dynamodb", record, unique_id="rendered-pages")
    try:
        yield calls
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb", unique_id="rendered-pages")


def _department_with_events(client: FlaskClient) -> str:
    department_id: str = create_department(client, "개발팀")["id"]
    for day in (3, 14, 27):
        create_event(
            client, department_id, title=f"주간 회의 {day}", event_date=f"2025-03-{day:02d}"
        )
    return department_id


def test_a_page_asked_again_at_the_same_version_costs_one_read(
    client: FlaskClient, dynamodb: Any
) -> None:
    department_id = _department_with_events(client)
    first = client.get(MONTH.format(department_id))
    with dynamodb_calls(dynamodb) as calls:
        again = client.get(MONTH.format(department_id))

    assert again.status_code == 200
    assert calls == ["GetItem"]  # the calendar item: no Query of the index
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    titles = [e["title"] for e in again.get_json()["items"]]
    assert titles == ["주간 회의 3", "주간 회의 14", "주간 회의 27"]
    assert "주간 회의".encode() in again.get_data()  # Korean as UTF-8, not escaped, as before


def test_every_write_ends_the_kept_page(client: FlaskClient, dynamodb: Any) -> None:
    department_id = _department_with_events(client)
    before = client.get(MONTH.format(department_id)).get_json()["items"]
    created = create_event(client, department_id, title="새 일정", event_date="2025-03-20")

    with dynamodb_calls(dynamodb) as calls:
        after = client.get(MONTH.format(department_id))

    assert "Query" in calls
    assert [e["title"] for e in after.get_json()["items"]] == [
        "주간 회의 3",
        "주간 회의 14",
        "새 일정",
        "주간 회의 27",
    ]
    assert len(before) == 3
    changed = client.patch(
        f"/api/events/{department_id}/{created['id']}",
        json={"title": "바뀐 일정"},
        headers={
            "If-Match": client.get(f"/api/events/{department_id}/{created['id']}").headers["ETag"]
        },
    )
    assert changed.status_code == 200
    titles = [e["title"] for e in client.get(MONTH.format(department_id)).get_json()["items"]]
    assert "바뀐 일정" in titles
    assert "새 일정" not in titles
    assert client.delete(f"/api/events/{department_id}/{created['id']}").status_code == 204
    assert len(client.get(MONTH.format(department_id)).get_json()["items"]) == 3


def test_a_write_through_another_process_is_seen_at_once(
    app: Flask, settings: Settings, storage: Storage
) -> None:
    """Two servers on the same tables: the second's write moves the version the first reads
    consistently, so the first does not answer its kept page."""
    here, there = app.test_client(), create_app(settings, storage).test_client()
    department_id = _department_with_events(here)
    assert len(here.get(MONTH.format(department_id)).get_json()["items"]) == 3

    create_event(there, department_id, title="다른 서버에서", event_date="2025-03-05")

    titles = [e["title"] for e in here.get(MONTH.format(department_id)).get_json()["items"]]
    assert titles[1] == "다른 서버에서"


def test_each_request_has_its_own_page(client: FlaskClient, dynamodb: Any) -> None:
    department_id = _department_with_events(client)
    base = MONTH.format(department_id)
    asked = [base, base + "&limit=1", base + "&q=14", "/api/events/{}?month=2025-04"]
    first = [client.get(path.format(department_id)).get_json() for path in asked]
    with dynamodb_calls(dynamodb) as calls:
        again = [client.get(path.format(department_id)).get_json() for path in asked]

    assert again == first
    assert calls == ["GetItem"] * len(asked)
    assert [len(page["items"]) for page in first] == [3, 1, 1, 0]
    assert first[1]["next_cursor"] is not None
    following = client.get(base + "&limit=1&cursor=" + first[1]["next_cursor"]).get_json()
    assert [e["title"] for e in following["items"]] == ["주간 회의 14"]


def test_a_deleted_department_is_404_not_its_kept_page(client: FlaskClient) -> None:
    department_id = create_department(client, "없어질 부서")["id"]
    assert client.get(MONTH.format(department_id)).status_code == 200
    assert client.delete(f"/api/departments/{department_id}").status_code == 204

    gone = client.get(MONTH.format(department_id))

    assert gone.status_code == 404
    assert gone.headers["Content-Type"] == "application/problem+json"


def test_a_poll_with_the_etag_is_still_304(client: FlaskClient) -> None:
    department_id = _department_with_events(client)
    tag = client.get(MONTH.format(department_id)).headers["ETag"]
    client.get(MONTH.format(department_id))

    polled = client.get(MONTH.format(department_id), headers={"If-None-Match": tag})

    assert polled.status_code == 304
    assert polled.headers["ETag"] == tag


def test_with_list_cache_off_every_list_reads_the_index(
    settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    client = create_app(dataclasses.replace(settings, list_cache_mb=0), storage).test_client()
    department_id = _department_with_events(client)
    client.get(MONTH.format(department_id))
    with dynamodb_calls(dynamodb) as calls:
        client.get(MONTH.format(department_id))

    # The calendar item, then the index (and, within a minute of the writes, that
    # minute's change records and the events they name).
    assert calls[:2] == ["GetItem", "Query"]


def test_kept_pages_stay_within_their_bytes_and_their_time() -> None:
    pages = RenderedPages(64 * 1024, keep_seconds=1.5)
    body = b"x" * 1000
    for n in range(200):
        pages.keep(("page", n), body)

    assert pages.size <= 64 * 1024
    assert pages.get(("page", 199)) == body  # the most recent stay
    assert pages.get(("page", 0)) is None  # the least recent went first
    kept_page = ("page", 199)

    for n in range(1000):  # many small pages: each costs its key and records too
        pages.keep(("empty", n), b"{}")
    assert pages.size <= 64 * 1024
    assert sum(pages.get(("empty", n)) is not None for n in range(1000)) <= 64 * 1024 // 600

    pages.keep(("large",), b"y" * (64 * 1024 // 16 + 1))  # too large a share: not kept
    assert pages.get(("large",)) is None

    pages.keep(kept_page, body)
    time.sleep(1.6)
    assert pages.get(kept_page) is None
    assert pages.size == 0


def test_no_store_keeps_nothing() -> None:
    pages = RenderedPages(0)
    pages.keep(("page",), b"{}")

    assert pages.get(("page",)) is None
    assert pages.size == 0
