"""The engine process: moto's DynamoDB on 127.0.0.1 behind a journaling wrapper.

moto keeps tables in memory only, so the engine appends every successful write to
``journal.jsonl`` (a write-ahead log of the DynamoDB requests themselves) and replays it
when it starts; the journal is then compacted into one snapshot of the data.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from backend.local_engine.launcher import (
    DEFAULT_IDLE_SECONDS,
    HEALTH_PATH,
    JOURNAL,
    LOCAL_CREDENTIALS,
    RUNNING_LOCK,
    STATE,
    EngineError,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

_TARGET_PREFIX = "DynamoDB_20120810."
_MUTATING = frozenset(
    {
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "UpdateTimeToLive",
        "TagResource",
        "UntagResource",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


class JournalingApp:
    """A WSGI wrapper around moto that serialises requests and journals successful writes.

    moto's DynamoDB is not thread-safe (a transaction snapshots and restores whole tables),
    so requests run one at a time, as DynamoDB's own per-item atomicity would have them
    appear. The lock also keeps the journal in the order writes were applied.
    """

    def __init__(self, journal: Path | None) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - dev-only dependency
            DomainDispatcherApplication,
            create_backend_app,
        )

        self._moto: WSGIApplication = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self._journal_path = journal
        self._journal: IO[str] | None = None
        self.last_request = time.monotonic()
        self.requests = 0  # DynamoDB requests served, for benchmarks' calls-per-request

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.last_request = time.monotonic()
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            health = {"status": "ok", "pid": os.getpid(), "requests": self.requests}
            return [json.dumps(health).encode()]
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(_TARGET_PREFIX):
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"this local engine serves DynamoDB only\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        with self._lock:
            self.requests += 1
            status, headers, payload = self._dispatch(environ, body)
            operation = target.removeprefix(_TARGET_PREFIX)
            if status.startswith("200") and operation in _MUTATING and self._journal_path:
                self._append(operation, _region_of(environ), body)
        start_response(status, headers)
        return [payload]

    def _dispatch(
        self, environ: WSGIEnvironment, body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        import io  # noqa: PLC0415

        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = self._moto(environ, capture)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], payload

    def _append(self, operation: str, region: str, body: bytes) -> None:
        if self._journal is None:
            if self._journal_path is None:
                return
            self._journal = self._journal_path.open("a", encoding="utf-8")
        line = json.dumps({"op": operation, "region": region, "body": body.decode("utf-8")})
        self._journal.write(line + "\n")
        # Flushed to the OS on every write: survives the engine being killed. fsync is left
        # to shutdown, as a power cut is not what local development guards against.
        self._journal.flush()

    def call(self, operation: str, region: str, payload: dict[str, Any] | str) -> dict[str, Any]:
        """Run one DynamoDB request in-process (replay and compaction use this)."""
        from werkzeug.test import EnvironBuilder  # noqa: PLC0415

        body = payload if isinstance(payload, str) else json.dumps(payload)
        builder = EnvironBuilder(
            method="POST",
            path="/",
            base_url="http://localhost/",
            data=body.encode("utf-8"),
            headers=[
                ("X-Amz-Target", _TARGET_PREFIX + operation),
                ("Content-Type", "application/x-amz-json-1.0"),
                (
                    "Authorization",
                    f"AWS4-HMAC-SHA256 Credential={LOCAL_CREDENTIALS[0]}/20240101/{region}/"
                    "dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
        )
        environ = builder.get_environ()
        status, _headers, payload_bytes = self._dispatch(environ, body.encode("utf-8"))
        result: dict[str, Any] = json.loads(payload_bytes or b"{}")
        if not status.startswith("200"):
            raise EngineError(f"{operation} failed in the local engine: {status} {result}")
        return result

    def replay(self) -> tuple[int, set[str]]:
        """Apply the journal to the empty engine; returns (entries applied, regions seen)."""
        regions: set[str] = set()
        applied = 0
        if self._journal_path is None or not self._journal_path.exists():
            return applied, regions
        with self._journal_path.open(encoding="utf-8") as journal:
            for number, line in enumerate(journal, start=1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    # Only the last line can be torn (the engine was killed mid-write).
                    logger.warning("journal line %d is incomplete; ignored", number)
                    continue
                try:
                    self.call(entry["op"], entry["region"], entry["body"])
                except EngineError as exc:
                    logger.warning("journal line %d did not apply again: %s", number, exc)
                    continue
                regions.add(entry["region"])
                applied += 1
        return applied, regions

    def compact(self, regions: Iterable[str]) -> int:
        """Rewrite the journal as one snapshot: a CreateTable and batched puts per table."""
        if self._journal_path is None:
            return 0
        tmp = self._journal_path.with_suffix(".tmp")
        entries = 0
        with tmp.open("w", encoding="utf-8") as out:
            for region in sorted(regions):
                for line in self._snapshot_lines(region):
                    out.write(line + "\n")
                    entries += 1
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self._journal_path)
        return entries

    def _snapshot_lines(self, region: str) -> Iterator[str]:
        names: list[str] = []
        start: dict[str, Any] = {}
        while True:
            listing = self.call("ListTables", region, start)
            names.extend(listing.get("TableNames", []))
            if "LastEvaluatedTableName" not in listing:
                break
            start = {"ExclusiveStartTableName": listing["LastEvaluatedTableName"]}
        for name in names:
            table = self.call("DescribeTable", region, {"TableName": name})["Table"]
            yield json.dumps(
                {"op": "CreateTable", "region": region, "body": json.dumps(_recreate(table))}
            )
            scan: dict[str, Any] = {"TableName": name}
            while True:
                page = self.call("Scan", region, scan)
                items = page.get("Items", [])
                for i in range(0, len(items), 25):
                    batch = {name: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]}
                    body = json.dumps({"RequestItems": batch}, ensure_ascii=False)
                    yield json.dumps({"op": "BatchWriteItem", "region": region, "body": body})
                if "LastEvaluatedKey" not in page:
                    break
                scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def close(self) -> None:
        if self._journal is not None:
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self._journal.close()
            self._journal = None


def _region_of(environ: WSGIEnvironment) -> str:
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        return auth.split("Credential=", 1)[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def _recreate(table: dict[str, Any]) -> dict[str, Any]:
    """A CreateTable request that rebuilds a table from its DescribeTable output."""

    def throughput(desc: dict[str, Any]) -> dict[str, int]:
        t = desc.get("ProvisionedThroughput", {})
        return {
            "ReadCapacityUnits": int(t.get("ReadCapacityUnits") or 1),
            "WriteCapacityUnits": int(t.get("WriteCapacityUnits") or 1),
        }

    on_demand = table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    request: dict[str, Any] = {
        "TableName": table["TableName"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "KeySchema": table["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
    }
    if not on_demand:
        request["ProvisionedThroughput"] = throughput(table)
    gsis = [
        {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
        | ({} if on_demand else {"ProvisionedThroughput": throughput(g)})
        for g in table.get("GlobalSecondaryIndexes", [])
    ]
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in table.get("LocalSecondaryIndexes", [])
    ]
    if lsis:
        request["LocalSecondaryIndexes"] = lsis
    return request


def serve(data_dir: Path, port: int, idle_seconds: float, *, keep_data: bool = True) -> int:
    """Run the engine in this process until idle for ``idle_seconds`` or signalled.

    ``keep_data=False`` serves from memory only (no journal): for benchmarks and
    throw-away runs.
    """
    from werkzeug.serving import make_server  # noqa: PLC0415

    data_dir.mkdir(parents=True, exist_ok=True)
    running = (data_dir / RUNNING_LOCK).open("w")
    try:
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.error("another local engine already serves %s", data_dir)
        return 1
    app = JournalingApp(data_dir / JOURNAL if keep_data else None)
    started = time.monotonic()
    applied, regions = app.replay()
    if applied:
        entries = app.compact(regions)
        logger.info(
            "replayed %d journal entries in %.1fs; compacted to %d",
            applied,
            time.monotonic() - started,
            entries,
        )
    try:
        server = make_server("127.0.0.1", port, app, threaded=True)
    except OSError:
        server = make_server("127.0.0.1", 0, app, threaded=True)
    actual_port = server.server_address[1]
    state = {"pid": os.getpid(), "port": actual_port, "url": f"http://127.0.0.1:{actual_port}"}
    tmp = data_dir / (STATE + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(data_dir / STATE)
    logger.info("local DynamoDB engine serving %s on %s", data_dir, state["url"])

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        while not stop.wait(1.0):
            if time.monotonic() - app.last_request > idle_seconds:
                logger.info("no requests for %.0fs; stopping", idle_seconds)
                break
    finally:
        server.shutdown()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE).unlink()
        app.close()
        running.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS)
    parser.add_argument("--detach", action="store_true", help="fork into the background")
    parser.add_argument(
        "--memory", action="store_true", help="keep no journal: data is lost on exit"
    )
    args = parser.parse_args(argv)
    if args.detach and os.fork() != 0:
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per DynamoDB request
    return serve(args.data_dir, args.port, args.idle_seconds, keep_data=not args.memory)
