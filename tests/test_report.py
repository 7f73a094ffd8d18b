"""The report e-mail job: SES and SMTP transports, S3 copies, at-most-once delivery, limits."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from backend.config import Settings
from backend.report.job import ReportJob, render
from backend.report.mail import Message, SesMailer, SmtpMailer, sender_address
from backend.services.events import create_event
from backend.services.recurring import create_series
from backend.storage import Storage
from tests.helpers import local_aws_client

DAY = date(2024, 1, 20)


@pytest.fixture
def calendar(storage: Storage) -> dict[str, Any]:
    dev = storage.departments.create("개발팀", "백엔드", ("lead@example.com", "kim@example.com"))
    mkt = storage.departments.create("마케팅팀", None, ("mkt@example.com",))
    quiet = storage.departments.create("조용한팀", None)
    create_event(
        storage,
        dev.id,
        {
            "event_date": "2024-01-20",
            "title": "팀 회의 <중요>",
            "time": "오후 2:00",
            "description": "주간 회의",
        },
    )
    create_event(
        storage,
        dev.id,
        {"event_date": "2024-01-26", "title": "배포", "time": None, "description": None},
    )
    create_event(
        storage,
        dev.id,
        {"event_date": "2024-01-27", "title": "다음 주", "time": None, "description": None},
    )
    create_event(
        storage,
        mkt.id,
        {"event_date": "2024-01-22", "title": "캠페인", "time": "3:00 PM", "description": None},
    )
    return {"dev": dev, "mkt": mkt, "quiet": quiet}


@pytest.fixture
def bucket(aws_url: str) -> str:
    name = f"reports-{uuid.uuid4().hex[:10]}"
    local_aws_client("s3", aws_url).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return name


@pytest.fixture
def ses(aws_url: str) -> Any:
    client = local_aws_client("sesv2", aws_url)
    client.create_email_identity(EmailIdentity="calendar@example.com")
    return client


class Inbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def subject_of(message: EmailMessage) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_report_renders_korean_and_escapes_html(calendar: dict[str, Any], storage: Storage) -> None:
    events = storage.events.list_page(calendar["dev"].id, _window(), None, 50).events

    subject, html, text = render(calendar["dev"], events, DAY, 7)

    assert subject == "[부서 캘린더] 개발팀 — 다가오는 일정 (2024-01-20 ~ 2024-01-26)"
    assert "팀 회의 &lt;중요&gt;" in html
    assert "<중요>" not in html
    assert "- 2024-01-20 오후 2:00  팀 회의 <중요> — 주간 회의" in text
    assert "다음 주" not in text  # 2024-01-27 is outside the seven days


def _window() -> Any:
    from backend.storage import DateWindow  # noqa: PLC0415

    return DateWindow("2024-01-20", "2024-01-26")


def test_ses_sends_each_department_its_report_and_keeps_copies_in_s3(
    calendar: dict[str, Any], storage: Storage, ses: Any, bucket: str, aws_url: str
) -> None:
    job = ReportJob(
        storage,
        SesMailer(ses),
        "calendar@example.com",
        100,
        local_aws_client("s3", aws_url),
        bucket,
    )

    summary = job.run(DAY, 7).as_dict()

    assert summary["counts"] == {"sent": 2, "no-recipients": 1}
    s3 = local_aws_client("s3", aws_url)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    dev = calendar["dev"].id
    assert {
        f"reports/2024-01-20/{dev}.html",
        f"reports/2024-01-20/{dev}.txt",
        "reports/2024-01-20/summary.json",
    } <= keys
    text = s3.get_object(Bucket=bucket, Key=f"reports/2024-01-20/{dev}.txt")["Body"].read().decode()
    assert "팀 회의" in text
    stored = json.loads(
        s3.get_object(Bucket=bucket, Key="reports/2024-01-20/summary.json")["Body"].read()
    )
    assert stored["counts"]["sent"] == 2
    quota = local_aws_client("ses", aws_url).get_send_quota()
    assert quota["SentLast24Hours"] >= 2


def test_smtp_delivers_korean_html_and_text(
    calendar: dict[str, Any], storage: Storage, smtp: Any
) -> None:
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port, starttls=False)

    summary = ReportJob(storage, mailer, "calendar@example.com", 100).run(DAY, 7).as_dict()

    assert summary["counts"]["sent"] == 2
    by_subject = {subject_of(m): (to, m) for to, m in inbox.messages}
    to, message = by_subject["[부서 캘린더] 개발팀 — 다가오는 일정 (2024-01-20 ~ 2024-01-26)"]
    assert sorted(to) == ["kim@example.com", "lead@example.com"]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode(p.get_content_charset())
        for p in message.walk()
        if not p.is_multipart()
    }
    assert "팀 회의 &lt;중요&gt;" in parts["text/html"]
    assert "배포" in parts["text/plain"]
    assert "부서 캘린더" in str(make_header(decode_header(message["From"])))


def test_a_repeated_delivery_never_sends_twice(
    calendar: dict[str, Any], storage: Storage, smtp: Any
) -> None:
    inbox, port = smtp
    job = ReportJob(
        storage, SmtpMailer("127.0.0.1", port, starttls=False), "calendar@example.com", 100
    )

    first = job.run(DAY, 7).as_dict()
    second = job.run(DAY, 7).as_dict()

    assert first["counts"]["sent"] == 2
    assert second["counts"] == {"skipped": 2, "no-recipients": 1}
    assert len(inbox.messages) == 2
    assert job.run(date(2024, 1, 21), 7).as_dict()["counts"]["sent"] == 2  # a new day sends again


def test_the_daily_limit_stops_sending_and_says_so(
    calendar: dict[str, Any], storage: Storage, smtp: Any
) -> None:
    inbox, port = smtp
    job = ReportJob(
        storage, SmtpMailer("127.0.0.1", port, starttls=False), "calendar@example.com", 2
    )

    summary = job.run(DAY, 7).as_dict()

    statuses = {d["name"]: d["status"] for d in summary["departments"]}
    assert sorted(statuses.values()) == ["no-recipients", "quota-reached", "sent"]
    assert sum(len(to) for to, _ in inbox.messages) <= 2
    assert (
        ReportJob(storage, job.mailer, job.sender, 2).run(DAY, 7).as_dict()["counts"].get("sent", 0)
        == 0
    )


def test_a_failed_send_can_be_retried_later(
    calendar: dict[str, Any], storage: Storage, smtp: Any
) -> None:
    inbox, port = smtp
    broken = ReportJob(
        storage, SmtpMailer("127.0.0.1", 1, starttls=False, timeout=2), "calendar@example.com", 100
    )

    failed = broken.run(DAY, 7).as_dict()
    retried = (
        ReportJob(
            storage, SmtpMailer("127.0.0.1", port, starttls=False), "calendar@example.com", 100
        )
        .run(DAY, 7)
        .as_dict()
    )

    assert failed["counts"]["failed"] == 2
    assert retried["counts"]["sent"] == 2
    assert len(inbox.messages) == 2


def test_dry_run_sends_and_stores_nothing(
    calendar: dict[str, Any], storage: Storage, smtp: Any, bucket: str, aws_url: str
) -> None:
    inbox, port = smtp
    s3 = local_aws_client("s3", aws_url)
    job = ReportJob(
        storage,
        SmtpMailer("127.0.0.1", port, starttls=False),
        "calendar@example.com",
        100,
        s3,
        bucket,
    )

    summary = job.run(DAY, 7, dry_run=True).as_dict()

    assert summary["counts"] == {"dry-run": 3}
    assert inbox.messages == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert job.run(DAY, 7).as_dict()["counts"]["sent"] == 2  # nothing was marked as sent


def test_markers_never_show_up_as_departments(
    calendar: dict[str, Any], storage: Storage, smtp: Any
) -> None:
    _inbox, port = smtp
    ReportJob(
        storage, SmtpMailer("127.0.0.1", port, starttls=False), "calendar@example.com", 100
    ).run(DAY, 7)

    assert {d.name for d in storage.departments.list_all()} == {"개발팀", "마케팅팀", "조용한팀"}


def test_the_cli_dry_run_prints_what_would_be_sent(
    calendar: dict[str, Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from backend.report.__main__ import main  # noqa: PLC0415

    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
        "SMTP_HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(name, value)

    code = main(["--date", "2024-01-20", "--dry-run"])

    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["counts"] == {"dry-run": 3}
    assert any("개발팀" in d["detail"] for d in printed["departments"])
    asyncio.get_event_loop_policy()  # aiosmtpd leaves the policy usable for later tests


def _closed_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_cli_prints_only_its_json_on_stdout_and_logs_on_stderr(
    calendar: dict[str, Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    from backend.report.__main__ import main  # noqa: PLC0415

    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
        # Nothing listens there: both sends fail, and the job logs each failure.
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(_closed_port()),
        "SMTP_STARTTLS": "false",
        "LOG_FORMAT": log_format,
    }.items():
        monkeypatch.setenv(name, value)

    code = main(["--date", "2024-01-20"])

    out, err = capsys.readouterr()
    summary = json.loads(out)  # the whole of stdout is the one JSON document
    assert code == 1
    assert summary["counts"] == {"failed": 2, "no-recipients": 1}
    failures = [line for line in err.splitlines() if "not sent" in line]
    assert len(failures) == 2, err
    if log_format == "json":
        assert {json.loads(line)["level"] for line in failures} == {"ERROR"}
    assert "not sent" not in out


def test_smtp_messages_have_a_date_and_a_well_formed_message_id(smtp: Any) -> None:
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port, starttls=False)

    message_id = mailer.send(
        Message(sender_address("calendar@example.com"), ("lead@example.com",), "주간", "<p/>", "-")
    )

    _, received = inbox.messages[-1]
    assert received["Date"]
    assert parsedate_to_datetime(received["Date"]).tzinfo is not None
    assert message_id.startswith("<")
    assert message_id.endswith("@example.com>")
    assert received["Message-ID"] == message_id


def test_the_report_lists_the_instances_of_recurring_events_in_its_days(
    storage: Storage, smtp: Any
) -> None:
    inbox, port = smtp
    team = storage.departments.create("반복팀", None, ("team@example.com",))
    create_series(
        storage,
        team.id,
        {
            "event_date": "2024-01-01",
            "title": "스탠드업",
            "time": "오전 9:30",
            "recurrence": ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR", "EXDATE:20240124T093000"),
        },
        ZoneInfo("Asia/Seoul"),
    )

    ReportJob(storage, SmtpMailer("127.0.0.1", port, starttls=False), "c@example.com", 9).run(
        DAY, 7
    )

    ((_, message),) = inbox.messages
    text = next(
        p.get_payload(decode=True).decode(p.get_content_charset())
        for p in message.walk()
        if p.get_content_type() == "text/plain"
    )
    # Monday 22nd and Friday 26th; Wednesday 24th is excluded.
    assert [line[2:12] for line in text.splitlines() if "스탠드업" in line] == [
        "2024-01-22",
        "2024-01-26",
    ]
