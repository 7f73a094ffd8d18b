"""calendar.md (v1.1) through the HTTP layer: event fields, windows, search, list ETags and
idempotent creates. The iCalendar feed and import are in test_ics.py."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import assert_problem, create_department, create_event


@pytest.fixture
def department(client: FlaskClient) -> dict[str, Any]:
    return create_department(client, "개발팀")


def _list(client: FlaskClient, department_id: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/events/{department_id}{query}")
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


# -- event fields ---------------------------------------------------------------------------


def test_v1_fields_are_unchanged_and_the_new_ones_are_added(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], time="오후 3:00")

    assert list(event)[:10] == [
        "id",
        "department_id",
        "event_date",
        "title",
        "time",
        "start_time",
        "description",
        "created_at",
        "updated_at",
        "version",
    ]
    assert (event["end_date"], event["end_time"], event["location"]) == (None, None, None)
    assert (event["time"], event["start_time"]) == ("오후 3:00", "15:00")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("14:00~15:00", "14:00", "15:00"),
        ("오후 2시-3시", "14:00", "15:00"),
        ("2:00 PM - 3:30 PM", "14:00", "15:30"),
        ("3-4pm", "15:00", "16:00"),
        ("오후 3:00", "15:00", None),
        ("3시", "15:00", None),
        ("3시 30분", "15:30", None),
        ("6시", "18:00", None),
        ("7시", "07:00", None),
        ("12시", "12:00", None),
        ("오전 3시", "03:00", None),
        ("종일", None, None),
    ],
)
def test_start_and_end_are_read_from_the_time_text(
    client: FlaskClient, department: dict[str, Any], text: str, start: str, end: str | None
) -> None:
    event = create_event(client, department["id"], time=text)

    assert (event["time"], event["start_time"], event["end_time"]) == (text, start, end)


def test_an_end_time_sent_wins_over_the_text(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], time="14:00~15:00", end_time="16:30")

    assert (event["start_time"], event["end_time"]) == ("14:00", "16:30")


def test_changing_the_time_text_reads_the_end_again(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], time="14:00~15:00")
    url = f"/api/events/{department['id']}/{event['id']}"

    changed = client.patch(url, json={"time": "오전 9시-10시 30분"}).get_json()
    kept = client.patch(url, json={"title": "새 제목"}).get_json()

    assert (changed["start_time"], changed["end_time"]) == ("09:00", "10:30")
    assert (kept["start_time"], kept["end_time"]) == ("09:00", "10:30")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time": "15:00", "end_time": "14:00"}, "end_time"),
        ({"time": "15:00", "end_time": "15:00"}, "end_time"),
        ({"end_time": "25:00"}, "end_time"),
        ({"end_time": "3pm"}, "end_time"),
        ({"end_date": "2024-01-19"}, "end_date"),
        ({"end_date": "2024-02-21"}, "end_date"),
        ({"end_date": "2024-02-30"}, "end_date"),
        ({"end_date": "20240125"}, "end_date"),
        ({"location": "a" * 201}, "location"),
        ({"location": "첫 줄\n둘째 줄"}, "location"),
        ({"location": 7}, "location"),
    ],
)
def test_broken_rules_of_the_new_fields_are_422(
    client: FlaskClient, department: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.post(
        f"/api/events/{department['id']}",
        json={"event_date": "2024-01-20", "title": "워크숍", **body},
    )

    assert_problem(response, 422, field=field)


def test_an_end_time_is_free_on_a_multi_day_event(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(
        client, department["id"], time="15:00", end_date="2024-01-22", end_time="12:00"
    )

    assert (event["end_date"], event["start_time"], event["end_time"]) == (
        "2024-01-22",
        "15:00",
        "12:00",
    )


def test_an_event_may_last_up_to_31_days_after_its_start(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], end_date="2024-02-20")

    assert event["end_date"] == "2024-02-20"


def test_location_is_trimmed_and_korean_reads_back(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], location="  본사 3층 회의실, 판교  ")
    url = f"/api/events/{department['id']}/{event['id']}"

    assert event["location"] == "본사 3층 회의실, 판교"
    assert "본사 3층".encode() in client.get(url).data
    assert client.patch(url, json={"location": None}).get_json()["location"] is None


# -- windows ---------------------------------------------------------------------------------


def test_a_multi_day_event_appears_in_every_window_it_overlaps(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    workshop = create_event(
        client, department["id"], event_date="2024-01-30", end_date="2024-02-02", title="워크숍"
    )
    create_event(client, department["id"], event_date="2024-01-10", title="1월 회의")
    create_event(client, department["id"], event_date="2024-02-05", title="2월 회의")

    january = _list(client, department["id"], "?month=2024-01")
    february = _list(client, department["id"], "?month=2024-02")
    one_day = _list(client, department["id"], "?from=2024-02-02&to=2024-02-02")
    after = _list(client, department["id"], "?from=2024-02-03&to=2024-02-28")

    assert [e["title"] for e in january] == ["1월 회의", "워크숍"]
    assert [e["title"] for e in february] == ["워크숍", "2월 회의"]
    assert [e["id"] for e in one_day] == [workshop["id"]]
    assert [e["title"] for e in after] == ["2월 회의"]


def test_an_event_that_started_31_days_before_the_window_is_found(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(client, department["id"], event_date="2024-01-01", end_date="2024-02-01")

    assert len(_list(client, department["id"], "?month=2024-02")) == 1


def test_pages_of_a_window_with_multi_day_events_neither_overlap_nor_skip(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    for day in range(20, 32):
        create_event(
            client,
            department["id"],
            event_date=f"2024-01-{day:02d}",
            end_date="2024-02-03",
            title=f"일정 {day}",
        )
    seen: list[str] = []
    cursor = None
    while True:
        query = "?month=2024-02&limit=5" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"/api/events/{department['id']}{query}").get_json()
        seen += [e["title"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == [f"일정 {day}" for day in range(20, 32)]


# -- search ----------------------------------------------------------------------------------


def test_search_looks_in_title_description_and_location_inside_the_window(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    dept = department["id"]
    create_event(client, dept, title="Weekly SYNC", event_date="2024-01-10")
    create_event(client, dept, title="점심", description="sync 이후 점심", event_date="2024-01-11")
    create_event(client, dept, title="출장", location="Sync Tower 12층", event_date="2024-01-12")
    create_event(client, dept, title="팀 회의", event_date="2024-01-13")
    create_event(client, dept, title="sync 2월", event_date="2024-02-01")

    found = _list(client, dept, "?month=2024-01&q=sync")
    korean = _list(client, dept, "?q=%ED%9A%8C%EC%9D%98")  # 회의

    assert [e["title"] for e in found] == ["Weekly SYNC", "점심", "출장"]
    assert [e["title"] for e in korean] == ["팀 회의"]
    assert _list(client, dept, "?q=없는말") == []


def test_search_pages_with_a_cursor_bound_to_the_search(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    for n in range(6):
        create_event(client, department["id"], title=f"sync {n}", event_date=f"2024-01-0{n + 1}")
        create_event(client, department["id"], title=f"other {n}", event_date=f"2024-01-0{n + 1}")
    first = client.get(f"/api/events/{department['id']}?q=sync&limit=4").get_json()
    second = client.get(
        f"/api/events/{department['id']}?q=sync&limit=4&cursor={first['next_cursor']}"
    ).get_json()
    elsewhere = client.get(
        f"/api/events/{department['id']}?q=other&limit=4&cursor={first['next_cursor']}"
    )

    assert [e["title"] for e in first["items"] + second["items"]] == [f"sync {n}" for n in range(6)]
    assert second["next_cursor"] is None
    assert_problem(elsewhere, 400, field="cursor")


def test_an_empty_search_is_400(client: FlaskClient, department: dict[str, Any]) -> None:
    assert_problem(client.get(f"/api/events/{department['id']}?q="), 400, field="q")


# -- list ETags ------------------------------------------------------------------------------


def test_the_list_etag_changes_with_every_event_change_and_gives_304(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    url = f"/api/events/{department['id']}"
    empty = client.get(url).headers["ETag"]
    event = create_event(client, department["id"])
    created = client.get(url + "?month=2024-01").headers["ETag"]
    client.patch(f"{url}/{event['id']}", json={"title": "바뀐 제목"})
    changed = client.get(url).headers["ETag"]

    assert len({empty, created, changed}) == 3
    assert client.get(url, headers={"If-None-Match": changed}).status_code == 304
    assert client.get(url + "?month=2024-01", headers={"If-None-Match": changed}).status_code == 304
    assert client.get(url, headers={"If-None-Match": created}).status_code == 200
    client.delete(f"{url}/{event['id']}")
    assert client.get(url, headers={"If-None-Match": changed}).status_code == 200


def test_a_department_change_does_not_change_the_calendar_etag(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    url = f"/api/events/{department['id']}"
    before = client.get(url).headers["ETag"]
    client.patch(f"/api/departments/{department['id']}", json={"description": "새 설명"})

    assert client.get(url, headers={"If-None-Match": before}).status_code == 304


def test_the_list_of_an_unknown_department_is_404_even_with_an_etag(client: FlaskClient) -> None:
    assert_problem(client.get("/api/events/nope", headers={"If-None-Match": "*"}), 404)


# -- idempotent creates ----------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_response_and_create_nothing(
    client: FlaskClient,
) -> None:
    headers = {"Idempotency-Key": "b0c8d4a2-5f1e-4c3b-9a7d-2e6f8a1c0b9d"}
    body = {"name": "QA팀", "description": "품질 보증"}

    first = client.post("/api/departments", json=body, headers=headers)
    again = client.post("/api/departments", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert len(client.get("/api/departments").get_json()["items"]) == 1


def test_event_creates_are_idempotent_too(client: FlaskClient, department: dict[str, Any]) -> None:
    headers = {"Idempotency-Key": "event-key-1"}
    body = {"event_date": "2024-01-20", "title": "팀 회의", "time": "오후 2시"}
    url = f"/api/events/{department['id']}"

    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=dict(reversed(body.items())), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(_list(client, department["id"])) == 1


def test_the_same_key_with_another_body_is_422(client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "key-2"}
    client.post("/api/departments", json={"name": "QA팀"}, headers=headers)

    body = assert_problem(
        client.post("/api/departments", json={"name": "다른팀"}, headers=headers), 422
    )

    assert body["type"] == "/problems/idempotency-key-reused"
    assert len(client.get("/api/departments").get_json()["items"]) == 1


def test_keys_are_per_route(client: FlaskClient, department: dict[str, Any]) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    other = create_department(client, "마케팅팀")
    body = {"event_date": "2024-01-20", "title": "회의"}

    one = client.post(f"/api/events/{department['id']}", json=body, headers=headers)
    two = client.post(f"/api/events/{other['id']}", json=body, headers=headers)

    assert one.status_code == two.status_code == 201
    assert one.get_json()["id"] != two.get_json()["id"]


def test_a_failed_create_does_not_use_up_its_key(client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    create_department(client, "QA팀")
    taken = client.post("/api/departments", json={"name": "QA팀"}, headers=headers)
    client.delete(f"/api/departments/{client.get('/api/departments').get_json()['items'][0]['id']}")

    retried = client.post("/api/departments", json={"name": "QA팀"}, headers=headers)

    assert taken.status_code == 409
    assert retried.status_code == 201


def test_a_key_still_being_processed_is_409(client: FlaskClient, storage: Any) -> None:
    from backend.storage.idempotency import fingerprint  # noqa: PLC0415

    scope = "POST /api/departments"
    body = {"name": "QA팀"}
    claim = storage.idempotency.claim(scope, "busy-key", fingerprint(scope, body))
    assert claim.token is not None  # a request that is running now

    response = client.post("/api/departments", json=body, headers={"Idempotency-Key": "busy-key"})

    assert assert_problem(response, 409)["type"] == "/problems/idempotency-key-in-use"
    assert client.get("/api/departments").get_json()["items"] == []


@pytest.mark.parametrize("key", ["", "x" * 256, "키", "tab\there"])
def test_a_malformed_key_is_400(client: FlaskClient, key: str) -> None:
    response = client.post(
        "/api/departments", json={"name": "QA팀"}, headers={"Idempotency-Key": key}
    )

    assert_problem(response, 400, field="Idempotency-Key")


def test_idempotency_records_are_bookkeeping_never_events(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    client.post(
        f"/api/events/{department['id']}",
        json={"event_date": "2024-01-20", "title": "회의"},
        headers={"Idempotency-Key": "k"},
    )

    assert [e["title"] for e in _list(client, department["id"])] == ["회의"]
    assert_problem(client.get("/api/events/%23bookkeeping"), 404)


def test_a_list_reaches_back_before_its_window_only_once_a_multi_day_event_exists(
    client: FlaskClient, department: dict[str, Any], dynamodb: Any
) -> None:
    queries: list[dict[str, Any]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        # lists of the index, not the cap's count nor the change records
        if model.name == "Query" and params.get("Select") != "COUNT" and "IndexName" in params:
            queries.append(params)

    dynamodb.meta.events.register("provide-client-params.dynamodb", record, unique_id="reach")
    try:
        create_event(client, department["id"], event_date="2024-02-10")
        _list(client, department["id"], "?month=2024-02")
        create_event(client, department["id"], event_date="2024-01-30", end_date="2024-02-01")
        _list(client, department["id"], "?month=2024-02")
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb", unique_id="reach")

    starts = [q["ExpressionAttributeValues"][":from"]["S"] for q in queries]
    assert starts == ["2024-02-01", "2024-01-01"]  # 31 days before the window, once needed
