"""Incremental sync through HTTP (``recurrence.md``, "Incremental sync"): a full sync that
ends with a token, deltas with deletions, paging, expired tokens, and a list's ETag that
never runs ahead of its body; on moto and in the lane that behaves like AWS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.api.cursors import CursorCodec
from backend.config import Settings
from backend.services.sync import SyncPoint
from backend.storage import Storage
from tests.aws_lane import AwsBehaviour
from tests.conftest import TEST_SECRET
from tests.helpers import assert_problem, create_department, create_event
from tests.live_server import serving
from tests.test_migration import migrate

WEEKLY = ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5"]


@pytest.fixture
def department(client: FlaskClient) -> str:
    return str(create_department(client)["id"])


def pages(client: FlaskClient, department_id: str, query: str) -> Iterator[dict[str, Any]]:
    """Every page of a sync, following next_cursor with the same parameters."""
    url = f"/api/events/{department_id}?{query}"
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        yield body
        if body["next_cursor"] is None:
            return
        assert "next_sync_token" not in body  # only the last page has one
        url = f"/api/events/{department_id}?{query}&cursor={body['next_cursor']}"


def synced(client: FlaskClient, department_id: str, query: str) -> tuple[list[Any], str]:
    """All items of a sync, and the token its last page ends with."""
    items: list[Any] = []
    body: dict[str, Any] = {}
    for body in pages(client, department_id, query):
        items.extend(body["items"])
    return items, str(body["next_sync_token"])


def delta(client: FlaskClient, department_id: str, token: str, limit: int = 50) -> Any:
    return synced(client, department_id, f"sync_token={token}&limit={limit}")


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_a_full_sync_lists_every_event_and_series_once_and_ends_with_a_token(
    client: FlaskClient, department: str
) -> None:
    singles = [
        create_event(client, department, event_date=day, title=f"일정 {n}")
        for n, day in enumerate(["2019-05-01", "2024-01-10", "2031-12-31"])
    ]
    weekly = client.post(
        f"/api/events/{department}",
        json={"event_date": "2035-01-01", "title": "먼 반복", "recurrence": WEEKLY},
    ).get_json()
    moved = client.patch(
        f"/api/events/{department}/{weekly['id']}_20350108", json={"title": "옮김"}
    ).get_json()

    items, token = synced(client, department, "sync=true&limit=2")

    found = by_id(items)
    assert len(items) == len(found) == 5  # three events, the series once, its exception
    assert {e["id"] for e in singles} <= set(found)
    assert found[weekly["id"]]["recurrence"] == WEEKLY
    assert found[moved["id"]]["title"] == "옮김"
    assert found[moved["id"]]["recurring_event_id"] == weekly["id"]
    assert token
    # Nothing changed since: an empty page with a token.
    response = client.get(f"/api/events/{department}?sync_token={token}")
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert response.get_json()["next_cursor"] is None
    assert response.get_json()["next_sync_token"]


def test_a_delta_carries_changes_in_full_and_deletions_as_cancelled(
    client: FlaskClient, department: str
) -> None:
    kept = create_event(client, department, title="그대로")
    changed = create_event(client, department, title="바뀔 일정")
    gone = create_event(client, department, title="지울 일정")
    _, token = synced(client, department, "sync=true")

    client.patch(f"/api/events/{department}/{changed['id']}", json={"title": "바뀐 일정"})
    assert client.delete(f"/api/events/{department}/{gone['id']}").status_code == 204
    new = create_event(client, department, title="새 일정")
    brief = create_event(client, department, title="잠깐")
    client.delete(f"/api/events/{department}/{brief['id']}")

    items, next_token = delta(client, department, token)

    found = by_id(items)
    assert kept["id"] not in found
    assert found[changed["id"]]["title"] == "바뀐 일정"
    assert found[changed["id"]]["version"] == 2
    assert found[new["id"]] == client.get(f"/api/events/{department}/{new['id']}").get_json()
    assert found[gone["id"]] == {"id": gone["id"], "status": "cancelled"}
    assert found[brief["id"]] == {"id": brief["id"], "status": "cancelled"}
    assert next_token != token
    assert delta(client, department, next_token)[0] == []


def test_recurring_changes_come_unexpanded_with_cancelled_occurrences(
    client: FlaskClient, department: str
) -> None:
    weekly = client.post(
        f"/api/events/{department}",
        json={"event_date": "2024-01-01", "title": "주간 회의", "recurrence": WEEKLY},
    ).get_json()
    _, token = synced(client, department, "sync=true")

    client.delete(f"/api/events/{department}/{weekly['id']}_20240115")
    moved = client.patch(
        f"/api/events/{department}/{weekly['id']}_20240122", json={"event_date": "2024-01-23"}
    ).get_json()
    items, token = delta(client, department, token)

    found = by_id(items)
    assert found[f"{weekly['id']}_20240115"] == {
        "id": f"{weekly['id']}_20240115",
        "status": "cancelled",
    }
    assert "EXDATE:20240115" in found[weekly["id"]]["recurrence"]
    assert found[moved["id"]]["event_date"] == "2024-01-23"
    assert not any(i.get("recurring_event_id") and i["id"] != moved["id"] for i in items)

    assert client.delete(f"/api/events/{department}/{weekly['id']}").status_code == 204
    items, _ = delta(client, department, token)
    assert by_id(items) == {
        weekly["id"]: {"id": weekly["id"], "status": "cancelled"},
        moved["id"]: {"id": moved["id"], "status": "cancelled"},
    }


def test_a_delta_pages_by_cursor_with_or_without_its_token(
    client: FlaskClient, department: str
) -> None:
    _, token = synced(client, department, "sync=true")
    made = [create_event(client, department, title=f"일정 {n}")["id"] for n in range(7)]

    items, _ = delta(client, department, token, limit=3)
    assert [i["id"] for i in items] == made

    first = client.get(f"/api/events/{department}?sync_token={token}&limit=3").get_json()
    assert len(first["items"]) == 3
    second = client.get(f"/api/events/{department}?cursor={first['next_cursor']}&limit=3")
    assert second.status_code == 200
    assert [i["id"] for i in second.get_json()["items"]] == made[3:6]


def test_one_write_of_many_events_is_split_across_pages_without_loss(
    client: FlaskClient, department: str
) -> None:
    made = [create_event(client, department, title=f"일정 {n}")["id"] for n in range(5)]
    _, token = synced(client, department, "sync=true")
    # A cascade deletes the five events in one transaction: one record of five changes.
    assert client.delete(f"/api/departments/{department}?cascade=true").status_code == 204
    response = client.get(f"/api/events/{department}?sync_token={token}")
    assert_problem(response, 404)  # the department is gone with its history

    other = str(create_department(client, "다른 부서")["id"])
    made = [create_event(client, other, title=f"일정 {n}")["id"] for n in range(5)]
    _, token = synced(client, other, "sync=true")
    ics = client.get(f"/api/departments/{other}/calendar.ics?from=2024-01-01&to=2024-12-31").data
    cancelled = ics.replace(b"END:VEVENT", b"STATUS:CANCELLED\r\nEND:VEVENT")
    imported = client.post(
        f"/api/events/{other}/import", data=cancelled, headers={"Content-Type": "text/calendar"}
    )
    assert imported.status_code == 200, imported.get_json()
    items, _ = delta(client, other, token, limit=2)
    assert sorted(i["id"] for i in items) == sorted(made)
    assert all(i["status"] == "cancelled" for i in items)


@pytest.mark.parametrize(
    "query",
    [
        "sync=true&month=2024-01",
        "sync=true&from=2024-01-01",
        "sync=true&q=회의",
        "sync=true&expand=true",
        "sync=true&sync_token=x",
    ],
)
def test_sync_refuses_filters_it_cannot_honour(
    client: FlaskClient, department: str, query: str
) -> None:
    assert_problem(client.get(f"/api/events/{department}?{query}"), 400)


def test_tokens_that_cannot_be_answered_are_410(client: FlaskClient, department: str) -> None:
    other = str(create_department(client, "다른 부서")["id"])
    _, token = synced(client, department, "sync=true")
    _, theirs = synced(client, other, "sync=true")
    codec = CursorCodec(TEST_SECRET)
    old = codec.sync_token(
        SyncPoint(department, 0, datetime.now(UTC) - timedelta(days=30, minutes=1))
    )
    ahead = codec.sync_token(SyncPoint(department, 99, datetime.now(UTC)))
    forged = CursorCodec("another secret entirely").sync_token(
        SyncPoint(department, 0, datetime.now(UTC))
    )
    for bad in (theirs, old, ahead, forged, token[:-3] + "abc", "garbage"):
        response = client.get(f"/api/events/{department}?sync_token={bad}")
        problem = assert_problem(response, 410)
        assert problem["type"].endswith("/problems/sync-token-expired")
    # A token 29 days old is still answered.
    recent = codec.sync_token(SyncPoint(department, 0, datetime.now(UTC) - timedelta(days=29)))
    assert client.get(f"/api/events/{department}?sync_token={recent}").status_code == 200


# -- racing writers, index lag --------------------------------------------------------------


@pytest.fixture(params=["moto", pytest.param("aws", marks=pytest.mark.slow)])
def lane(request: Any, dynamodb: Any, settings: Settings) -> Iterator[AwsBehaviour | None]:
    if request.param == "moto":
        yield None
        return
    behaviour = AwsBehaviour(
        dynamodb, str(settings.endpoint_url), conflict_rate=0.2, throttle_rate=0.1, lag=3
    )
    with behaviour.installed():
        yield behaviour


def _ok(client: FlaskClient, method: str, url: str, **kwargs: Any) -> Any:
    """A request retried while the lane's injected throttling outlasts the retries."""
    for _ in range(20):
        response = client.open(url, method=method, **kwargs)
        if response.status_code != 503:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{method} {url} stayed 503")


