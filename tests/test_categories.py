"""An event's ``category`` (회의, 연차, 출장, 외근): written and cleared through the API,
carried by the iCalendar feed and import as ``CATEGORIES``, and left out where unset."""

from __future__ import annotations

from typing import Any

import icalendar
import pytest
from flask.testing import FlaskClient

from backend.fields import CATEGORY_MAX
from tests.helpers import assert_problem, create_department, create_event

ICS = {"Content-Type": "text/calendar"}


@pytest.fixture
def department(client: FlaskClient) -> dict[str, Any]:
    return create_department(client, "인사팀")


def test_a_category_is_created_trimmed_patched_and_cleared(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], title="휴가", category="  연차 ")
    url = f"/api/events/{department['id']}/{event['id']}"

    assert event["category"] == "연차"
    assert client.get(url).get_json()["category"] == "연차"
    changed = client.patch(url, json={"category": "외근"}, headers={"If-Match": '"1"'})
    assert changed.get_json()["category"] == "외근"
    cleared = client.patch(url, json={"category": None}).get_json()
    assert "category" not in cleared  # left out, as every optional field of a series is
    assert "category" not in client.get(url).get_json()
    assert client.patch(url, json={"category": "출장"}).get_json()["category"] == "출장"
    assert "category" not in client.patch(url, json={"category": "   "}).get_json()


def test_events_without_a_category_keep_their_shape(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"])
    listed = client.get(f"/api/events/{department['id']}?month=2024-01").get_json()["items"]

    assert "category" not in event
    assert "category" not in listed[0]


@pytest.mark.parametrize(
    "category",
    ["가" * (CATEGORY_MAX + 1), "회의\n외부", "회\t의", 7, ["회의"]],
)
def test_a_category_over_30_characters_or_not_one_line_is_422(
    client: FlaskClient, department: dict[str, Any], category: Any
) -> None:
    response = client.post(
        f"/api/events/{department['id']}",
        json={"event_date": "2024-01-20", "title": "회의", "category": category},
    )

    assert_problem(response, 422, field="category")


def test_thirty_characters_are_a_category(client: FlaskClient, department: dict[str, Any]) -> None:
    event = create_event(client, department["id"], category="가" * CATEGORY_MAX)

    assert event["category"] == "가" * CATEGORY_MAX


def test_the_openapi_document_declares_the_category(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]

    for name in ("EventCreate", "EventUpdate", "Event"):
        field = schemas[name]["properties"]["category"]
        assert field["maxLength"] == CATEGORY_MAX, name
        assert field["type"] == ["string", "null"], name
    assert "category" not in schemas["Event"]["required"]


def test_the_feed_carries_categories_and_the_import_reads_them_back_in_korean(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(client, department["id"], title="주간 회의", category="회의, 외부")
    create_event(client, department["id"], event_date="2024-01-22", title="휴가", category="연차")
    create_event(client, department["id"], event_date="2024-01-23", title="점심")
    feed = client.get(f"/api/departments/{department['id']}/calendar.ics?month=2024-01")
    text = feed.get_data(as_text=True)

    assert "\r\nCATEGORIES:회의\\, 외부\r\n" in text  # one category, its comma escaped
    assert "\r\nCATEGORIES:연차\r\n" in text
    assert text.count("CATEGORIES") == 2
    parsed = {}
    for component in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        assert isinstance(component, icalendar.Event)
        if component.categories:
            parsed[str(component["SUMMARY"])] = [str(c) for c in component.categories]
    assert parsed == {"주간 회의": ["회의, 외부"], "휴가": ["연차"]}

    other = create_department(client, "재무팀")
    imported = client.post(f"/api/events/{other['id']}/import", data=feed.get_data(), headers=ICS)
    assert imported.get_json()["created"] == 3
    items = client.get(f"/api/events/{other['id']}?month=2024-01").get_json()["items"]
    assert {i["title"]: i.get("category") for i in items} == {
        "주간 회의": "회의, 외부",
        "휴가": "연차",
        "점심": None,
    }
    again = client.post(f"/api/events/{other['id']}/import", data=feed.get_data(), headers=ICS)
    assert again.get_json()["unchanged"] == 3  # the round trip changes nothing


def test_the_import_takes_the_first_of_several_categories(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Outlook//EN\r\n"
        "BEGIN:VEVENT\r\nUID:a@example.com\r\nDTSTART;VALUE=DATE:20240120\r\n"
        "SUMMARY:출장 보고\r\nCATEGORIES: 출장 ,외근\r\nCATEGORIES:회의\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:b@example.com\r\nDTSTART;VALUE=DATE:20240121\r\n"
        f"SUMMARY:긴 분류\r\nCATEGORIES:{'가' * (CATEGORY_MAX + 1)}\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()

    result = client.post(
        f"/api/events/{department['id']}/import", data=body, headers=ICS
    ).get_json()

    assert result["created"] == 1
    assert [r["uid"] for r in result["rejected"]] == ["b@example.com"]
    assert result["rejected"][0]["reason"] == (
        f"its CATEGORIES (the category) must be at most {CATEGORY_MAX} characters (got 31)"
    )
    [event] = client.get(f"/api/events/{department['id']}?month=2024-01").get_json()["items"]
    assert event["category"] == "출장"


def test_a_series_gives_its_category_to_every_instance_and_to_its_feed(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    series = create_event(
        client,
        department["id"],
        event_date="2024-03-04",
        title="스탠드업",
        category="회의",
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )
    listed = client.get(f"/api/events/{department['id']}?month=2024-03").get_json()["items"]

    assert [(i["event_date"], i["category"]) for i in listed] == [
        ("2024-03-04", "회의"),
        ("2024-03-11", "회의"),
        ("2024-03-18", "회의"),
    ]
    one = f"/api/events/{department['id']}/{series['id']}_20240311"
    assert "category" not in client.patch(one, json={"category": None}).get_json()
    feed = client.get(f"/api/departments/{department['id']}/calendar.ics?month=2024-03")
    assert feed.get_data(as_text=True).count("\r\nCATEGORIES:회의\r\n") == 1  # the series
