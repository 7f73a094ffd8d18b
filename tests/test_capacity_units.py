"""The cost tables of docs/performance.md cannot drift: what each row says a request
costs in capacity units, and the item sizes they rest on, against what the product's
DynamoDB calls cost by AWS's rules (``tests/aws_sizing.py``), measured on a department
as Korean users fill it.

The numbers are read from the doc itself, by row label, so a change to the code or to the
doc that makes them disagree fails here, naming the row and both numbers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask.testing import FlaskClient

from backend.config import Settings
from backend.storage.bookkeeping import CALENDAR_PREFIX
from backend.storage.changes import CHANGES_PREFIX
from backend.storage.dynamo import make_client
from backend.storage.schema import DEPARTMENTS, EVENTS, TableSchema
from tests.aws_sizing import (
    KB,
    IndexShape,
    Item,
    index_storage_size,
    index_write_units,
    item_size,
    query_units,
    read_units,
    write_units,
)
from tests.helpers import create_department, settle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_EXPRESSION_TOKEN = re.compile(r"[#:][A-Za-z0-9_]+")


# -- the doc ---------------------------------------------------------------------------------


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _row(label: str) -> list[str]:
    """The cells of the doc's table row whose first cell starts with ``label``."""
    for line in _doc().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and cells[0].startswith(label):
            return cells
    raise AssertionError(f"docs/performance.md has no table row {label!r}")


def _stated(
    pattern: str, text: str | None = None, where: str = "docs/performance.md"
) -> tuple[float, ...]:
    found = re.search(pattern, _doc() if text is None else text)
    assert found, f"{where} no longer says {pattern!r}: update this test with the doc"
    return tuple(float(g) for g in found.groups())


def _units(cell: str) -> list[tuple[float, str]]:
    """The ``<n> WRU`` / ``<n> RRU`` terms of a "units each" cell, in order."""
    return [(float(n), unit) for n, unit in re.findall(r"(\d+(?:\.\d+)?) (WRU|RRU)\b", cell)]


def _agree(row: str, what: str, stated: float, measured: float) -> None:
    assert stated == measured, (
        f"docs/performance.md, row {row!r}: {what} is {stated:g} in the doc, "
        f"{measured:g} by AWS's rules on what the product did"
    )


# -- what a request costs by AWS's rules -----------------------------------------------------


@dataclass
class Call:
    operation: str
    rcu: float = 0.0
    wcu: float = 0.0  # the table's writes (a transaction's 2× included)
    index_wcu: float = 0.0  # the writes of global secondary index entries
    read_sizes: list[int] = field(default_factory=list)
    failed: bool = False


@dataclass
class Measured:
    calls: list[Call]

    @property
    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    @property
    def rcu(self) -> float:
        return sum(c.rcu for c in self.calls)

    @property
    def wcu(self) -> float:
        return sum(c.wcu for c in self.calls)

    @property
    def index_wcu(self) -> float:
        return sum(c.index_wcu for c in self.calls)


