"""How heavy the calendar page is and how soon a fresh Chromium draws its month.

    .venv/bin/python scripts/bench_page.py [--runs 5]

Serves the app (sample data of ``./scripts/migrate``, on an embedded engine) on loopback,
then prints:

- the wire size of a first visit: the page and every asset it names, as gzip sends them
  (what the browser downloads with an empty cache), and the API's JSON for 개발팀's
  January 2024 beside it;
- for each run, a new headless Chromium with an empty profile loading
  ``/?department=<개발팀>&month=2024-01``: the time from the request's start to the month
  drawn with its events (the page's ``calendar-rendered`` performance mark), and what the
  browser counted as transferred.

It measures; it asserts nothing. Chromium is found as the browser tests find it
(``tests/browser.py``: Debian's ``chromium`` and ``chromium-driver``, or ``CHROMIUM`` and
``CHROMEDRIVER``).
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import statistics
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from backend import create_app  # noqa: E402
from backend.config import Mode, Settings  # noqa: E402
from backend.migration.cli import main as migrate  # noqa: E402
from backend.storage.connection import connect  # noqa: E402
from localdb.server import JournalingApp  # noqa: E402
from tests.browser import chromium, wait_loaded  # noqa: E402
from tests.live_server import serving  # noqa: E402

DEV = "550e8400-e29b-41d4-a716-446655440000"  # 개발팀 in the sample data
GZIP = {"Accept-Encoding": "gzip"}


def wire_sizes(client: Any) -> list[tuple[str, int, int]]:
    """(path, bytes sent with gzip, bytes decoded) of the page and each asset it names."""
    page = client.get("/", headers=GZIP)
    html = client.get("/").get_data(as_text=True)
    rows = [("/", len(page.data), len(html.encode()))]
    for path in re.findall(r'(?:src|href)="(/calendar/[^"]+)"', html):
        sent = client.get(path, headers=GZIP)
        plain = client.get(path)
        rows.append((path.split("?")[0], len(sent.data), len(plain.data)))
    return rows


def api_sizes(client: Any) -> list[tuple[str, int]]:
    paths = [
        "/api/departments?limit=200",
        "/api/holidays?from=2023&to=2024",
        f"/api/events/{DEV}?from=2023-12-31&to=2024-02-10&limit=200",
    ]
    return [(p, len(client.get(p, headers=GZIP).data)) for p in paths]


def first_draw(url: str) -> dict[str, Any]:
    with chromium() as driver:
        driver.get(url)
        wait_loaded(driver)
        found: dict[str, Any] = driver.execute_script(
            """
            const nav = performance.getEntriesByType('navigation')[0];
            const rendered = performance.getEntriesByName('calendar-rendered')[0];
            const resources = performance.getEntriesByType('resource');
            return {
              rendered_ms: rendered.startTime,
              transferred: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
            };
            """
        )
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh browsers to time")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    engine = make_server("127.0.0.1", 0, JournalingApp(journal=None), threaded=True)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    suffix = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="bench-page-") as folder:
        settings = Settings(
            mode=Mode.ENDPOINT,
            endpoint_url=f"http://127.0.0.1:{engine.server_address[1]}",
            departments_table=f"page-departments-{suffix}",
            events_table=f"page-events-{suffix}",
            secret_key=uuid.uuid4().hex,
            local_dir=Path(folder) / "localdb",
        )
        storage, _ = connect(settings)
        storage.create_tables()
        out = io.StringIO()
        if migrate([], settings=settings, out=out) != 0:
            print(out.getvalue(), file=sys.stderr)
            return 1
        app = create_app(settings, storage)
        client = app.test_client()

        rows = wire_sizes(client)
        print(f"{'first visit, as sent':<48} {'gzip':>8} {'decoded':>9}")
        for path, sent, plain in rows:
            print(f"{path:<48} {sent:>8,} {plain:>9,}")
        total = sum(r[1] for r in rows)
        print(f"{'page and assets':<48} {total:>8,} {sum(r[2] for r in rows):>9,}")
        for path, sent in api_sizes(client):
            print(f"{path:<48} {sent:>8,}")

        with serving(app) as base:
            url = f"{base}/?department={DEV}&month=2024-01"
            runs = [first_draw(url) for _ in range(args.runs)]
        times = sorted(r["rendered_ms"] for r in runs)
        print(
            f"\nfresh Chromium, month drawn with its events after the request starts "
            f"({args.runs} runs): median {statistics.median(times):.0f} ms, "
            f"min {times[0]:.0f} ms, max {times[-1]:.0f} ms; "
            f"{runs[0]['transferred']:,} bytes transferred"
        )
    engine.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