def test_writes_racing_a_paged_delta_are_in_it_or_the_next(
    app: Flask, lane: AwsBehaviour | None
) -> None:
    client = app.test_client()
    department = _ok(client, "POST", "/api/departments", json={"name": "경주"}).get_json()["id"]
    seed = [
        _ok(client, "POST", f"/api/events/{department}", json={"event_date": "2024-01-02",
            "title": f"처음 {n}"}).get_json()["id"]
        for n in range(6)
    ]  # fmt: skip
    token = ""
    for body in _sync_pages(client, department, "sync=true&limit=4"):
        token = body.get("next_sync_token", token)
    written: list[str] = []
    deleted: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        other = app.test_client()
        n = 0
        while not stop.is_set() and n < 40:
            url = f"/api/events/{department}"
            body = {"event_date": f"2024-02-{n % 28 + 1:02d}", "title": f"경주 {n}"}
            response = _ok(other, "POST", url, json=body)
            if response.status_code == 201:
                written.append(response.get_json()["id"])
            if n % 5 == 0 and seed:
                victim = seed.pop()
                if _ok(other, "DELETE", f"{url}/{victim}").status_code == 204:
                    deleted.append(victim)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    mirror: dict[str, Any] = {}
    try:
        for _ in range(6):  # a client syncing over and over while the writer goes on
            for body in _sync_pages(client, department, f"sync_token={token}&limit=3"):
                for item in body["items"]:
                    mirror[item["id"]] = item
                token = body.get("next_sync_token", token)
    finally:
        stop.set()
        thread.join()
    for body in _sync_pages(client, department, f"sync_token={token}&limit=3"):
        for item in body["items"]:
            mirror[item["id"]] = item
    assert set(written) <= set(mirror)
    assert all(mirror[i].get("status") != "cancelled" for i in written)
    assert all(mirror[i] == {"id": i, "status": "cancelled"} for i in deleted)


