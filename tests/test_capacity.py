"""Reads cost what they return, however long the product runs: bookkeeping never lands
where a listing reads, and expired bookkeeping is swept."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient

from backend.report.job import ReportJob
from backend.report.mail import Message
from backend.storage import Storage
from backend.storage.bookkeeping import EXPIRING_PARTITION
from tests.helpers import create_department

DEPARTMENTS = 10


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


def test_a_year_of_daily_reports_leaves_the_department_listing_as_cheap(
    client: FlaskClient, storage: Storage, dynamodb: Any
) -> None:
    for n in range(DEPARTMENTS):
        create_department(client, f"부서 {n:02d}", notify_emails=[f"team{n}@example.com"])
    mailings = storage.mailings
    first = date(2024, 1, 1)
    for offset in range(365):  # what a year of daily runs leaves behind, through its verbs
        day = first + timedelta(days=offset)
        mailings.reserve(day, DEPARTMENTS, 100)
        for department in storage.departments.list_all():
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
