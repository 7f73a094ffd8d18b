"""AWS Lambda entry points: the API (Function URL or HTTP API) and the scheduled report.

``api`` serves the same Flask app through apig-wsgi, which understands payload v1 and v2,
Function URLs and base64 bodies. The app is built on the first invocation, not at import,
so that importing this module stays cheap (see scripts/package_lambda for the timing) and
settings errors surface as a logged failure of the invocation that hit them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apig_wsgi import make_lambda_handler

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_api: LambdaHandler | None = None


def make_api_handler(app: Flask) -> LambdaHandler:
    """Wrap a Flask app for API Gateway / Function URL events (binary bodies kept)."""
    return make_lambda_handler(app, binary_support=True)


def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler of the HTTP API."""
    global _api  # noqa: PLW0603 - built once per execution environment, then reused
    if _api is None:
        from backend import create_app  # noqa: PLC0415
        from backend.config import Settings, configure_logging  # noqa: PLC0415

        settings = Settings.from_env(dotenv_path=None)
        configure_logging("json", settings.log_level)
        _api = make_api_handler(create_app(settings))
    return _api(event, context)


def backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler of the scheduled backup: both tables to s3://BUCKET/backups/<date>/."""
    from backend.aws import make_s3_client  # noqa: PLC0415
    from backend.backup import Location, dump  # noqa: PLC0415
    from backend.config import Settings, configure_logging  # noqa: PLC0415
    from backend.domain import utc_now  # noqa: PLC0415
    from backend.storage.connection import connect  # noqa: PLC0415

    settings = Settings.from_env(dotenv_path=None)
    configure_logging("json", settings.log_level)
    if not settings.reports_bucket:
        raise RuntimeError("REPORTS_BUCKET is not set: nowhere to write the backup")
    destination = f"s3://{settings.reports_bucket}/backups/{utc_now()[:10]}/"
    storage, _ = connect(settings)
    counts = dump(storage, Location(destination, make_s3_client(settings)))
    logger.info("backup finished", extra={"destination": destination, "items": counts})
    return {"destination": destination, "items": counts}


def report(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler of the scheduled report e-mail (EventBridge Scheduler)."""
    from backend.config import Settings, configure_logging  # noqa: PLC0415
    from backend.report.job import run_from_settings  # noqa: PLC0415

    settings = Settings.from_env(dotenv_path=None)
    configure_logging("json", settings.log_level)
    summary = run_from_settings(settings, day=event.get("date"), days=event.get("days"))
    logger.info("report finished", extra={"report": summary})
    return summary


def deliver(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler of webhook deliveries: fed by the events table's stream (change
    records only, by the event source's filter) for the departments that changed, and
    every minute by a schedule for the retries that have come due."""
    from backend.config import Settings, configure_logging  # noqa: PLC0415
    from backend.services.notifications import Sending  # noqa: PLC0415
    from backend.services.notifications import deliver as deliver_changes  # noqa: PLC0415
    from backend.storage.changes import CHANGES_PREFIX  # noqa: PLC0415
    from backend.storage.connection import connect  # noqa: PLC0415

    settings = Settings.from_env(dotenv_path=None)
    configure_logging("json", settings.log_level)
    departments: set[str] | None = None
    if "Records" in event:  # the stream: only the departments whose calendar changed
        departments = {
            key.removeprefix(CHANGES_PREFIX)
            for record in event["Records"]
            if (
                key := record.get("dynamodb", {}).get("Keys", {}).get("id", {}).get("S", "")
            ).startswith(CHANGES_PREFIX)
        }
    storage, _ = connect(settings)
    done = deliver_changes(storage, Sending(allow_private=False), departments)
    summary = {"delivered": done.delivered, "failed": done.failed, "waiting": done.waiting}
    logger.info("webhook deliveries", extra={"deliveries": summary})
    return summary
