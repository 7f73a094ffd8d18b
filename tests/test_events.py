"""Events: create, list in calendar order with date windows and cursors, get, update, delete."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.services import events
from tests.helpers import (
    SEED_EVENT,
    TIME_FORMS,
    assert_problem,
    create_department,
    create_event,
    settle,
)


@pytest.fixture
def department(client: FlaskClient) -> dict[str, Any]:
    return create_department(client, "개발팀")


def test_create_the_seed_event(client: FlaskClient, department: dict[str, Any]) -> None:
    response = client.post(f"/api/events/{department['id']}", json=SEED_EVENT)

    assert response.status_code == 201
    body = response.get_json()
    assert body["department_id"] == department["id"]
    assert body["event_date"] == "2024-01-25"
    assert body["title"] == "테스트 이벤트"
    assert body["time"] == "오후 3:00"
    assert body["start_time"] == "15:00"
    assert body["description"] is None
    assert body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/events/{department['id']}/{body['id']}"
    assert client.get(response.headers["Location"]).get_json() == body


@pytest.mark.parametrize(
    ("time_text", "start_time"),
    TIME_FORMS,
)
def test_time_is_kept_as_sent_with_start_time_read_from_it(
    client: FlaskClient, department: dict[str, Any], time_text: str | None, start_time: str | None
) -> None:
    body = create_event(client, department["id"], time=time_text)

    assert body["time"] == time_text
    assert body["start_time"] == start_time


def test_create_for_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.post("/api/events/no-such-department", json=SEED_EVENT), 404)


def test_list_for_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/events/no-such-department"), 404)


def test_list_of_a_department_without_events_is_empty(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    assert client.get(f"/api/events/{department['id']}").get_json() == {
        "items": [],
        "next_cursor": None,
    }


def test_list_orders_by_date_then_start_time_untimed_first_then_title(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    dept = department["id"]
    create_event(client, dept, event_date="2024-01-21", title="B", time="오전 9:00")
    create_event(client, dept, event_date="2024-01-20", title="점심", time="오후 12:30")
    create_event(client, dept, event_date="2024-01-20", title="회의", time="오전 9:30")
    create_event(client, dept, event_date="2024-01-20", title="워크숍")
    create_event(client, dept, event_date="2024-01-20", title="가나다", time="9:30 AM")
    create_event(client, dept, event_date="2024-01-19", title="Z", time="23:00")

    items = client.get(f"/api/events/{dept}").get_json()["items"]

    assert [(e["event_date"], e["start_time"], e["title"]) for e in items] == [
        ("2024-01-19", "23:00", "Z"),
        ("2024-01-20", None, "워크숍"),
        ("2024-01-20", "09:30", "가나다"),
        ("2024-01-20", "09:30", "회의"),
        ("2024-01-20", "12:30", "점심"),
        ("2024-01-21", "09:00", "B"),
    ]


def test_events_of_other_departments_never_show(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    other = create_department(client, "마케팅팀")
    create_event(client, other["id"], title="남의 일정")

    assert client.get(f"/api/events/{department['id']}").get_json()["items"] == []


@pytest.mark.slow
def test_pages_follow_calendar_order_across_crowded_days(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    dept = department["id"]
    expected = []
    # Days with more events than a page, and with the same start time, to test page edges.
    for day, count in [(1, 1), (2, 45), (3, 3), (4, 60), (5, 2)]:
        for n in range(count):
            hour = (n * 7) % 24
            time_text = None if n % 5 == 0 else f"{hour}:00"
            event = create_event(
                client, dept, event_date=f"2024-03-{day:02d}", title=f"일정 {n:03d}", time=time_text
            )
            expected.append(event)
    expected.sort(key=lambda e: (e["event_date"], e["start_time"] or "", e["title"], e["id"]))

    for limit in (1, 7, 50, 200):
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            query: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            body = client.get(f"/api/events/{dept}", query_string=query).get_json()
            assert len(body["items"]) <= limit
            seen += body["items"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert [e["id"] for e in seen] == [e["id"] for e in expected], limit


def test_from_to_window_is_inclusive(client: FlaskClient, department: dict[str, Any]) -> None:
    dept = department["id"]
    for day in ("2024-01-09", "2024-01-10", "2024-01-15", "2024-01-20", "2024-01-21"):
        create_event(client, dept, event_date=day, title=day)

    body = client.get(f"/api/events/{dept}?from=2024-01-10&to=2024-01-20").get_json()
    only_from = client.get(f"/api/events/{dept}?from=2024-01-20").get_json()
    only_to = client.get(f"/api/events/{dept}?to=2024-01-09").get_json()

    assert [e["event_date"] for e in body["items"]] == ["2024-01-10", "2024-01-15", "2024-01-20"]
    assert [e["event_date"] for e in only_from["items"]] == ["2024-01-20", "2024-01-21"]
    assert [e["event_date"] for e in only_to["items"]] == ["2024-01-09"]


@pytest.mark.parametrize(
    ("query", "dates"),
    [
        ("month=2024-01&from=2024-01-15", ["2024-01-15", "2024-01-31"]),
        ("month=2024-01&to=2024-01-10", ["2024-01-01"]),
        ("from=2024-01-20&to=2024-01-10", []),
        ("month=2024-02&from=2024-03-01", []),
    ],
)
def test_month_narrows_from_and_to_and_an_empty_window_is_empty(
    client: FlaskClient, department: dict[str, Any], query: str, dates: list[str]
) -> None:
    dept = department["id"]
    for day in ("2023-12-31", "2024-01-01", "2024-01-15", "2024-01-31", "2024-02-01"):
        create_event(client, dept, event_date=day, title=day)

    body = client.get(f"/api/events/{dept}?{query}").get_json()

    assert [e["event_date"] for e in body["items"]] == dates
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("month", "dates"),
    [
        ("2024-02", ["2024-02-01", "2024-02-29"]),
        ("2024-12", ["2024-12-31"]),
        ("2023-02", []),
    ],
)
def test_month_window(
    client: FlaskClient, department: dict[str, Any], month: str, dates: list[str]
) -> None:
    dept = department["id"]
    for day in ("2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01", "2024-12-31", "2025-01-01"):
        create_event(client, dept, event_date=day, title=day)

    body = client.get(f"/api/events/{dept}?month={month}").get_json()

    assert [e["event_date"] for e in body["items"]] == dates


def test_month_pages_with_cursor(client: FlaskClient, department: dict[str, Any]) -> None:
    dept = department["id"]
    for day in range(1, 29):
        create_event(client, dept, event_date=f"2024-02-{day:02d}", title=f"일정 {day}")
    create_event(client, dept, event_date="2024-03-01", title="다음 달")

    first = client.get(f"/api/events/{dept}?month=2024-02&limit=20").get_json()
    second = client.get(
        f"/api/events/{dept}?month=2024-02&limit=20&cursor={first['next_cursor']}"
    ).get_json()

    assert len(first["items"]) == 20
    assert len(second["items"]) == 8
    assert second["next_cursor"] is None


def test_list_is_one_department_read_and_a_single_query_on_the_date_index(
    client: FlaskClient, department: dict[str, Any], dynamodb: Any, settings: Settings
) -> None:
    create_event(client, department["id"])
    settle(dynamodb, settings, department["id"])  # a minute later
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    dynamodb.meta.events.register("provide-client-params.dynamodb", record)
    try:
        body = client.get(f"/api/events/{department['id']}?month=2024-01").get_json()
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb", record)

    assert len(body["items"]) == 1
    assert [name for name, _ in calls] == ["GetItem", "Query"]
    # The department is read from its own item (strongly consistent, a few attributes):
    # a department that is gone is 404 even while the index still holds its rows.
    assert calls[0][1]["ConsistentRead"] is True
    assert "ProjectionExpression" in calls[0][1]
    assert calls[1][1]["IndexName"] == "department-date-index"


def test_get_unknown_event_is_404(client: FlaskClient, department: dict[str, Any]) -> None:
    assert_problem(client.get(f"/api/events/{department['id']}/nope"), 404)


def test_event_is_not_found_under_another_department(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"])
    other = create_department(client, "마케팅팀")

    assert_problem(client.get(f"/api/events/{other['id']}/{event['id']}"), 404)


def test_patch_event(client: FlaskClient, department: dict[str, Any]) -> None:
    event = create_event(client, department["id"], time="오후 2:00", description="주간 회의")
    url = f"/api/events/{department['id']}/{event['id']}"

    response = client.patch(
        url, json={"time": "오전 10:00", "title": " 새 제목 ", "description": None}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["time"] == "오전 10:00"
    assert body["start_time"] == "10:00"
    assert body["title"] == "새 제목"
    assert body["description"] is None
    assert body["event_date"] == event["event_date"]
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert client.get(url).get_json() == body


def test_patch_event_date_moves_it_in_the_calendar(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], event_date="2024-01-20")
    client.patch(f"/api/events/{department['id']}/{event['id']}", json={"event_date": "2024-02-03"})

    dept = department["id"]
    assert client.get(f"/api/events/{dept}?month=2024-01").get_json()["items"] == []
    assert len(client.get(f"/api/events/{dept}?month=2024-02").get_json()["items"]) == 1


def test_patch_removing_time_clears_start_time(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], time="15:00")

    body = client.patch(
        f"/api/events/{department['id']}/{event['id']}", json={"time": None}
    ).get_json()

    assert body["time"] is None
    assert body["start_time"] is None


def test_patch_unknown_event_is_404(client: FlaskClient, department: dict[str, Any]) -> None:
    assert_problem(client.patch(f"/api/events/{department['id']}/nope", json={"title": "x"}), 404)


def test_event_if_match_and_if_none_match(client: FlaskClient, department: dict[str, Any]) -> None:
    event = create_event(client, department["id"])
    url = f"/api/events/{department['id']}/{event['id']}"

    assert client.get(url, headers={"If-None-Match": '"1"'}).status_code == 304
    assert client.patch(url, json={"title": "v2"}, headers={"If-Match": '"1"'}).status_code == 200
    assert_problem(client.patch(url, json={"title": "lost"}, headers={"If-Match": '"1"'}), 412)
    assert_problem(client.delete(url, headers={"If-Match": '"1"'}), 412)
    assert client.get(url).get_json()["title"] == "v2"
    assert client.delete(url, headers={"If-Match": '"2"'}).status_code == 204


def test_delete_event(client: FlaskClient, department: dict[str, Any]) -> None:
    event = create_event(client, department["id"])
    url = f"/api/events/{department['id']}/{event['id']}"

    response = client.delete(url)

    assert response.status_code == 204
    assert_problem(client.get(url), 404)
    assert_problem(client.delete(url), 404)


@pytest.mark.slow
def test_a_date_holds_at_most_200_events_of_a_department(
    client: FlaskClient, department: dict[str, Any], storage: Any
) -> None:
    for n in range(200):
        events.create_event(
            storage, department["id"], {"event_date": "2024-05-01", "title": f"일정 {n}"}
        )
    other = create_event(client, department["id"], event_date="2024-05-02")

    full = client.post(
        f"/api/events/{department['id']}", json={"event_date": "2024-05-01", "title": "하나 더"}
    )
    moved = client.patch(
        f"/api/events/{department['id']}/{other['id']}", json={"event_date": "2024-05-01"}
    )
    first = client.get(f"/api/events/{department['id']}?limit=1").get_json()

    assert assert_problem(full, 409)["type"] == "/problems/day-full"
    assert assert_problem(moved, 409)["type"] == "/problems/day-full"
    assert len(first["items"]) == 1
