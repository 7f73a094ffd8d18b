"""Reads cost what they return, however long the product runs: bookkeeping never lands
where a listing reads, and expired bookkeeping is swept."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.report.job import ReportJob
from backend.report.mail import Message
from backend.storage import Storage
from backend.storage.bookkeeping import EXPIRING_PARTITION
from tests.helpers import create_department, settle

DEPARTMENTS = 10

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class _Outbox:
    name = "outbox"

    def send(self, message: Message) -> str:
        return "<sent@outbox>"


def _scan_costs(dynamodb: Any) -> tuple[list[int], list[float]]:
    scanned: list[int] = []
    capacity: list[float] = []

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Scan":
            scanned.append(int(parsed.get("ScannedCount", 0)))
            capacity.append(float((parsed.get("ConsumedCapacity") or {}).get("CapacityUnits", 0)))

    dynamodb.meta.events.register("after-call.dynamodb", record, unique_id="test-scan-cost")
    return scanned, capacity


@pytest.mark.slow
def test_a_year_of_daily_reports_leaves_the_department_listing_as_cheap(
    client: FlaskClient, storage: Storage, dynamodb: Any
) -> None:
    for n in range(DEPARTMENTS):
        create_department(client, f"부서 {n:02d}", notify_emails=[f"team{n}@example.com"])
    mailings = storage.mailings
    first = date(2024, 1, 1)
    departments = storage.departments.list_all()
    for offset in range(365):  # what a year of daily runs leaves behind, through its verbs
        day = first + timedelta(days=offset)
        mailings.reserve(day, DEPARTMENTS, 100)
        for department in departments:
            assert mailings.claim(day, department.id)
    ReportJob(storage, _Outbox(), "calendar@example.com", 100).run(first, 7)  # and a real run
    scanned, capacity = _scan_costs(dynamodb)

    listed = client.get("/api/departments?limit=200").get_json()["items"]

    assert len(listed) == DEPARTMENTS
    # Departments and their name claims: 2 items a department, nothing else.
    assert scanned == [2 * DEPARTMENTS]
    assert 0 < capacity[0] <= 2  # ~20 small items, strongly consistent: ~1 RCU, not ~260


def test_the_report_sweeps_expired_bookkeeping_and_keeps_the_rest(
    storage: Storage, dynamodb: Any
) -> None:
    table = storage.events.table
    old = {"S": (date.today() - timedelta(days=3)).isoformat()}
    for ident in ("#mail-sent#2020-01-01#x", "#idempotency#dead", "#mail-quota#2020-01-01"):
        dynamodb.put_item(  # written long ago, as the product writes them
            TableName=table,
            Item={
                "id": {"S": ident},
                "department_id": {"S": EXPIRING_PARTITION},
                "event_date": old,
                "expires_at": {"N": "1600000000"},
            },
        )
    department = storage.departments.create("개발팀", None, ("lead@example.com",))

    summary = ReportJob(storage, _Outbox(), "calendar@example.com", 100).run(date.today(), 7)

    assert summary.as_dict()["swept"] == 3
    assert summary.as_dict()["counts"] == {"sent": 1}
    assert storage.mailings.already_sent(date.today(), department.id)  # today's marker stays
    left = dynamodb.query(
        TableName=table,
        KeyConditionExpression="id = :id AND department_id = :p",
        ExpressionAttributeValues={
            ":id": {"S": "#idempotency#dead"},
            ":p": {"S": EXPIRING_PARTITION},
        },
    )
    assert left["Items"] == []


class _Calls(logging.Handler):
    """The DynamoDB operations of each request, from the access log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.operations: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.operations.append(list(record.__dict__.get("dynamodb_operations", [])))


Made = Callable[..., list[str]]


