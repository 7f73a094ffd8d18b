#!/usr/bin/env python3
"""Benchmark the embedded local DynamoDB (the zero-configuration default) at calendar sizes.

For each size it fills a fresh data folder through the API's storage layer with
departments of the legacy calendar's shape (1,008 events each: 3 a day, 28 days a month,
the 12 months of 2024; 20 of them make the 20,160-event calendar), so a month list
returns the same 84 events at every size and only the table grows. It stops the engine
as it stops when idle, then measures:

- start: from starting the engine to the first answered request (snapshot loaded);
- month list: ``GET /api/events/<id>?month=2024-MM`` through the Flask app, p50 and p99;
- get: ``GET /api/events/<id>/<event id>``, p50;
- peak RSS of the engine process (VmHWM);

and, once, the migration of the 20,160-event legacy set (20 departments × 12 months ×
28 days × 3 events) with ``migrate_to_dynamodb.py`` on the embedded default, verification
included. Numbers only; nothing here asserts a timing.

    scripts/bench_local_engine                       # sizes 1000,20000,100000
    scripts/bench_local_engine --sizes 1000 --requests 100
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend import create_app  # noqa: E402
from backend.config import Mode, Settings  # noqa: E402
from backend.migration.records import event_item  # noqa: E402
from backend.storage.connection import connect, connect_client  # noqa: E402
from backend.storage.dynamo import to_item  # noqa: E402
from localdb import ensure_running  # noqa: E402
from localdb.launcher import STATE  # noqa: E402

DEPARTMENTS = 20  # of the legacy calendar migrated
EVENTS_PER_DAY = 3  # 20 × 12 × 28 × 3 = 20,160
PER_DEPARTMENT = 12 * 28 * EVENTS_PER_DAY


def _settings(folder: Path) -> Settings:
    return Settings(mode=Mode.LOCAL, local_dir=folder, secret_key="b" * 32)


def _engine_pid(folder: Path) -> int:
    return int(json.loads((folder / STATE).read_text())["pid"])


def _stop(folder: Path) -> None:
    pid = _engine_pid(folder)
    os.kill(pid, signal.SIGTERM)
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _day(n: int) -> str:
    """The date of a department's n-th event: 3 a day, 28 days a month, 12 months."""
    day = n // EVENTS_PER_DAY
    return f"2024-{day // 28 % 12 + 1:02d}-{day % 28 + 1:02d}"


