"""Concurrent writers: unique names and If-Match hold when requests race."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from flask import Flask

from tests.helpers import create_department

WRITERS = 16


def _race(app: Flask, send: object) -> Counter[int]:
    """Run ``send(client)`` from WRITERS threads released at the same moment."""
    barrier = Barrier(WRITERS)

    def one(_: int) -> int:
        client = app.test_client()
        barrier.wait()
        return int(send(client))  # type: ignore[operator]

    with ThreadPoolExecutor(WRITERS) as pool:
        return Counter(pool.map(one, range(WRITERS)))


def test_concurrent_creates_of_one_name_give_exactly_one_201(app: Flask) -> None:
    statuses = _race(app, lambda c: c.post("/api/departments", json={"name": "동시팀"}).status_code)

    assert statuses == Counter({201: 1, 409: WRITERS - 1})
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

    assert statuses == Counter({200: 1, 409: WRITERS - 1})
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

    assert statuses == Counter({200: 1, 412: WRITERS - 1})
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

    assert statuses == Counter({200: 1, 412: WRITERS - 1})


def test_concurrent_patches_without_if_match_all_apply(app: Flask) -> None:
    client = app.test_client()
    department = create_department(client, "개발팀")
    url = f"/api/departments/{department['id']}"
    counter = iter(range(WRITERS))

    statuses = _race(
        app, lambda c: c.patch(url, json={"description": f"w{next(counter)}"}).status_code
    )

    assert statuses == Counter({200: WRITERS})
    assert client.get(url).get_json()["version"] == WRITERS + 1
