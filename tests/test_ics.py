"""calendar.md's iCalendar rows: the feed (parsed back by icalendar and by vobject, an
independent parser) and the import of real Google Calendar and Outlook exports."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from flask.testing import FlaskClient

from backend.config import Settings
from backend.fields import TITLE_MAX
from backend.ics import reader
from backend.services.events import new_event
from backend.storage import Storage
from tests.helpers import assert_problem, create_department, create_event, settle

DATA = Path(__file__).resolve().parent / "data"
SEOUL = ZoneInfo("Asia/Seoul")
ICS = {"Content-Type": "text/calendar"}

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@pytest.fixture
def department(client: FlaskClient) -> dict[str, Any]:
    return create_department(client, "개발팀", description="백엔드/프론트엔드 개발")


def feed(client: FlaskClient, department_id: str, query: str = "?month=2024-01") -> bytes:
    response = client.get(f"/api/departments/{department_id}/calendar.ics{query}")
    assert response.status_code == 200, response.data
    body: bytes = response.data
    return body


def vevents(body: bytes) -> dict[str, Any]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}


def import_file(client: FlaskClient, department_id: str, body: bytes, query: str = "") -> Any:
    response = client.post(f"/api/events/{department_id}/import{query}", data=body, headers=ICS)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _events(client: FlaskClient, department_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"/api/events/{department_id}").get_json()["items"]
    return items


# -- the feed --------------------------------------------------------------------------------


def test_the_feed_is_a_published_calendar_in_the_calendar_time_zone(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(client, department["id"], time="오후 3:00")
    response = client.get(f"/api/departments/{department['id']}/calendar.ics?month=2024-01")
    calendar = icalendar.Calendar.from_ical(response.data)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["PRODID"]
    assert calendar["X-WR-CALNAME"] == "개발팀"
    assert calendar["X-WR-TIMEZONE"] == "Asia/Seoul"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Seoul"]


def test_feed_lines_end_in_crlf_and_fold_at_75_octets_between_characters(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(
        client,
        department["id"],
        title="아주 긴 제목 " * 12,
        description="설명, 쉼표; 세미콜론\n줄바꿈 " * 10,
        location="본사 3층 회의실, 판교",
    )
    body = feed(client, department["id"])

    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # no line ends inside a character
    event = vevents(body)[("아주 긴 제목 " * 12).strip()]
    assert str(event["DESCRIPTION"]) == "설명, 쉼표; 세미콜론\n줄바꿈 " * 10
    assert str(event["LOCATION"]) == "본사 3층 회의실, 판교"


def test_each_event_carries_its_uid_times_and_history(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = create_event(client, department["id"], time="14:00~15:30", location="회의실")
    url = f"/api/events/{department['id']}/{event['id']}"
    event = client.patch(url, json={"description": "안건"}).get_json()

    found = vevents(feed(client, department["id"]))["팀 회의"]

    assert str(found["UID"]) == f"{event['id']}@localhost"
    assert found.decoded("DTSTART") == datetime(2024, 1, 20, 14, 0, tzinfo=SEOUL)
    assert found.decoded("DTEND") == datetime(2024, 1, 20, 15, 30, tzinfo=SEOUL)
    assert found["DTSTART"].params["TZID"] == "Asia/Seoul"
    assert found["SEQUENCE"] == event["version"] - 1 == 1
    stamp = datetime.fromisoformat(event["updated_at"].replace("Z", "+00:00"))
    assert (
        found.decoded("DTSTAMP") == found.decoded("LAST-MODIFIED") == stamp.replace(microsecond=0)
    )
    assert str(found["X-CALENDAR-TIME-TEXT"]) == "14:00~15:30"
    assert str(found["DESCRIPTION"]) == "안건"


def test_all_day_multi_day_and_hour_long_events(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    dept = department["id"]
    create_event(client, dept, title="종일", event_date="2024-01-05", time="하루 종일")
    create_event(client, dept, title="워크숍", event_date="2024-01-30", end_date="2024-02-01")
    create_event(client, dept, title="한 시간", event_date="2024-01-10", time="오전 10시")
    create_event(
        client, dept, title="출장", event_date="2024-01-15", end_date="2024-01-17", time="9시"
    )

    found = vevents(feed(client, dept))

    assert found["종일"].decoded("DTSTART") == date(2024, 1, 5)
    assert found["종일"].decoded("DTEND") == date(2024, 1, 6)
    assert found["종일"]["DTSTART"].params.get("VALUE") == "DATE"
    assert found["워크숍"].decoded("DTEND") == date(2024, 2, 2)
    assert found["한 시간"].decoded("DTEND") == datetime(2024, 1, 10, 11, 0, tzinfo=SEOUL)
    assert found["출장"].decoded("DTSTART") == datetime(2024, 1, 15, 9, 0, tzinfo=SEOUL)
    assert found["출장"].decoded("DTEND").date() == date(2024, 1, 17)


def test_an_independent_parser_reads_the_same_feed(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(client, department["id"], time="오후 2시-3시", description="쉼표, 세미콜론;")
    create_event(client, department["id"], title="휴가", event_date="2024-01-22")

    parsed = vobject.readOne(feed(client, department["id"]).decode("utf-8"))
    by_title = {e.summary.value: e for e in parsed.vevent_list}

    assert parsed.x_wr_calname.value == "개발팀"
    assert by_title["팀 회의"].dtstart.value == datetime(2024, 1, 20, 14, 0, tzinfo=SEOUL)
    assert by_title["팀 회의"].dtend.value.astimezone(SEOUL).hour == 15
    assert by_title["팀 회의"].description.value == "쉼표, 세미콜론;"
    assert by_title["휴가"].dtstart.value == date(2024, 1, 22)


def test_the_default_window_is_a_year_back_to_two_years_ahead(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    today = datetime.now(SEOUL).date()
    for title, day in (
        ("오래 전", today - timedelta(days=400)),
        ("지난 달", today - timedelta(days=30)),
        ("내년", today + timedelta(days=400)),
        ("먼 미래", today + timedelta(days=800)),
    ):
        create_event(client, department["id"], title=title, event_date=day.isoformat())

    found = vevents(feed(client, department["id"], ""))

    assert set(found) == {"지난 달", "내년"}


def test_the_feed_has_the_calendar_etag_and_answers_304(
    client: FlaskClient,
    department: dict[str, Any],
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    url = f"/api/departments/{department['id']}/calendar.ics"
    create_event(client, department["id"])
    settle(dynamodb, settings, department["id"])
    etag = client.get(url).headers["ETag"]

    assert etag == client.get(f"/api/events/{department['id']}").headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    create_event(client, department["id"], title="새 일정")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_the_feed_of_an_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/departments/nope/calendar.ics"), 404)


# -- import ----------------------------------------------------------------------------------


def test_a_google_calendar_export_imports_and_a_second_import_changes_nothing(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = (DATA / "google-export.ics").read_bytes()

    first = import_file(client, department["id"], body)
    second = import_file(client, department["id"], body)
    events = {e["title"]: e for e in _events(client, department["id"])}

    assert (first["created"], first["updated"], first["deleted"]) == (5, 0, 0)
    # The cancelled event matches nothing here: it is reported (the line of its
    # BEGIN:VEVENT), not counted as unchanged, both times.
    rejected = [(r["uid"], r["line"]) for r in first["rejected"]]
    assert rejected == [("cancelled-demo@google.com", 78)]
    assert "nothing to delete" in first["rejected"][0]["reason"]
    assert second["rejected"] == first["rejected"]
    assert (first["unchanged"], second["created"], second["updated"]) == (0, 0, 0)
    assert second["unchanged"] == 5
    assert set(events) == {
        "삼일절",
        "주간 회의, 개발팀; 전원 참석",
        "고객사 통화 (UTC로 저장된 일정)",
        "제주 워크숍",
        "스탠드업",
    }
    standup = [e for e in _events(client, department["id"]) if e["title"] == "스탠드업"]
    assert [e["event_date"] for e in standup[:3]] == ["2024-03-18", "2024-03-25", "2024-04-01"]
    assert standup[0]["recurring_event_id"] == standup[1]["recurring_event_id"]
    holiday = events["삼일절"]
    assert (holiday["event_date"], holiday["end_date"], holiday["start_time"]) == (
        "2024-03-01",
        None,
        None,
    )
    meeting = events["주간 회의, 개발팀; 전원 참석"]
    assert (meeting["start_time"], meeting["end_time"]) == ("14:00", "15:30")
    assert meeting["location"] == "본사 3층 회의실, 판교"
    assert meeting["description"] == "안건: 배포 일정, 코드 리뷰; 회고\n준비물: 노트북"
    call = events["고객사 통화 (UTC로 저장된 일정)"]  # 01:00Z is 10:00 in Seoul
    assert (call["event_date"], call["start_time"], call["end_time"]) == (
        "2024-03-06",
        "10:00",
        "11:00",
    )
    workshop = events["제주 워크숍"]
    assert (workshop["event_date"], workshop["end_date"]) == ("2024-03-11", "2024-03-13")
    assert workshop["location"].endswith("(주차는 지하 2층을 이용해 주세요)")


def test_an_outlook_export_imports_with_windows_zones_and_floating_times(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    result = import_file(client, department["id"], (DATA / "outlook-export.ics").read_bytes())
    events = {e["title"]: e for e in _events(client, department["id"])}

    assert result["created"] == 4
    assert [r["uid"] for r in result["rejected"]] == ["outlook-recurring-exception"]
    assert "RECURRENCE-ID" in result["rejected"][0]["reason"]
    report = events["분기 보고, 임원 회의"]
    assert (report["event_date"], report["start_time"], report["end_time"]) == (
        "2024-04-08",
        "09:30",
        "10:30",
    )
    assert report["location"] == "대회의실"
    us = events["미국 지사 화상회의"]  # 17:00 in California (PDT) is 09:00 next day in Seoul
    assert (us["event_date"], us["start_time"], us["end_time"]) == ("2024-04-10", "09:00", "10:00")
    assert events["점심 약속"]["start_time"] == "12:00"  # floating: wall-clock time in Seoul
    assert events["창립기념일"]["start_time"] is None


def test_a_cancelled_event_deletes_the_event_it_matches(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = (DATA / "google-export.ics").read_bytes()
    confirmed = body.replace(b"STATUS:CANCELLED", b"STATUS:CONFIRMED")
    import_file(client, department["id"], confirmed)
    assert "취소된 데모" in {e["title"] for e in _events(client, department["id"])}

    result = import_file(client, department["id"], body)

    assert result["deleted"] == 1
    assert "취소된 데모" not in {e["title"] for e in _events(client, department["id"])}


def test_a_dry_run_reports_and_writes_nothing(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    result = import_file(
        client, department["id"], (DATA / "google-export.ics").read_bytes(), "?dry_run=true"
    )

    assert result["created"] == 5
    assert _events(client, department["id"]) == []


def test_export_import_into_an_empty_department_export_gives_the_same_events(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    dept = department["id"]
    create_event(client, dept, time="오후 3시", location="회의실, 2층", description="a;b,c")
    create_event(client, dept, title="워크숍", event_date="2024-01-29", end_date="2024-02-02")
    create_event(client, dept, title="점심", event_date="2024-01-21", time="12:00~13:00")
    create_event(
        client, dept, title="밤샘", event_date="2024-01-24", time="22:00", end_time="23:30"
    )
    empty = create_department(client, "빈 부서")

    exported = feed(client, dept, "?from=2024-01-01&to=2024-02-29")
    result = import_file(client, empty["id"], exported)
    again = feed(client, empty["id"], "?from=2024-01-01&to=2024-02-29")

    assert result["created"] == 4
    assert result["rejected"] == []

    def shape(body: bytes) -> list[tuple[Any, ...]]:
        return sorted(
            (
                str(e["UID"]),
                str(e["SUMMARY"]),
                e.decoded("DTSTART"),
                e.decoded("DTEND"),
                str(e.get("LOCATION")),
                str(e.get("DESCRIPTION")),
                str(e.get("X-CALENDAR-TIME-TEXT")),
            )
            for e in icalendar.Calendar.from_ical(body).walk("VEVENT")
        )

    assert shape(again) == shape(exported)
    assert import_file(client, empty["id"], exported)["unchanged"] == 4


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"hello world", 1),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nthis is not a property\r\nEND:VCALENDAR\r\n", 3),
        (b"\r\n\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n", 3),
    ],
)
def test_a_body_that_is_not_icalendar_is_400_naming_the_line(
    client: FlaskClient, department: dict[str, Any], body: bytes, line: int
) -> None:
    response = client.post(f"/api/events/{department['id']}/import", data=body, headers=ICS)

    assert f"line {line}" in assert_problem(response, 400)["detail"]


def test_import_needs_text_calendar(client: FlaskClient, department: dict[str, Any]) -> None:
    response = client.post(
        f"/api/events/{department['id']}/import",
        data=(DATA / "google-export.ics").read_bytes(),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 415)


def test_import_into_an_unknown_department_is_404(client: FlaskClient) -> None:
    response = client.post(
        "/api/events/nope/import", data=(DATA / "google-export.ics").read_bytes(), headers=ICS
    )

    assert_problem(response, 404)


@pytest.mark.slow
def test_an_import_over_10_mib_is_413_and_one_over_1_mib_is_read(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    event = (
        "BEGIN:VEVENT\r\nUID:{n}@example.com\r\nDTSTART;VALUE=DATE:20240105\r\n"
        "SUMMARY:{n}\r\nDESCRIPTION:" + "x" * 400 + "\r\nEND:VEVENT\r\n"
    )
    big = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        + "".join(event.format(n=n) for n in range(3000))
        + "END:VCALENDAR\r\n"
    )
    too_big = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"y" * (10 * 1024 * 1024) + b"\r\n"

    assert len(big) > 1024 * 1024
    url = f"/api/events/{department['id']}/import"
    ok = client.post(url + "?dry_run=true&async=false", data=big, headers=ICS)
    refused = client.post(f"/api/events/{department['id']}/import", data=too_big, headers=ICS)

    assert ok.status_code == 200
    assert ok.get_json()["created"] == 3000
    assert_problem(refused, 413)


@pytest.mark.parametrize(
    ("host", "domain"),
    [("calendar.example.com:8443", "calendar.example.com"), ("[::1]:5000", "::1")],
)
def test_feed_uids_use_the_request_host_without_its_port(
    client: FlaskClient, department: dict[str, Any], host: str, domain: str
) -> None:
    event = create_event(client, department["id"])
    body = client.get(
        f"/api/departments/{department['id']}/calendar.ics?month=2024-01", headers={"Host": host}
    ).data

    assert str(vevents(body)["팀 회의"]["UID"]) == f"{event['id']}@{domain}"


def test_a_title_is_counted_after_trimming_as_the_api_counts_it(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    title = "가" * TITLE_MAX
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:long@example.com\r\n"
        f"DTSTART;VALUE=DATE:20240105\r\nSUMMARY:  {title}  \r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    result = client.post(f"/api/events/{department['id']}/import", data=body.encode(), headers=ICS)

    assert result.get_json()["created"] == 1, result.get_json()
    [event] = client.get(f"/api/events/{department['id']}").get_json()["items"]
    assert event["title"] == title


def test_a_line_folded_before_its_colon_is_read_as_rfc_5545_allows(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:fold@google.com\r\n"
        "DTSTART;VALUE=DATE:20240105\r\nSUMMARY:주간\r\n  회의\r\nATTENDEE;CN=Jo\r\n"
        " hn:mailto:john@example.com\r\nDESCRIP\r\n TION:설명\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    result = client.post(f"/api/events/{department['id']}/import", data=body.encode(), headers=ICS)

    assert result.status_code == 200, result.get_json()
    assert result.get_json()["created"] == 1
    [event] = client.get(f"/api/events/{department['id']}").get_json()["items"]
    assert (event["title"], event["description"]) == ("주간 회의", "설명")


def test_a_line_that_is_no_content_line_is_still_named_after_unfolding(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nnot a line\r\n more\r\nEND:VEVENT\r\n"

    answer = client.post(f"/api/events/{department['id']}/import", data=body.encode(), headers=ICS)

    assert "line 4" in assert_problem(answer, 400)["detail"]


def test_a_plain_file_upload_or_a_form_with_one_file_is_imported(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    url = f"/api/events/{department['id']}/import"
    one = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}@example.com\r\n"
        "DTSTART;VALUE=DATE:20240105\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    plain = client.post(
        url,
        data=one.format(uid="plain").encode(),
        headers={"Content-Type": "application/octet-stream"},
    )
    form = client.post(
        url,
        data={"file": (io.BytesIO(one.format(uid="form").encode()), "calendar.ics")},
        content_type="multipart/form-data",
    )
    two = client.post(
        url,
        data={"a": (io.BytesIO(b"x"), "a.ics"), "b": (io.BytesIO(b"y"), "b.ics")},
        content_type="multipart/form-data",
    )
    json_body = client.post(url, json={"file": "BEGIN:VCALENDAR"})

    assert (plain.status_code, plain.get_json()["created"]) == (200, 1)
    assert (form.status_code, form.get_json()["created"]) == (200, 1)
    assert assert_problem(two, 400)["errors"][0]["field"] == "file"
    assert_problem(json_body, 415)
    titles = sorted(
        e["title"] for e in client.get(f"/api/events/{department['id']}").get_json()["items"]
    )
    assert titles == ["form", "plain"]


def test_an_empty_description_is_none_like_an_absent_one(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:empty@example.com\r\n"
        "DTSTART;VALUE=DATE:20240105\r\nSUMMARY:빈 설명\r\nDESCRIPTION:\r\nLOCATION:\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    client.post(f"/api/events/{department['id']}/import", data=body.encode(), headers=ICS)

    [event] = client.get(f"/api/events/{department['id']}").get_json()["items"]
    assert (event["description"], event["location"]) == (None, None)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_uid_given_twice_in_one_file_is_created_once_then_updated(
    client: FlaskClient, department: dict[str, Any], dry_run: bool
) -> None:
    vevent = (
        "BEGIN:VEVENT\r\nUID:twice@example.com\r\nDTSTART;VALUE=DATE:20240105\r\n"
        "SUMMARY:{title}\r\nEND:VEVENT\r\n"
    )
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        + vevent.format(title="처음")
        + vevent.format(title="처음")
        + vevent.format(title="나중")
        + "END:VCALENDAR\r\n"
    )
    url = f"/api/events/{department['id']}/import" + ("?dry_run=true" if dry_run else "")

    result = client.post(url, data=body.encode(), headers=ICS).get_json()

    assert (result["created"], result["unchanged"], result["updated"]) == (1, 1, 1)
    assert result["rejected"] == []
    items = client.get(f"/api/events/{department['id']}").get_json()["items"]
    assert [e["title"] for e in items] == ([] if dry_run else ["나중"])


def test_a_feed_read_through_another_host_imports_without_copies(
    client: FlaskClient, department: dict[str, Any]
) -> None:
    create_event(client, department["id"])
    client.post(
        f"/api/events/{department['id']}",
        json={
            "event_date": "2024-01-02",
            "title": "반복",
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        },
    )
    exported = client.get(
        f"/api/departments/{department['id']}/calendar.ics?month=2024-01",
        headers={"Host": "127.0.0.1:5000"},
    ).data
    assert b"@127.0.0.1" in exported

    result = client.post(
        f"/api/events/{department['id']}/import",
        data=exported,
        content_type="text/calendar",
        headers={"Host": "localhost:5000"},
    ).get_json()

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 2)
    assert len(_events(client, department["id"])) == 4  # the event and three occurrences


def test_an_event_imported_under_its_earlier_id_is_found_again(
    client: FlaskClient, department: dict[str, Any], storage: Storage
) -> None:
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e@calendar.example.org"
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTART;VALUE=DATE:20240105\r\nSUMMARY:예전 가져오기\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    # As an earlier version stored it: under the id derived from the whole UID.
    earlier = reader.derived_id_for(uid, "localhost")
    storage.events.create(
        new_event(department["id"], {"event_date": "2024-01-05", "title": "예전 가져오기"},
                  event_id=earlier)
    )  # fmt: skip

    result = import_file(client, department["id"], body)

    assert (result["created"], result["unchanged"]) == (0, 1)
    assert [e["id"] for e in _events(client, department["id"])] == [earlier]
