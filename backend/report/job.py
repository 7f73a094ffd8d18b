"""The report job: for each department, its upcoming events, stored in S3 and e-mailed.

Safe to deliver twice: before sending a department's report for a date, the job claims a
marker item (``#mail-sent#<date>#<department id>``) with a conditional write; a repeated
schedule delivery finds it and sends nothing. The day's sending limit is a counter item
(``#mail-quota#<date>``) raised atomically before each message, so that concurrent runs
together never pass it. Both live in the departments table, like the name claims, and
never appear as departments.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from backend.domain import Department, Event
from backend.errors import CalendarError
from backend.report.mail import Mailer, Message, sender_address
from backend.storage import DateWindow, Storage
from backend.storage.dynamo import error_code, to_value, translated_errors

logger = logging.getLogger(__name__)

SENT_PREFIX = "#mail-sent#"
QUOTA_PREFIX = "#mail-quota#"
PAGE = 200

_templates = Environment(
    loader=PackageLoader("backend.report", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class QuotaReached(CalendarError):
    """The day's sending limit would be passed by the next message."""


@dataclass
class Outcome:
    department_id: str
    name: str
    recipients: int
    events: int
    status: str  # sent, skipped (already sent), no-recipients, quota-reached, failed, dry-run
    detail: str = ""


@dataclass
class Summary:
    date: str
    days: int
    transport: str
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return {
            "date": self.date,
            "days": self.days,
            "transport": self.transport,
            "dry_run": self.dry_run,
            "counts": counts,
            "departments": [vars(o) for o in self.outcomes],
        }


