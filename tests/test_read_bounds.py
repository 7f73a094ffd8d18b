"""An anonymous list or search reads at most ``READ_BUDGET`` index items, however big the
department: a window or search that reads its budget answers the page it has, with a
cursor to go on from, and a client that follows the cursors sees every event once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask.testing import FlaskClient

from backend.services.departments import count_events
from backend.services.feed import FEED_MAX_EVENTS
from backend.storage import Storage
from backend.storage.events import READ_BUDGET
from tests.helpers import create_department, create_event

pytestmark = pytest.mark.slow  # writes a few thousand items

EVENTS_BEFORE = 3 * READ_BUDGET // 2


class _Reads(logging.Handler):
    """Each request's DynamoDB operations, from the access log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.operations: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.operations.append(list(record.__dict__.get("dynamodb_operations", [])))


@pytest.fixture
def reads() -> Iterator[_Reads]:
    handler = _Reads()
    access = logging.getLogger("backend.access")
    access.addHandler(handler)
    yield handler
    access.removeHandler(handler)


@pytest.fixture
def crowded(client: FlaskClient, storage: Storage) -> str:
    """A department with a multi-day event (so lists reach back 31 days) and many events
    in January, none in February."""
    department: str = create_department(client, "큰 부서")["id"]
    create_event(client, department, event_date="2023-12-01", end_date="2023-12-03")
    batch = storage.batch_io()
    batch.write(
        storage.events.table,
        [
            {
                "id": f"jan-{n:05d}",
                "department_id": department,
                "event_date": f"2024-01-{1 + n % 31:02d}",
                "title": f"일정 {n}",
                "version": 1,
            }
            for n in range(EVENTS_BEFORE)
        ],
    )
    return department


def _follow(client: FlaskClient, url: str, reads: _Reads) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following next_cursor; and the most Queries one page made."""
    items: list[dict[str, Any]] = []
    most = 0
    cursor = None
    while True:
        reads.operations.clear()
        page = client.get(url + (f"&cursor={cursor}" if cursor else "")).get_json()
        most = max(most, reads.operations[-1].count("Query"))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, most


def test_an_empty_month_after_a_crowded_one_reads_a_bounded_amount(
    client: FlaskClient, crowded: str, reads: _Reads
) -> None:
    items, most = _follow(client, f"/api/events/{crowded}?month=2024-02&limit=1", reads)

    assert items == []
    assert most <= 6  # Query pages that double in size up to the budget


def test_a_search_that_matches_nothing_reads_a_bounded_amount_per_page(
    client: FlaskClient, crowded: str, reads: _Reads
) -> None:
    items, most = _follow(client, f"/api/events/{crowded}?q=없는말&limit=5", reads)

    assert items == []
    assert most <= 6


def test_following_the_cursors_gives_every_event_once_in_order(
    client: FlaskClient, crowded: str, reads: _Reads
) -> None:
    items, most = _follow(client, f"/api/events/{crowded}?month=2024-01&q=일정&limit=200", reads)

    assert len(items) == EVENTS_BEFORE
    assert len({i["id"] for i in items}) == EVENTS_BEFORE
    keys = [(i["event_date"], i["title"], i["id"]) for i in items]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert most <= 6


def test_a_feed_holds_at_most_the_cap_keeping_the_upcoming_and_the_newest_past(
    client: FlaskClient, storage: Storage
) -> None:
    department: str = create_department(client, "아주 큰 부서")["id"]
    today = datetime.now(ZoneInfo("Asia/Seoul")).date()
    upcoming = [today + timedelta(days=1 + n % 300) for n in range(100)]
    past = [today - timedelta(days=1 + n % 360) for n in range(FEED_MAX_EVENTS - 50)]
    storage.batch_io().write(
        storage.events.table,
        [
            {
                "id": f"{kind}-{n:05d}",
                "department_id": department,
                "event_date": day.isoformat(),
                "title": f"{kind} {n}",
                "version": 1,
            }
            for kind, days in (("up", upcoming), ("past", past))
            for n, day in enumerate(days)
        ],
    )
    count_events(storage, [department])  # as the migration counts what it wrote

    response = client.get(f"/api/departments/{department}/calendar.ics")

    assert response.status_code == 200
    uids = {
        str(e["UID"]).split("@")[0]
        for e in icalendar.Calendar.from_ical(response.get_data()).walk("VEVENT")
    }
    assert len(uids) == FEED_MAX_EVENTS
    assert {f"up-{n:05d}" for n in range(100)} <= uids
    left_out = {f"past-{n:05d}" for n in range(len(past))} - uids
    # Calendar order: by date, then title (these events have no time).
    oldest = sorted(range(len(past)), key=lambda n: (past[n], f"past {n}"))[: len(left_out)]
    assert left_out == {f"past-{n:05d}" for n in oldest}
