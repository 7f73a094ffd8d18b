"""Imports too big for one request, run as jobs: the file is read and stored at once (202),
and a runner applies it chunk by chunk, saving its progress and result after each.

Where the runner runs is the caller's choice (``Starter``): a thread of the same process
under gunicorn or ``flask run`` (``in_thread``), another invocation of the API's own
function on Lambda (``backend.lambda_handler``), or ``python -m backend.imports``. A
runner holds the job by a lease; a job whose runner died (its lease lapsed) is started
again by the next look at its status. Writes are idempotent by event id (an import
upserts by UID), so a chunk applied twice writes nothing the second time.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from backend.domain import Actor, acting, acting_as
from backend.errors import CalendarError, NotFound
from backend.ics import reader
from backend.services.imports import Importer, ImportResult, read_file
from backend.storage import Storage
from backend.storage.bookkeeping import utc_datetime
from backend.storage.imports import UNFINISHED, Job

logger = logging.getLogger(__name__)

# The most VEVENTs an import applies within its request; a larger file becomes a job. A
# batched import of 1,000 new events takes about 4 s on the embedded engine (9 s where
# every date must be counted by a Query), well inside gunicorn's 30 s and the Lambda's 40 s.
SYNC_MAX_EVENTS = 1000
# How long a runner holds a job between saves of its progress (a chunk takes a few
# seconds); a job not saved for this long is taken over.
LEASE = timedelta(seconds=60)
# A runner with less time than this left (a Lambda invocation near its timeout) stops
# after its chunk and hands the job on.
STOP_MARGIN_SECONDS = 15.0

# How often a thread tries a job again while the storage fails (about 5 minutes).
THREAD_ATTEMPTS = 14

Starter = Callable[[str, str], None]  # (department id, job id): run it somewhere, soon


def wants_job(body: bytes) -> bool:
    """Whether a file holds more VEVENTs than one request applies."""
    return body.count(b"BEGIN:VEVENT") > SYNC_MAX_EVENTS


def start_import(
    storage: Storage,
    department_id: str,
    body: bytes,
    *,
    timezone: str,
    domain: str,
    dry_run: bool,
) -> Job:
    """Read ``body`` and store it as a queued job of the department (``NotFound``,
    ``BadRequest`` as an import)."""
    storage.departments.get(department_id)
    entries = read_file(body, timezone=timezone, domain=domain)
    actor = acting()
    options = {
        "timezone": timezone,
        "domain": domain,
        "dry_run": dry_run,
        "acting": actor.json() if actor is not None else None,
    }
    return storage.import_jobs.create(
        department_id, uuid.uuid4().hex, [_plain(e) for e in entries], options
    )


def job_status(storage: Storage, department_id: str, job_id: str) -> Job:
    """The department's job, or ``NotFound`` (another department's job is not found)."""
    job = storage.import_jobs.find(department_id, job_id)
    if job is None:
        raise NotFound("import job", job_id)
    return job


def needs_runner(job: Job) -> bool:
    """Whether the job is unfinished and no runner holds it (never started, or its
    runner died and its lease lapsed)."""
    return job.status in UNFINISHED and not job.leased(utc_datetime())


def job_json(job: Job) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "created_at": job.created_at,
    }
    if job.status == "succeeded" and job.result is not None:
        body["result"] = job.result
    if job.error is not None:
        body["error"] = job.error
    return body


@dataclass(frozen=True)
class Run:
    """What one runner did: ``finished`` (succeeded or failed), or stopped with more to
    do (``more``: out of time, or the storage failed: the next runner goes on)."""

    finished: bool
    more: bool


def run_import_job(
    storage: Storage,
    department_id: str,
    job_id: str,
    *,
    time_left: Callable[[], float] | None = None,
) -> Run:
    """Take the job (unless another runner holds it) and apply its chunks from where it
    was left, saving progress after each; ``time_left`` (seconds) stops it early."""
    job = storage.import_jobs.find(department_id, job_id)
    if job is None or job.status not in UNFINISHED:
        return Run(finished=job is not None, more=False)
    owner = uuid.uuid4().hex
    held = storage.import_jobs.take(job, owner, utc_datetime() + LEASE)
    if held is None:
        return Run(finished=False, more=False)  # another runner has it
    options = held.options
    actor = Actor(**options["acting"]) if options.get("acting") else None
    dry_run = bool(options.get("dry_run"))
    result = ImportResult.from_json(held.result) if held.result else ImportResult(dry_run=dry_run)
    importer = Importer(
        storage,
        department_id,
        timezone=options["timezone"],
        domain=options["domain"],
        dry_run=dry_run,
        result=result,
    )
    done = held.done
    try:
        with acting_as(actor):
            for n, chunk in storage.import_jobs.chunks(held, held.next_chunk):
                importer.apply([_entry(e) for e in chunk])
                done += len(chunk)
                if not storage.import_jobs.progress(
                    held, owner, next_chunk=n + 1, done=done,
                    result=importer.result.as_json(), until=utc_datetime() + LEASE,
                ):  # fmt: skip
                    return Run(finished=False, more=False)  # taken over
                out_of_time = time_left is not None and time_left() < STOP_MARGIN_SECONDS
                if out_of_time and n + 1 < held.chunks:
                    storage.import_jobs.release(held, owner)
                    return Run(finished=False, more=True)
    except CalendarError as exc:
        if exc.problem.status >= 500:
            logger.warning("import job %s stopped, to be resumed: %s", job_id, exc)
            storage.import_jobs.release(held, owner)
            return Run(finished=False, more=True)
        storage.import_jobs.finish(held, owner, "failed", None, str(exc))
        return Run(finished=True, more=False)
    except Exception:
        logger.exception("import job %s failed", job_id)
        storage.import_jobs.finish(held, owner, "failed", None, "the import stopped on an error")
        return Run(finished=True, more=False)
    storage.import_jobs.finish(held, owner, "succeeded", importer.result.as_json())
    logger.info("import job %s succeeded", job_id, extra={"import": importer.result.as_json()})
    return Run(finished=True, more=False)


def in_thread(storage: Storage) -> Starter:
    """Run jobs in a daemon thread of this process (gunicorn, ``flask run``)."""

    def start(department_id: str, job_id: str) -> None:
        def run() -> None:
            try:
                for attempt in range(THREAD_ATTEMPTS):
                    if not run_import_job(storage, department_id, job_id).more:
                        return
                    time.sleep(min(2.0**attempt, 30.0))  # the storage failed: try again
                # Still failing: the job waits, and a poll starts it again.
            except Exception:
                logger.exception("import job %s: runner failed", job_id)

        threading.Thread(target=run, name=f"import-{job_id}", daemon=True).start()

    return start


def _plain(entry: reader.Entry) -> dict[str, Any]:
    return {
        "line": entry.line,
        "uid": entry.uid,
        "event_id": entry.event_id,
        "fields": entry.fields,
        "cancelled": entry.cancelled,
        "reason": entry.reason,
        "series_id": entry.series_id,
        "original_date": entry.original_date,
    }


def _entry(data: dict[str, Any]) -> reader.Entry:
    # Lists in JSON were tuples (recurrence lines, categories) in the entry.
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data["fields"].items()}
    return reader.Entry(
        line=int(data["line"]),
        uid=str(data["uid"]),
        event_id=data.get("event_id"),
        fields=fields,
        cancelled=bool(data.get("cancelled")),
        reason=data.get("reason"),
        series_id=data.get("series_id"),
        original_date=data.get("original_date"),
    )