def fill(folder: Path, events: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Departments and ``events`` events through the storage layer; returns their ids."""
    client = create_app(_settings(folder)).test_client()
    departments = [
        client.post("/api/departments", json={"name": f"부서 {d}"}).get_json()["id"]
        for d in range(max(1, round(events / PER_DEPARTMENT)))
    ]
    store, _ = connect(_settings(folder))
    dynamodb, _ = connect_client(_settings(folder))
    now = "2024-01-01T00:00:00Z"
    keys: list[tuple[str, str]] = []
    batch: list[Any] = []
    for n in range(events):
        department = departments[n // PER_DEPARTMENT % len(departments)]
        record = {"id": f"ev-{n}", "title": f"일정 {n}", "time": f"오후 {n % 12 + 1}:00"}
        item = event_item(record, department, _day(n % PER_DEPARTMENT), now).attributes
        batch.append({"PutRequest": {"Item": to_item(item)}})
        keys.append((department, f"ev-{n}"))
        if len(batch) == 25 or n == events - 1:
            dynamodb.batch_write_item(RequestItems={store.events.table: batch})
            batch = []
    return departments, keys


def measure(folder: Path, size: int, requests: int) -> dict[str, float]:
    departments, keys = fill(folder, size)
    _stop(folder)  # as after the idle stop: the next start loads the snapshot
    started = time.perf_counter()
    ensure_running(folder)
    client = create_app(_settings(folder)).test_client()
    if client.get("/readyz").status_code != 200:
        raise SystemExit("the engine did not come back ready")
    start_seconds = time.perf_counter() - started
    rng = random.Random(size)
    client.get(f"/api/events/{departments[0]}?month=2024-01")  # the app's first request
    client.get(f"/api/events/{keys[0][0]}/{keys[0][1]}")
    month, get = [], []
    for _ in range(requests):
        department = rng.choice(departments)
        t = time.perf_counter()
        response = client.get(f"/api/events/{department}?month=2024-{rng.randrange(1, 13):02d}")
        month.append(time.perf_counter() - t)
        if response.status_code != 200:
            raise SystemExit(response.get_data(as_text=True))
        department, event = rng.choice(keys)
        t = time.perf_counter()
        response = client.get(f"/api/events/{department}/{event}")
        get.append(time.perf_counter() - t)
        if response.status_code != 200:
            raise SystemExit(response.get_data(as_text=True))
    rss = _peak_rss_mib(_engine_pid(folder))
    _stop(folder)
    return {
        "start": start_seconds,
        "month_p50": statistics.median(month) * 1000,
        "month_p99": statistics.quantiles(month, n=100)[98] * 1000,
        "get_p50": statistics.median(get) * 1000,
        "rss": rss,
    }


def legacy_files(folder: Path) -> int:
    """The 20,160-event legacy calendar in the seed's JSON layout; returns its size."""
    departments = [{"id": f"dept-{d}", "name": f"부서 {d}"} for d in range(DEPARTMENTS)]
    (folder / "departments.json").write_text(json.dumps(departments, ensure_ascii=False), "utf-8")
    calendar: dict[str, dict[str, list[dict[str, str]]]] = {}
    count = 0
    for d in range(DEPARTMENTS):
        days: dict[str, list[dict[str, str]]] = {}
        for month in range(1, 13):
            for day in range(1, 29):
                days[f"2024-{month:02d}-{day:02d}"] = [
                    {"id": f"ev-{d}-{month}-{day}-{k}", "title": f"일정 {k}", "time": "오후 3:00"}
                    for k in range(EVENTS_PER_DAY)
                ]
                count += EVENTS_PER_DAY
        calendar[f"dept-{d}"] = days
    (folder / "events.json").write_text(json.dumps(calendar, ensure_ascii=False), "utf-8")
    return count


def migrate(folder: Path) -> tuple[float, int, dict[str, float]]:
    source = folder / "legacy"
    source.mkdir()
    count = legacy_files(source)
    data = folder / "localdb"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(Path.home()),
        "LOCAL_DYNAMODB_DIR": str(data),
        "SECRET_KEY": "b" * 32,
    }
    report = folder / "report.json"
    command = [sys.executable, str(ROOT / "migrate_to_dynamodb.py"), "--source", str(source)]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the migration failed:\n{result.stdout}\n{result.stderr}")
    phases: dict[str, float] = json.loads(report.read_text(encoding="utf-8"))["summary"]["seconds"]
    _stop(data)
    return seconds, count, phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,20000,100000", help="event counts")
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement")
    parser.add_argument("--no-migration", action="store_true", help="skip the migration run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the tools' notes about stopped engines
    print(
        f"{'events':>8} {'start s':>8} {'month p50 ms':>13} {'month p99 ms':>13} "
        f"{'get p50 ms':>11} {'engine peak RSS':>16}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-local-engine-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            r = measure(Path(tmp) / f"db-{size}", size, args.requests)
            print(
                f"{size:>8} {r['start']:>8.2f} {r['month_p50']:>13.1f} {r['month_p99']:>13.1f} "
                f"{r['get_p50']:>11.1f} {r['rss']:>12.0f} MiB",
                flush=True,
            )
        if not args.no_migration:
            seconds, count, phases = migrate(Path(tmp))
            detail = ", ".join(f"{k} {v:.1f}s" for k, v in phases.items())
            print(f"migration of {count} events on the embedded default: {seconds:.1f}s ({detail})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
