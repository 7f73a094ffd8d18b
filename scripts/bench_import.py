#!/usr/bin/env python
"""What an import of a large iCalendar file costs: DynamoDB calls and seconds.

    .venv/bin/python scripts/bench_import.py [--events 1000] [--per-day 3]

Runs the app against the embedded engine (moto behind the request-serialising wrapper, in
this process), imports a generated file of ``--events`` new events into an empty
department, then the same file again (nothing changes), and prints calls and seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from backend import create_app  # noqa: E402
from backend.config import Mode, Settings  # noqa: E402
from backend.storage.connection import connect  # noqa: E402
from localdb.server import JournalingApp  # noqa: E402


class _Accounting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.__dict__)


def calendar_file(events: int, per_day: int, first: date = date(2024, 1, 1)) -> bytes:
    """A VCALENDAR of ``events`` all-day events, ``per_day`` a date from ``first``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//import//EN"]
    for n in range(events):
        day = (first + timedelta(days=n // per_day)).strftime("%Y%m%d")
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-{first.year}-{n}@example.com",
            "DTSTAMP:20240101T000000Z",
            f"DTSTART;VALUE=DATE:{day}",
            f"SUMMARY:회의 {n}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=3)
    parser.add_argument("--sync", action="store_true", help="force a synchronous import")
    parser.add_argument(
        "--existing",
        type=int,
        default=0,
        help="events the department holds first (200 or more: each date is counted)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, JournalingApp(journal=None), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        departments_table=f"import-departments-{suffix}",
        events_table=f"import-events-{suffix}",
        secret_key=uuid.uuid4().hex,
    )
    storage, _ = connect(settings)
    storage.create_tables()
    client = create_app(settings, storage).test_client()
    dept = client.post("/api/departments", json={"name": "개발팀"}).get_json()["id"]
    body = calendar_file(args.events, args.per_day)
    if args.existing:
        client.post(
            f"/api/events/{dept}/import",
            data=calendar_file(args.existing, 100, date(2030, 1, 1)),
            headers={"Content-Type": "text/calendar"},
        )
    accounting = _Accounting()
    access = logging.getLogger("backend.access")
    access.setLevel(logging.INFO)
    access.addHandler(accounting)
    url = f"/api/events/{dept}/import" + ("?async=false" if args.sync else "")
    print(
        f"{args.events} events, {args.per_day} a date, {len(body) / 1024:.0f} KiB, "
        f"into a department of {args.existing} events\n"
    )
    for label in ("import new events", "the same file again"):
        accounting.lines.clear()
        started = time.perf_counter()
        response = client.post(url, data=body, headers={"Content-Type": "text/calendar"})
        elapsed = time.perf_counter() - started
        line = accounting.lines[-1]
        operations = Counter(line["dynamodb_operations"])
        answer = response.get_json()
        if response.status_code >= 500:
            print(answer)
        summary = {k: answer.get(k) for k in ("created", "updated", "unchanged", "status")}
        print(
            f"{label:<34} {response.status_code} {elapsed:6.1f} s {line['dynamodb_calls']:>6} "
            f"calls  {' '.join(f'{k}×{v}' for k, v in operations.items())}  {summary}"
        )
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
