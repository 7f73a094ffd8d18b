"""Concurrent writers: unique names, If-Match and departments without orphans hold when
requests race, on moto as it is and in the lane that behaves like AWS (transaction
conflicts, throttling, index lag; see ``aws_lane``). Never a 500."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from flask import Flask

from backend.config import Settings
from backend.storage import Storage
from tests.aws_lane import AwsBehaviour
from tests.helpers import create_department, local_aws_client

WRITERS = 16
ROUNDS_AT_ONCE = 5


@pytest.fixture(autouse=True, params=["moto", pytest.param("aws", marks=pytest.mark.slow)])
def lane(request: Any, dynamodb: Any, settings: Settings) -> Iterator[AwsBehaviour | None]:
    """Each test runs twice: on moto as it is, then with AWS's behaviours injected."""
    if request.param == "moto":
        yield None
        return
    behaviour = AwsBehaviour(
        dynamodb, str(settings.endpoint_url), conflict_rate=0.2, throttle_rate=0.1, lag=3
    )
    with behaviour.installed():
        yield behaviour


def _busy_or(expected: int) -> set[int]:
    """A loser's answer: ``expected``, or 503 when the table stayed busy past the retries."""
    return {expected, 503}


def _race(app: Flask, send: object) -> Counter[int]:
    """Run ``send(client)`` from WRITERS threads released at the same moment."""
    barrier = Barrier(WRITERS)

    def one(_: int) -> int:
        client = app.test_client()
        barrier.wait()
        return int(send(client))  # type: ignore[operator]

    with ThreadPoolExecutor(WRITERS) as pool:
        return Counter(pool.map(one, range(WRITERS)))


def _set_up_department(app: Flask, name: str) -> dict[str, Any]:
    """A department to race over, created as a client would: a 503 (the lane's injected
    throttling outlasting the retries) is retried after its Retry-After."""
    client = app.test_client()
    for _ in range(10):
        response = client.post("/api/departments", json={"name": name})
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("Retry-After", "1")) / 10)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _read(client: Any, url: str) -> Any:
    """A GET as a client makes it: a 503 (throttling past the retries) is asked again."""
    for _ in range(10):
        response = client.get(url)
        if response.status_code != 503:
            return response
        time.sleep(0.1)
    return response


def test_concurrent_creates_of_one_name_give_exactly_one_201(app: Flask) -> None:
    statuses = _race(app, lambda c: c.post("/api/departments", json={"name": "동시팀"}).status_code)

    assert statuses[201] == 1
    assert set(statuses) - {201} <= _busy_or(409)
    items = app.test_client().get("/api/departments").get_json()["items"]
    assert [d["name"] for d in items] == ["동시팀"]


def test_concurrent_renames_to_one_name_give_exactly_one_200(app: Flask) -> None:
    client = app.test_client()
    ids = [create_department(client, f"팀{n:02d}")["id"] for n in range(WRITERS)]
    queue = iter(ids)

    statuses = _race(
        app,
        lambda c: c.patch(f"/api/departments/{next(queue)}", json={"name": "새이름"}).status_code,
    )

    assert statuses[200] == 1
    assert set(statuses) - {200} <= _busy_or(409)
    names = [d["name"] for d in client.get("/api/departments").get_json()["items"]]
    assert names.count("새이름") == 1
    assert len(names) == WRITERS


def test_concurrent_patches_with_one_if_match_give_exactly_one_200(app: Flask) -> None:
    client = app.test_client()
    department = create_department(client, "개발팀")
    url = f"/api/departments/{department['id']}"
    counter = iter(range(WRITERS))

    statuses = _race(
        app,
        lambda c: (
            c.patch(
                url, json={"description": f"writer {next(counter)}"}, headers={"If-Match": '"1"'}
            ).status_code
        ),
    )

    assert statuses[200] == 1
    assert set(statuses) - {200} <= _busy_or(412)
    assert client.get(url).get_json()["version"] == 2


def test_concurrent_event_patches_with_one_if_match_give_exactly_one_200(app: Flask) -> None:
    client = app.test_client()
    department = create_department(client, "개발팀")
    event = client.post(
        f"/api/events/{department['id']}", json={"event_date": "2024-01-20", "title": "회의"}
    ).get_json()
    url = f"/api/events/{department['id']}/{event['id']}"
    counter = iter(range(WRITERS))

    statuses = _race(
        app,
        lambda c: (
            c.patch(
                url, json={"title": f"제목 {next(counter)}"}, headers={"If-Match": '"1"'}
            ).status_code
        ),
    )

    assert statuses[200] == 1
    assert set(statuses) - {200} <= _busy_or(412)


