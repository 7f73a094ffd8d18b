"""Change notifications: webhooks registered per department, and their deliveries.

Each change record of a department's change log (``storage/changes.py``) becomes one
delivery to each of its webhooks, in version order, at least once, with the id
``<department>:<version>`` that a receiver de-duplicates by. A webhook's deliveries are
claimed with a lease, so one worker delivers them at a time; a failed delivery is tried
again on ``sending.retry_delay``'s schedule, and the ones after it wait (order first).
After ``RETRY_FOR`` of failures the webhook is marked ``failing`` and tried hourly until
its receiver answers again.

``deliver`` is what every runner calls: the local worker (``python -m backend.delivery``,
started by ``./scripts/serve``), and on AWS the Lambda function fed by the events table's
stream, with a schedule for the retries.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast

from backend.domain import Webhook, utc_now
from backend.errors import FieldError, Invalid, NotFound
from backend.storage import Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.changes import ChangeRecord
from backend.storage.webhooks import Lease
from backend.webhooks import messages, sending, signing, targets

logger = logging.getLogger(__name__)

FORMATS = ("json", "slack", "teams")
LANGUAGES = ("ko", "en")
MAX_WEBHOOKS = 10  # per department
# How long a worker holds a webhook's deliveries: past every send's timeout.
LEASE = timedelta(seconds=60)
# Change records one webhook is sent in one pass (the rest in the next pass).
RECORDS_PER_PASS = 20
# While a webhook is marked failing, it is tried this often.
FAILING_EVERY = timedelta(hours=1)


def register(
    storage: Storage,
    department_id: str,
    url: str,
    fmt: str,
    language: str,
    *,
    allow_private: bool,
) -> Webhook:
    """A new webhook of the department, delivering the changes from now on."""
    try:
        targets.check_url(url, allow_private=allow_private)
        if not allow_private:
            targets.resolve(url, allow_private=False)
    except targets.TargetRefused as exc:
        raise Invalid([FieldError("url", str(exc))]) from None
    except OSError:
        raise Invalid([FieldError("url", "its host name does not resolve")]) from None
    calendar = storage.events.calendar_state(department_id)  # 404 for a missing department
    webhook = Webhook(
        id=secrets.token_hex(8),
        department_id=department_id,
        url=url,
        format=fmt,
        language=language,
        secret=signing.new_secret(),
        created_at=utc_now(),
        delivered_version=calendar.calendar_version,
    )
    storage.webhooks.add(webhook, MAX_WEBHOOKS)
    return webhook


def unregister(storage: Storage, department_id: str, webhook_id: str) -> None:
    storage.webhooks.remove(department_id, webhook_id)


@dataclass(frozen=True)
class Sending:
    """How deliveries are sent: private targets allowed (development only), the timeout of
    one POST, and the link to the calendar that chat messages carry."""

    allow_private: bool
    timeout: float = 5.0
    calendar_url: str | None = None
    # Seconds after which a pass starts no more webhooks (the Lambda's timeout is 300).
    budget: float = 180.0


@dataclass
class Pass:
    """What one pass of deliveries did."""

    delivered: int = 0
    failed: int = 0
    waiting: int = 0  # webhooks whose next attempt is not due yet, or held by another


def deliver(storage: Storage, how: Sending, departments: Collection[str] | None = None) -> Pass:
    """Deliver what is due to every webhook (of ``departments`` when given), in a random
    order so that slow receivers cannot starve the same others on every pass, until
    ``how.budget`` seconds have gone."""
    done = Pass()
    started = time.monotonic()
    hooks = storage.webhooks.all()
    if departments is not None:
        hooks = [w for w in hooks if w.department_id in departments]
    random.shuffle(hooks)
    for webhook in hooks:
        if time.monotonic() - started > how.budget:
            done.waiting += 1
            continue
        try:
            _deliver_due(storage, webhook, done, how)
        except Exception:  # one webhook's trouble never stops the others
            logger.exception("webhook %s: delivery pass failed", webhook.id)
            done.failed += 1
    return done


def _deliver_due(storage: Storage, webhook: Webhook, done: Pass, how: Sending) -> None:
    now = utc_datetime()
    if (
        webhook.next_attempt_at is not None
        and datetime.fromisoformat(webhook.next_attempt_at) > now
    ):
        done.waiting += 1
        return
    try:
        calendar = storage.events.calendar_state(webhook.department_id)
    except NotFound:  # the department is gone: its webhook goes too
        with contextlib.suppress(NotFound):
            storage.webhooks.remove(webhook.department_id, webhook.id, counted=False)
        return
    if calendar.calendar_version <= webhook.delivered_version:
        return
    lease = storage.webhooks.claim(webhook, now, now + LEASE)
    if lease is None:
        done.waiting += 1
        return
    try:
        _deliver_one(storage, lease, calendar.calendar_version, done, how)
    finally:
        storage.webhooks.release(lease)


def _deliver_one(storage: Storage, lease: Lease, version: int, done: Pass, how: Sending) -> None:
    """Send the webhook's next changes in order while its lease lasts, stopping at the
    first failure."""
    webhook = lease.webhook
    records = list(
        storage.changes.after(
            webhook.department_id, webhook.delivered_version, limit=RECORDS_PER_PASS
        )
    )
    if not records:
        # The version moved without a record (a recount by the migration): nothing to
        # send up to it.
        storage.webhooks.delivered(lease, version, utc_now())
        return
    name = storage.departments.get(webhook.department_id).name
    for record in records:
        if utc_datetime() + timedelta(seconds=how.timeout + 5) > lease.until:
            renewed = storage.webhooks.renew(lease, utc_datetime() + LEASE)
            if renewed is None:
                return  # another worker has it now
            lease = renewed
        if not _send_one(storage, lease, record, name, how=how, done=done):
            return
        advanced = storage.webhooks.delivered(lease, record.version, utc_now())
        if advanced is None:
            return  # deleted meanwhile: nothing more starts
        lease = advanced


def _send_one(
    storage: Storage, lease: Lease, record: ChangeRecord, name: str, *, how: Sending, done: Pass
) -> bool:
    webhook = lease.webhook
    delivery = _delivery(record, name, how.calendar_url)
    fmt = cast(messages.Format, webhook.format)
    body = messages.render(fmt, cast(messages.Language, webhook.language), delivery)
    headers = sending.headers_for(fmt, webhook.secret, delivery.id, body, int(time.time()))
    outcome = sending.send(
        webhook.url, body, headers, allow_private=how.allow_private, timeout=how.timeout
    )
    if not outcome.ok:
        storage.webhooks.failed(lease, _failing(webhook, outcome.error or "failed"))
        done.failed += 1
        logger.info(
            "webhook delivery failed",
            extra={"webhook": webhook.id, "delivery": delivery.id, "error": outcome.error},
        )
        return False
    done.delivered += 1
    logger.info(
        "webhook delivered",
        extra={"webhook": webhook.id, "delivery": delivery.id, "ms": outcome.elapsed * 1000},
    )
    return True


def _failing(webhook: Webhook, error: str) -> Webhook:
    """The webhook after one more failed attempt of its next delivery."""
    now = utc_datetime()
    attempts = webhook.attempts + 1
    since = webhook.failing_since or now.isoformat()
    failing = now - datetime.fromisoformat(since) >= sending.RETRY_FOR
    wait = FAILING_EVERY if failing else sending.retry_delay(attempts, jitter=0.1)
    return replace(
        webhook,
        attempts=attempts,
        failing_since=since,
        status="failing" if failing else webhook.status,
        next_attempt_at=(now + wait).isoformat(),
        last_error=error[:300],
    )


def _delivery(
    record: ChangeRecord, department_name: str, calendar_url: str | None
) -> messages.Delivery:
    changes = tuple(
        messages.EventChange(
            action=change.action,
            event_id=change.id,
            title=change.title,
            event_date=change.event_date,
            end_date=change.end_date,
            time=change.time,
            recurring=change.kind == "series",
        )
        for change in record.changes
        if change.kind != "occurrence" or change.action == "deleted"
    )
    return messages.Delivery(
        id=f"{record.department_id}:{record.version}",
        department_id=record.department_id,
        department_name=department_name,
        version=record.version,
        occurred_at=record.at,
        changes=changes,  # every one: chat formats list ten and count the rest
        total=len(record.changes),
        calendar_url=calendar_url,
    )
