#!/usr/bin/env python3
"""Benchmark the production server (gunicorn -c gunicorn.conf.py app:app).

First the month list against the bare app (scripts/bench_reference_app.py: Flask + boto3,
one Query, boto3's parsing), both servers up side by side on one engine (dynalite with
--dynalite DIR, an npm install of it, else the embedded engine in memory), measured in
turns: requests/s, p50 and p99 latency, each server's CPU milliseconds per request,
DynamoDB calls per request, and the ratios against the product's performance targets.

Then, on the embedded engine (dynalite has no transactions, which every event write is),
month-list, get-event and create-event against the reference, and, with
--worker-classes, the product under other gunicorn worker classes; with --dynalite, the
month list's latency at 1k and 100k events. Each seeds a calendar of 10 departments ×
12 months × 28 days × 1 event, as the product writes them (each with its calendar item).

Run it with scripts/bench (which uses the project's .venv).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_common import fresh_tables, key_env, sign_with  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.domain import utc_now  # noqa: E402
from backend.storage import Storage  # noqa: E402
from backend.storage.bookkeeping import name_claim, new_calendar  # noqa: E402
from backend.timetext import parse_start_time  # noqa: E402

DEPARTMENTS, MONTHS, DAYS = 10, 12, 28
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    cpu_ms: float
    dynamodb_calls: int | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- data ------------------------------------------------------------------------------


def seed(storage: Storage, departments: int, events_per_department: int) -> list[tuple[str, str]]:
    """Departments (with their name claims and calendar items) and events, written with
    BatchWriteItem, as the product would have written them (counted, single-day events).

    Returns (department_id, event_id) of every event.
    """
    now = utc_now()
    keys: list[tuple[str, str]] = []
    dept_items: list[dict[str, Any]] = []
    calendars: list[dict[str, Any]] = []
    for d in range(departments):
        dept_id = str(uuid.uuid4())
        name = f"부서 {d:03d}"
        dept_items += [
            {"id": dept_id, "name": name, "created_at": now, "updated_at": now, "version": 1},
            name_claim(name, dept_id),
        ]
        calendars.append(
            new_calendar(dept_id) | {"event_count": events_per_department, "multi_day": False}
        )
        keys += [(dept_id, str(uuid.uuid4())) for _ in range(events_per_department)]
    _batch_put(storage, storage.departments.table, dept_items)
    events: list[dict[str, Any]] = list(calendars)
    for index, (dept_id, event_id) in enumerate(keys):
        n = index % events_per_department
        time_text = f"오후 {n % 12 + 1}:00"
        events.append(
            {
                "id": event_id,
                "department_id": dept_id,
                "event_date": f"2024-{n // DAYS % MONTHS + 1:02d}-{n % DAYS + 1:02d}",
                "title": f"일정 {n}",
                "time": time_text,
                "start_time": parse_start_time(time_text),
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    _batch_put(storage, storage.events.table, events)
    return keys


def _batch_put(storage: Storage, table: str, items: list[dict[str, Any]]) -> None:
    storage.batch_io().write(table, items)


# -- processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited while starting")
        try:
            with _opener.open(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered: up, whatever it thinks of the request
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


@contextmanager
def engine(folder: Path) -> Iterator[str]:
    """An in-memory moto engine behind the embedded engine's wrapper."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "localdb", "--data-dir", str(folder)),
            *("--memory", "--idle-seconds", "3600"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = folder / "engine.json"
    try:
        deadline = time.monotonic() + 60
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        sign_with(folder)
        yield str(json.loads(state.read_text())["url"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def server(
    app: str,
    settings: Settings,
    worker_class: str,
    workers: int,
    threads: int,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(Path.home()),
        "PYTHONPATH": str(ROOT / "scripts"),
        "AWS_ENDPOINT_URL_DYNAMODB": str(settings.endpoint_url),
        **key_env(),
        "AWS_REGION": settings.region,
        "DEPARTMENTS_TABLE": settings.departments_table,
        "EVENTS_TABLE": settings.events_table,
        "FLASK_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ALLOW_OPEN_WRITES": "true",  # create-event writes without a token
        "LOG_LEVEL": "WARNING",  # keep the access log out of the measurement's CPU
    }
    if worker_class == "gthread":  # other classes keep gunicorn.conf.py's pool size
        env["DYNAMODB_MAX_POOL_CONNECTIONS"] = str(threads)
    env |= extra_env or {}
    command = [
        *(str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"),
        *("--bind", f"127.0.0.1:{port}", "--worker-class", worker_class),
        *("--workers", str(workers), "--threads", str(threads), app),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT / "backend", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + ("/healthz" if app == "app:app" else "/api/events/x/y"), process)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its children still alive."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():  # gunicorn's workers; a process without any has no such file
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def engine_requests(endpoint: str) -> int | None:
    try:
        with _opener.open(endpoint + "/_engine/health", timeout=2) as response:
            return int(json.loads(response.read())["requests"])
    except (OSError, KeyError, ValueError):
        return None


# -- load ------------------------------------------------------------------------------

Request = tuple[str, str, bytes | None]  # method, path, body


def load(
    base: str, make: Callable[[random.Random], Request], concurrency: int, seconds: float
) -> tuple[int, float, list[float], int]:
    """Closed-loop load: ``concurrency`` keep-alive connections for ``seconds``."""
    host, port = base.removeprefix("http://").split(":")
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def worker(n: int) -> None:
        rng = random.Random(n)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.perf_counter() < deadline:
            method, path, body = make(rng)
            headers = {"Content-Type": "application/json"} if body else {}
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    errors[n] += 1
            except (OSError, http.client.HTTPException):
                errors[n] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            latencies[n].append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for chunk in latencies for x in chunk]
    return len(flat), elapsed, flat, sum(errors)


def scenarios(keys: list[tuple[str, str]]) -> dict[str, Callable[[random.Random], Request]]:
    departments = sorted({d for d, _ in keys})

    def month_list(rng: random.Random) -> Request:
        return (
            "GET",
            f"/api/events/{rng.choice(departments)}?month=2024-{rng.randint(1, 12):02d}",
            None,
        )

    def get_event(rng: random.Random) -> Request:
        dept, event = rng.choice(keys)
        return "GET", f"/api/events/{dept}/{event}", None

    def create_event(rng: random.Random) -> Request:
        body = {
            "event_date": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "title": "부하 시험",
            "time": "오후 3:00",
        }
        return (
            "POST",
            f"/api/events/{rng.choice(departments)}",
            json.dumps(body, ensure_ascii=False).encode(),
        )

    return {"month-list": month_list, "get-event": get_event, "create-event": create_event}


def measure(
    base: str,
    process: subprocess.Popen[bytes],
    endpoint: str,
    make: Callable[[random.Random], Request],
    concurrency: int,
    seconds: float,
) -> Result:
    load(base, make, concurrency, min(2.0, seconds / 3))  # warm up connections and caches
    cpu0, calls0 = cpu_seconds(process.pid), engine_requests(endpoint)
    count, elapsed, latencies, errors = load(base, make, concurrency, seconds)
    cpu1, calls1 = cpu_seconds(process.pid), engine_requests(endpoint)
    calls = None if calls0 is None or calls1 is None else calls1 - calls0
    return Result(count, elapsed, latencies, errors, (cpu1 - cpu0) * 1000 / max(count, 1), calls)


def row(name: str, result: Result) -> str:
    calls = (
        "n/a"
        if result.dynamodb_calls is None
        else f"{result.dynamodb_calls / max(result.requests, 1):.2f}"
    )
    p50, p99 = result.percentile(0.5), result.percentile(0.99)
    return (
        f"{name:<40} {result.rps:>8.0f} {p50:>8.1f} {p99:>8.1f} "
        f"{result.cpu_ms:>10.2f} {calls:>9} {result.errors:>6}"
    )


HEADER = (
    f"{'':<40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
    f"{'DDB/req':>9} {'errors':>6}"
)


# -- dynalite ----------------------------------------------------------------------------


@contextmanager
def dynalite(folder: str) -> Iterator[str | None]:
    """A dynalite engine of an npm install in ``folder`` (None: there is none)."""
    binary = Path(folder) / "node_modules" / ".bin" / "dynalite"
    if not binary.exists():
        print(f"\ndynalite: not found under {folder} (npm install --prefix {folder} dynalite@4)")
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(1.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def dynalite_month_list(
    folder: str, concurrency: int, seconds: float, workers: int, threads: int
) -> None:
    with dynalite(folder) as endpoint:
        if endpoint is None:
            return
        print("\nmonth-list on dynalite (real indexes), 28 events in each month queried:")
        print(HEADER)
        settings, storage = fresh_tables(endpoint)
        keys = seed(storage, 1, DAYS * MONTHS * 3)  # ~1k events in one department
        measured = sorted({d for d, _ in keys})
        for label, extra in (("1k events in the table", 0), ("100k events in the table", 99)):
            if extra:
                seed(storage, extra, 1008)  # other departments: the table grows to ~100k
            with server("app:app", settings, "gthread", workers, threads) as (base, proc):

                def month(rng: random.Random) -> Request:
                    return (
                        "GET",
                        f"/api/events/{measured[0]}?month=2024-{rng.randint(1, 12):02d}",
                        None,
                    )

                print(
                    row(label, measure(base, proc, endpoint, month, concurrency, seconds)),
                    flush=True,
                )


# -- the targets: the month list against the bare app -------------------------------------

# The performance targets for the month list against the bare app.
TARGET_RPS, TARGET_CPU = 1.2, 0.8


def month_list_against_bare(args: argparse.Namespace, endpoint: str, engine_name: str) -> None:
    """The product's month list and the bare app's, both up at once on one engine,
    measured in turns (``--rounds``), so that both see the same machine."""
    settings, storage = fresh_tables(endpoint)
    keys = seed(storage, DEPARTMENTS, MONTHS * DAYS)
    make = scenarios(keys)["month-list"]
    print(
        f"month list against the bare app on {engine_name} ({endpoint}): {len(keys)} events, "
        f"28 a month; {args.workers} workers × {args.threads} threads each; "
        f"{args.concurrency} connections, {args.seconds:.0f} s a turn, {args.rounds} turns each"
    )
    print(HEADER)
    # The product as configured (its month pages kept by calendar version), the product
    # rendering every page (LIST_CACHE_MB=0: what a page no one asked for at this version
    # costs), and the bare app.
    labels = ("product", "product, every page rendered", "bare app")
    totals: dict[str, list[Result]] = {label: [] for label in labels}
    with (
        server("app:app", settings, "gthread", args.workers, args.threads) as product,
        server(
            "app:app", settings, "gthread", args.workers, args.threads, {"LIST_CACHE_MB": "0"}
        ) as rendering,
        server("bench_reference_app:app", settings, "gthread", args.workers, args.threads) as bare,
    ):
        for turn in range(args.rounds):
            for label, (base, process) in zip(labels, (product, rendering, bare), strict=True):
                result = measure(base, process, endpoint, make, args.concurrency, args.seconds)
                totals[label].append(result)
                print(row(f"{label} (turn {turn + 1})", result), flush=True)
    summed = {label: _summed(totals[label]) for label in labels}
    for label in labels:
        print(row(f"{label}, all turns", summed[label]))
    bare_app = summed["bare app"]
    print()
    for label in labels[:2]:
        rps = summed[label].rps / bare_app.rps
        cpu = summed[label].cpu_ms / bare_app.cpu_ms
        print(
            f"month list, {label} / bare app: req/s × {rps:.2f} (target ≥ {TARGET_RPS}: "
            f"{'met' if rps >= TARGET_RPS else 'not met'}), CPU/req × {cpu:.2f} "
            f"(target ≤ {TARGET_CPU}: {'met' if cpu <= TARGET_CPU else 'not met'})"
        )
    print()


def _summed(results: list[Result]) -> Result:
    count = sum(r.requests for r in results)
    calls = [r.dynamodb_calls for r in results]
    return Result(
        count,
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies_ms],
        sum(r.errors for r in results),
        sum(r.cpu_ms * r.requests for r in results) / max(count, 1),
        None if None in calls else sum(c or 0 for c in calls),
    )


# -- main --------------------------------------------------------------------------------


def compare(args: argparse.Namespace, endpoint: str) -> None:
    """The product against the reference, then the worker classes asked for."""
    settings, storage = fresh_tables(endpoint)
    keys = seed(storage, DEPARTMENTS, MONTHS * DAYS)
    print(
        f"engine {endpoint}; {len(keys)} events; "
        f"{args.workers} workers × {args.threads} threads; "
        f"{args.concurrency} connections, {args.seconds:.0f} s per scenario"
    )
    print(HEADER)
    results: dict[tuple[str, str], Result] = {}
    for app, label in (("app:app", "product"), ("bench_reference_app:app", "reference")):
        with server(app, settings, "gthread", args.workers, args.threads) as (
            base,
            process,
        ):
            for name, make in scenarios(keys).items():
                result = measure(base, process, endpoint, make, args.concurrency, args.seconds)
                results[(label, name)] = result
                print(row(f"{label} {name}", result), flush=True)
    print("\nproduct / reference:")
    for name in scenarios(keys):
        ours, ref = results[("product", name)], results[("reference", name)]
        print(
            f"  {name:<14} req/s × {ours.rps / ref.rps:.2f} (target ≥ 0.9)   "
            f"CPU/req × {ours.cpu_ms / ref.cpu_ms:.2f} (target ≤ 1.3)"
        )
    others = [w for w in args.worker_classes.split(",") if w and w != "gthread"]
    if others:
        print("\nworker classes (product, month-list and create-event):")
        print(HEADER)
        for worker_class in ["gthread", *others]:
            with server("app:app", settings, worker_class, args.workers, args.threads) as (
                base,
                process,
            ):
                for name in ("month-list", "create-event"):
                    make = scenarios(keys)[name]
                    result = measure(base, process, endpoint, make, args.concurrency, args.seconds)
                    print(row(f"{worker_class} {name}", result), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="DynamoDB endpoint (default: an in-memory moto engine)")
    parser.add_argument("--seconds", type=float, default=8, help="measured seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--worker-classes", default="gthread", help="e.g. gthread,gevent,sync")
    parser.add_argument("--dynalite", metavar="DIR", help="folder of an npm install of dynalite")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each app's month list")
    parser.add_argument(
        "--month-list-only", action="store_true", help="only the month list against the bare app"
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        engine(Path(tmp) / "engine")
        if args.endpoint is None
        else _given(args.endpoint) as endpoint,
    ):
        with dynalite(args.dynalite) if args.dynalite else _no_engine() as other:
            if other is not None:
                month_list_against_bare(args, other, "dynalite")
            else:
                month_list_against_bare(args, endpoint, "the embedded engine")
        if args.month_list_only:
            return 0
        compare(args, endpoint)
    if args.dynalite:
        dynalite_month_list(
            args.dynalite, args.concurrency, args.seconds, args.workers, args.threads
        )
    return 0


@contextmanager
def _given(endpoint: str) -> Iterator[str]:
    yield endpoint


@contextmanager
def _no_engine() -> Iterator[str | None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
