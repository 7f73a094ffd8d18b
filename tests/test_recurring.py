"""Recurring events through HTTP (``recurrence.md``, "Recurring events"): series, their
instances, changes to one, to this and the following ones and to all, and the bounds."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.storage import Storage
from tests.helpers import assert_problem, create_department, create_event

WEEKLY = ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5"]


def series(client: FlaskClient, department_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "event_date": "2024-01-01",
        "title": "주간 회의",
        "time": "오전 10시",
        "recurrence": WEEKLY,
        **fields,
    }
    response = client.post(f"/api/events/{department_id}", json=body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def listed(client: FlaskClient, department_id: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/events/{department_id}?{query}")
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def dates(items: list[dict[str, Any]]) -> list[str]:
    return [item["event_date"] for item in items]


@pytest.fixture
def department(client: FlaskClient) -> str:
    return str(create_department(client)["id"])


def test_a_series_is_created_served_and_expanded_in_lists(
    client: FlaskClient, department: str
) -> None:
    created = series(client, department)
    assert created["recurrence"] == WEEKLY
    assert created["event_date"] == "2024-01-01"
    assert "recurring_event_id" not in created
    got = client.get(f"/api/events/{department}/{created['id']}")
    assert got.status_code == 200
    assert got.get_json() == created
    assert got.headers["ETag"] == f'"{created["version"]}"'

    items = listed(client, department, "month=2024-01")
    assert dates(items) == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"]
    first = items[0]
    assert first["id"] == f"{created['id']}_20240101"
    assert first["recurring_event_id"] == created["id"]
    assert first["original_date"] == "2024-01-01"
    assert first["start_time"] == "10:00"
    assert "recurrence" not in first
    # A plain event keeps exactly its v1.1 shape.
    single = create_event(client, department, event_date="2024-01-10")
    assert not {"recurrence", "recurring_event_id", "original_date"} & set(single)
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-08", "2024-01-10", "2024-01-15", "2024-01-22", "2024-01-29",
    ]  # fmt: skip


def test_an_instance_is_served_by_its_id_and_unknown_dates_are_404(
    client: FlaskClient, department: str
) -> None:
    created = series(client, department)
    instance = client.get(f"/api/events/{department}/{created['id']}_20240115")
    assert instance.status_code == 200
    body = instance.get_json()
    assert (body["event_date"], body["original_date"]) == ("2024-01-15", "2024-01-15")
    assert instance.headers["ETag"] == f'"{created["version"]}"'
    assert_problem(client.get(f"/api/events/{department}/{created['id']}_20240116"), 404)
    assert_problem(client.get(f"/api/events/{department}/{created['id']}_20240205"), 404)


def test_expand_false_lists_each_series_once_with_its_changed_instances(
    client: FlaskClient, department: str
) -> None:
    created = series(client, department)
    moved = client.patch(
        f"/api/events/{department}/{created['id']}_20240108", json={"event_date": "2024-01-09"}
    )
    assert moved.status_code == 200
    items = listed(client, department, "month=2024-01&expand=false")
    assert [i["id"] for i in items] == [created["id"], f"{created['id']}_20240108"]
    assert items[0]["recurrence"] == WEEKLY
    assert items[1]["event_date"] == "2024-01-09"
    # Not in February at all: a series whose occurrences fall outside is not listed.
    assert listed(client, department, "month=2024-02&expand=false") == []


def test_limit_and_cursors_walk_across_instances(client: FlaskClient, department: str) -> None:
    series(client, department, recurrence=["RRULE:FREQ=DAILY;COUNT=30"])
    create_event(client, department, event_date="2024-01-05", title="가 회의")
    seen: list[str] = []
    url = f"/api/events/{department}?month=2024-01&limit=7"
    while url:
        body = client.get(url).get_json()
        assert len(body["items"]) <= 7
        seen.extend(f"{i['event_date']} {i['title']}" for i in body["items"])
        url = body["next_cursor"] and (
            f"/api/events/{department}?month=2024-01&limit=7&cursor={body['next_cursor']}"
        )
    assert len(seen) == 31
    assert seen == sorted(seen)
    assert "2024-01-05 가 회의" in seen


def test_a_series_without_end_lists_any_window(client: FlaskClient, department: str) -> None:
    series(client, department, recurrence=["RRULE:FREQ=MONTHLY;BYDAY=-1FR"])
    items = listed(client, department, "from=2031-01-01&to=2031-03-31")
    assert dates(items) == ["2031-01-31", "2031-02-28", "2031-03-28"]
    far = listed(client, department, "from=9999-12-01&to=9999-12-31")
    assert dates(far) == ["9999-12-31"]


def test_patch_one_instance_moves_only_it_and_changes_the_family_etag(
    client: FlaskClient, department: str
) -> None:
    created = series(client, department)
    url = f"/api/events/{department}/{created['id']}_20240115"
    before = client.get(url).headers["ETag"]
    response = client.patch(
        url, json={"event_date": "2024-01-17", "title": "회의 (변경)"}, headers={"If-Match": before}
    )
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["id"] == f"{created['id']}_20240115"
    assert (changed["event_date"], changed["original_date"]) == ("2024-01-17", "2024-01-15")
    assert response.headers["ETag"] != before
    items = listed(client, department, "month=2024-01")
    assert dates(items) == ["2024-01-01", "2024-01-08", "2024-01-17", "2024-01-22", "2024-01-29"]
    assert [i["title"] for i in items].count("회의 (변경)") == 1
    # The series's ETag moved with it; the old one is refused.
    stale = client.patch(url, json={"title": "x"}, headers={"If-Match": before})
    assert_problem(stale, 412)
    series_etag = client.get(f"/api/events/{department}/{created['id']}").headers["ETag"]
    assert series_etag == response.headers["ETag"]


def test_delete_one_instance_is_an_exdate(client: FlaskClient, department: str) -> None:
    created = series(client, department, time="14:00")
    deleted = client.delete(f"/api/events/{department}/{created['id']}_20240108")
    assert deleted.status_code == 204
    got = client.get(f"/api/events/{department}/{created['id']}").get_json()
    assert got["recurrence"] == [*WEEKLY, "EXDATE:20240108T140000"]
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-15", "2024-01-22", "2024-01-29",
    ]  # fmt: skip
    assert_problem(client.get(f"/api/events/{department}/{created['id']}_20240108"), 404)


def test_changed_instance_deleted_on_its_own(client: FlaskClient, department: str) -> None:
    created = series(client, department)
    url = f"/api/events/{department}/{created['id']}_20240115"
    assert client.patch(url, json={"event_date": "2024-01-16"}).status_code == 200
    assert client.delete(url).status_code == 204
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-08", "2024-01-22", "2024-01-29",
    ]  # fmt: skip


def test_this_and_following_splits_the_series_in_one_write(
    client: FlaskClient, department: str, storage: Storage
) -> None:
    created = series(client, department, recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"])
    client.patch(f"/api/events/{department}/{created['id']}_20240129", json={"title": "특별"})
    response = client.patch(
        f"/api/events/{department}/{created['id']}_20240115?scope=following",
        json={"time": "오후 3시"},
    )
    assert response.status_code == 200, response.get_json()
    fresh = response.get_json()
    assert fresh["id"] != created["id"]
    assert fresh["event_date"] == "2024-01-15"
    assert fresh["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]
    old = client.get(f"/api/events/{department}/{created['id']}").get_json()
    assert old["recurrence"] == ["RRULE:FREQ=WEEKLY;UNTIL=20240114"]
    items = listed(client, department, "from=2024-01-01&to=2024-02-29")
    assert [(i["event_date"], i["start_time"]) for i in items] == [
        ("2024-01-01", "10:00"), ("2024-01-08", "10:00"), ("2024-01-15", "15:00"),
        ("2024-01-22", "15:00"), ("2024-01-29", "15:00"), ("2024-02-05", "15:00"),
    ]  # fmt: skip
    # The old series's changed instance after the split went with it.
    assert all(i["title"] != "특별" for i in items)
    state = storage.events.calendar_state(department)
    assert (state.series_count, state.event_count) == (2, 0)


def test_delete_following_ends_the_series(client: FlaskClient, department: str) -> None:
    created = series(client, department)
    response = client.delete(f"/api/events/{department}/{created['id']}_20240115?scope=following")
    assert response.status_code == 204
    assert dates(listed(client, department, "month=2024-01")) == ["2024-01-01", "2024-01-08"]


def test_patch_the_series_changes_all_and_reshapes(
    client: FlaskClient, department: str, storage: Storage
) -> None:
    created = series(client, department)
    client.patch(f"/api/events/{department}/{created['id']}_20240108", json={"location": "A"})
    client.patch(f"/api/events/{department}/{created['id']}_20240115", json={"location": "B"})
    response = client.patch(
        f"/api/events/{department}/{created['id']}",
        json={"title": "새 이름", "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;INTERVAL=2;COUNT=3"]},
    )
    assert response.status_code == 200, response.get_json()
    items = listed(client, department, "month=2024-01")
    assert [(i["event_date"], i["title"], i["location"]) for i in items] == [
        ("2024-01-01", "새 이름", None),
        ("2024-01-15", "새 이름", "B"),  # still an occurrence: kept, retitled
        ("2024-01-29", "새 이름", None),
    ]
    # The changed instance of the 8th no longer occurs: it is gone, not left behind.
    assert_problem(client.get(f"/api/events/{department}/{created['id']}_20240108"), 404)
    assert storage.events.calendar_state(department).event_count == 1


def test_delete_the_series_takes_its_changed_instances(
    client: FlaskClient, department: str, storage: Storage
) -> None:
    created = series(client, department)
    client.patch(
        f"/api/events/{department}/{created['id']}_20240108", json={"event_date": "2024-02-01"}
    )
    assert client.delete(f"/api/events/{department}/{created['id']}").status_code == 204
    assert listed(client, department, "from=2024-01-01&to=2024-12-31") == []
    state = storage.events.calendar_state(department)
    assert (state.series_count, state.event_count) == (0, 0)
    # And the department can go, as an empty one.
    assert client.delete(f"/api/departments/{department}").status_code == 204


def test_instances_route(client: FlaskClient, department: str) -> None:
    created = series(client, department, recurrence=["RRULE:FREQ=DAILY"])
    url = f"/api/events/{department}/{created['id']}/instances"
    body = client.get(f"{url}?from=2024-03-01&to=2024-03-10&limit=4").get_json()
    assert dates(body["items"]) == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    rest = client.get(f"{url}?from=2024-03-01&to=2024-03-10&cursor={body['next_cursor']}")
    assert dates(rest.get_json()["items"])[0] == "2024-03-05"
    assert len(rest.get_json()["items"]) == 6
    default = client.get(url).get_json()
    assert len(default["items"]) == 250
    assert default["next_cursor"]
    single = create_event(client, department)
    assert_problem(client.get(f"/api/events/{department}/{single['id']}/instances"), 404)


def test_a_single_event_becomes_a_series_and_back(client: FlaskClient, department: str) -> None:
    single = create_event(client, department, event_date="2024-01-01")
    made = client.patch(
        f"/api/events/{department}/{single['id']}",
        json={"recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]},
    )
    assert made.status_code == 200, made.get_json()
    assert made.get_json()["id"] == single["id"]
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-02", "2024-01-03",
    ]  # fmt: skip
    back = client.patch(f"/api/events/{department}/{single['id']}", json={"recurrence": None})
    assert back.status_code == 200
    assert "recurrence" not in back.get_json()
    assert dates(listed(client, department, "month=2024-01")) == ["2024-01-01"]


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        (["RRULE:FREQ=HOURLY"], "recurrence[0]"),
        (["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"], "recurrence[1]"),
        (["EXRULE:FREQ=DAILY"], "recurrence[0]"),
        (["RRULE:FREQ=DAILY;BYMINUTE=5"], "recurrence[0]"),
        ("RRULE:FREQ=DAILY", "recurrence"),
        ([], "recurrence"),
    ],
)
def test_what_the_contract_refuses_is_422_naming_the_line(
    client: FlaskClient, department: str, recurrence: Any, field: str
) -> None:
    response = client.post(
        f"/api/events/{department}",
        json={"event_date": "2024-01-01", "title": "x", "recurrence": recurrence},
    )
    assert_problem(response, 422, field=field)


def test_an_instance_has_no_recurrence_of_its_own(client: FlaskClient, department: str) -> None:
    created = series(client, department)
    response = client.patch(
        f"/api/events/{department}/{created['id']}_20240108",
        json={"recurrence": ["RRULE:FREQ=DAILY"]},
    )
    assert_problem(response, 422, field="recurrence")
    bad_scope = client.delete(f"/api/events/{department}/{created['id']}_20240108?scope=some")
    assert_problem(bad_scope, 400)


def test_search_finds_instances(client: FlaskClient, department: str) -> None:
    series(client, department, title="스탠드업")
    create_event(client, department, event_date="2024-01-03", title="점심")
    items = listed(client, department, "month=2024-01&q=스탠드")
    assert len(items) == 5
    assert all(i["recurring_event_id"] for i in items)


def test_the_list_etag_changes_with_every_series_write(
    client: FlaskClient, department: str
) -> None:
    first = client.get(f"/api/events/{department}?month=2024-01").headers["ETag"]
    created = series(client, department)
    second = client.get(f"/api/events/{department}?month=2024-01").headers["ETag"]
    assert second != first
    client.delete(f"/api/events/{department}/{created['id']}_20240108")
    third = client.get(f"/api/events/{department}?month=2024-01")
    assert third.headers["ETag"] != second
    not_modified = client.get(
        f"/api/events/{department}?month=2024-01", headers={"If-None-Match": third.headers["ETag"]}
    )
    assert not_modified.status_code == 304


def test_a_department_with_series_is_409_and_its_cascade_takes_them(
    client: FlaskClient, department: str, storage: Storage
) -> None:
    created = series(client, department)
    client.patch(f"/api/events/{department}/{created['id']}_20240108", json={"title": "변경"})
    create_event(client, department)
    refused = client.delete(f"/api/departments/{department}")
    assert_problem(refused, 409)
    assert client.delete(f"/api/departments/{department}?cascade=true").status_code == 204
    assert storage.series.all(department) == []
    assert storage.events.find(department, f"{created['id']}_20240108") is None


def test_a_department_of_only_series_is_409_too(client: FlaskClient, department: str) -> None:
    series(client, department)
    assert_problem(client.delete(f"/api/departments/{department}"), 409)


def test_too_many_series_is_409(
    client: FlaskClient, department: str, storage: Storage, dynamodb: Any
) -> None:
    # Brought to the brink on its calendar item: 500 series through HTTP take long.
    dynamodb.update_item(
        TableName=storage.events.table,
        Key={"id": {"S": f"#calendar#{department}"}, "department_id": {"S": department}},
        UpdateExpression="SET series_count = :n",
        ExpressionAttributeValues={":n": {"N": "500"}},
    )
    response = client.post(
        f"/api/events/{department}",
        json={"event_date": "2024-01-01", "title": "x", "recurrence": WEEKLY},
    )
    body = assert_problem(response, 409)
    assert body["type"].endswith("/problems/too-many-series")


def test_following_takes_a_new_rule_or_none_in_one_request(
    client: FlaskClient, department: str
) -> None:
    created = series(
        client,
        department,
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20240108T100000,20240129T100000"],
    )
    response = client.patch(
        f"/api/events/{department}/{created['id']}_20240115?scope=following",
        json={
            "recurrence": [
                "RRULE:FREQ=WEEKLY;BYDAY=MO,FR",
                "EXDATE:20240108T100000,20240129T100000",
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    fresh = response.get_json()
    # The EXDATE before the new series's start is left out; the later one stays.
    assert fresh["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO,FR", "EXDATE:20240129T100000"]
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-15", "2024-01-19", "2024-01-22", "2024-01-26",
    ]  # fmt: skip
    alone = client.patch(
        f"/api/events/{department}/{fresh['id']}_20240122?scope=following",
        json={"recurrence": None},
    )
    assert alone.status_code == 200, alone.get_json()
    assert "recurrence" not in alone.get_json()
    assert dates(listed(client, department, "month=2024-01")) == [
        "2024-01-01", "2024-01-15", "2024-01-19", "2024-01-22",
    ]  # fmt: skip


def test_a_series_spanning_days_is_listed_where_its_occurrences_overlap(
    client: FlaskClient, department: str
) -> None:
    series(client, department, event_date="2024-01-05", end_date="2024-01-07", time=None,
           recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"])  # fmt: skip
    items = listed(client, department, "from=2024-01-13&to=2024-01-13")
    assert [(i["event_date"], i["end_date"]) for i in items] == [("2024-01-12", "2024-01-14")]


@pytest.mark.parametrize(
    ("first", "end", "query"),
    [
        ("9999-12-30", "9999-12-31", "from=9999-12-01"),
        ("0001-01-01", "0001-01-02", "from=0001-01-01&to=0001-01-10"),
    ],
)
def test_series_at_the_ends_of_the_calendar_never_break_a_list_or_feed(
    client: FlaskClient, department: str, first: str, end: str, query: str
) -> None:
    made = series(
        client, department, event_date=first, end_date=end, recurrence=["RRULE:FREQ=DAILY"]
    )
    items = listed(client, department, query)
    assert items
    assert all(i["end_date"] <= "9999-12-31" for i in items)
    instances = client.get(f"/api/events/{department}/{made['id']}/instances?{query}")
    assert instances.status_code == 200
    feed = client.get(f"/api/departments/{department}/calendar.ics?{query}")
    assert feed.status_code == 200
    assert b"RRULE:FREQ=DAILY" in feed.data


def test_if_match_guards_series_writes(client: FlaskClient, department: str) -> None:
    created = series(client, department)
    url = f"/api/events/{department}/{created['id']}"
    stale = {"If-Match": f'"{created["version"]}"'}
    assert client.patch(f"{url}_20240108", json={"title": "x"}).status_code == 200
    assert_problem(client.patch(url, json={"title": "y"}, headers=stale), 412)
    assert_problem(client.delete(url, headers=stale), 412)
    assert_problem(client.delete(f"{url}_20240115?scope=following", headers=stale), 412)
    current = client.get(url).headers["ETag"]
    assert client.delete(url, headers={"If-Match": current}).status_code == 204


def test_instances_limit_is_bounded(client: FlaskClient, department: str) -> None:
    created = series(client, department, recurrence=["RRULE:FREQ=DAILY"])
    url = f"/api/events/{department}/{created['id']}/instances"
    assert_problem(client.get(f"{url}?limit=2001"), 400)
    body = client.get(f"{url}?from=2024-01-01&to=2030-12-31&limit=2000").get_json()
    assert len(body["items"]) == 367  # one page expands at most 366 days past its start
    assert body["next_cursor"]
