#!/usr/bin/env python3
"""Profile the month list in this process: where a request's CPU goes.

Starts an engine (dynalite from ``--dynalite DIR`` when given, else the embedded engine in
memory), seeds one department of a year of events as ``scripts/bench`` does (28 a month,
written by another program: no calendar item), builds the production app and calls it
``--requests`` times through WSGI under cProfile, after a warm-up. Prints the top
functions by cumulative and by own time.

    python scripts/bench_profile.py --dynalite .cache/dynalite --requests 2000
    python scripts/bench_profile.py --dynalite .cache/dynalite --cpu-only --render-every-page
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_api import DAYS, MONTHS, dynalite, engine, seed  # noqa: E402
from bench_common import fresh_tables  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from backend import create_app  # noqa: E402


@contextmanager
def dynalite_engine(folder: str) -> Iterator[str]:
    """bench_api's dynalite, which must be installed for this profile."""
    with dynalite(folder) as endpoint:
        if endpoint is None:
            raise SystemExit(f"no dynalite under {folder}: run ./scripts/bench once to install it")
        yield endpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dynalite", metavar="DIR", help="folder of an npm install of dynalite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", metavar="FILE", help="also write the raw stats (pstats)")
    parser.add_argument(
        "--bare", action="store_true", help="profile the bare app (bench_reference_app) instead"
    )
    parser.add_argument(
        "--render-every-page",
        action="store_true",
        help="the product with LIST_CACHE_MB=0: every month list rendered, none kept",
    )
    parser.add_argument(
        "--cpu-only",
        action="store_true",
        help="no profiler: CPU ms a request of the product and the bare app, in turns",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        dynalite_engine(args.dynalite)
        if args.dynalite
        else engine(Path(tmp) / "engine") as endpoint,
    ):
        settings, storage = fresh_tables(endpoint)
        keys = seed(storage, 1, MONTHS * DAYS)
        department = keys[0][0]
        if args.render_every_page:
            settings = dataclasses.replace(settings, list_cache_mb=0)
        product = create_app(settings, storage)
        bare = _bare_app(settings)
        app = bare if args.bare else product
        rng = random.Random(1)
        environs = [
            EnvironBuilder(
                path=f"/api/events/{department}", query_string=f"month=2024-{m:02d}"
            ).get_environ()
            for m in range(1, 13)
        ]

        def call(app: Any = app) -> None:
            status: list[str] = []

            def start_response(s: str, _h: Any, _e: Any = None) -> None:
                status.append(s)

            body = b"".join(app.wsgi_app(dict(rng.choice(environs)), start_response))
            if not status[0].startswith("200") or not body:
                raise SystemExit(f"month list answered {status[0]}")

        for _ in range(200):
            call(product)
            call(bare)
        if args.cpu_only:
            _cpu_in_turns(call, product, bare, args.requests)
            return 0
        profile = cProfile.Profile(time.process_time)  # CPU, not waiting
        started = time.process_time()
        profile.enable()
        for _ in range(args.requests):
            call()
        profile.disable()
        cpu = (time.process_time() - started) * 1000 / args.requests
    if args.save:
        profile.dump_stats(args.save)
    print(
        f"{'bare app' if args.bare else 'month list'}, {args.requests} requests in-process on "
        f"{'dynalite' if args.dynalite else 'the embedded engine'}: "
        f"{cpu:.2f} CPU ms a request under the profiler (CPU time, not wall)"
    )
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
        text = out.getvalue()
        print(f"\n-- by {order} --")
        print(text[text.index("   ncalls") :].rstrip())
    return 0


def _bare_app(settings: Any) -> Any:
    """The bare app of scripts/bench_reference_app.py, on the same engine and tables."""
    os.environ.update(
        AWS_ENDPOINT_URL_DYNAMODB=str(settings.endpoint_url),
        EVENTS_TABLE=settings.events_table,
        DEPARTMENTS_TABLE=settings.departments_table,
        AWS_REGION=settings.region,
    )
    import bench_reference_app  # noqa: PLC0415 - configured by the environment just set

    return bench_reference_app.app


def _cpu_in_turns(call: Any, product: Any, bare: Any, requests: int) -> None:
    """CPU ms a request of each app, one request at a time, in 10 turns each."""
    spent = {"product": 0.0, "bare app": 0.0}
    each = max(1, requests // 10)
    for _ in range(10):
        for label, app in (("product", product), ("bare app", bare)):
            started = time.process_time()
            for _ in range(each):
                call(app)
            spent[label] += time.process_time() - started
    ours, theirs = (spent[k] * 1000 / (each * 10) for k in ("product", "bare app"))
    print(
        f"CPU ms a request, in this process, one at a time: product {ours:.2f}, "
        f"bare app {theirs:.2f}, product / bare app × {ours / theirs:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
