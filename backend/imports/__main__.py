"""``python -m backend.imports DEPARTMENT_ID JOB_ID``: run an import job to its end.

The API runs a job it accepted (202) by itself: in a thread of its process, or on Lambda
in another invocation of its function. This runs one from a shell, for instance one whose
runner was stopped: it takes the job over once its runner's lease has lapsed and goes on
from the progress it saved. Prints the job's status as JSON. Exit status: 0 when the job
succeeded, 1 when it failed or another runner holds it, 2 on bad settings or an unknown
job.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from backend.config import Settings, configure_logging
from backend.errors import CalendarError
from backend.services.import_jobs import job_json, job_status, run_import_job
from backend.storage.connection import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.imports", description=__doc__.splitlines()[0]
    )
    parser.add_argument("department_id")
    parser.add_argument("job_id")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level, stream=sys.stderr)
        storage, _ = connect(settings)
        job_status(storage, args.department_id, args.job_id)
    except (CalendarError, ValueError) as exc:
        print(f"cannot run the import job: {exc}", file=sys.stderr)
        return 2
    while run_import_job(storage, args.department_id, args.job_id).more:
        time.sleep(1.0)  # the storage failed meanwhile: go on from the progress saved
    job = job_status(storage, args.department_id, args.job_id)
    print(json.dumps(job_json(job), ensure_ascii=False))
    return 0 if job.status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