def _sync_pages(client: FlaskClient, department: str, query: str) -> Iterator[dict[str, Any]]:
    url = f"/api/events/{department}?{query}"
    while True:
        response = _ok(client, "GET", url)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        yield body
        if body["next_cursor"] is None:
            return
        url = f"/api/events/{department}?{query}&cursor={body['next_cursor']}"


def test_a_full_sync_under_index_lag_hands_out_a_token_that_catches_up(
    app: Flask, lane: AwsBehaviour | None
) -> None:
    client = app.test_client()
    department = _ok(client, "POST", "/api/departments", json={"name": "지연"}).get_json()["id"]
    made = [
        _ok(client, "POST", f"/api/events/{department}",
            json={"event_date": "2024-03-01", "title": f"방금 {n}"}).get_json()["id"]
        for n in range(3)
    ]  # fmt: skip
    # Right after the writes, the index may not show them (the AWS lane lags by 3 writes).
    mirror: dict[str, Any] = {}
    token = ""
    for body in _sync_pages(client, department, "sync=true"):
        mirror.update(by_id(body["items"]))
        token = body.get("next_sync_token", token)
    for body in _sync_pages(client, department, f"sync_token={token}"):
        mirror.update(by_id(body["items"]))
    assert set(made) <= set(mirror)


