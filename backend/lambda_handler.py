"""AWS Lambda entry points: the API (Function URL or HTTP API) and the scheduled report.

``api`` serves the same Flask app through apig-wsgi, which understands payload v1 and v2,
Function URLs and base64 bodies. An import too big for one request becomes a job, which
``api`` hands to another invocation of its own function (asynchronous, ``InvocationType
Event``, with ``{"import_job": {...}}``: no HTTP event has that key); an invocation near
its timeout stops after a chunk and hands the rest on the same way.

The app is built on the first invocation, not at import, so that importing this module
stays cheap (see scripts/package_lambda for the timing) and settings errors surface as a
logged failure of the invocation that hit them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apig_wsgi import make_lambda_handler

if TYPE_CHECKING:
    from flask import Flask

    from backend.config import Settings
    from backend.services.import_jobs import Starter
    from backend.storage import Storage

logger = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_api: LambdaHandler | None = None


def make_api_handler(app: Flask) -> LambdaHandler:
    """Wrap a Flask app for API Gateway / Function URL events (binary bodies kept)."""
    return make_lambda_handler(app, binary_support=True)


IMPORT_JOB = "import_job"  # the key of an invocation that runs an import job


def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler of the HTTP API, and of the import jobs it hands itself."""
    global _api  # noqa: PLW0603 - built once per execution environment, then reused
    from backend.config import Settings, configure_logging  # noqa: PLC0415

    if IMPORT_JOB in event:
        from backend.storage.connection import connect  # noqa: PLC0415

        settings = Settings.from_env(dotenv_path=None)
        configure_logging("json", settings.log_level)
        storage, _ = connect(settings)
        return run_job_event(
            storage,
            event[IMPORT_JOB],
            lambda: float(context.get_remaining_time_in_millis()) / 1000,
            self_invoker(settings),
        )
    if _api is None:
        from backend import create_app  # noqa: PLC0415

        settings = Settings.from_env(dotenv_path=None)
        configure_logging("json", settings.log_level)
        _api = make_api_handler(create_app(settings, start_job=self_invoker(settings)))
    return _api(event, context)


def self_invoker(settings: Settings, client: Any = None) -> Starter:
    """Start an import job in another invocation of this function (asynchronous: the
    request that made the job answers 202 at once). If the invocation cannot be made, the
    job waits: the next look at its status starts it."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    made: list[Any] = [client] if client is not None else []

    def start(department_id: str, job_id: str) -> None:
        if not made:
            from backend.aws import make_lambda_client  # noqa: PLC0415

            made.append(make_lambda_client(settings))
        payload = {IMPORT_JOB: {"department_id": department_id, "job_id": job_id}}
        try:
            made[0].invoke(
                FunctionName=function,
                InvocationType="Event",
                Payload=json.dumps(payload).encode(),
            )
        except Exception:
            logger.exception("import job %s: could not invoke %s", job_id, function)

    return start


def run_job_event(
    storage: Storage,
    job: dict[str, Any],
    time_left: Callable[[], float],
    start: Starter,
) -> dict[str, Any]:
    """Run an import job until it ends or this invocation's time runs short; then hand
    the rest to the next invocation."""
    from backend.services.import_jobs import run_import_job  # noqa: PLC0415

    department_id, job_id = str(job["department_id"]), str(job["job_id"])
    run = run_import_job(storage, department_id, job_id, time_left=time_left)
    if run.more:
        time.sleep(1.0 if time_left() > 5 else 0)  # a storage failure: not at once
        start(department_id, job_id)
    return {"job_id": job_id, "finished": run.finished, "handed_on": run.more}


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
