"""The report job: for each department, its upcoming events, stored in S3 and e-mailed.

Safe to deliver twice and never over the day's limit: ``storage.mailings`` keeps a
sent-marker per department and date and the day's counter (see that module).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from backend.domain import Department, Event
from backend.errors import QuotaReached
from backend.report.mail import Mailer, Message, sender_address
from backend.services import listing
from backend.storage import DateWindow, Storage

logger = logging.getLogger(__name__)

PAGE = 200

_templates = Environment(
    loader=PackageLoader("backend.report", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


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
    swept: int = 0  # expired bookkeeping items removed after the run

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
            "swept": self.swept,
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
    calendar_timezone: str = "Asia/Seoul"  # where the events' dates and times are

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
            elif self.storage.mailings.already_sent(day, department.id):
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
            # Expired bookkeeping (old markers, quotas, idempotency records) goes daily.
            summary.swept = self.storage.sweep()
        return summary

    def _events(self, department_id: str, window: DateWindow) -> list[Event]:
        """The window's events, each occurrence of a recurring event among them."""
        zone = ZoneInfo(self.calendar_timezone)
        found = listing.all_in(
            self.storage, department_id, window, zone=zone, today=datetime.now(zone).date(),
            page_size=PAGE,
        )  # fmt: skip
        return list(found)

    # -- delivery, at most once per department and date ---------------------------------

    def _deliver(self, day: date, department_id: str, message: Message) -> tuple[str, str]:
        """(status, detail): "sent" with the message id, or "skipped" when another run has it."""
        mailings = self.storage.mailings
        reservation = mailings.reserve(day, len(message.recipients), self.daily_limit)
        try:
            claimed = mailings.claim(day, department_id)
        except Exception:
            mailings.release(day, len(message.recipients), reservation)  # nothing sent
            raise
        if not claimed:
            mailings.release(day, len(message.recipients), reservation)
            return "skipped", "another run has already sent or is sending it"
        try:
            message_id = self.mailer.send(message)
        except Exception:
            # Not sent: free the claim and the quota so that a later run can try again.
            mailings.unclaim(day, department_id)
            mailings.release(day, len(message.recipients), reservation)
            raise
        mailings.mark_sent(day, department_id, message_id)
        return "sent", message_id

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
    from backend.aws import make_aws_client  # noqa: PLC0415
    from backend.report.mail import SesMailer, SmtpMailer  # noqa: PLC0415
    from backend.storage.connection import connect  # noqa: PLC0415

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
        storage,
        mailer,
        settings.mail_from,
        settings.daily_email_limit,
        s3,
        settings.reports_bucket,
        settings.calendar_timezone,
    )
    when = date.fromisoformat(day) if day else today(settings.report_timezone)
    return job.run(when, int(days or settings.report_days), dry_run=dry_run).as_dict()