def test_a_lists_etag_never_runs_ahead_of_its_body(app: Flask, lane: AwsBehaviour | None) -> None:
    client = app.test_client()
    department = _ok(client, "POST", "/api/departments", json={"name": "폴링"}).get_json()["id"]
    other = _ok(client, "POST", "/api/departments", json={"name": "다른 곳"}).get_json()["id"]
    url = f"/api/events/{department}?month=2024-04"
    first = _ok(client, "GET", url)
    created = _ok(
        client, "POST", f"/api/events/{department}", json={"event_date": "2024-04-02",
        "title": "새 일정"}
    ).get_json()  # fmt: skip
    etag = first.headers["ETag"]
    seen = False
    for n in range(6):  # polls, while other writes let the index catch up
        response = _ok(client, "GET", url, headers={"If-None-Match": etag})
        if response.status_code == 200:
            etag = response.headers["ETag"]
            seen = seen or created["id"] in {i["id"] for i in response.get_json()["items"]}
        _ok(client, "POST", f"/api/events/{other}", json={"event_date": "2024-04-02",
            "title": f"딴 일 {n}"})  # fmt: skip
    assert seen
    # Once the list shows the event, a poll with its ETag is 304.
    assert _ok(client, "GET", url, headers={"If-None-Match": etag}).status_code == 304


def test_the_sweep_removes_change_records_past_their_history(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = str(create_department(client)["id"])
    for n in range(4):
        create_event(client, department, title=f"일정 {n}")
    old = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    for version in (1, 2):  # the two oldest have expired
        dynamodb.update_item(
            TableName=settings.events_table,
            Key={"id": {"S": f"#changes#{department}"}, "department_id": {"S": f"{version:012d}"}},
            UpdateExpression="SET expires_at = :old",
            ExpressionAttributeValues={":old": {"N": str(old)}},
        )

    assert storage.sweep() >= 2

    assert [r.version for r in storage.changes.after(department, 0)] == [3, 4]


def test_a_full_sync_page_that_ends_at_the_last_series_goes_on_to_the_events(
    client: FlaskClient, department: str
) -> None:
    weekly = client.post(
        f"/api/events/{department}",
        json={"event_date": "2035-01-01", "title": "반복", "recurrence": WEEKLY},
    ).get_json()
    single = create_event(client, department, event_date="2024-01-01")
    items, _ = synced(client, department, "sync=true&limit=1")
    assert [i["id"] for i in items] == [weekly["id"], single["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "sync_token=",
        "sync=true&cursor=abc",
        "sync=true&limit=0",
        "sync=true&limit=100000",
        "sync_token=x&limit=-1",
        "sync=maybe",
        "sync=false&sync_token=x",
    ],
)
def test_bad_sync_requests_are_4xx(client: FlaskClient, department: str, query: str) -> None:
    response = client.get(f"/api/events/{department}?{query}")
    assert 400 <= response.status_code < 500


def test_a_full_sync_resumed_after_the_history_kept_is_410(
    client: FlaskClient, department: str
) -> None:
    create_event(client, department)
    codec = CursorCodec(TEST_SECRET)
    began = datetime.now(UTC) - timedelta(days=31)
    cursor = codec.encode(
        ["sync-full", department], ("0", began.isoformat(), "b", "", "", "", "", "")
    )
    response = client.get(f"/api/events/{department}?sync=true&cursor={cursor}")
    assert_problem(response, 410)


def test_a_token_whose_changes_are_no_longer_kept_is_410(
    client: FlaskClient, storage: Storage, department: str, dynamodb: Any, settings: Settings
) -> None:
    _, token = synced(client, department, "sync=true")
    create_event(client, department)
    create_event(client, department)
    dynamodb.delete_item(  # as if the first record had expired and been swept
        TableName=settings.events_table,
        Key={"id": {"S": f"#changes#{department}"}, "department_id": {"S": f"{1:012d}"}},
    )
    assert_problem(client.get(f"/api/events/{department}?sync_token={token}"), 410)


def test_a_single_event_turned_series_under_index_lag_is_not_left_stale(
    app: Flask, dynamodb: Any, settings: Settings
) -> None:
    client = app.test_client()
    department = str(create_department(client, "지연 변환")["id"])
    single = create_event(client, department, event_date="2035-01-01", title="단일")
    # Its creation is five minutes old: the index has it.
    five_minutes_ago = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="milliseconds")
    dynamodb.update_item(
        TableName=settings.events_table,
        Key={"id": {"S": f"#changes#{department}"}, "department_id": {"S": f"{1:012d}"}},
        UpdateExpression="SET #at = :t",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":t": {"S": five_minutes_ago}},
    )
    behaviour = AwsBehaviour(dynamodb, str(settings.endpoint_url), lag=10)
    with behaviour.installed():
        response = client.patch(
            f"/api/events/{department}/{single['id']}", json={"recurrence": WEEKLY}
        )
        assert response.status_code == 200, response.get_json()
        mirror: dict[str, Any] = {}
        seen: list[str] = []
        token = ""
        for body in _sync_pages(client, department, "sync=true"):
            seen += [item["id"] for item in body["items"]]
            mirror.update(by_id(body["items"]))
            token = body.get("next_sync_token", token)
        for body in _sync_pages(client, department, f"sync_token={token}"):
            mirror.update(by_id(body["items"]))
    assert seen.count(single["id"]) == 1
    assert mirror[single["id"]]["recurrence"] == WEEKLY


