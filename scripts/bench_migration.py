#!/usr/bin/env python3
"""Benchmark migrate_to_dynamodb.py against the loops it is measured by.

For each size it generates legacy files (10 departments, N events in the current form),
then, against the same DynamoDB engine and on fresh tables each time, measures:

- the migration itself (a subprocess, as an operator runs it): events/s for the whole
  run and for its writing part (everything but the read-back verification), peak RSS;
- a raw BatchWriteItem loop of the same items (25 per call, one after another);
- a one-PutItem-per-record loop, the setup guide's approach (timed on at most
  --put-cap records; its rate is what is compared).

Targets: migration ≥ 0.8 × the raw batch loop, ≥ 5 × the per-record loop, and peak RSS
at the largest size within 2 × that at the smallest.

    scripts/bench_migration.py                      # starts its own in-memory moto engine
    scripts/bench_migration.py --endpoint http://127.0.0.1:8000 --sizes 2000,20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_common import fresh_tables, key_env, raw_client, sign_with  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.migration.records import event_item  # noqa: E402
from backend.storage.dynamo import to_item  # noqa: E402

DEPARTMENTS = 10


def _event(department: int, n: int) -> dict[str, Any]:
    return {
        "id": f"ev-{department}-{n}",
        "title": f"일정 {n}",
        "time": f"오후 {n % 12 + 1}:00",
        "description": "주간 회의",
    }


def _day(n: int) -> str:
    return f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}"


def generate(folder: Path, count: int) -> None:
    """Legacy files: DEPARTMENTS departments and ``count`` events spread over a year."""
    departments = [{"id": f"dept-{d}", "name": f"부서 {d}"} for d in range(DEPARTMENTS)]
    (folder / "departments.json").write_text(json.dumps(departments, ensure_ascii=False), "utf-8")
    with (folder / "events.json").open("w", encoding="utf-8") as out:
        out.write("{")
        for d in range(DEPARTMENTS):
            days: dict[str, list[dict[str, Any]]] = {}
            for n in range(count // DEPARTMENTS):
                days.setdefault(_day(n), []).append(_event(d, n))
            calendar = ",".join(
                json.dumps(day) + ": " + json.dumps(events, ensure_ascii=False)
                for day, events in days.items()
            )
            out.write(("," if d else "") + json.dumps(f"dept-{d}") + ": {" + calendar + "}")
        out.write("}")


def legacy_items(count: int) -> list[dict[str, Any]]:
    """The items the migration writes for the same events, for the comparison loops."""
    now = "2024-01-01T00:00:00Z"
    return [
        to_item(event_item(_event(d, n), f"dept-{d}", _day(n), now).attributes)
        for d in range(DEPARTMENTS)
        for n in range(count // DEPARTMENTS)
    ]


def drop(settings: Settings) -> None:
    client = raw_client(settings)
    for table in (settings.departments_table, settings.events_table):
        client.delete_table(TableName=table)


def run_migration(
    endpoint: str, folder: Path, workers: int
) -> tuple[float, dict[str, float], int, Settings]:
    """Run the CLI as an operator would; returns (seconds, seconds per phase, peak RSS KiB)."""
    settings, _ = fresh_tables(endpoint)
    report = folder / "report.json"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(Path.home()),
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        **key_env(),
        "AWS_REGION": settings.region,
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
    }
    command = [
        *(sys.executable, str(ROOT / "migrate_to_dynamodb.py"), "--source", str(folder)),
        *("--workers", str(workers), "--report", str(report)),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the migration failed:\n{output}")
    phases: dict[str, float] = json.loads(report.read_text(encoding="utf-8"))["summary"]["seconds"]
    return elapsed, phases, usage.ru_maxrss, settings  # ru_maxrss is in KiB on Linux


def raw_batch_loop(endpoint: str, items: list[dict[str, Any]]) -> float:
    settings, storage = fresh_tables(endpoint)
    client, table = raw_client(settings), storage.events.table
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        pending: Any = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
    elapsed = time.perf_counter() - started
    drop(settings)
    return elapsed


def put_loop(endpoint: str, items: list[dict[str, Any]]) -> float:
    settings, storage = fresh_tables(endpoint)
    client, table = raw_client(settings), storage.events.table
    started = time.perf_counter()
    for item in items:
        client.put_item(TableName=table, Item=item)
    elapsed = time.perf_counter() - started
    drop(settings)
    return elapsed


def start_engine(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """An in-memory engine (moto behind the embedded engine's wrapper) of its own."""
    state = folder / "engine.json"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "localdb", "--data-dir", str(folder)),
            *("--memory", "--idle-seconds", "3600"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state.exists():
            sign_with(folder)
            return process, str(json.loads(state.read_text())["url"])
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the benchmark engine did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="DynamoDB endpoint (default: an in-memory moto engine)")
    parser.add_argument(
        "--sizes", default="2000,20000,200000", help="event counts, comma-separated"
    )
    parser.add_argument("--workers", type=int, default=8, help="the migration's batches in flight")
    parser.add_argument(
        "--put-cap", type=int, default=5000, help="records timed in the PutItem loop"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    rss: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-migration-") as tmp:
        engine = None
        endpoint = args.endpoint
        if endpoint is None:
            engine, endpoint = start_engine(Path(tmp) / "engine")
        print(f"engine {endpoint}; migration workers {args.workers}; PutItem loop ≤ {args.put_cap}")
        header = (
            f"{'events':>8} {'migration':>10} {'(writing)':>10} {'batch':>7} {'put':>6} "
            f"{'× batch':>13} {'× put':>12} {'peak RSS':>11}"
        )
        print(header + "\n" + f"{'':>8} {'ev/s':>10} {'ev/s':>10} {'ev/s':>7} {'ev/s':>6}")
        print("-" * len(header))
        try:
            for size in sizes:
                folder = Path(tmp) / f"legacy-{size}"
                folder.mkdir()
                generate(folder, size)
                seconds, phases, rss[size], made = run_migration(endpoint, folder, args.workers)
                drop(made)
                writing = sum(v for k, v in phases.items() if k != "verification")
                items = legacy_items(size)
                batch = raw_batch_loop(endpoint, items)
                sample = items[: args.put_cap]
                put = put_loop(endpoint, sample)
                total_rate, write_rate = size / seconds, size / writing
                batch_rate, put_rate = size / batch, len(sample) / put
                print(
                    f"{size:>8} {total_rate:>10.0f} {write_rate:>10.0f} {batch_rate:>7.0f} "
                    f"{put_rate:>6.0f} "
                    f"{total_rate / batch_rate:>6.2f} ({write_rate / batch_rate:.2f}) "
                    f"{total_rate / put_rate:>5.1f} ({write_rate / put_rate:4.1f}) "
                    f"{rss[size] / 1024:>7.1f} MiB",
                    flush=True,
                )
        finally:
            if engine is not None:
                engine.terminate()
                engine.wait(timeout=30)
    smallest, largest = min(rss), max(rss)
    print(
        f"peak RSS at {largest} events / at {smallest}: {rss[largest] / rss[smallest]:.2f} "
        "(target ≤ 2.0)\nmigration: the whole run as an operator sees it (both files read "
        "twice, existence checks, writes, read-back verification); (writing): all of it but "
        "the verification. Ratios: migration / loop, (writing) in brackets."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