def test_concurrent_patches_without_if_match_all_apply(app: Flask) -> None:
    client = app.test_client()
    department = create_department(client, "개발팀")
    url = f"/api/departments/{department['id']}"
    counter = iter(range(WRITERS))

    statuses = _race(
        app, lambda c: c.patch(url, json={"description": f"w{next(counter)}"}).status_code
    )

    assert set(statuses) <= {200, 503}
    assert client.get(url).get_json()["version"] == statuses[200] + 1


def test_deleting_a_department_while_events_are_created_leaves_no_orphan(
    app: Flask, settings: Settings, lane: AwsBehaviour | None
) -> None:
    """Each round races a DELETE of a department with a create of an event in it: either
    the event is refused (404) and the department gone, or the event is in and the
    department stays (409), never an event without its department."""
    client = app.test_client()
    # What the table holds, read without the lane's injected faults.
    truth = Storage(
        local_aws_client("dynamodb", str(settings.endpoint_url)),
        settings.departments_table,
        settings.events_table,
    )

    def one_round(round_: int) -> tuple[int, int]:
        department = _set_up_department(app, f"경쟁팀 {round_}")
        barrier = Barrier(2)

        def delete(c: Any, dept: str = department["id"], b: Barrier = barrier) -> int:
            b.wait()
            return int(c.delete(f"/api/departments/{dept}").status_code)

        def create(c: Any, dept: str = department["id"], b: Barrier = barrier) -> int:
            b.wait()
            body = {"event_date": "2024-01-20", "title": "경주"}
            return int(c.post(f"/api/events/{dept}", json=body).status_code)

        with ThreadPoolExecutor(2) as pool:
            deleted = pool.submit(delete, app.test_client())
            created = pool.submit(create, app.test_client())
            outcome = (deleted.result(), created.result())
        exists = _read(client, f"/api/departments/{department['id']}").status_code == 200
        events = _read(client, f"/api/events/{department['id']}")
        assert 500 not in outcome, outcome
        if not exists:
            assert events.status_code == 404  # and no event of it can be read or listed
            assert outcome[1] != 201 or outcome[0] == 204
        if outcome[1] == 201:
            assert exists  # the event's department is still there...
            # ...and counts it (a strongly consistent read; the index may still lag).
            assert truth.events.calendar_state(department["id"]).event_count == 1
        return outcome

    # Rounds are independent (a department each): several run at once, so the backoff
    # sleeps of one overlap the work of others.
    with ThreadPoolExecutor(ROUNDS_AT_ONCE) as rounds:
        outcomes = Counter(rounds.map(one_round, range(100 if lane else 20)))
    assert set(outcomes) <= {(204, 404), (409, 201), (204, 503), (503, 201), (503, 404), (503, 503)}


def test_no_event_outlives_its_department_in_the_table(app: Flask, settings: Settings) -> None:
    """After racing deletes and creates, every stored event's department exists."""

    def one_round(round_: int) -> None:
        department = _set_up_department(app, f"표본팀 {round_}")
        with ThreadPoolExecutor(4) as pool:
            for n in range(3):
                pool.submit(
                    app.test_client().post,
                    f"/api/events/{department['id']}",
                    json={"event_date": "2024-01-20", "title": f"일정 {n}"},
                )
            pool.submit(
                app.test_client().delete, f"/api/departments/{department['id']}?cascade=true"
            )

    with ThreadPoolExecutor(ROUNDS_AT_ONCE) as rounds:
        list(rounds.map(one_round, range(10)))
    from backend.storage.dynamo import from_item  # noqa: PLC0415

    storage = Storage(  # what the table holds, read without the lane's injected faults
        local_aws_client("dynamodb", str(settings.endpoint_url)),
        settings.departments_table,
        settings.events_table,
    )
    stored = [from_item(i) for i in storage.batch_io().scan_raw(storage.events.table)]
    orphans = [
        e
        for e in stored
        # bookkeeping (change records, series partitions) is keyed otherwise
        if not str(e["id"]).startswith("#")
        and not str(e["department_id"]).startswith("#")
        and not storage.departments.exists(str(e["department_id"]))
    ]
    assert orphans == []


# -- recurring events -------------------------------------------------------------------------


def _truth(settings: Settings) -> Storage:
    """The tables as they are, read without the lane's injected faults."""
    return Storage(
        local_aws_client("dynamodb", str(settings.endpoint_url)),
        settings.departments_table,
        settings.events_table,
    )