def test_the_readme_sync_client_mirrors_a_department(app: Flask, department: str) -> None:
    """The README's few lines of Python, run over HTTP against a live server."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the documentation's own code
    client = app.test_client()
    kept = create_event(client, department, title="남을 일정")
    gone = create_event(client, department, title="지울 일정")
    mirror: dict[str, Any] = {}
    with serving(app) as base:
        token = namespace["sync"](base, department, mirror)
        assert set(mirror) == {kept["id"], gone["id"]}
        client.delete(f"/api/events/{department}/{gone['id']}")
        new = create_event(client, department, title="새 일정")
        token = namespace["sync"](base, department, mirror, token)
        assert set(mirror) == {kept["id"], new["id"]}
        assert mirror[new["id"]]["title"] == "새 일정"
        forged = CursorCodec("not this server's").sync_token(
            SyncPoint(department, 0, datetime.now(UTC))
        )
        namespace["sync"](base, department, mirror, forged)  # 410: starts again
        assert set(mirror) == {kept["id"], new["id"]}


def test_a_migration_into_a_calendar_starts_its_history_afresh(
    tmp_path: Path, settings: Settings, storage: Storage, client: FlaskClient
) -> None:
    """The migration writes in batches, without change records: a token from before it is
    410, and a full sync after it has what it wrote."""
    dev = "550e8400-e29b-41d4-a716-446655440000"
    root = Path(__file__).resolve().parent.parent / "backend" / "data"
    assert migrate(settings, "--source", str(root))[0] == 0
    before = synced(client, dev, "sync=true")
    legacy = json.loads((root / "events.json").read_text(encoding="utf-8"))
    legacy[dev]["2024-02-01"] = [{"id": "a1b2c3d4-0000-4000-8000-0000000000ff", "title": "추가"}]
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "departments.json").write_text(
        (root / "departments.json").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (folder / "events.json").write_text(json.dumps(legacy, ensure_ascii=False), encoding="utf-8")

    assert migrate(settings, "--source", str(folder))[0] == 0

    assert_problem(client.get(f"/api/events/{dev}?sync_token={before[1]}"), 410)
    items, _ = synced(client, dev, "sync=true")
    assert "a1b2c3d4-0000-4000-8000-0000000000ff" in {i["id"] for i in items}
    assert len(items) == len(before[0]) + 1


def test_the_sweep_keeps_up_with_more_than_a_page_of_expired_bookkeeping(
    storage: Storage,
) -> None:
    expired = datetime.now(UTC) - timedelta(days=2)
    items = [
        {
            "id": f"#idempotency#old-{n}",
            "department_id": "#bookkeeping",
            "expires_at": int(expired.timestamp()),
            "event_date": expired.date().isoformat(),
        }
        for n in range(1_200)
    ]
    storage.batch_io().write(storage.events.table, items)

    assert storage.expiring.sweep() == 1_200
    assert storage.expiring.sweep() == 0
