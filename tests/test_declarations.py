"""The field declarations (``backend.fields``) are the one list of each resource's fields:
the records, the item mapping, the OpenAPI document, the migration and iCalendar agree.

Pure: no DynamoDB, no HTTP server.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backend.domain import Actor, Department, Event
from backend.fields import (
    DEPARTMENT,
    EVENT,
    Clock,
    Date,
    Declared,
    Derived,
    EmailList,
    Recurrence,
    Resource,
    Text,
)
from backend.ics import feed, reader
from backend.migration import records
from backend.storage.departments import department_from_item
from backend.storage.dynamo import from_item, to_item
from backend.storage.events import event_from_item, event_record
from tests.helpers import api_document

RESOURCES = [(DEPARTMENT, Department, "Department"), (EVENT, Event, "Event")]


def _sample(spec: Declared) -> Any:
    """A value of the field's kind, for a declared field the records below do not name."""
    if isinstance(spec, Derived) and spec.kind == "actor":
        return Actor(spec.example["principal"], spec.example["name"])
    if spec.example is not None:
        return tuple(spec.example) if isinstance(spec, EmailList) else spec.example
    if isinstance(spec, Date):
        return "2024-03-05"
    if isinstance(spec, Clock):
        return "17:00"
    if isinstance(spec, EmailList):
        return ("someone@example.com",)
    if isinstance(spec, Recurrence):
        return ("RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20240311")
    return "값"


def _full(resource: Resource, record: type[Any], given: dict[str, Any]) -> Any:
    """A record with every declared field set: ``given``, then a sample for the rest."""
    return record(**{f.name: given.get(f.name, _sample(f)) for f in resource.output})


FULL_EVENT: Event = _full(
    EVENT,
    Event,
    {
        "id": "e-1",
        "department_id": "d-1",
        "event_date": "2024-03-04",
        "title": "분기 워크숍",
        "time": "오전 9:30",
        "start_time": "09:30",
        "description": "전 직원\n참석",
        "created_at": "2024-01-15T00:31:00.000Z",
        "updated_at": "2024-01-16T00:31:00.000Z",
        "version": 3,
        "end_date": "2024-03-05",
        "end_time": "17:00",
        "location": "제주 연수원",
    },
)
FULL_DEPARTMENT: Department = _full(
    DEPARTMENT,
    Department,
    {
        "id": "d-1",
        "name": "개발팀",
        "description": "백엔드",
        "created_at": "2024-01-15T00:30:00.000Z",
        "updated_at": "2024-01-15T00:30:00.000Z",
        "version": 2,
        "notify_emails": ("lead@example.com", "team@example.com"),
    },
)


@pytest.mark.parametrize(("resource", "record", "_schema"), RESOURCES)
def test_the_record_has_exactly_the_declared_fields_in_order(
    resource: Resource, record: type[Any], _schema: str
) -> None:
    assert tuple(f.name for f in dataclasses.fields(record)) == resource.names


@pytest.mark.parametrize(("resource", "_record", "schema"), RESOURCES)
def test_openapi_schemas_are_the_declarations(
    resource: Resource, _record: type[Any], schema: str
) -> None:
    schemas = api_document()["components"]["schemas"]
    served = schemas[schema]
    # A department also says the caller's role in it (per caller, not a stored field).
    per_caller = ["access_role"] if schema == "Department" else []
    assert list(served["properties"]) == [*resource.names, *per_caller]
    assert served["required"] == [f.name for f in resource.output if f.in_output == "always"]
    create, update = schemas[f"{schema}Create"], schemas[f"{schema}Update"]
    assert list(create["properties"]) == list(resource.writable_names)
    assert list(update["properties"]) == list(resource.writable_names)
    assert create["required"] == [f.name for f in resource.fields if f.required]
    assert "required" not in update
    for spec in resource.fields:
        assert create["properties"][spec.name] == spec.schema()


def test_an_event_survives_its_item_both_ways() -> None:
    item = to_item(event_record(FULL_EVENT))
    assert set(from_item(item)) == set(EVENT.names)  # every declared field is stored
    assert event_from_item(item) == FULL_EVENT


