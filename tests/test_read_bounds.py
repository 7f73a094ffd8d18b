"""An anonymous list or search reads at most ``READ_BUDGET`` index items, however big the
department: a window or search that reads its budget answers the page it has, with a
cursor to go on from, and a client that follows the cursors sees every event once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

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
