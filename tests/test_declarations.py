"""The field declarations (``backend.fields``) are the one list of each resource's fields:
the records, the item mapping, the OpenAPI document, the migration and iCalendar agree.

Pure: no DynamoDB, no HTTP server.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backend.domain import Department, Event
from backend.errors import Rejected
from backend.fields import DEPARTMENT, EVENT, Clock, Date, Declared, EmailList, Resource, Text
from backend.ics import feed, reader
from backend.migration import records
from backend.storage.departments import department_from_item
from backend.storage.dynamo import from_item, to_item
from backend.storage.events import event_from_item, event_record
from tests.helpers import api_document

RESOURCES = [(DEPARTMENT, Department, "Department"), (EVENT, Event, "Event")]


def _sample(spec: Declared) -> Any:
    """A value of the field's kind, for a declared field the records below do not name."""
    if spec.example is not None:
        return tuple(spec.example) if isinstance(spec, EmailList) else spec.example
    if isinstance(spec, Date):
        return "2024-03-05"
    if isinstance(spec, Clock):
        return "17:00"
    if isinstance(spec, EmailList):
        return ("someone@example.com",)
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
    assert list(served["properties"]) == list(resource.names)
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
    assert frozenset({"id", *DEPARTMENT.writable_names}) == records.DEPARTMENT_FIELDS
    assert frozenset({"id", "department_id", *EVENT.writable_names}) == records.EVENT_FIELDS


def test_the_migration_reads_every_declared_event_field() -> None:
    writable = {name: getattr(FULL_EVENT, name) for name in EVENT.writable_names}
    legacy = {"id": FULL_EVENT.id, **writable}

    item = records.event_item(legacy, "d-1", FULL_EVENT.event_date, "2024-01-15T00:00:00Z")

    assert {name: item.attributes.get(name) for name in EVENT.writable_names} == writable
    assert item.attributes["start_time"] == FULL_EVENT.start_time


def test_the_migration_normalises_legacy_dates_and_text() -> None:
    legacy = {"title": " 분기 워크숍 ", "end_date": "2024/3/5", "time": 930, "location": " "}

    stored = records.event_item(legacy, "d-1", "2024-3-4", "2024-01-15T00:00:00Z").attributes

    assert (stored["event_date"], stored["end_date"]) == ("2024-03-04", "2024-03-05")
    assert (stored["title"], stored["time"]) == ("분기 워크숍", "930")
    assert "location" not in stored  # blank is none, as the API stores it


def test_the_migration_checks_a_department_field_it_used_to_copy_blindly() -> None:
    with pytest.raises(Rejected, match=r"notify_emails\[1\] is not an e-mail address"):
        records.department_item(
            {"name": "QA팀", "notify_emails": ["a@example.com", "nope"]}, "1", "2024-01-01T00:00Z"
        )
    item = records.department_item(
        {"name": "QA팀", "notify_emails": ["a@example.com"]}, "1", "2024-01-01T00:00Z"
    )
    assert item.attributes["notify_emails"] == ["a@example.com"]


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