def test_a_department_survives_its_item_both_ways() -> None:
    item = to_item(DEPARTMENT.to_attributes(FULL_DEPARTMENT))
    assert set(from_item(item)) == set(DEPARTMENT.names)
    assert department_from_item(item) == FULL_DEPARTMENT


def test_absent_values_are_left_off_the_item() -> None:
    optional = {f.name for f in EVENT.fields if not f.required}
    cleared: dict[str, Any] = dict.fromkeys(optional)
    bare = dataclasses.replace(FULL_EVENT, **cleared)
    item = to_item(event_record(bare))
    assert set(item) == {f.name for f in EVENT.output} - optional
    emptied = dataclasses.replace(FULL_DEPARTMENT, notify_emails=())
    assert "notify_emails" not in to_item(DEPARTMENT.to_attributes(emptied))


def test_the_migration_knows_exactly_the_declared_fields() -> None:
    assert frozenset({"id", *(f.name for f in DEPARTMENT.fields if f.migrated)}) == (
        records.DEPARTMENT_FIELDS
    )
    migrated = {f.name for f in EVENT.migrated}
    assert frozenset({"id", "department_id", *migrated}) == records.EVENT_FIELDS
    # The old app had no recurring events nor categories: a legacy "recurrence" or
    # "category" is kept aside, as written.
    assert [f.name for f in EVENT.fields if not f.migrated] == ["category", "recurrence"]
    item = records.event_item(
        {"title": "x", "recurrence": "매주", "category": 7},
        "d-1",
        "2024-01-01",
        "2024-01-15T00:00:00Z",
    )
    assert "recurrence" not in item.attributes
    assert item.attributes["legacy_recurrence"] == "매주"
    assert "category" not in item.attributes
    assert item.attributes["legacy_category"] == 7


def test_the_migration_reads_every_declared_event_field() -> None:
    writable = {spec.name: getattr(FULL_EVENT, spec.name) for spec in EVENT.migrated}
    legacy = {"id": FULL_EVENT.id, **writable}

    item = records.event_item(legacy, "d-1", FULL_EVENT.event_date, "2024-01-15T00:00:00Z")

    assert {name: item.attributes.get(name) for name in writable} == writable
    assert item.attributes["start_time"] == FULL_EVENT.start_time


def test_the_migration_normalises_legacy_dates_and_text() -> None:
    legacy = {"title": " 분기 워크숍 ", "end_date": "2024/3/5", "time": 930, "location": " "}

    stored = records.event_item(legacy, "d-1", "2024-3-4", "2024-01-15T00:00:00Z").attributes

    assert (stored["event_date"], stored["end_date"]) == ("2024-03-04", "2024-03-05")
    assert (stored["title"], stored["time"]) == ("분기 워크숍", "930")
    assert "location" not in stored  # blank is none, as the API stores it


def test_a_legacy_field_the_migration_does_not_read_is_kept_as_written() -> None:
    written = ["Lead@example.com ", "not an address"]

    item = records.department_item(
        {"name": "QA팀", "notify_emails": written}, "1", "2024-01-01T00:00Z"
    )

    assert item.attributes["notify_emails"] == written


# Ids and content digests written by earlier versions of the migration: a re-run must
# recognise every item they wrote as "already present", so these never change.
EARLIER_DEPARTMENTS = [
    (
        {"name": "A", "notify_emails": []},
        None,
        "a059fbff-1df1-5604-aa43-cd1ef738f8e4",
        "40c7a6e9685803a99bb5d3fbe3af865b",
    ),
    (
        {"name": "개발팀", "description": "백엔드", "notify_emails": [" Lead@x.com", "lead@x.com"]},
        None,
        "d3e7c023-928c-57d6-9960-2f922a5dd8ae",
        "90d316bfab99f4beeee7449a879630b1",
    ),
    ({"name": "QA팀", "notify_emails": "bad"}, "7", "7", "83d44fa4f9fc3c7597d7aaf9fda6f5bf"),
    (
        {"name": " 마케팅팀 ", "extra": {"k": 1}},
        None,
        "e0f7433c-7978-5cf0-92a8-fa26a199b9c8",
        "a1a14409444c35e175b801d0ac58fc4a",
    ),
]
EARLIER_EVENTS = [
    (
        {"title": "팀 회의", "time": "오후 2:00", "description": "주간 회의"},
        "2024-01-20",
        "e7fb1ab6-185b-5185-b742-db21e955a86d",
        "977f70db2cf09d386e06cc83834e2b9e",
    ),
    (
        {
            "id": 7,
            "title": " 워크숍 ",
            "end_date": "2024/3/5",
            "time": 930,
            "location": " ",
            "color": "red",
        },
        "2024-3-4",
        "7",
        "65f24b6c370be06435e9879678316bff",
    ),
    (
        {"title": "x", "end_time": "오후 5시", "time": "15:00"},
        "2024.01.05",
        "83f39913-ca5c-59a7-b06e-c50d7e63c56a",
        "94d5199dca2cbde2a1433bbc2c25540a",
    ),
]


