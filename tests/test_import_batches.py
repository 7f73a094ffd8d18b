"""The import writes in batches: up to 98 events a transaction with the calendar item and
one change record naming them, one count per date it adds to, and a batch that meets
another writer is read again and written anew."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.fields import MAX_EVENTS_PER_DAY
from backend.services.events import update_event
from backend.storage import DateWindow, Storage
from backend.storage.events import MAX_BATCH
from tests.aws_lane import AwsBehaviour
from tests.helpers import create_department

ICS = {"Content-Type": "text/calendar"}


def vevents(
    count: int, per_day: int, first: date = date(2024, 1, 1), *, uid: str = "e", title: str = ""
) -> list[str]:
    lines = []
    for n in range(count):
        day = (first + timedelta(days=n // per_day)).strftime("%Y%m%d")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}-{n}@example.com",
            f"DTSTART;VALUE=DATE:{day}",
            f"SUMMARY:{title or '회의'} {n}",
            "END:VEVENT",
        ]
    return lines


def wrapped(*parts: list[str]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//import//EN"]
    lines += [line for part in parts for line in part]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def calendar_file(
    count: int, per_day: int, first: date = date(2024, 1, 1), *, uid: str = "e", title: str = ""
) -> bytes:
    return wrapped(vevents(count, per_day, first, uid=uid, title=title))


def imported(client: FlaskClient, department: str, body: bytes) -> dict[str, Any]:
    response = client.post(f"/api/events/{department}/import", data=body, headers=ICS)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def sync_all(client: FlaskClient, department: str, query: str) -> tuple[list[Any], str]:
    items: list[Any] = []
    url = f"/api/events/{department}?{query}"
    while True:
        body = client.get(url).get_json()
        items.extend(body["items"])
        if body["next_cursor"] is None:
            return items, str(body["next_sync_token"])
        url = f"/api/events/{department}?{query}&cursor={body['next_cursor']}"


def test_a_thousand_events_import_in_batches_of_98_with_one_record_each(
    client: FlaskClient, storage: Storage
) -> None:
    department = create_department(client)["id"]
    _, token = sync_all(client, department, "sync=true&limit=200")

    result = imported(client, department, calendar_file(1000, 3))

    assert (result["created"], result["updated"], result["rejected"]) == (1000, 0, [])
    state = storage.events.calendar_state(department)
    assert state.event_count == 1000
    assert storage.events.count_by_department({department})[0][department] == 1000
    records = list(storage.changes.after(department, 0))
    # One record per transaction: ceil(1000 / 98) = 11, naming every event once.
    assert len(records) == -(-1000 // MAX_BATCH) == state.calendar_version
    named = Counter(c.id for r in records for c in r.changes)
    assert len(named) == 1000
    assert set(named.values()) == {1}
    assert {c.action for r in records for c in r.changes} == {"created"}
    changed, _ = sync_all(client, department, f"sync_token={token}&limit=200")
    assert len({e["id"] for e in changed}) == 1000
    # A second import finds them all: nothing written.
    again = imported(client, department, calendar_file(1000, 3))
    assert (again["created"], again["unchanged"]) == (0, 1000)
    assert storage.events.calendar_state(department).calendar_version == len(records)


def test_the_per_date_cap_counts_the_batch_own_events(
    client: FlaskClient, storage: Storage
) -> None:
    department = create_department(client)["id"]
    full = MAX_EVENTS_PER_DAY - 2
    assert imported(client, department, calendar_file(full, full, uid="old"))["created"] == full
    # 5 more on that date (2 fit) and 2 on the next (both fit), in one batch.
    body = wrapped(vevents(5, 5, uid="more"), vevents(2, 2, date(2024, 1, 2), uid="next"))

    result = imported(client, department, body)

    assert result["created"] == 4
    assert [r["uid"] for r in result["rejected"]] == [f"more-{n}@example.com" for n in (2, 3, 4)]
    assert all("2024-01-01 already holds" in r["reason"] for r in result["rejected"])
    assert storage.events.count_on_date(department, "2024-01-01") == MAX_EVENTS_PER_DAY
    # Now past 200 events, each date is counted by a Query: still full, and the next has room.
    again = imported(
        client, department, wrapped(vevents(1, 1, uid="late"), vevents(1, 1, date(2024, 1, 3)))
    )
    assert again["created"] == 1
    assert [r["uid"] for r in again["rejected"]] == ["late-0@example.com"]


def test_an_event_changed_by_another_writer_mid_batch_is_read_again(
    client: FlaskClient, storage: Storage, dynamodb: Any
) -> None:
    department = create_department(client)["id"]
    imported(client, department, calendar_file(150, 5))
    events = {e.title: e for e in storage.events.all_in(department, DateWindow())}
    victim = events["회의 120"]  # in the second batch of the next import
    raced = {"done": False}

    def another_writer(params: dict[str, Any], **_: Any) -> None:
        keys = {
            (w.get("Update") or {}).get("Key", {}).get("id", {}).get("S")
            for w in params.get("TransactItems", [])
        }
        if victim.id in keys and not raced["done"]:
            raced["done"] = True
            update_event(storage, department, victim.id, {"location": "회의실 B"}, None)

    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", another_writer, unique_id="race"
    )
    try:
        result = imported(client, department, calendar_file(150, 5, title="새 회의"))
    finally:
        dynamodb.meta.events.unregister(
            "provide-client-params.dynamodb.TransactWriteItems", unique_id="race"
        )

    assert raced["done"]
    assert (result["updated"], result["rejected"]) == (150, [])
    after = storage.events.get(department, victim.id)
    # Written over the other writer's version 2 (the file has no LOCATION: it goes).
    assert (after.title, after.location, after.version) == ("새 회의 120", None, 3)
    assert [
        c.action
        for r in storage.changes.after(department, 0)
        for c in r.changes
        if c.id == victim.id
    ] == ["created", "updated", "updated"]
    assert storage.events.calendar_state(department).event_count == 150


@pytest.mark.slow
def test_conflicts_mid_batch_on_aws_lose_and_repeat_nothing(
    client: FlaskClient, storage: Storage, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client)["id"]
    lane = AwsBehaviour(dynamodb, str(settings.endpoint_url), conflict_rate=0.3, lag=3)
    with lane.installed():
        result = imported(client, department, calendar_file(400, 4))
        again = imported(client, department, calendar_file(400, 4, title="바뀐"))

    assert lane.injected.get("TransactionConflict", 0) > 0
    assert (result["created"], again["updated"]) == (400, 400)
    state = storage.events.calendar_state(department)
    assert state.event_count == 400
    records = list(storage.changes.after(department, 0))
    assert [r.version for r in records] == list(range(1, state.calendar_version + 1))
    named = Counter((c.id, c.action) for r in records for c in r.changes)
    assert len(named) == 800
    assert set(named.values()) == {1}