@pytest.fixture
def made(client: FlaskClient) -> Iterator[Made]:
    """``made(method, url, status, **kwargs)``: the DynamoDB operations of one request
    (from the access log), which must answer ``status``."""
    calls = _Calls()
    access = logging.getLogger("backend.access")
    access.addHandler(calls)

    def one(method: str, url: str, status: int, **kwargs: Any) -> list[str]:
        calls.operations.clear()
        response = client.open(url, method=method, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return calls.operations[-1]

    yield one
    access.removeHandler(calls)


def test_each_request_makes_the_calls_the_cost_table_names(
    client: FlaskClient, made: Made, dynamodb: DynamoDBClient, settings: Settings
) -> None:
    """docs/performance.md, "What one request may read or write", row by row."""
    count, calendar, transaction = ["Query"], ["GetItem"], ["TransactWriteItems"]
    read = ["GetItem"]  # the event (or the department) itself
    dept = create_department(client)["id"]
    empty = create_department(client, "빈 부서")["id"]
    events, month = f"/api/events/{dept}", "?month=2024-01"
    body = {"event_date": "2024-01-20", "title": "팀 회의"}
    assert made("POST", events, 201, json=body) == count + calendar + transaction
    keyed = {"json": body | {"title": "주간 회의"}, "headers": {"Idempotency-Key": "k"}}
    # The key's answer is written inside the create's own transaction. The first claim of
    # a process also asks once (1 Query) whether records from before bookkeeping was
    # spread over partitions are still live; finding none, it never asks again.
    probe = ["Query"]
    assert made("POST", events, 201, **keyed) == [
        "PutItem",
        *probe,
        *count,
        *calendar,
        *transaction,
    ]
    other = {"json": body | {"title": "다른 회의"}, "headers": {"Idempotency-Key": "k2"}}
    assert made("POST", events, 201, **other) == ["PutItem", *count, *calendar, *transaction]
    # A replay: the refused claim brings the stored answer back (no second read).
    assert made("POST", events, 201, **keyed) == ["PutItem"]
    settle(dynamodb, settings, dept)  # a minute later: the index has the writes
    assert made("GET", events + month, 200) == [*calendar, "Query"]
    # The same page again at the same calendar state: the page this process rendered.
    listed = client.get(events + month)
    event = listed.get_json()["items"][0]["id"]
    assert made("GET", events + month, 200) == calendar
    poll = {"If-None-Match": listed.headers["ETag"]}
    assert made("GET", events + month, 304, headers=poll) == calendar
    assert made("GET", f"{events}/{event}", 200) == read
    change = {"title": "팀 회의 2"}
    assert made("PATCH", f"{events}/{event}", 200, json=change) == read + calendar + transaction
    assert made("PATCH", f"{events}/{event}", 200, json=change) == read  # nothing changes
    move = {"event_date": "2024-01-21"}
    assert made("PATCH", f"{events}/{event}", 200, json=move) == [
        *read, *count, *calendar, *transaction
    ]  # fmt: skip
    feed = f"/api/departments/{dept}/calendar.ics{month}"
    settle(dynamodb, settings, dept)
    ics = client.get(feed)
    assert ics.data.count(b"BEGIN:VEVENT") == 3
    assert made("GET", feed, 200) == [*read, *calendar, "Query"]
    assert made("GET", feed, 304, headers={"If-None-Match": ics.headers["ETag"]}) == [
        *read, *calendar
    ]  # fmt: skip
    imported = made(
        "POST", f"/api/events/{empty}/import", 200,
        data=ics.data, headers={"Content-Type": "text/calendar"},
    )  # fmt: skip
    # What exists is read in batches of 100; the department's count (under 200: every
    # date has room, no day count); then one transaction per 98 events.
    assert imported == [*read, "BatchGetItem", *calendar, *calendar, *transaction]
    assert made("DELETE", f"{events}/{event}", 204) == read + calendar + transaction
    assert made("GET", "/api/departments", 200) == ["Scan"]
    # Then its change log goes with it (one Query of its keys, one BatchWriteItem per
    # 25), and its webhooks (one Query).
    assert made("DELETE", f"/api/departments/{dept}?cascade=true", 204) == [
        *read, *calendar, "Query", *calendar, *transaction, *calendar, *transaction,
        "Query", "BatchWriteItem", "Query",
    ]  # fmt: skip


def test_each_recurring_request_makes_the_calls_the_cost_table_names(
    client: FlaskClient, made: Made, dynamodb: DynamoDBClient, settings: Settings
) -> None:
    """docs/performance.md, the rows of recurring events: a series is read by one Query of
    its department's series partition, an instance by one BatchGetItem, and every write is
    the department's calendar state and one transaction."""
    calendar, transaction = ["GetItem"], ["TransactWriteItems"]
    dept = create_department(client)["id"]
    events, month = f"/api/events/{dept}", "?month=2024-01"
    plain = {"event_date": "2024-01-20", "title": "팀 회의"}
    client.post(events, json=plain)
    settle(dynamodb, settings, dept)  # lists a minute after the writes (see below for sooner)
    # Without series, a list is what it was: no read of series at all.
    assert made("GET", events + month, 200) == [*calendar, "Query"]
    weekly = plain | {"event_date": "2024-01-01", "recurrence": ["RRULE:FREQ=WEEKLY"]}
    assert made("POST", events, 201, json=weekly) == calendar + transaction  # no day count
    settle(dynamodb, settings, dept)
    # With series: one more Query, of the department's series partition (consistent)...
    assert made("GET", events + month, 200) == [*calendar, "Query", "Query"]
    # ...which this process keeps by calendar version: until the next write, none.
    assert made("GET", events + month + "&expand=false", 200) == [*calendar, "Query"]
    series = client.get(events + month + "&expand=false").get_json()["items"][0]["id"]
    assert made("GET", f"{events}/{series}", 200) == ["GetItem", "GetItem"]
    instance = f"{events}/{series}_20240108"
    assert made("GET", instance, 200) == ["BatchGetItem"]
    change = {"title": "변경"}
    assert made("PATCH", instance, 200, json=change) == [
        "BatchGetItem",
        *calendar,
        *transaction,
    ]
    assert made("GET", f"{events}/{series}/instances?from=2024-01-01", 200) == [
        "GetItem", "BatchGetItem"  # the series, its changed instances
    ]  # fmt: skip
    feed = f"/api/departments/{dept}/calendar.ics{month}"
    client.post(events, json=plain)  # a write: the next read of series is a Query again
    assert made("GET", feed, 200) == ["GetItem", *calendar, "Query", "Query", "BatchGetItem"]
    assert made("DELETE", f"{events}/{series}_20240115", 204) == [
        "BatchGetItem", *calendar, *transaction
    ]  # fmt: skip
    following = f"{instance.replace('0108', '0122')}?scope=following"
    assert made("PATCH", following, 200, json=change) == [
        "BatchGetItem",
        *calendar,
        *transaction,
    ]
    assert made("DELETE", f"{events}/{series}", 204) == [
        "GetItem", "GetItem", *calendar, *transaction
    ]  # fmt: skip


def test_a_list_within_a_minute_of_a_write_reads_that_minutes_changes(
    client: FlaskClient, made: Made
) -> None:
    """docs/performance.md: the index may not show a write yet, so for INDEX_SETTLE a list
    also reads the change records of that time and the events they name (consistent)."""
    dept = create_department(client)["id"]
    client.post(f"/api/events/{dept}", json={"event_date": "2024-01-20", "title": "팀 회의"})
    listed = made("GET", f"/api/events/{dept}?month=2024-01", 200)
    assert listed == ["GetItem", "Query", "Query", "BatchGetItem"]


def test_an_import_job_costs_what_the_cost_table_says(client: FlaskClient, made: Made) -> None:
    """docs/performance.md, "import as a job": the request stores the file's VEVENTs in
    chunks (one BatchWriteItem per 25) and the job (its runner's calls are its own); a
    poll reads the job."""
    dept = create_department(client)["id"]
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a@example.com\r\n"
        "DTSTART;VALUE=DATE:20240105\r\nSUMMARY:회의\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    url = f"/api/events/{dept}/import?async=true"

    posted = made("POST", url, 202, data=body, headers={"Content-Type": "text/calendar"})

    assert posted == ["GetItem", "BatchWriteItem", "PutItem"]
    job = client.post(url, data=body, headers={"Content-Type": "text/calendar"})
    location = job.headers["Location"]
    for _ in range(100):
        if client.get(location).get_json()["status"] == "succeeded":
            break
        time.sleep(0.1)
    assert made("GET", location, 200) == ["GetItem"]