@pytest.mark.parametrize(("record", "given_id", "ident", "digest"), EARLIER_DEPARTMENTS)
def test_departments_migrate_to_the_ids_and_digests_earlier_versions_wrote(
    record: dict[str, Any], given_id: str | None, ident: str, digest: str
) -> None:
    item = records.department_item(record, given_id, "2024-01-01T00:00:00Z")

    assert (item.id, item.digest.hex()) == (ident, digest)


@pytest.mark.parametrize(("record", "day", "ident", "digest"), EARLIER_EVENTS)
def test_events_migrate_to_the_ids_and_digests_earlier_versions_wrote(
    record: dict[str, Any], day: str, ident: str, digest: str
) -> None:
    item = records.event_item(record, "d-1", day, "2024-01-01T00:00:00Z")

    assert (item.id, item.digest.hex()) == (ident, digest)


def test_items_lacking_a_required_text_read_as_empty_text_not_null() -> None:
    event = event_from_item(to_item({"id": "e", "department_id": "d", "version": 1}))
    department = department_from_item(to_item({"id": "d"}))

    assert (event.title, event.event_date, department.name) == ("", "", "")
    assert event.time is None


def test_every_declared_ical_property_goes_through_the_feed_and_back() -> None:
    carried = [f for f in EVENT.fields if isinstance(f, Text) and f.ical]
    assert {f.name for f in carried} >= {"title", "description", "location", "time"}
    department = FULL_DEPARTMENT
    body = feed.calendar(department, [FULL_EVENT], "Asia/Seoul", "calendar.test")
    text = body.decode("utf-8")
    for spec in carried:
        assert f"\r\n{spec.ical}" in text, spec.ical
    [entry] = reader.parse(body, "Asia/Seoul", "calendar.test")
    assert entry.event_id == FULL_EVENT.id
    for spec in carried:
        assert entry.fields[spec.name] == getattr(FULL_EVENT, spec.name), spec.name


def test_examples_are_valid_by_the_declarations() -> None:
    for resource in (DEPARTMENT, EVENT):
        example = resource.example()
        assert list(example) == [f.name for f in resource.output if f.in_output == "always"]
        writable = {k: v for k, v in example.items() if k in resource.writable_names}
        assert resource.validate(writable, creating=True)


@pytest.mark.parametrize("resource", [DEPARTMENT, EVENT], ids=lambda r: r.name)
def test_a_record_is_read_from_an_item_by_each_fields_own_reader(resource: Resource) -> None:
    """``from_attributes`` inlines the plain readers: it reads what each field's
    ``from_attribute`` reads, whatever an item written by another program holds."""
    fields = resource.output
    items: list[dict[str, Any]] = [
        {},
        {f.attribute: None for f in fields},
        {f.attribute: "글" for f in fields if f.name != "version"} | {"version": 3},
        {f.attribute: 5 for f in fields},
        {f.attribute: ["a", 1] for f in fields if f.name != "version"},
    ]
    for item in items:
        expected = {f.name: f.from_attribute(item.get(f.attribute)) for f in fields}
        read = resource.from_attributes(item)
        assert read == expected
        assert [type(v) for v in read.values()] == [type(v) for v in expected.values()]
