"""Recurring events in iCalendar, both ways (``recurrence.md``, "iCalendar").

The feed writes a series as one VEVENT with RRULE/EXDATE/RDATE and each changed instance
with RECURRENCE-ID. Three independent readers must read it without error or warning and
expand it to exactly the instances the API lists: icalendar with recurring-ical-events,
ical (Home Assistant's), and ical.js (Mozilla's, run by node). Import reads the same from
Google Calendar and Outlook exports, and export → import → export gives the same series.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from flask.testing import FlaskClient
from ical.calendar_stream import IcsCalendarStream

from tests.helpers import create_department, create_event

ROOT = Path(__file__).resolve().parent.parent
ICAL_CHECK = ROOT / "tools" / "ical-check"
DATA = Path(__file__).parent / "data"
SEOUL = ZoneInfo("Asia/Seoul")
WINDOW = ("2024-01-01", "2024-03-31")

Occurrence = tuple[str, str, str | None, str]  # (series or event id, date, HH:MM, title)


def listed(client: FlaskClient, department_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url = f"/api/events/{department_id}?from={WINDOW[0]}&to={WINDOW[1]}&limit=200"
    while url:
        body = client.get(url).get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        url = (
            cursor
            and f"/api/events/{department_id}?from={WINDOW[0]}&to={WINDOW[1]}&cursor={cursor}"
        )
    return items


def api_occurrences(client: FlaskClient, department_id: str) -> set[Occurrence]:
    return {
        (i.get("recurring_event_id") or i["id"], i["event_date"], i["start_time"], i["title"])
        for i in listed(client, department_id)
    }


def feed(client: FlaskClient, department_id: str) -> bytes:
    response = client.get(
        f"/api/departments/{department_id}/calendar.ics?from={WINDOW[0]}&to={WINDOW[1]}"
    )
    assert response.status_code == 200
    return response.get_data()


@pytest.fixture
def calendar(client: FlaskClient) -> str:
    """A department with weekly, daily, monthly and yearly series, a moved and a retitled
    instance, a deleted occurrence, an RDATE, and single events."""
    dept = str(create_department(client, "반복팀")["id"])
    weekly = create_event(
        client, dept, event_date="2024-01-01", title="주간 회의", time="오전 10시",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20240229"],
    )  # fmt: skip
    client.patch(f"/api/events/{dept}/{weekly['id']}_20240108", json={"event_date": "2024-01-09"})
    client.patch(f"/api/events/{dept}/{weekly['id']}_20240115", json={"title": "주간 회의 (연장)"})
    client.delete(f"/api/events/{dept}/{weekly['id']}_20240122")
    create_event(
        client, dept, event_date="2024-01-05", title="월간 보고",
        recurrence=["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "RDATE:20240110"],
    )  # fmt: skip
    create_event(
        client, dept, event_date="2024-02-01", title="당직", time="18:00~20:00",
        recurrence=["RRULE:FREQ=DAILY;INTERVAL=3;COUNT=8", "EXDATE:20240204T180000"],
    )  # fmt: skip
    create_event(
        client, dept, event_date="2020-03-15", title="창립 기념일",
        recurrence=["RRULE:FREQ=YEARLY"],
    )  # fmt: skip
    create_event(client, dept, event_date="2024-01-20", title="팀 회식", time="19:00")
    create_event(client, dept, event_date="2024-03-01", title="삼일절")
    return dept


def _local(value: Any) -> tuple[str, str | None]:
    if isinstance(value, datetime):
        local = value.astimezone(SEOUL) if value.tzinfo else value
        return local.date().isoformat(), local.strftime("%H:%M")
    return value.isoformat(), None


def _series_of(uid: str) -> str:
    return uid.rsplit("@", 1)[0]


def test_the_api_lists_what_the_fixture_made(client: FlaskClient, calendar: str) -> None:
    found = api_occurrences(client, calendar)
    titles = [t for _, _, _, t in found]
    assert titles.count("주간 회의") == 16  # 18 Mondays and Thursdays, 1 retitled, 1 gone
    assert ("", "2024-01-22") not in {(s, d) for s, d, _, _ in found}
    assert titles.count("당직") == 7  # 8 by COUNT, one excluded
    assert titles.count("월간 보고") == 5  # the last weekdays of Jan, Feb, Mar, the RDATE, the 5th
    assert titles.count("창립 기념일") == 1


def test_icalendar_and_recurring_ical_events_expand_the_feed_as_the_api_lists(
    client: FlaskClient, calendar: str
) -> None:
    body = feed(client, calendar)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = icalendar.Calendar.from_ical(body)
        found = recurring_ical_events.of(parsed).between(
            date.fromisoformat(WINDOW[0]), date.fromisoformat("2024-04-01")
        )
    occurrences = {
        (_series_of(str(e["UID"])), *_local(e.decoded("DTSTART")), str(e["SUMMARY"])) for e in found
    }
    assert occurrences == api_occurrences(client, calendar)


def test_ical_reads_the_feed_as_the_api_lists(client: FlaskClient, calendar: str) -> None:
    body = feed(client, calendar)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = IcsCalendarStream.calendar_from_ics(body.decode())
        timeline = parsed.timeline_tz(SEOUL)
        start = datetime.combine(date.fromisoformat(WINDOW[0]), time(), SEOUL)
        end = datetime.combine(date.fromisoformat("2024-04-01"), time(), SEOUL)
        found = list(timeline.overlapping(start, end))
    occurrences = {(_series_of(e.uid or ""), *_local(e.dtstart), e.summary or "") for e in found}
    assert occurrences == api_occurrences(client, calendar)


def test_ical_js_reads_the_feed_as_the_api_lists(
    client: FlaskClient, calendar: str, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None or not (ICAL_CHECK / "node_modules" / "ical.js").exists():
        message = f"node and {ICAL_CHECK}/node_modules are needed: scripts/_setup.sh runs npm ci"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "feed.ics"
    path.write_bytes(feed(client, calendar))
    run = subprocess.run(
        [node, str(ICAL_CHECK / "expand.mjs"), str(path), WINDOW[0], WINDOW[1]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no warning either
    occurrences = {
        (_series_of(o["uid"]), o["start"][:10], o["start"][11:16] or None, o["summary"])
        for o in json.loads(run.stdout)
    }
    assert occurrences == api_occurrences(client, calendar)


def test_the_feed_writes_rules_exceptions_and_recurrence_ids(
    client: FlaskClient, calendar: str
) -> None:
    text = feed(client, calendar).decode()
    assert "RRULE:FREQ=WEEKLY;UNTIL=20240229T010000Z;BYDAY=MO,TH" in text  # 10:00 in Seoul
    assert "EXDATE;TZID=Asia/Seoul:20240122T100000" in text
    assert "RECURRENCE-ID;TZID=Asia/Seoul:20240108T100000" in text
    # The 5th is not a last weekday: the rule does not make it, so an RDATE names it.
    assert "RDATE;VALUE=DATE:20240105,20240110" in text
    parsed = icalendar.Calendar.from_ical(text)
    weekly = [e for e in parsed.walk("VEVENT") if str(e["SUMMARY"]).startswith("주간 회의")]
    assert len({str(e["UID"]) for e in weekly}) == 1  # the series and its changed instances


def test_export_import_into_an_empty_department_export_gives_the_same_series(
    client: FlaskClient, calendar: str
) -> None:
    exported = feed(client, calendar)
    empty = str(create_department(client, "빈 부서")["id"])
    result = client.post(
        f"/api/events/{empty}/import", data=exported, content_type="text/calendar"
    ).get_json()
    assert result["rejected"] == []
    assert api_occurrences(client, empty) == api_occurrences(client, calendar)

    def comparable(body: bytes) -> list[tuple[str, ...]]:
        parsed = icalendar.Calendar.from_ical(body)
        keep = ("UID", "SUMMARY", "DTSTART", "DTEND", "RRULE", "EXDATE", "RDATE", "RECURRENCE-ID")
        return sorted(
            tuple(e.get(k).to_ical().decode() if k in e and hasattr(e.get(k), "to_ical")
                  else str(e.get(k)) for k in keep)
            for e in parsed.walk("VEVENT")
        )  # fmt: skip

    assert comparable(feed(client, empty)) == comparable(exported)
    # And importing it again changes nothing.
    again = client.post(
        f"/api/events/{empty}/import", data=exported, content_type="text/calendar"
    ).get_json()
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_a_google_export_with_exceptions_and_cancelled_instances(client: FlaskClient) -> None:
    dept = str(create_department(client, "구글팀")["id"])
    body = (DATA / "google-recurring.ics").read_bytes()
    result = client.post(f"/api/events/{dept}/import", data=body, content_type="text/calendar")
    report = result.get_json()
    assert result.status_code == 200, report
    reasons = {r["uid"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {"hourly@google.com"}
    assert "FREQ=HOURLY" in reasons["hourly@google.com"]
    # The cancelled occurrence is an EXDATE of its series, written with it.
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 1, 1)
    assert report["deleted"] == 0
    items = [
        i
        for i in client.get(f"/api/events/{dept}?from=2024-04-01&to=2024-04-30").get_json()["items"]
        if i["title"].startswith("스탠드업")
    ]
    # Mondays until the 29th; the 8th moved to Wednesday the 10th, the 15th cancelled,
    # the 22nd excluded (EXDATE).
    assert [(i["event_date"], i["start_time"]) for i in items] == [
        ("2024-04-01", "10:00"), ("2024-04-10", "11:00"), ("2024-04-29", "10:00"),
    ]  # fmt: skip
    moved = items[1]
    assert (moved["original_date"], moved["title"]) == ("2024-04-08", "스탠드업 (수요일로)")
    assert moved["recurring_event_id"] == items[0]["recurring_event_id"]
    review = client.get(f"/api/events/{dept}?from=2024-04-01&to=2024-06-30&q=리뷰").get_json()
    assert [i["event_date"] for i in review["items"]] == ["2024-04-30", "2024-06-30"]
    again = client.post(f"/api/events/{dept}/import", data=body, content_type="text/calendar")
    assert (again.get_json()["created"], again.get_json()["updated"]) == (0, 0)


def test_an_outlook_export_of_a_series_in_another_zone(client: FlaskClient) -> None:
    dept = str(create_department(client, "아웃룩팀")["id"])
    body = (DATA / "outlook-recurring.ics").read_bytes()
    report = client.post(
        f"/api/events/{dept}/import", data=body, content_type="text/calendar"
    ).get_json()
    assert report["created"] == 1, report
    reasons = [r["reason"] for r in report["rejected"]]
    assert len(reasons) == 1
    assert "another time zone" in reasons[0]
    items = client.get(f"/api/events/{dept}?from=2024-05-01&to=2024-05-31").get_json()["items"]
    # 09:00 in Berlin (summer time, UTC+2) is 16:00 in Seoul, every Tuesday, 4 times.
    assert [(i["event_date"], i["start_time"]) for i in items] == [
        ("2024-05-07", "16:00"), ("2024-05-14", "16:00"), ("2024-05-21", "16:00"),
        ("2024-05-28", "16:00"),
    ]  # fmt: skip