@dataclass
class ReportJob:
    storage: Storage
    mailer: Mailer
    sender: str
    daily_limit: int
    s3: Any = None  # boto3 S3 client; reports are not stored without it
    bucket: str | None = None

    def run(self, day: date, days: int, *, dry_run: bool = False) -> Summary:
        summary = Summary(day.isoformat(), days, self.mailer.name, dry_run)
        window = DateWindow(day.isoformat(), (day + timedelta(days=days - 1)).isoformat())
        quota_reached = False
        for department in self.storage.departments.list_all():
            events = self._events(department.id, window)
            subject, html, text = render(department, events, day, days)
            outcome = Outcome(
                department.id, department.name, len(department.notify_emails), len(events), ""
            )
            summary.outcomes.append(outcome)
            if dry_run:
                outcome.status = "dry-run"
                outcome.detail = subject
                continue
            self._store(day, department, html, text)
            if not department.notify_emails:
                outcome.status = "no-recipients"
            elif quota_reached:
                outcome.status = "quota-reached"
            elif self._already_sent(day, department.id):
                outcome.status = "skipped"
                outcome.detail = "already sent for this date"
            else:
                message = Message(
                    sender_address(self.sender), department.notify_emails, subject, html, text
                )
                try:
                    outcome.status, outcome.detail = self._deliver(day, department.id, message)
                except QuotaReached as exc:
                    quota_reached = True
                    outcome.status = "quota-reached"
                    outcome.detail = str(exc)
                    logger.warning("daily e-mail limit reached: %s", exc)
                except Exception as exc:
                    outcome.status = "failed"
                    outcome.detail = f"{type(exc).__name__}: {exc}"
                    logger.error("report for %s not sent: %s", department.id, exc)
        if not dry_run:
            self._store_summary(day, summary)
        return summary

    def _events(self, department_id: str, window: DateWindow) -> list[Event]:
        events: list[Event] = []
        after = None
        while True:
            page, more = self.storage.events.list_page(department_id, window, after, PAGE)
            events += page
            if not more or not page:
                return events
            after = page[-1].sort_key

    # -- delivery, at most once per department and date ---------------------------------

    def _deliver(self, day: date, department_id: str, message: Message) -> tuple[str, str]:
        """(status, detail): "sent" with the message id, or "skipped" when another run has it."""
        self._reserve(day, len(message.recipients))
        if not self._claim(day, department_id):
            self._release(day, len(message.recipients))
            return "skipped", "another run has already sent or is sending it"
        try:
            message_id = self.mailer.send(message)
        except Exception:
            # Not sent: free the claim and the quota so that a later run can try again.
            self._unclaim(day, department_id)
            self._release(day, len(message.recipients))
            raise
        self._mark_sent(day, department_id, message_id)
        return "sent", message_id

    def _key(self, prefix: str, *parts: str) -> dict[str, Any]:
        return {"id": to_value(prefix + "#".join(parts))}

    def _already_sent(self, day: date, department_id: str) -> bool:
        with translated_errors("read report marker"):
            response = self.storage.client.get_item(
                TableName=self.storage.departments.table,
                Key=self._key(SENT_PREFIX, day.isoformat(), department_id),
                ConsistentRead=True,
            )
        return "Item" in response

    def _claim(self, day: date, department_id: str) -> bool:
        try:
            with translated_errors("claim report marker"):
                self.storage.client.put_item(
                    TableName=self.storage.departments.table,
                    Item=self._key(SENT_PREFIX, day.isoformat(), department_id)
                    | {"status": to_value("sending"), "department_id": to_value(department_id)},
                    ConditionExpression="attribute_not_exists(id)",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _unclaim(self, day: date, department_id: str) -> None:
        with translated_errors("release report marker"):
            self.storage.client.delete_item(
                TableName=self.storage.departments.table,
                Key=self._key(SENT_PREFIX, day.isoformat(), department_id),
            )

    def _mark_sent(self, day: date, department_id: str, message_id: str) -> None:
        with translated_errors("mark report sent"):
            self.storage.client.update_item(
                TableName=self.storage.departments.table,
                Key=self._key(SENT_PREFIX, day.isoformat(), department_id),
                UpdateExpression="SET #status = :sent, message_id = :message",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sent": to_value("sent"),
                    ":message": to_value(message_id or "-"),
                },
            )

    def _reserve(self, day: date, count: int) -> None:
        """Count ``count`` messages against the day's limit, or raise QuotaReached."""
        if count > self.daily_limit:
            raise QuotaReached(f"{count} recipients exceed the daily limit of {self.daily_limit}")
        try:
            with translated_errors("reserve e-mail quota"):
                self.storage.client.update_item(
                    TableName=self.storage.departments.table,
                    Key=self._key(QUOTA_PREFIX, day.isoformat()),
                    UpdateExpression="ADD sent :count",
                    # The condition and the increment are one atomic step: two runs
                    # reserving at once can never pass the limit together.
                    ConditionExpression="attribute_not_exists(sent) OR sent <= :room",
                    ExpressionAttributeValues={
                        ":count": to_value(count),
                        ":room": to_value(self.daily_limit - count),
                    },
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise QuotaReached(
                    f"sending {count} more would pass the daily limit of {self.daily_limit}"
                ) from exc
            raise

    def _release(self, day: date, count: int) -> None:
        with translated_errors("release e-mail quota"):
            self.storage.client.update_item(
                TableName=self.storage.departments.table,
                Key=self._key(QUOTA_PREFIX, day.isoformat()),
                UpdateExpression="ADD sent :minus",
                ExpressionAttributeValues={":minus": to_value(-count)},
            )

    # -- S3 -----------------------------------------------------------------------------

    def _store(self, day: date, department: Department, html: str, text: str) -> None:
        if self.s3 is None or not self.bucket:
            return
        prefix = f"reports/{day.isoformat()}/{department.id}"
        for suffix, body, kind in ((".html", html, "text/html"), (".txt", text, "text/plain")):
            self.s3.put_object(
                Bucket=self.bucket,
                Key=prefix + suffix,
                Body=body.encode("utf-8"),
                ContentType=f"{kind}; charset=utf-8",
            )

    def _store_summary(self, day: date, summary: Summary) -> None:
        if self.s3 is None or not self.bucket:
            return
        self.s3.put_object(
            Bucket=self.bucket,
            Key=f"reports/{day.isoformat()}/summary.json",
            Body=json.dumps(summary.as_dict(), ensure_ascii=False, indent=2).encode("utf-8"),
            ContentType="application/json",
        )


def render(
    department: Department, events: list[Event], day: date, days: int
) -> tuple[str, str, str]:
    """Subject, HTML and plain text of a department's report (Korean, autoescaped HTML)."""
    last = day + timedelta(days=days - 1)
    subject = (
        f"[부서 캘린더] {department.name} — 다가오는 일정 ({day.isoformat()} ~ {last.isoformat()})"
    )
    context = {
        "subject": subject,
        "department": department,
        "events": events,
        "first": day.isoformat(),
        "last": last.isoformat(),
        "days": days,
    }
    html = _templates.get_template("report.html.j2").render(context)
    text = _templates.get_template("report.txt.j2").render(context)
    return subject, html, text


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def run_from_settings(
    settings: Any, day: str | None = None, days: int | None = None, *, dry_run: bool = False
) -> dict[str, Any]:
    """Build the job from settings (storage, S3, SES or SMTP) and run it once."""
    from backend.connection import connect, make_aws_client  # noqa: PLC0415
    from backend.report.mail import SesMailer, SmtpMailer  # noqa: PLC0415

    storage, _ = connect(settings)
    mailer: Mailer
    if settings.smtp_host:
        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_user,
            settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    else:
        mailer = SesMailer(make_aws_client(settings, "sesv2", settings.ses_endpoint_url))
    s3 = (
        make_aws_client(settings, "s3", settings.s3_endpoint_url)
        if settings.reports_bucket
        else None
    )
    job = ReportJob(
        storage, mailer, settings.mail_from, settings.daily_email_limit, s3, settings.reports_bucket
    )
    when = date.fromisoformat(day) if day else today(settings.report_timezone)
    return job.run(when, int(days or settings.report_days), dry_run=dry_run).as_dict()