def _assert_families_whole(truth: Storage, department_id: str) -> None:
    """Every changed instance has its series and is one its series knows; the department's
    counts are exact."""
    from backend.storage.dynamo import from_item  # noqa: PLC0415

    stored = [from_item(i) for i in truth.batch_io().scan_raw(truth.events.table)]
    items = [
        e
        for e in stored
        if e["department_id"] == department_id and not str(e["id"]).startswith("#")
    ]
    every = {s.event.id: s for s in truth.series.all(department_id)}
    changed = {
        str(e["id"]): str(e["recurring_event_id"]) for e in items if "recurring_event_id" in e
    }
    for ident, series_id in changed.items():
        assert series_id in every, f"{ident} outlived its series"
        assert ident.rsplit("_", 1)[1] in {d.replace("-", "") for d in every[series_id].changed}
    for series in every.values():
        for day in series.changed:
            assert f"{series.event.id}_{day.replace('-', '')}" in changed
    state = truth.events.calendar_state(department_id)
    assert state.series_count == len(every)
    assert state.event_count == len(items)


def _series(app: Flask, department_id: str) -> str:
    client = app.test_client()
    body = {
        "event_date": "2024-01-01",
        "title": "주간 회의",
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=40"],
    }
    for _ in range(10):
        response = client.post(f"/api/events/{department_id}", json=body)
        if response.status_code != 503:
            break
        time.sleep(0.1)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def test_instance_changes_racing_a_series_delete_leave_no_orphan(
    app: Flask, settings: Settings, lane: AwsBehaviour | None
) -> None:
    """Changes to instances race the deletion of their series: whichever wins, no changed
    instance outlives its series, and the counts stay exact."""
    truth = _truth(settings)

    def one_round(round_: int) -> tuple[int, ...]:
        department = _set_up_department(app, f"반복 경쟁팀 {round_}")["id"]
        series = _series(app, department)
        barrier = Barrier(4)

        def patch(day: int) -> int:
            barrier.wait()
            url = f"/api/events/{department}/{series}_202401{day:02d}"
            return int(app.test_client().patch(url, json={"title": f"변경 {day}"}).status_code)

        def delete() -> int:
            barrier.wait()
            return int(app.test_client().delete(f"/api/events/{department}/{series}").status_code)

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(patch, d) for d in (3, 4, 5)] + [pool.submit(delete)]
            outcome = tuple(f.result() for f in futures)
        assert 500 not in outcome, outcome
        assert set(outcome[:3]) <= {200, 404, 409, 503}
        _assert_families_whole(truth, department)
        return outcome

    with ThreadPoolExecutor(ROUNDS_AT_ONCE) as rounds:
        outcomes = list(rounds.map(one_round, range(20 if lane else 8)))
    assert any(o[3] == 204 for o in outcomes)


def test_concurrent_changes_to_instances_of_one_series_all_apply(
    app: Flask, settings: Settings, lane: AwsBehaviour | None
) -> None:
    """Without If-Match, changes to different instances of one series all apply, one
    family version after another (a cancelled transaction is tried again)."""
    department = _set_up_department(app, "반복 동시팀")["id"]
    series = _series(app, department)

    def send(client: Any) -> int:
        day = 1 + threading_index(client)
        url = f"/api/events/{department}/{series}_202401{day:02d}"
        return int(client.patch(url, json={"location": f"{day}호실"}).status_code)

    statuses = _race_indexed(app, send)
    assert 500 not in statuses
    assert statuses[200] + statuses[503] == WRITERS
    listed = _read(app.test_client(), f"/api/events/{department}?month=2024-01&limit=50")
    located = {i["event_date"]: i["location"] for i in listed.get_json()["items"]}
    applied = [d for d in range(1, WRITERS + 1) if located[f"2024-01-{d:02d}"] == f"{d}호실"]
    assert len(applied) == statuses[200]
    _assert_families_whole(_truth(settings), department)


def test_concurrent_instance_patches_with_one_if_match_give_exactly_one_200(app: Flask) -> None:
    department = _set_up_department(app, "반복 조건팀")["id"]
    series = _series(app, department)
    etag = _read(app.test_client(), f"/api/events/{department}/{series}").headers["ETag"]

    def send(client: Any) -> int:
        day = 1 + threading_index(client)
        url = f"/api/events/{department}/{series}_202401{day:02d}"
        return int(client.patch(url, json={"title": "x"}, headers={"If-Match": etag}).status_code)

    statuses = _race_indexed(app, send)
    assert statuses[200] == 1, statuses
    assert statuses[200] + statuses[412] + statuses[503] == WRITERS


_INDEX = threading.local()


def threading_index(_: Any) -> int:
    """Which of the racing writers this thread is (0 .. WRITERS - 1)."""
    return int(_INDEX.n)


def _race_indexed(app: Flask, send: Any) -> Counter[int]:
    barrier = Barrier(WRITERS)

    def one(n: int) -> int:
        _INDEX.n = n
        client = app.test_client()
        barrier.wait()
        return int(send(client))

    with ThreadPoolExecutor(WRITERS) as pool:
        return Counter(pool.map(one, range(WRITERS)))
