"""What the calendar's requests cost in DynamoDB: calls and consumed capacity, per request.

    .venv/bin/python scripts/bench_calendar_costs.py [--events-per-day 3]

Builds one department with a year of events (and, as a second case, a multi-day event),
then reads the access log's accounting (calls and ``ConsumedCapacity`` as the engine
reports it) for: a month list, a poll with the list's ETag, a search, the feed, an event
create, and an import of the feed back into an empty department. Prints a table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from backend import create_app  # noqa: E402
from backend.config import Mode, Settings  # noqa: E402
from backend.services.events import create_event  # noqa: E402
from backend.storage.connection import connect, connect_client  # noqa: E402
from backend.storage.events import INDEX_SETTLE  # noqa: E402
from localdb.server import JournalingApp  # noqa: E402


class _Accounting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.__dict__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=3)
    parser.add_argument(
        "--series", type=int, default=20, help="recurring events for the second part (max 500)"
    )
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, JournalingApp(journal=None), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        departments_table=f"cost-departments-{suffix}",
        events_table=f"cost-events-{suffix}",
        secret_key=uuid.uuid4().hex,
    )
    storage, _ = connect(settings)
    storage.create_tables()
    client = create_app(settings, storage).test_client()
    dept = client.post("/api/departments", json={"name": "개발팀"}).get_json()["id"]
    day = date(2024, 1, 1)
    while day.year == 2024:
        for n in range(args.events_per_day):
            body = {"event_date": day.isoformat(), "title": f"회의 {n}", "time": f"{9 + n}시"}
            create_event(storage, dept, body)
        day += timedelta(days=1)
    # A minute later, as a poller sees it: the index has every write, and a poll with the
    # list's ETag is answered from the department's item alone.
    raw, _ = connect_client(settings)
    settled = (datetime.now(UTC) - INDEX_SETTLE - timedelta(seconds=1)).isoformat()
    raw.update_item(
        TableName=settings.departments_table,
        Key={"id": {"S": dept}},
        UpdateExpression="SET changed_at = :t",
        ExpressionAttributeValues={":t": {"S": settled}},
    )
    accounting = _Accounting()
    access = logging.getLogger("backend.access")
    access.setLevel(logging.INFO)
    access.addHandler(accounting)

    def measure(label: str, method: str, url: str, **kwargs: Any) -> Any:
        accounting.lines.clear()
        response = client.open(url, method=method, **kwargs)
        line = accounting.lines[-1]
        operations = Counter(line["dynamodb_operations"])
        print(
            f"{label:<46} {response.status_code:>4} {line['dynamodb_calls']:>6} "
            f"{line['consumed_capacity']:>9.1f}  "
            + " ".join(f"{name}×{count}" for name, count in operations.items())
        )
        return response

    print(f"{args.events_per_day * 366} events in 2024, {args.events_per_day} a day\n")
    print(f"{'request':<46} {'HTTP':>4} {'calls':>6} {'capacity':>9}  operations")
    month = measure("month list (?month=2024-05)", "GET", f"/api/events/{dept}?month=2024-05")
    etag = month.headers["ETag"]
    measure(
        "poll with If-None-Match (a minute after a write)",
        "GET",
        f"/api/events/{dept}?month=2024-05",
        headers={"If-None-Match": etag},
    )
    measure(
        "search (?month=2024-05&q=회의 1)", "GET", f"/api/events/{dept}?month=2024-05&q=회의%201"
    )
    feed = measure(
        "feed (?from=2024-01-01&to=2024-12-31)",
        "GET",
        f"/api/departments/{dept}/calendar.ics?from=2024-01-01&to=2024-12-31",
    )
    measure(
        "create an event",
        "POST",
        f"/api/events/{dept}",
        json={"event_date": "2024-05-10", "end_date": "2024-05-12", "title": "워크숍"},
    )
    measure("month list, once a multi-day event exists", "GET", f"/api/events/{dept}?month=2024-05")
    empty = client.post("/api/departments", json={"name": "빈 부서"}).get_json()["id"]
    measure(
        f"import the feed ({feed.data.count(b'BEGIN:VEVENT')} events)",
        "POST",
        f"/api/events/{empty}/import",
        data=feed.data,
        headers={"Content-Type": "text/calendar"},
    )
    _sync(client, storage, dept, measure)
    _recurring(client, dept, args.series, measure)
    print(
        "\ncapacity: ConsumedCapacity as the engine reports it (moto's accounting; on AWS a "
        "transactional write costs 2 WCU per item)"
    )
    server.shutdown()
    return 0


def _sync(client: Any, storage: Any, dept: str, measure: Any) -> None:
    """A full sync of the year, a delta of ten changes, and ten webhook deliveries to a
    local receiver: calls, capacity and time each."""
    import statistics  # noqa: PLC0415
    import time  # noqa: PLC0415
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

    from backend.services.notifications import Sending, deliver  # noqa: PLC0415
    from backend.storage import usage  # noqa: PLC0415

    print("\nincremental sync and webhooks\n")
    url, pages = f"/api/events/{dept}?sync=true&limit=200", 0
    started = time.perf_counter()
    while True:
        response = client.get(url)
        pages += 1
        body = response.get_json()
        if body["next_cursor"] is None:
            break
        url = f"/api/events/{dept}?sync=true&limit=200&cursor={body['next_cursor']}"
    elapsed = (time.perf_counter() - started) * 1000
    print(f"{'full sync (limit 200)':<46} {pages} pages, {elapsed:.0f} ms in all")
    token = body["next_sync_token"]
    measure("delta, nothing changed", "GET", f"/api/events/{dept}?sync_token={token}")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    client.post(f"/api/departments/{dept}/webhooks", json={"url": hook_url, "format": "json"})
    made = [
        client.post(
            f"/api/events/{dept}", json={"event_date": "2024-06-03", "title": f"동기화 {n}"}
        ).get_json()["id"]
        for n in range(5)
    ]
    for ident in made:
        client.patch(f"/api/events/{dept}/{ident}", json={"location": "회의실 A"})
    measure(
        "delta of 10 changes (5 new, 5 changed)", "GET", f"/api/events/{dept}?sync_token={token}"
    )
    counting = usage.begin()
    started = time.perf_counter()
    done = deliver(storage, Sending(allow_private=True))
    elapsed = (time.perf_counter() - started) * 1000
    spent = usage.current()
    usage.end(counting)
    print(
        f"{'webhook pass: 10 deliveries (json, signed)':<46} {done.delivered:>4} "
        f"{len(spent.operations):>6} {spent.capacity:>9.1f}  {elapsed / 10:.1f} ms a delivery"
    )
    samples = []
    for n in range(10):
        client.post(f"/api/events/{dept}", json={"event_date": "2024-06-04", "title": f"알림 {n}"})
        started = time.perf_counter()
        deliver(storage, Sending(allow_private=True))
        samples.append((time.perf_counter() - started) * 1000)
    print(
        f"{'one change, one pass (median of 10)':<46} {statistics.median(samples):.1f} ms "
        "from the pass's start to the receiver's answer"
    )
    receiver.shutdown()


RULES = (
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
    "RRULE:FREQ=DAILY;INTERVAL=2",
    "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
    "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=40",
)


def _recurring(client: Any, dept: str, count: int, measure: Any) -> None:
    """The month list's cost and CPU without series, then with ``count`` of them (each
    with a changed instance), and what each recurring request costs."""
    url = f"/api/events/{dept}?month=2024-05"
    without = _cpu_ms(client, url)
    print(f"\n{count} recurring events (series), each with one changed instance\n")
    first = None
    for n in range(count):
        body = {
            "event_date": "2024-01-0" + str(1 + n % 7),
            "title": f"반복 {n}",
            "time": "오후 2시",
            "recurrence": [RULES[n % len(RULES)]],
        }
        made = client.post(f"/api/events/{dept}", json=body).get_json()
        first = first or made
        instances = client.get(f"/api/events/{dept}/{made['id']}/instances?from=2024-05-01")
        moved = instances.get_json()["items"][0]["id"]
        client.patch(f"/api/events/{dept}/{moved}", json={"location": "회의실 B"})
    if first is None:
        return
    listed = measure(f"month list with {count} series", "GET", url)
    print(f"{'':<46} items: {len(listed.get_json()['items'])} (limit 50)")
    measure("the same, ?expand=false", "GET", url + "&expand=false")
    series = f"/api/events/{dept}/{first['id']}"
    measure("get a series", "GET", series)
    one = client.get(f"{series}/instances?from=2024-06-01&limit=3").get_json()["items"]
    measure("get an instance", "GET", f"/api/events/{dept}/{one[0]['id']}")
    measure(
        "change one instance", "PATCH", f"/api/events/{dept}/{one[1]['id']}", json={"title": "x"}
    )
    measure("delete one instance", "DELETE", f"/api/events/{dept}/{one[2]['id']}")
    measure("instances of a series (12 months)", "GET", f"{series}/instances?from=2024-01-01")
    measure(
        "feed with series (?from=2024-01-01&to=2024-12-31)",
        "GET",
        f"/api/departments/{dept}/calendar.ics?from=2024-01-01&to=2024-12-31",
    )
    with_series = _cpu_ms(client, url)
    print(
        f"\nmonth list CPU in the server, median of 30: {without:.1f} ms without series, "
        f"{with_series:.1f} ms with {count}"
    )


def _cpu_ms(client: Any, url: str) -> float:
    """The process CPU time one request takes (median of 30), engine included."""
    import statistics  # noqa: PLC0415
    import time  # noqa: PLC0415

    samples = []
    for _ in range(30):
        start = time.process_time()
        client.get(url)
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    sys.exit(main())
