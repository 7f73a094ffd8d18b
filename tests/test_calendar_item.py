"""A department's calendar state lives on its calendar item (``#calendar#<department>`` in
the events table, in no index), so an event write writes no ``name-index`` entry; a
department whose counters are still on its own item (written by an earlier version of the
service, or by other programs) moves them on its first event write, exactly once."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app
from backend.config import Settings
from backend.storage import Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.dynamo import from_item, to_item
from tests.helpers import create_department, create_event


def department_item(dynamodb: Any, settings: Settings, department_id: str) -> dict[str, Any]:
    response = dynamodb.get_item(
        TableName=settings.departments_table, Key={"id": {"S": department_id}}, ConsistentRead=True
    )
    return from_item(response["Item"])


def calendar_item(dynamodb: Any, settings: Settings, department_id: str) -> dict[str, Any] | None:
    response = dynamodb.get_item(
        TableName=settings.events_table,
        Key={"id": {"S": f"#calendar#{department_id}"}, "department_id": {"S": department_id}},
        ConsistentRead=True,
    )
    return from_item(response["Item"]) if "Item" in response else None


def as_before_calendar_items(
    dynamodb: Any, settings: Settings, department_id: str, **counters: int
) -> None:
    """The department as an earlier version (``counters`` on its item) or another program
    (none at all) left it: no calendar item."""
    dynamodb.delete_item(
        TableName=settings.events_table,
        Key={"id": {"S": f"#calendar#{department_id}"}, "department_id": {"S": department_id}},
    )
    if counters:
        dynamodb.update_item(
            TableName=settings.departments_table,
            Key={"id": {"S": department_id}},
            UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in counters),
            ExpressionAttributeValues={f":{k}": {"N": str(v)} for k, v in counters.items()},
        )


def test_event_writes_leave_the_department_item_and_its_index_entry_alone(
    client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client, "개발팀")
    before = department_item(dynamodb, settings, department["id"])
    writes: list[dict[str, Any]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            writes.append(params)

    dynamodb.meta.events.register("provide-client-params.dynamodb", record, unique_id="writes")
    try:
        event = create_event(client, department["id"])
        client.patch(f"/api/events/{department['id']}/{event['id']}", json={"title": "바뀜"})
        client.delete(f"/api/events/{department['id']}/{event['id']}")
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb", unique_id="writes")

    assert len(writes) == 3
    for params in writes:
        tables = {next(iter(item.values()))["TableName"] for item in params["TransactItems"]}
        assert tables == {settings.events_table}  # never the departments table
    assert department_item(dynamodb, settings, department["id"]) == before
    calendar = calendar_item(dynamodb, settings, department["id"])
    assert calendar is not None
    assert (calendar["event_count"], calendar["calendar_version"]) == (0, 3)


def test_a_department_from_before_calendar_items_moves_its_counters_on_its_first_write(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client, "예전 부서")["id"]
    create_event(client, department, title="하나")
    as_before_calendar_items(
        dynamodb, settings, department, event_count=1, calendar_version=7, series_count=0
    )
    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.event_count, state.calendar_version) == (False, 1, 7)

    create_event(client, department, title="둘")

    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.event_count, state.calendar_version) == (True, 2, 8)
    left = department_item(dynamodb, settings, department)
    assert not {"event_count", "calendar_version", "series_count"} & set(left)
    # The history is whole from there: a sync token taken now is answered.
    token = client.get(f"/api/events/{department}?sync=true").get_json()["next_sync_token"]
    create_event(client, department, title="셋")
    delta = client.get(f"/api/events/{department}?sync_token={token}").get_json()
    assert [i["title"] for i in delta["items"]] == ["셋"]
    assert client.delete(f"/api/departments/{department}?cascade=true").status_code == 204
    assert calendar_item(dynamodb, settings, department) is None


def test_a_department_written_by_another_program_stays_uncounted_until_counted(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client, "콘솔 부서")["id"]
    as_before_calendar_items(dynamodb, settings, department)  # no counters at all
    create_event(client, department, title="콘솔 뒤 첫 일정")

    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.counted) == (True, False)
    # Uncounted: whether it holds events is asked of the index, so it is not deletable.
    response = client.delete(f"/api/departments/{department}")
    assert response.status_code == 409
    assert storage.events.set_count(department, 1, state.calendar_version, False)
    state = storage.events.calendar_state(department)
    assert (state.counted, state.event_count) == (True, 1)


@pytest.mark.parametrize("counters", [{"event_count": 0, "calendar_version": 3}, {}])
def test_concurrent_first_writes_move_the_counters_once_and_count_exactly(
    app: Flask, storage: Storage, dynamodb: Any, settings: Settings, counters: dict[str, int]
) -> None:
    client = app.test_client()
    department = create_department(client, "경쟁")["id"]
    as_before_calendar_items(dynamodb, settings, department, **counters)

    def one(n: int) -> int:
        response = app.test_client().post(
            f"/api/events/{department}", json={"event_date": "2024-03-01", "title": f"동시 {n}"}
        )
        return int(response.status_code)

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(8)))

    assert set(statuses) <= {201, 503}
    made = statuses.count(201)
    state = storage.events.calendar_state(department)
    assert state.on_calendar_item
    assert state.calendar_version == counters.get("calendar_version", 0) + made
    if counters:
        assert state.event_count == made
    records = list(storage.changes.after(department, counters.get("calendar_version", 0)))
    assert [r.version for r in records] == list(
        range(counters.get("calendar_version", 0) + 1, state.calendar_version + 1)
    )


# -- a department written by other programs costs what any other does, once learned ----------


def foreign_department(
    dynamodb: Any, settings: Settings, events: list[tuple[str, str | None]]
) -> str:
    """A department and its events as the console or the first app writes them: no calendar
    item, no counters, no flags; ``events`` are (event_date, end_date or None)."""
    department = str(uuid.uuid4())
    dynamodb.put_item(
        TableName=settings.departments_table,
        Item=to_item({"id": department, "name": f"콘솔 {department[:8]}"}),
    )
    for day, end in events:
        item: dict[str, Any] = {"id": str(uuid.uuid4()), "department_id": department}
        item |= {"event_date": day, "title": "콘솔 일정", "end_date": end}
        dynamodb.put_item(TableName=settings.events_table, Item=to_item(item))
    return department


class Calls:
    """The DynamoDB calls of a client, with their parameters."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.made: list[tuple[str, dict[str, Any]]] = []

    def __enter__(self) -> Calls:
        self.dynamodb.meta.events.register(
            "provide-client-params.dynamodb", self._record, unique_id="calls"
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.dynamodb.meta.events.unregister("provide-client-params.dynamodb", unique_id="calls")

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.made.append((model.name, dict(params)))

    def list_starts(self) -> list[str]:
        return [
            p["ExpressionAttributeValues"][":from"]["S"]
            for name, p in self.made
            if name == "Query" and ":from" in p.get("ExpressionAttributeValues", {})
        ]


def _titles(client: FlaskClient, department: str, month: str) -> list[str]:
    response = client.get(f"/api/events/{department}?month={month}")
    assert response.status_code == 200
    return [e["event_date"] for e in response.get_json()["items"]]


def rendering(settings: Settings, storage: Storage) -> FlaskClient:
    """A server on the same tables that renders every page (it keeps none)."""
    return create_app(dataclasses.replace(settings, list_cache_mb=0), storage).test_client()


def test_a_foreign_department_costs_what_others_do_after_its_first_list(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = foreign_department(dynamodb, settings, [("2024-02-10", None)] * 3)
    before = client.get(f"/api/events/{department}?month=2024-02")
    assert before.status_code == 200

    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.multi_day_known, state.multi_day) == (True, True, False)
    assert (state.counted, state.calendar_version) == (False, 0)  # counting is the migration's
    assert before.headers["ETag"] == 'W/"calendar-0"'  # the version did not move
    with Calls(dynamodb) as calls:  # a page not rendered before (none is kept)
        assert _titles(rendering(settings, storage), department, "2024-02") == ["2024-02-10"] * 3
    # As any department created here: 1 GetItem of the calendar item, 1 Query of the month.
    assert [name for name, _ in calls.made] == ["GetItem", "Query"]
    assert calls.list_starts() == ["2024-02-01"]


def test_a_foreign_department_with_multi_day_events_keeps_reaching_back(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = foreign_department(
        dynamodb, settings, [("2024-02-10", None), ("2024-01-30", "2024-02-02")]
    )
    assert _titles(client, department, "2024-02") == ["2024-01-30", "2024-02-10"]
    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.multi_day_known, state.multi_day) == (True, True, True)
    with Calls(dynamodb) as calls:  # a page not rendered before (none is kept)
        titles = _titles(rendering(settings, storage), department, "2024-02")
    assert titles == ["2024-01-30", "2024-02-10"]
    assert [name for name, _ in calls.made] == ["GetItem", "Query"]
    assert calls.list_starts() == ["2024-01-01"]


def test_a_foreign_department_learns_on_its_first_write_too(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = foreign_department(dynamodb, settings, [("2024-02-10", None)])
    create_event(client, department, event_date="2024-02-11")
    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.multi_day_known, state.multi_day) == (True, True, False)
    assert state.calendar_version == 1
    create_event(client, department, event_date="2024-02-20", end_date="2024-03-02")
    assert storage.events.calendar_state(department).multi_day
    assert _titles(client, department, "2024-03") == ["2024-02-20"]


def test_a_department_with_counters_on_its_item_moves_them_on_a_list_at_the_same_version(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client, "예전 부서")["id"]
    create_event(client, department, event_date="2024-02-10")
    as_before_calendar_items(dynamodb, settings, department, event_count=1, calendar_version=7)
    tag = client.get(f"/api/events/{department}?month=2024-02").headers["ETag"]
    assert tag == 'W/"calendar-7"'
    state = storage.events.calendar_state(department)
    assert (state.on_calendar_item, state.event_count, state.calendar_version) == (True, 1, 7)
    assert not {"event_count", "calendar_version"} & set(
        department_item(dynamodb, settings, department)
    )
    assert (
        client.get(
            f"/api/events/{department}?month=2024-02", headers={"If-None-Match": tag}
        ).status_code
        == 304
    )


def test_nothing_is_learned_while_the_index_may_lag(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client, "최근 부서")["id"]
    create_event(client, department, event_date="2024-02-10")  # changed just now
    as_before_calendar_items(dynamodb, settings, department, event_count=1, calendar_version=1)
    dynamodb.update_item(
        TableName=settings.departments_table,
        Key={"id": {"S": department}},
        UpdateExpression="SET changed_at = :now",
        ExpressionAttributeValues={":now": {"S": utc_datetime().isoformat()}},
    )
    state = storage.events.calendar_state(department)
    assert storage.events.learned(department, state) == state
    assert not storage.events.calendar_state(department).on_calendar_item


def test_a_learner_that_loses_a_race_changes_nothing(
    storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = foreign_department(dynamodb, settings, [("2024-02-10", None)])
    seen = storage.events.calendar_state(department)
    learned = storage.events.learned(department, seen)
    assert learned.learned
    # A second learner that read the state before the first one wrote: refused, harmless.
    assert storage.events.learned(department, seen) == seen
    assert storage.events.calendar_state(department) == learned


def test_concurrent_first_lists_and_writes_learn_once_and_lose_no_multi_day_event(
    app: Flask, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = foreign_department(dynamodb, settings, [("2024-02-10", None)] * 5)

    def one(n: int) -> int:
        client = app.test_client()
        if n % 4 == 3:  # a write of a multi-day event among the first lists
            response = client.post(
                f"/api/events/{department}",
                json={"event_date": "2024-01-28", "end_date": "2024-02-03", "title": f"긴 {n}"},
            )
        else:
            response = client.get(f"/api/events/{department}?month=2024-02")
        return int(response.status_code)

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(16)))

    assert set(statuses) <= {200, 201, 503}
    made = statuses.count(201)
    state = storage.events.calendar_state(department)
    assert state.on_calendar_item
    assert state.calendar_version == made
    assert state.multi_day is bool(made)
    listed = _titles(app.test_client(), department, "2024-02")
    assert listed.count("2024-01-28") == made
    assert listed.count("2024-02-10") == 5