class Meter:
    """Watches the app's DynamoDB client (botocore ``before-parameter-build`` and
    ``after-call``) and prices each call by AWS's rules. Items are read whole, before
    and after a write, and a Query or Scan is run again without its filter, projection
    or ``Select``, by a client of its own, outside the request's accounting."""

    def __init__(self, app_client: Any, settings: Settings) -> None:
        self.raw = make_client(
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            access_key="local",
            secret_key="local",
        )
        self.tables: dict[str, TableSchema] = {
            settings.departments_table: DEPARTMENTS,
            settings.events_table: EVENTS,
        }
        self.indexes: dict[str, list[IndexShape]] = {}
        for name, schema in self.tables.items():
            request = schema.create_table_request(name)
            shapes = []
            for index, declared in zip(
                schema.indexes, request["GlobalSecondaryIndexes"], strict=True
            ):
                projection = declared["Projection"]
                projected = (
                    None
                    if projection["ProjectionType"] == "ALL"
                    else frozenset(projection.get("NonKeyAttributes", []))
                )
                table_keys = tuple(k for k in (schema.hash_key, schema.range_key) if k)
                shapes.append(
                    IndexShape(index.name, index.hash_key, index.range_key, table_keys, projected)
                )
            self.indexes[name] = shapes
        self.calls: list[Call] = []
        self._pending: list[tuple[str, dict[str, Any], list[tuple[str, Item, Item | None]]]] = []
        self.active = False
        self.last_response: Any = None  # the response of the last ``request``
        events = app_client.meta.events
        events.register("before-parameter-build.dynamodb", self._before, unique_id="sizing-b")
        events.register("after-call.dynamodb", self._after, unique_id="sizing-a")

    # reading items whole, outside the request

    def item(self, table: str, key: Item) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.raw.get_item(
            TableName=table,
            Key=dict(key),
            ConsistentRead=True,
        ).get("Item")
        return found

    def _key(self, table: str, item: Item) -> Item:
        schema = self.tables[table]
        return {k: item[k] for k in (schema.hash_key, schema.range_key) if k}

    def _written(self, operation: str, params: dict[str, Any]) -> list[tuple[str, Item]]:
        if operation == "PutItem":
            return [(params["TableName"], self._key(params["TableName"], params["Item"]))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"])]
        if operation == "TransactWriteItems":
            keys = []
            for entry in params["TransactItems"]:
                ((_, body),) = entry.items()
                table = body["TableName"]
                keys.append((table, body.get("Key") or self._key(table, body["Item"])))
            return keys
        keys = []  # BatchWriteItem
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    keys.append((table, self._key(table, request["PutRequest"]["Item"])))
                else:
                    keys.append((table, request["DeleteRequest"]["Key"]))
        return keys

    # the hooks

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.active:
            return
        params = copy.deepcopy(params)
        before: list[tuple[str, Item, Item | None]] = []
        if model.name in _WRITES:
            before = [(t, k, self.item(t, k)) for t, k in self._written(model.name, params)]
        self._pending.append((model.name, params, before))

    def _after(self, http_response: Any, model: Any, **_: Any) -> None:
        if not self.active or not self._pending:
            return
        operation, params, before = self._pending.pop()
        assert operation == model.name
        call = Call(operation, failed=http_response.status_code >= 300)
        if operation in _WRITES:
            self._price_writes(call, before)
        elif operation == "GetItem":
            found = self.item(params["TableName"], params["Key"])
            call.read_sizes = [item_size(found)] if found else []
            call.rcu = read_units(
                item_size(found) if found else None,
                consistent=bool(params.get("ConsistentRead")),
            )
        elif operation in ("BatchGetItem", "TransactGetItems"):
            self._price_item_reads(call, params)
        elif operation in ("Query", "Scan"):
            items = self._read_by(operation, params)
            call.read_sizes = [item_size(i) for i in items]
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            call.rcu = query_units(call.read_sizes, consistent=consistent)
        self.calls.append(call)

    def _price_writes(self, call: Call, before: list[tuple[str, Item, Item | None]]) -> None:
        times = 2 if call.operation == "TransactWriteItems" else 1
        for table, key, old in before:
            if call.failed:  # a refused conditional write still costs the item's size
                call.wcu += times * write_units(old, None)
                continue
            new = self.item(table, key)
            call.wcu += times * write_units(old, new)
            call.index_wcu += sum(index_write_units(i, old, new) for i in self.indexes[table])

    def _price_item_reads(self, call: Call, params: dict[str, Any]) -> None:
        if call.operation == "TransactGetItems":
            gets = [(e["Get"]["TableName"], e["Get"]["Key"], True) for e in params["TransactItems"]]
        else:
            gets = [
                (table, key, bool(spec.get("ConsistentRead")))
                for table, spec in params["RequestItems"].items()
                for key in spec["Keys"]
            ]
        times = 2 if call.operation == "TransactGetItems" else 1
        for table, key, consistent in gets:
            found = self.item(table, key)
            size = item_size(found) if found else None
            call.read_sizes += [size] if size else []
            call.rcu += times * read_units(size, consistent=consistent)

    def _read_by(self, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The items a Query or Scan page read: the same page, whole items, no filter."""
        kept = {
            k: v
            for k, v in params.items()
            if k
            in (
                "TableName",
                "IndexName",
                "KeyConditionExpression",
                "Limit",
                "ExclusiveStartKey",
                "ScanIndexForward",
                "ConsistentRead",
                "Segment",
                "TotalSegments",
                "ExpressionAttributeNames",
                "ExpressionAttributeValues",
            )
        }
        used = set(_EXPRESSION_TOKEN.findall(kept.get("KeyConditionExpression", "")))
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            values = {k: v for k, v in kept.pop(name, {}).items() if k in used}
            if values:
                kept[name] = values
        read = self.raw.query if operation == "Query" else self.raw.scan
        items: list[dict[str, Any]] = read(**kept).get("Items", [])
        return items

    # one request

    def request(
        self, client: FlaskClient, method: str, url: str, status: int, **kwargs: Any
    ) -> Measured:
        self.calls = []
        self.active = True
        try:
            response = client.open(url, method=method, **kwargs)
        finally:
            self.active = False
        assert response.status_code == status, response.get_data(as_text=True)
        assert not self._pending
        self.last_response = response
        return Measured(self.calls)


@pytest.fixture
def meter(dynamodb: DynamoDBClient, settings: Settings) -> Iterator[Meter]:
    watching = Meter(dynamodb, settings)
    yield watching
    dynamodb.meta.events.unregister("before-parameter-build.dynamodb", unique_id="sizing-b")
    dynamodb.meta.events.unregister("after-call.dynamodb", unique_id="sizing-a")


# -- a department as its people fill it ------------------------------------------------------

TITLES = [
    "주간 개발팀 정기 회의 및 일정 공유",
    "신규 입사자 온보딩 교육 프로그램",
    "분기별 성과 평가 면담 일정 안내",
    "고객사 방문 및 요구사항 검토 회의",
    "사내 보안 교육 및 개인정보 점검",
    "프로젝트 중간 보고회 준비 회의",
    "서버 점검 및 배포 일정 확인 작업",
    "팀 워크숍 장소 답사 및 예약 확인",
    "연말 결산 자료 취합 및 보고 준비",
    "신제품 출시 전략 회의 및 리뷰",
]
DESCRIPTION = (
    "회의실 예약은 총무팀에 미리 요청해 주시고 관련 자료는 공유 폴더에 올려 주세요 감사합니다"
)


def _korean(text: str, length: int) -> str:
    """``text`` cut or repeated to ``length`` characters."""
    return (text * (length // len(text) + 1))[:length]


@pytest.fixture
def department(client: FlaskClient, dynamodb: DynamoDBClient, settings: Settings) -> str:
    """A department with a month (2024-03) of ten events as the doc sizes them: a title
    and a description of the lengths it names, a time and a place."""
    title_chars, description_chars = _stated(
        r"an event with a (\d+)-character Korean title and a (\d+)-character description"
    )
    dept: str = create_department(
        client, "플랫폼개발팀", description="사내 플랫폼 개발과 운영을 맡은 부서입니다"
    )["id"]
    for n, title in enumerate(TITLES):
        body = {
            "event_date": f"2024-03-{4 + 2 * n:02d}",
            "title": _korean(title, int(title_chars)),
            "description": _korean(DESCRIPTION, int(description_chars)),
            "time": "오후 2:00",
            "location": "본관 3층 대회의실",
        }
        assert client.post(f"/api/events/{dept}", json=body).status_code == 201
    settle(dynamodb, settings, dept)  # a minute later: the index has every write
    return dept


def _event_body(n: int = 0) -> dict[str, Any]:
    title_chars, description_chars = _stated(
        r"an event with a (\d+)-character Korean title and a (\d+)-character description"
    )
    return {
        "event_date": "2024-03-21",
        "title": _korean(TITLES[n % len(TITLES)], int(title_chars)),
        "description": _korean(DESCRIPTION, int(description_chars)),
        "time": "오전 10:00",
        "location": "2층 소회의실",
    }


# -- the monthly table -----------------------------------------------------------------------


def test_an_event_write_costs_what_the_monthly_table_says(
    client: FlaskClient, meter: Meter, department: str, dynamodb: DynamoDBClient, settings: Settings
) -> None:
    label = "event writes"
    stated = _units(_row(label)[2])
    writes = sum(n for n, unit in stated if unit == "WRU")
    reads = [n for n, unit in stated if unit == "RRU"]
    assert len(reads) == 2, f"row {label!r}: a create's RRU, then a change's or deletion's"
    events = f"/api/events/{department}"

    created = meter.request(client, "POST", events, 201, json=_event_body())
    event = meter.last_response.get_json()["id"]
    assert created.operations == ["Query", "GetItem", "TransactWriteItems"]
    _agree(label, "a create's WRU", writes, created.wcu + created.index_wcu)
    _agree(label, "a create's RRU", reads[0], created.rcu)
    settle(dynamodb, settings, department)

    changed = meter.request(
        client, "PATCH", f"{events}/{event}", 200, json={"title": "변경된 회의"}
    )
    _agree(label, "a change's WRU", writes, changed.wcu + changed.index_wcu)
    _agree(label, "a change's RRU", reads[1], changed.rcu)

    deleted = meter.request(client, "DELETE", f"{events}/{event}", 204)
    _agree(label, "a deletion's WRU", writes, deleted.wcu + deleted.index_wcu)
    _agree(label, "a deletion's RRU", reads[1], deleted.rcu)

    # The intro's terms: 3 items of under 1 KB at 2 WCU each, 1 index entry.
    per_item, index = _stated(
        r"\(3 items, (\d+) WCU while each\s+is under 1 KB\), plus the event's own entry in "
        r"`department-date-index` \((\d+) WCU per KB\)"
    )
    _agree("What one request may read or write", "a create's transaction", per_item, created.wcu)
    _agree("What one request may read or write", "a create's index entry", index, created.index_wcu)


def test_page_views_polls_and_sync_cost_what_the_monthly_table_says(
    client: FlaskClient, meter: Meter, department: str
) -> None:
    events = f"/api/events/{department}"
    month = f"{events}?month=2024-03"

    label = "page views"
    listed = meter.request(client, "GET", month, 200)
    assert listed.operations == ["GetItem", "Query"]
    (month_kb,) = _stated(r"a month of one department: about \d+ events, (\d+) KB", _row(label)[0])
    read_kb = sum(listed.calls[1].read_sizes) / KB
    assert month_kb - 1 <= read_kb <= month_kb + 1, (
        f"row {label!r}: the doc's month of events is {month_kb:g} KB, this one {read_kb:.2f} KB"
    )
    _agree(label, "RRU", sum(n for n, _ in _units(_row(label)[2])), listed.rcu)

    label = "polls with the list's `ETag`"
    poll = {"If-None-Match": meter.last_response.headers["ETag"]}
    polled = meter.request(client, "GET", month, 304, headers=poll)
    _agree(label, "RRU", sum(n for n, _ in _units(_row(label)[2])), polled.rcu)
    (per_request,) = _stated(r"\((\d+(?:\.\d+)?) RCU\)", _row("`If-None-Match` poll of a list")[1])
    _agree("`If-None-Match` poll of a list", "RCU", per_request, polled.rcu)

    label = "sync clients"
    token = client.get(f"{events}?sync=true&limit=200").get_json()["next_sync_token"]
    delta = meter.request(client, "GET", f"{events}?sync_token={token}", 200)
    assert delta.operations == ["GetItem", "Query"]
    _agree(label, "RRU", sum(n for n, _ in _units(_row(label)[2])), delta.rcu)


def test_the_monthly_totals_follow_from_their_rows() -> None:
    """units = requests × units each, and cost = units × us-east-1's on-demand prices."""
    wru_price, rru_price = _stated(
        r"\$(\d+\.\d+) per million WRU and \$(\d+\.\d+) per million\s+RRU"
    )
    total = 0.0
    for label in ("event writes", "page views", "polls with", "sync clients", "webhook deliveries"):
        cells = _row(label)
        requests = _amount(cells[1])
        cost = float(cells[4].removeprefix("$"))
        total += cost
        each = _units(cells[2])
        stated = {
            unit: _amount(n) for n, unit in re.findall(r"([\d.,]+ ?[kM]?) (WRU|RRU)", cells[3])
        }
        priced = stated.get("WRU", 0) * wru_price / 1e6 + stated.get("RRU", 0) * rru_price / 1e6
        # the units column is rounded ("32 M"): a cent, or 2 %
        assert abs(priced - cost) <= max(0.01, 0.02 * cost), (
            f"row {label!r}: ${cost:g} stated, ${priced:.3f} from its units and the prices"
        )
        if label == "event writes":  # creates, then changes and deletions
            created = _amount(re.search(r"([\d,]+) created", cells[0]).group(1))  # type: ignore[union-attr]
            reads = [n for n, unit in each if unit == "RRU"]
            wanted_rru = created * reads[0] + (requests - created) * reads[1]
        elif label == "webhook deliveries":
            continue  # "about 6 calls": an estimate the cells state directly
        else:
            wanted_rru = requests * sum(n for n, unit in each if unit == "RRU")
        wanted_wru = requests * sum(n for n, unit in each if unit == "WRU")
        for unit, wanted in (("WRU", wanted_wru), ("RRU", wanted_rru)):
            got = stated.get(unit, 0)
            assert abs(got - wanted) <= 0.05 * wanted, (
                f"row {label!r}: {got:g} {unit} stated, {wanted:g} from its requests × units"
            )
    (stated_total,) = _stated(r"\*\*about \$(\d+(?:\.\d+)?)\*\*")
    assert round(total) == stated_total, f"the total: about ${stated_total:g} stated, ${total:.2f}"


def _amount(text: str) -> float:
    """``7,750``, ``54k``, ``1.65 M`` → a number."""
    text = text.replace(",", "").strip()
    found = re.match(r"([\d.]+) ?([kM]?)", text)
    assert found, text
    return float(found.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[found.group(2)]


# -- the per-request table -------------------------------------------------------------------


def test_reads_cost_what_the_per_request_table_says(
    client: FlaskClient, meter: Meter, department: str
) -> None:
    events = f"/api/events/{department}"
    get_rcu, under_kb = _stated(
        r"Every GetItem here is strongly consistent: (\d+) RCU while the\s+item is under (\d+) KB"
    )
    first = client.get(f"{events}?month=2024-03").get_json()["items"][0]["id"]
    got = meter.request(client, "GET", f"{events}/{first}", 200)
    assert got.operations == ["GetItem"]
    assert got.calls[0].read_sizes[0] < under_kb * KB
    _agree("get an event", "RCU", get_rcu, got.rcu)

    feed = f"/api/departments/{department}/calendar.ics?month=2024-03"
    etag = client.get(feed).headers["ETag"]
    gets, each = _stated(
        r"the same (\d+) GetItems \((\d+) RCU each\)", _row("`If-None-Match` poll of the feed")[1]
    )
    polled = meter.request(client, "GET", feed, 304, headers={"If-None-Match": etag})
    assert polled.operations == int(gets) * ["GetItem"]
    _agree("`If-None-Match` poll of the feed", "RCU", gets * each, polled.rcu)

    # Sign-in's read of the department's item is the GetItem that getting it makes.
    label = "**sign-in**"
    small, large = _stated(
        r"which holds its members: (\d+) RCU, (\d+) RCU past 4 KB", _row(label)[1]
    )
    department_read = meter.request(client, "GET", f"/api/departments/{department}", 200)
    assert department_read.operations == ["GetItem"]
    assert department_read.calls[0].read_sizes[0] < 4 * KB
    _agree(label, "RCU of the department's item", small, department_read.rcu)
    _agree(label, "RCU of it past 4 KB", large, read_units(4 * KB + 1, consistent=True))


def test_a_delta_costs_what_the_per_request_table_says(
    client: FlaskClient, meter: Meter, department: str
) -> None:
    label = "delta (`?sync_token=`)"
    calls_none, rcu_none, calls_ten, rcu_ten = _stated(
        r"nothing changed (\d+) calls, (\d+(?:\.\d+)?) RCU; 10 changes (\d+) calls, "
        r"(\d+(?:\.\d+)?) RCU",
        _row(label)[1],
    )
    events = f"/api/events/{department}"
    token = client.get(f"{events}?sync=true&limit=200").get_json()["next_sync_token"]
    nothing = meter.request(client, "GET", f"{events}?sync_token={token}", 200)
    _agree(label, "calls when nothing changed", calls_none, len(nothing.calls))
    _agree(label, "RCU when nothing changed", rcu_none, nothing.rcu)

    made = [  # 10 changes: 5 new events, each changed once
        client.post(events, json=_event_body(n)).get_json()["id"] for n in range(5)
    ]
    for ident in made:
        assert client.patch(f"{events}/{ident}", json={"location": "회의실 A"}).status_code == 200
    ten = meter.request(client, "GET", f"{events}?sync_token={token}", 200)
    assert len(meter.last_response.get_json()["items"]) == 5
    _agree(label, "calls for 10 changes", calls_ten, len(ten.calls))
    _agree(label, "RCU for 10 changes", rcu_ten, ten.rcu)


# -- the sizes the tables rest on ------------------------------------------------------------


def test_items_are_the_sizes_the_doc_prices(
    client: FlaskClient, meter: Meter, department: str, settings: Settings
) -> None:
    """The monthly section's item sizes (an event of the doc's shape, a change record, a
    calendar item, a department: "about" is within a third), the per-request table's
    change record ("about 0.2–1 KB"), and an event's index entry under 1 KB even with its
    storage overhead: a change that makes any of them bigger than the doc says fails."""
    event_kb, record_low, record_high, calendar_kb, department_kb = _stated(
        r"is about (\d+(?:\.\d+)?) KB,\s+a change record (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) KB, "
        r"a calendar item (\d+(?:\.\d+)?) KB, a department (\d+(?:\.\d+)?) KB"
    )
    events_table = settings.events_table
    event_id = client.get(f"/api/events/{department}?month=2024-03").get_json()["items"][0]["id"]
    event = meter.item(events_table, {"id": {"S": event_id}, "department_id": {"S": department}})
    calendar = meter.item(
        events_table,
        {"id": {"S": CALENDAR_PREFIX + department}, "department_id": {"S": department}},
    )
    dept = meter.item(settings.departments_table, {"id": {"S": department}})
    assert event
    assert calendar
    assert dept
    records = meter.raw.query(
        TableName=events_table,
        KeyConditionExpression="id = :p",
        ExpressionAttributeValues={":p": {"S": CHANGES_PREFIX + department}},
        ConsistentRead=True,
    )["Items"]
    assert len(records) == len(TITLES)

    def about(what: str, stated_kb: float, size: int) -> None:
        # "about": within a third of what the doc says (and never past it by more)
        assert size <= stated_kb * KB * 4 / 3, (
            f"{what}: about {stated_kb:g} KB stated, {size} bytes"
        )
        assert size >= stated_kb * KB * 2 / 3, (
            f"{what}: about {stated_kb:g} KB stated, {size} bytes"
        )

    about("an event", event_kb, item_size(event))
    about("a calendar item", calendar_kb, item_size(calendar))
    about("a department", department_kb, item_size(dept))
    for record in records:
        size = item_size(record)
        assert record_low * KB * 2 / 3 <= size <= record_high * KB, (
            f"a change record: {record_low:g}–{record_high:g} KB stated, {size} bytes"
        )
    low, high = _stated(
        r"the change record, about (\d+(?:\.\d+)?)–(\d+(?:\.\d+)?) KB", _row("create an event")[1]
    )
    assert all(low * KB * 2 / 3 <= item_size(r) <= high * KB for r in records)
    (index,) = meter.indexes[events_table]  # department-date-index
    entry = index.entry(event)
    assert entry is not None
    assert index_storage_size(entry) < KB
    assert item_size(calendar) < KB
    assert write_units(calendar, calendar) == 1


# -- the rules themselves --------------------------------------------------------------------


def test_the_sizing_rules_follow_the_aws_examples() -> None:
    assert item_size({"title": {"S": "회의"}}) == 5 + 6  # Korean: 3 bytes a character
    # 123.4500: 12345 significant, 5 digits: 3 bytes + 1
    assert item_size({"n": {"N": "1"}, "m": {"N": "123.4500"}}) == (1 + 2) + (1 + 4)
    assert item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == 3 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3
    assert read_units(None, consistent=True) == 1  # a miss still reads
    assert read_units(4 * KB, consistent=True) == 1
    assert read_units(4 * KB + 1, consistent=False) == 1
    assert query_units([], consistent=False) == 0.5
    assert query_units([3 * KB, 3 * KB], consistent=True) == 2  # summed, then rounded
    big = {"id": {"S": "x" * 1100}}
    assert write_units(None, {"id": {"S": "x"}}) == 1
    assert write_units(big, {"id": {"S": "x"}}) == 2  # the larger of before and after
    index = IndexShape("by-date", "department_id", "event_date", ("id", "department_id"))
    on = {"id": {"S": "e"}, "department_id": {"S": "d"}, "event_date": {"S": "2024-01-01"}}
    moved = on | {"event_date": {"S": "2024-01-02"}}
    assert index_write_units(index, None, on) == 1
    assert index_write_units(index, on, on | {"title": {"S": "t"}}) == 1
    assert index_write_units(index, on, on) == 0
    assert index_write_units(index, on, moved) == 2  # old entry deleted, new one put
    assert index_write_units(index, on, None) == 1
    assert index_write_units(index, None, {"id": {"S": "e"}, "department_id": {"S": "d"}}) == 0
