"""Input that used to break the service: no 500, nothing injected, every event addressable.

Line breaks and controls in text reach the iCalendar feed escaped (never a raw CR or LF that
would end a content line and start a component of its own); an ``If-Match`` of thousands of
digits is a tag that matches nothing; an imported event whose dates overflow is rejected on
its own; the calendar's last day is served like any other.
"""

from __future__ import annotations

from typing import Any

import icalendar
import pytest
import vobject
from flask.testing import FlaskClient

from tests.helpers import assert_problem, create_department, create_event

ICS = {"Content-Type": "text/calendar"}
HOSTILE = "첫 줄\r둘째 줄\nBEGIN:VALARM\r\nACTION:DISPLAY\rEND:VALARM\x00\x1b[31m끝"


def _feed(client: FlaskClient, department_id: str, query: str = "") -> bytes:
    response = client.get(f"/api/departments/{department_id}/calendar.ics{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def test_controls_in_every_text_field_never_extend_the_feed(client: FlaskClient) -> None:
    department = create_department(client, "보안팀", description=HOSTILE)
    stored = [
        create_event(client, department["id"], description=HOSTILE, time="오후 3시"),
        create_event(client, department["id"], event_date="2024-01-21", title="둘째"),
    ]

    body = _feed(client, department["id"], "?month=2024-01")

    assert b"\r\r" not in body
    assert all(line.endswith(b"\r") or not line for line in body.split(b"\n")[:-1])
    parsed = icalendar.Calendar.from_ical(body)
    events = list(parsed.walk("VEVENT"))
    assert sorted(str(e["UID"]).split("@")[0] for e in events) == sorted(e["id"] for e in stored)
    assert not list(parsed.walk("VALARM"))
    [first] = [e for e in events if str(e["UID"]).startswith(stored[0]["id"])]
    assert str(first["DESCRIPTION"]).startswith("첫 줄\n둘째 줄\nBEGIN:VALARM\n")
    other = vobject.readOne(body.decode("utf-8"))
    assert len(other.vevent_list) == 2
    assert not any(hasattr(v, "valarm") for v in other.vevent_list)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/events/{d}/{e}"),
        ("delete", "/api/events/{d}/{e}"),
        ("patch", "/api/departments/{d}"),
        ("delete", "/api/departments/{d}"),
    ],
)
def test_an_if_match_of_thousands_of_digits_matches_nothing(
    client: FlaskClient, method: str, path: str
) -> None:
    department = create_department(client, "개발팀")
    event = create_event(client, department["id"])
    url = path.format(d=department["id"], e=event["id"])
    body = {"title": "바뀜"} if "events" in url else {"description": "바뀜"}

    answer = getattr(client, method)(url, json=body, headers={"If-Match": '"' + "9" * 5000 + '"'})

    assert_problem(answer, 412)


def test_an_import_with_overflowing_dates_rejects_those_events_and_keeps_the_rest(
    client: FlaskClient,
) -> None:
    department = create_department(client, "개발팀")
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nUID:long@example.com\r\nDTSTART:20240105T100000Z\r\n"
        "DURATION:P99999999W\r\nSUMMARY:영원히\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:late@example.com\r\nDTSTART:99991231T230000Z\r\n"
        "SUMMARY:마지막 밤\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:fine@example.com\r\nDTSTART;VALUE=DATE:20240105\r\n"
        "SUMMARY:멀쩡함\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    result = client.post(f"/api/events/{department['id']}/import", data=body, headers=ICS)

    assert result.status_code == 200
    outcome: dict[str, Any] = result.get_json()
    assert outcome["created"] == 1
    assert sorted(r["uid"] for r in outcome["rejected"]) == ["late@example.com", "long@example.com"]
    assert all("1 to 9999" in r["reason"] for r in outcome["rejected"])


def test_the_calendars_last_day_is_served_in_the_feed(client: FlaskClient) -> None:
    department = create_department(client, "개발팀")
    create_event(client, department["id"], event_date="9999-12-31", title="종일")
    create_event(client, department["id"], event_date="9999-12-31", title="밤", time="23:30")

    body = _feed(client, department["id"], "?from=9999-12-01")

    events = list(icalendar.Calendar.from_ical(body).walk("VEVENT"))
    assert sorted(str(e["SUMMARY"]) for e in events) == ["밤", "종일"]
    assert len(vobject.readOne(body.decode("utf-8")).vevent_list) == 2


def test_an_imported_uid_of_any_length_is_an_event_the_api_addresses(
    client: FlaskClient,
) -> None:
    department = create_department(client, "개발팀")
    uids = ["x" * 1500 + "@localhost", "a/b@localhost", "y" * 1500 + "@example.com"]
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        + "".join(
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;VALUE=DATE:20240105\r\nSUMMARY:{n}\r\n"
            "END:VEVENT\r\n"
            for n, uid in enumerate(uids)
        )
        + "END:VCALENDAR\r\n"
    )

    result = client.post(f"/api/events/{department['id']}/import", data=body, headers=ICS)

    assert result.get_json()["created"] == 3, result.get_json()
    items = client.get(f"/api/events/{department['id']}").get_json()["items"]
    for item in items:
        assert client.get(f"/api/events/{department['id']}/{item['id']}").status_code == 200
    assert client.delete(f"/api/departments/{department['id']}?cascade=true").status_code == 204
