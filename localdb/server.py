"""The engine process: moto's DynamoDB on 127.0.0.1, behind a wrapper that guards and keeps it.

The wrapper (``JournalingApp``) lets through only DynamoDB requests signed with the data
folder's secret, runs them one at a time against moto's DynamoDB handler (never moto's
other services or its control API), journals each write before moto applies it (taking
the line back if moto refuses the write, and refusing the write with a 503 if the journal
cannot take it), and proves every answer came from this engine. At start it loads the newest
snapshot straight into moto's tables and replays the journal after it (``store``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime as dt
import errno
import hashlib
import io
import json
import logging
import os
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localdb import queries, store, transactions, wire
from localdb.launcher import (
    DEFAULT_IDLE_SECONDS,
    HEALTH_PATH,
    LOG,
    NONCE_HEADER,
    PROOF_HEADER,
    PROTOCOL,
    RUNNING_LOCK,
    STATE,
    EngineError,
    prepare_folder,
    read_secret,
)
from localdb.signing import (
    ACCESS_KEY_ID,
    MAX_CLOCK_SKEW,
    Replays,
    SignatureError,
    Signed,
    check_headers,
    proof,
    response_proof,
    verify,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

_TARGET_PREFIX = "DynamoDB_20120810."
# Requests that change tables or items: applied, they are journalled. Anything that
# would change state the snapshot does not keep (backups, imports, global tables) is
# refused rather than silently forgotten at the next start.
WRITES = frozenset(
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
READS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "ListTagsOfResource",
        "DescribeLimits",
        "DescribeEndpoints",
    }
)
MAX_BODY = 16 * 1024 * 1024 + 65536  # DynamoDB's largest request (BatchWriteItem) and then some
# Memory held by bodies not yet authenticated stays bounded: a body is read only once the
# headers carry a well-formed signature (see ``_serve``), at most MAX_REQUESTS requests are
# handled at a time, and of those at most LARGE_BODIES read a body over LARGE_BODY.
MAX_REQUESTS = 64
# Connections open at once, idle keep-alive ones included (each holds a thread); one more
# is closed at once. Above what the folder's tools pool together (10 per client, twice
# the workers for a migration: 16 by default) and no more than the requests served.
MAX_CONNECTIONS = 64
LARGE_BODY = 1024 * 1024
LARGE_BODIES = 2
START_WAIT = 4.0  # a request arriving while data loads waits this long (read timeout is 5 s)
LOCK_WAIT = 4.0  # a request waiting behind others answers "busy" after this long
REQUEST_TIMEOUT = 30.0  # a request still running after this long means the engine is stuck
# A start after a crash replays at most this much journal: then a snapshot is taken.
SNAPSHOT_EVERY = 1000
SNAPSHOT_BYTES = 32 * 1024 * 1024
TOKEN_SECONDS = 600.0  # how long a ClientRequestToken answers as its first use did, as AWS
MAX_TOKENS = 10_000  # tokens remembered at most (the oldest go first)
_JSON = "application/x-amz-json-1.0"
_DRAIN = 65536  # the largest body read only to be dropped

Response = tuple[str, list[tuple[str, str]], bytes]


def _error(status: str, code: str, message: str) -> Response:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return status, [("Content-Type", _JSON), ("x-amzn-ErrorType", code)], body.encode()


class Tokens:
    """The ``ClientRequestToken`` of each transaction applied in the last ten minutes.

    A TransactWriteItems retried with the token of one that succeeded is answered as that
    one was, without being applied again; with the same token but other parameters it is
    refused with ``IdempotentParameterMismatchException``, as DynamoDB does. A transaction
    that was refused leaves no token: retried, it runs again. Bounded by ``MAX_TOKENS``
    (the oldest are forgotten first); kept in memory (used under the engine's lock), and
    at a start rebuilt from the transactions the journal replays, so a tool retrying one
    whose answer a crash lost is answered too (those a snapshot holds are not: a clean
    stop comes after 15 idle minutes, beyond the ten).
    """

    def __init__(self, seconds: float = TOKEN_SECONDS, limit: int = MAX_TOKENS) -> None:
        self.seconds = seconds
        self.limit = limit
        # (region, token) -> (when, digest of the request, answer), oldest first
        self._known: OrderedDict[tuple[str, str], tuple[float, str, Response]] = OrderedDict()

    @staticmethod
    def key(operation: str, region: str, body: bytes) -> tuple[str, str] | None:
        if operation != "TransactWriteItems" or b"ClientRequestToken" not in body:
            return None
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            token = json.loads(body).get("ClientRequestToken")
            if isinstance(token, str) and token:
                return region, token
        return None

    def answer(self, key: tuple[str, str], body: bytes) -> Response | None:
        """The answer to a request carrying a token seen before, or None: run it."""
        self._expire()
        known = self._known.get(key)
        if known is None:
            return None
        if known[1] != _digest(body):
            return _error(
                "400 Bad Request",
                "IdempotentParameterMismatchException",
                "the ClientRequestToken was used in the last 10 minutes by a request with "
                "other parameters",
            )
        return known[2]

    def remember(
        self, key: tuple[str, str], body: bytes, response: Response, *, age: float = 0.0
    ) -> None:
        """Answer ``key`` with ``response`` for the rest of its ten minutes (``age`` of
        them gone already: a transaction replayed from the journal at a start)."""
        if age >= self.seconds:
            return
        self._known[key] = (time.monotonic() - age, _digest(body), response)
        self._known.move_to_end(key)
        while len(self._known) > self.limit:
            self._known.popitem(last=False)

    def _expire(self) -> None:
        oldest = time.monotonic() - self.seconds
        while self._known and next(iter(self._known.values()))[0] < oldest:
            self._known.popitem(last=False)

    def __len__(self) -> int:
        return len(self._known)


def _digest(body: bytes) -> str:
    """A request's parameters, whatever the order or spacing of their JSON."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class LoadReport:
    """What a start loaded, and every problem it met on the way (all logged)."""

    snapshot_items: int = 0
    journal_entries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class JournalingApp:
    """A WSGI wrapper around moto's DynamoDB: authenticates, serialises and journals.

    moto's DynamoDB is not thread-safe (a transaction snapshots and restores whole tables),
    so requests run one at a time, as DynamoDB's own per-item atomicity would have them
    appear. The lock also keeps the journal in the order writes were applied.

    ``secret=None`` (the test suite's in-process engine) skips authentication; the engine
    process always has one. ``reference`` runs queries and serialises answers exactly as
    moto ships them (the equivalence test's yardstick).
    """

    def __init__(
        self,
        journal: store.Journal | None = None,
        *,
        secret: str | None = None,
        ready: bool = True,
        reference: bool = False,
        start_wait: float = START_WAIT,
        lock_wait: float = LOCK_WAIT,
        request_timeout: float = REQUEST_TIMEOUT,
        on_stuck: Callable[[str], None] | None = None,
    ) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - dev-only dependency
        from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

        queries.install()
        wire.install()
        transactions.install()
        self._handler = DynamoHandler
        self._account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
        self.journal = journal
        self._secret = secret
        self._reference = reference
        self._lock = threading.Lock()
        self._lock_wait = lock_wait
        self._start_wait = start_wait
        self.request_timeout = request_timeout
        self._on_stuck = on_stuck
        self._running: tuple[str, float] | None = None  # (operation, started) under the lock
        self._slots = threading.BoundedSemaphore(MAX_REQUESTS)
        self._large = threading.BoundedSemaphore(LARGE_BODIES)
        self.ready = threading.Event()
        if ready:
            self.ready.set()
        self.state = "ready" if ready else "starting"
        self.regions: set[str] = set()
        self.last_request = time.monotonic()
        self.requests = 0  # DynamoDB requests served, for benchmarks' calls-per-request
        self.tokens = Tokens()
        self.replays = Replays()
        self.problems: list[str] = []  # what the last load found damaged or lost
        self._compact_after = 0.0  # monotonic time before which no snapshot is retried

    # -- serving ----------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.last_request = time.monotonic()
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            status, headers, payload = self._health(environ)
        elif not self._slots.acquire(blocking=False):
            busy = _error(
                "503 Service Unavailable",
                "ServiceUnavailable",
                "the embedded local DynamoDB has too many requests open; retry shortly",
            )
            nonce = str(environ.get("HTTP_" + NONCE_HEADER.upper().replace("-", "_"), ""))
            status, headers, payload = self._proved(nonce, _unread(environ, busy))
        else:
            try:
                status, headers, payload = self._serve(environ)
            finally:
                self._slots.release()
        start_response(status, headers)
        return [payload]

    def _health(self, environ: WSGIEnvironment) -> Response:
        nonce = ""
        for pair in str(environ.get("QUERY_STRING", "")).split("&"):
            name, _, value = pair.partition("=")
            if name == "nonce":
                nonce = value[:64]
        answer: dict[str, Any] = {
            "status": self.state,
            "requests": self.requests,
            "protocol": PROTOCOL,
        }
        if self.problems:
            # How many, not what: this answer is for anyone; the log is the owner's.
            answer["problems"] = len(self.problems)
        if self._secret is not None and nonce:
            answer["proof"] = proof(self._secret, "health", nonce)
        return "200 OK", [("Content-Type", "application/json")], json.dumps(answer).encode()

    def _serve(self, environ: WSGIEnvironment) -> Response:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = str(environ[key])
        refused = _refusal(environ, headers)
        if refused is not None:
            return _unread(environ, refused)
        operation = headers["x-amz-target"].removeprefix(_TARGET_PREFIX)
        if self._secret is not None:
            # All that can be checked before the body is read, so that a request that is
            # not signed with a key of this folder costs its headers only.
            try:
                check_headers(headers)
            except SignatureError as exc:
                logger.warning("refused %s: %s", operation, exc)
                return _unread(environ, _error("400 Bad Request", exc.code, str(exc)))
        length = int(headers.get("content-length") or 0)
        if length <= LARGE_BODY:
            return self._read_and_serve(environ, headers, operation, length)
        if not self._large.acquire(timeout=self._lock_wait):
            busy = _error(
                "503 Service Unavailable",
                "ServiceUnavailable",
                "the embedded local DynamoDB is busy; retry shortly",
            )
            return self._proved(headers.get(NONCE_HEADER, ""), _unread(environ, busy))
        try:
            return self._read_and_serve(environ, headers, operation, length)
        finally:
            self._large.release()

    def _read_and_serve(
        self, environ: WSGIEnvironment, headers: dict[str, str], operation: str, length: int
    ) -> Response:
        body = environ["wsgi.input"].read(length)
        region = _region_of(headers.get("authorization", ""))
        signed = None
        if self._secret is not None:
            try:
                signed = verify(
                    self._secret, method="POST", path="/", query="", headers=headers, body=body
                )
            except SignatureError as exc:
                logger.warning("refused %s: %s", operation, exc)
                return _error("400 Bad Request", exc.code, str(exc))
            region = signed.region
        response = self._locked(operation, region, headers, body, signed)
        return self._proved(headers.get(NONCE_HEADER, ""), response)

    def _proved(self, nonce: str, response: Response) -> Response:
        """The answer with this engine's proof for the tool's nonce (when there is one),
        covering its status code, headers and body."""
        status, out_headers, payload = response
        if self._secret is not None and nonce:
            code = status.split(" ", 1)[0]
            given = response_proof(self._secret, nonce, code, out_headers, payload)
            out_headers = [*out_headers, (PROOF_HEADER, given)]
        return status, out_headers, payload

    def _locked(
        self,
        operation: str,
        region: str,
        headers: dict[str, str],
        body: bytes,
        signed: Signed | None = None,
    ) -> Response:
        if not self.ready.wait(self._start_wait):
            return _error(
                "503 Service Unavailable",
                "ServiceUnavailable",
                f"the embedded local DynamoDB is {self.state}; retry shortly",
            )
        if not self._lock.acquire(timeout=self._lock_wait):
            return _error(
                "503 Service Unavailable",
                "ServiceUnavailable",
                "the embedded local DynamoDB is busy; retry shortly",
            )
        try:
            self._running = (operation, time.monotonic())
            self.requests += 1
            self.regions.add(region)
            return self._run(operation, region, headers, body, signed)
        finally:
            self._running = None
            self._lock.release()

    def _run(
        self,
        operation: str,
        region: str,
        headers: dict[str, str],
        body: bytes,
        signed: Signed | None,
    ) -> Response:
        """One request, under the lock: refused as a replay, answered from its token, or
        journalled (a write) and run."""
        write = _is_write(operation, body)
        if signed is not None and write:
            refused = self._replayed(operation, signed)
            if refused is not None:
                return refused
        token = self.tokens.key(operation, region, body)
        if token is not None:
            known = self.tokens.answer(token, body)
            if known is not None:
                return known
        journal = self.journal if write else None
        start = None
        if journal is not None:
            # Kept before it is applied: a write the journal cannot take is neither
            # applied nor acknowledged, so nothing is served that a restart would lose.
            try:
                start = journal.append(
                    operation, region, body, signed.signature if signed is not None else None
                )
            except OSError as exc:
                logger.error("cannot journal a %s, so it is refused: %s", operation, exc)
                if signed is not None:
                    self.replays.forget(signed)  # not applied: its retry is welcome
                return _storage_error(exc)
        response = self._dispatch(operation, region, headers, body)
        applied = response[0].startswith("200")
        if journal is not None and start is not None and not applied:
            journal.discard(start)
        if token is not None and applied:
            self.tokens.remember(token, body, response)
        if journal is not None and applied:
            self._compact_if_due()
        return response

    def _replayed(self, operation: str, signed: Signed) -> Response | None:
        """The refusal of a signed write served before (a replay), or None: serve it.

        Checked once the request holds the lock, so a write refused as busy before it
        ran can be sent again as it was."""
        if self.replays.full():
            return _error(
                "503 Service Unavailable",
                "ServiceUnavailable",
                "the embedded local DynamoDB is busy; retry shortly",
            )
        if self.replays.seen(signed):
            logger.warning(
                "refused %s: a signed write that was served before (a replay)", operation
            )
            return _error(
                "400 Bad Request",
                "InvalidSignatureException",
                "this signed request was served before; a request is served once",
            )
        return None

    def _dispatch(
        self, operation: str, region: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """Run one request through moto's DynamoDB handler, and nothing else of moto."""
        from moto.core.request import Request  # noqa: PLC0415

        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": _JSON,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_X_AMZ_TARGET": _TARGET_PREFIX + operation,
            # moto reads the region (and, from the key id, the account) from here.
            "HTTP_AUTHORIZATION": (
                f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20240101/{region}/dynamodb/"
                "aws4_request, SignedHeaders=host, Signature=0"
            ),
        }
        request = Request(environ)
        request.from_wsgi_server = True  # as moto's own server marks its requests
        scope = contextlib.ExitStack()
        if self._reference:
            scope.enter_context(queries.as_moto_ships_it())
            scope.enter_context(wire.as_moto_ships_it())
        try:
            with scope:
                code, response_headers, payload = self._handler.dispatch(
                    request, "http://127.0.0.1/", request.headers
                )
        except Exception as exc:  # moto's own failures must not take the engine down
            logger.exception("moto failed on %s", operation)
            return _error("500 Internal Server Error", "InternalServerError", str(exc))
        data = payload if isinstance(payload, bytes) else str(payload).encode("utf-8")
        out = [(str(k), str(v)) for k, v in dict(response_headers).items() if k.lower() != "status"]
        return f"{int(code)} {'OK' if int(code) == 200 else 'Error'}", out, data

    def call(self, operation: str, region: str, payload: dict[str, Any] | str) -> dict[str, Any]:
        """Run one DynamoDB request in-process (loading and compaction use this)."""
        body = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
        status, _headers, data = self._dispatch(operation, region, {}, body)
        result: dict[str, Any] = json.loads(data or b"{}")
        if not status.startswith("200"):
            raise EngineError(f"{operation} failed in the local engine: {status} {result}")
        self.regions.add(region)
        return result

    # -- watching for a stuck request ------------------------------------------------

    def watch(self, interval: float = 1.0) -> threading.Thread:
        """Call ``on_stuck`` when a request holds the engine longer than its timeout."""

        def loop() -> None:
            while True:
                time.sleep(interval)
                running = self._running
                if running and time.monotonic() - running[1] > self.request_timeout:
                    self.state = "stuck"
                    logger.error(
                        "a %s request has run for over %.0fs; the engine is stuck",
                        running[0],
                        self.request_timeout,
                    )
                    if self._on_stuck is not None:
                        self._on_stuck(running[0])
                        return

        thread = threading.Thread(target=loop, name="local-engine-watchdog", daemon=True)
        thread.start()
        return thread

    # -- loading and compaction ------------------------------------------------------

    def load(self, data_dir: Path) -> LoadReport:
        """Load the folder's newest good snapshot and replay the journals after it, up to
        any damage (see ``store``: the damaged journal and those after it are kept aside,
        and what is lost is reported)."""
        started = time.monotonic()
        plan = store.plan(data_dir)
        report = LoadReport(problems=list(plan.problems))
        position = store.Position()
        if plan.snapshot is not None:
            self.state = f"starting: loading {plan.snapshot.items} items"
            for table, items in plan.snapshot.tables:
                self._restore_table(table, items)
            report.snapshot_items = plan.snapshot.items
            position = plan.snapshot.position
        self.state = "starting: replaying the journal"
        for index, path in enumerate(plan.journals):
            try:
                self._replay(path, position, report)
            except store.JournalDamaged:
                for damaged in plan.journals[index:]:
                    aside = damaged.with_suffix(".damaged")
                    damaged.replace(aside)
                    report.problems.append(
                        f"{damaged.name} is kept as {aside.name}; to recover what it held, "
                        f"stop the engine and mend the file (see localdb/store.py)"
                    )
                break
        kept_aside = any(not path.exists() for path in plan.journals)
        report.problems.extend(_witness_problems(data_dir, position, damaged=kept_aside))
        position = store.Position(position.seq, position.sum)  # known from here on
        generation = plan.generation
        if report.journal_entries or report.problems or plan.snapshot is None:
            generation += 1
            store.write_snapshot(data_dir, generation, self.dump(), position)
        self.journal = store.start_generation(data_dir, generation, position)
        report.seconds = time.monotonic() - started
        for problem in report.problems:
            logger.error("%s", problem)
        self.problems = report.problems
        return report

    def _replay(self, path: Path, position: store.Position, report: LoadReport) -> None:
        """Apply a journal's entries; a transaction of the last ten minutes answers its
        ClientRequestToken again (a tool retrying one whose answer the crash lost)."""
        for entry in store.read_journal(path, report.problems, position):
            try:
                result = self.call(entry.op, entry.region, entry.body)
            except Exception as exc:  # any line that no longer applies, whatever moto says
                report.problems.append(
                    f"{path.name} line {entry.number} ({entry.op}) no longer applies "
                    f"({str(exc)[:300]}); skipped"
                )
                continue
            report.journal_entries += 1
            if entry.signature is not None and entry.when is not None:
                written = dt.datetime.fromtimestamp(entry.when, dt.UTC)
                self.replays.remember(entry.signature, written + MAX_CLOCK_SKEW)
            body = entry.body.encode("utf-8")
            token = self.tokens.key(entry.op, entry.region, body)
            if token is not None and entry.when is not None:
                answer = ("200 OK", [("Content-Type", _JSON)], json.dumps(result).encode())
                self.tokens.remember(token, body, answer, age=max(0.0, time.time() - entry.when))

    def compact(self, data_dir: Path) -> None:
        """Write the state as a new snapshot and start its journal (under the lock)."""
        with self._lock:
            self._compact(data_dir)

    def _compact(self, data_dir: Path) -> None:
        if self.journal is None or not self.journal.entries:
            return
        generation = self.journal.generation + 1
        position = self.journal.position
        store.write_snapshot(data_dir, generation, self.dump(), position)
        self.journal.close()
        self.journal = store.start_generation(data_dir, generation, position)

    def _compact_if_due(self) -> None:
        """Snapshot once the journal holds SNAPSHOT_EVERY writes or SNAPSHOT_BYTES, so a
        start after a crash replays no more than that (called under the lock)."""
        journal = self.journal
        if journal is None or (journal.entries < SNAPSHOT_EVERY and journal.bytes < SNAPSHOT_BYTES):
            return
        if time.monotonic() < self._compact_after:
            return
        started = time.monotonic()
        try:
            self._compact(journal.path.parent)
        except OSError as exc:
            # The journal still holds every write; try again in a while.
            self._compact_after = time.monotonic() + 60
            logger.error("cannot write a snapshot (%s); the journal goes on", exc)
            return
        logger.info(
            "snapshot after %d writes in %.2fs", journal.entries, time.monotonic() - started
        )

    def _restore_table(self, table: dict[str, Any], items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

        region = table["region"]
        self.call("CreateTable", region, table["create"])
        if table.get("ttl", {}).get("TimeToLiveStatus") == "ENABLED":
            spec = {"Enabled": True, "AttributeName": table["ttl"]["AttributeName"]}
            self.call(
                "UpdateTimeToLive",
                region,
                {"TableName": table["create"]["TableName"], "TimeToLiveSpecification": spec},
            )
        model = dynamodb_backends[self._account][region].tables[table["create"]["TableName"]]
        for attrs in items:
            _insert(model, attrs)
        queries.prepare(model)  # at start, not at the first query

    def dump(self) -> Iterator[tuple[dict[str, Any], Iterator[dict[str, Any]]]]:
        """Every table of every region used: its definition, then its items."""
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

        for region in sorted(self.regions):
            backend = dynamodb_backends[self._account][region]
            for name in sorted(backend.tables):
                described = self.call("DescribeTable", region, {"TableName": name})["Table"]
                create = _recreate(described)
                tags = self.call(
                    "ListTagsOfResource", region, {"ResourceArn": described["TableArn"]}
                )
                if tags.get("Tags"):
                    create["Tags"] = tags["Tags"]
                ttl = self.call("DescribeTimeToLive", region, {"TableName": name})
                definition = {
                    "region": region,
                    "create": create,
                    "ttl": ttl.get("TimeToLiveDescription", {}),
                }
                yield (
                    definition,
                    (_plain_item(i) for i in queries.stored_items(backend.tables[name])),
                )


def _refusal(environ: WSGIEnvironment, headers: dict[str, str]) -> Response | None:
    """Why a request is not let through to moto, if it is not: None for a good one."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/":
        return _error("400 Bad Request", "UnknownOperationException", "DynamoDB requests only")
    if environ.get("QUERY_STRING") or any(h.startswith("x-moto-") for h in headers):
        return _error("400 Bad Request", "ValidationException", "unexpected request parameters")
    target = headers.get("x-amz-target", "")
    operation = target.removeprefix(_TARGET_PREFIX)
    if not target.startswith(_TARGET_PREFIX) or operation not in WRITES | READS:
        return _error(
            "400 Bad Request",
            "UnknownOperationException",
            f"{operation or 'this request'} is not served by the embedded local DynamoDB",
        )
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY:
        return _error("413 Request Entity Too Large", "ValidationException", "bad request size")
    return None


def _storage_error(exc: OSError) -> Response:
    """The answer to a write the journal could not take: 503, which clients retry."""
    full = exc.errno in {errno.ENOSPC, errno.EDQUOT}
    reason = "storage full" if full else "storage failed"
    return _error(
        "503 Service Unavailable",
        "InternalServerError",
        f"{reason}: the write was not applied ({exc.strerror or exc})",
    )


def _unread(environ: WSGIEnvironment, response: Response) -> Response:
    """An answer to a request whose body is not wanted: a small body is read and dropped
    (so that the client reads the answer rather than a reset connection), a larger one is
    left unread and the connection closed.

    Closing alone would not do: werkzeug reads what is left of a body before it closes,
    10 MB at a time. Shutting the socket's reading side first ends that read at what the
    kernel already holds.
    """
    status, headers, payload = response
    with contextlib.suppress(ValueError, OSError):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if 0 <= length <= _DRAIN:
            environ["wsgi.input"].read(length)
            return response
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RD)
    return status, [*headers, ("Connection", "close")], payload


def _region_of(authorization: str) -> str:
    """The region of a request's credential scope (verified, when there is a secret)."""
    try:
        return authorization.split("Credential=", 1)[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def _is_write(operation: str, body: bytes) -> bool:
    if operation not in WRITES:
        return False
    if operation == "ExecuteStatement":
        # PartiQL reads go through the same operation; only statements that change data
        # are journalled.
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            statement = str(json.loads(body).get("Statement", "")).lstrip().upper()
            return not statement.startswith("SELECT")
    return True


def _insert(table: Any, attrs: dict[str, Any]) -> None:
    """Put a snapshot item straight into a moto table: it was validated when written."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: PLC0415

    item: Any = Item.__new__(Item)
    values = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(values, {name: DynamoType(value) for name, value in attrs.items()})
    item.attrs = values
    item.hash_key = DynamoType(attrs[table.hash_key_attr])
    if table.range_key_attr is None:
        item.range_key = None
        table.items[item.hash_key] = item
    else:
        item.range_key = DynamoType(attrs[table.range_key_attr])
        table.items[item.hash_key][item.range_key] = item


def _plain_item(item: Any) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.attrs.items()}


def _plain(value: Any) -> dict[str, Any]:
    """A DynamoType as the DynamoDB JSON it was made from."""
    if value.type == "M":
        return {"M": {name: _plain(member) for name, member in value.value.items()}}
    if value.type == "L":
        return {"L": [_plain(member) for member in value.value]}
    inner = value.value
    if isinstance(inner, bytes):
        inner = base64.b64encode(inner).decode("ascii")
    elif isinstance(inner, list | set):
        inner = [base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for v in inner]
    return {value.type: inner}


def _witness_problems(
    data_dir: Path, position: store.Position, *, damaged: bool = False
) -> list[str]:
    """What the witness says is lost: acknowledged writes the loaded data does not reach
    (``damaged``: a damaged journal was kept aside, which says why)."""
    witness = store.read_witness(data_dir)
    if witness is None or not position.known:
        return []
    generation, acknowledged = witness
    journal = store.journal_path(data_dir, generation)
    where = journal.name + ("" if journal.exists() else ", which is missing")
    if acknowledged.seq > position.seq:
        return [
            f"{store.WITNESS} records writes acknowledged up to seq {acknowledged.seq} (in "
            f"{where}), but the data ends at seq {position.seq}: "
            f"{acknowledged.seq - position.seq} acknowledged writes are lost "
            + (
                "(with the damaged journal)"
                if damaged
                else "(a journal emptied, cut short or deleted, or an older snapshot put back)"
            )
        ]
    if acknowledged.seq == position.seq and acknowledged.sum != position.sum:
        return [
            f"{store.WITNESS} records another write as seq {acknowledged.seq} (in {where}) "
            "than the data holds: the files are not the ones the engine wrote"
        ]
    return []


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


# -- the process --------------------------------------------------------------------------


def _take_running_lock(data_dir: Path) -> Any:
    import fcntl  # noqa: PLC0415

    running = os.fdopen(os.open(data_dir / RUNNING_LOCK, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
    deadline = time.monotonic() + 5
    while True:
        try:
            fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A tool probing whether an engine runs holds a shared lock for an instant.
            if time.monotonic() > deadline:
                running.close()
                return None
            time.sleep(0.02)
        else:
            return running


def _unmap_large_blocks() -> None:
    """Have glibc map every block of LARGE_BODY or more on its own and unmap it when freed.

    Left to itself, glibc raises that threshold to the largest block freed, after which
    each of the server's threads keeps the bodies it read in an arena of its own: a few
    16 MiB requests that were refused would then hold hundreds of MiB for good. A no-op
    where the C library has no ``mallopt``.
    """
    m_mmap_threshold = -3
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(m_mmap_threshold, LARGE_BODY)


def _write_state(data_dir: Path, port: int) -> dict[str, Any]:
    """Tell tools where the engine listens (atomically, for its owner only)."""
    state = {"pid": os.getpid(), "port": port, "url": f"http://127.0.0.1:{port}"}
    tmp = data_dir / (STATE + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(json.dumps(state))
    tmp.replace(data_dir / STATE)
    return state


def _listen(port: int) -> socket.socket:
    """Bound here, not by werkzeug, which exits when the port is taken: the previous port
    (where tools look first), else any free one."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError:
        listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def capped_server(
    app: Any, listener: socket.socket, handler: Any = None, limit: int | None = None
) -> Any:
    """A threaded werkzeug server on ``listener`` that keeps at most ``limit``
    (``MAX_CONNECTIONS``) connections open: one more is closed as soon as it is accepted,
    before anything of it is read, so connections nobody finishes cannot add threads (or
    buffers) without end."""
    from werkzeug.serving import ThreadedWSGIServer  # noqa: PLC0415

    cap = MAX_CONNECTIONS if limit is None else limit

    class CappedServer(ThreadedWSGIServer):
        open_connections = 0
        refused_connections = 0
        _count = threading.Lock()

        def verify_request(self, request: Any, client_address: Any) -> bool:
            with self._count:
                if self.open_connections >= cap:
                    self.refused_connections += 1
                    return False  # socketserver closes it
                self.open_connections += 1
                return True

        def process_request_thread(self, request: Any, client_address: Any) -> None:
            try:
                super().process_request_thread(request, client_address)
            finally:
                with self._count:
                    self.open_connections -= 1

    host, port = listener.getsockname()[:2]
    return CappedServer(host, port, app, handler=handler, fd=listener.fileno())


def serve(
    data_dir: Path,
    port: int,
    idle_seconds: float,
    *,
    keep_data: bool = True,
    request_timeout: float = REQUEST_TIMEOUT,
) -> int:
    """Run the engine in this process until idle for ``idle_seconds`` or signalled.

    The port is bound first, so tools can connect (and wait) while the data loads.
    ``keep_data=False`` serves from memory only (no journal): for benchmarks and
    throw-away runs. Requests are signed with the folder's secret either way.
    """
    from werkzeug.serving import WSGIRequestHandler  # noqa: PLC0415

    prepare_folder(data_dir)
    _unmap_large_blocks()
    running = _take_running_lock(data_dir)
    if running is None:
        logger.error("another local engine already serves %s", data_dir)
        return 1
    secret = read_secret(data_dir)

    def stuck(operation: str) -> None:
        # A Python thread cannot be stopped, and moto may be half-way through changing
        # its tables: leave, keeping the journal (every acknowledged write is in it). The
        # next request of any tool starts the engine again.
        if app.journal is not None:
            app.journal.close()
        logging.shutdown()
        os._exit(75)

    app = JournalingApp(secret=secret, ready=False, request_timeout=request_timeout, on_stuck=stuck)

    class Handler(WSGIRequestHandler):
        timeout = 60  # a client that stops sending mid-request frees its thread

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """No line per DynamoDB request."""

    listener = _listen(port)
    actual_port = listener.getsockname()[1]
    server = capped_server(app, listener, Handler)
    state = _write_state(data_dir, actual_port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.watch()
    logger.info("local DynamoDB engine for %s listening on %s", data_dir, state["url"])

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if keep_data and not _load(app, data_dir):
            return 2
        app.state = "ready"
        app.ready.set()
        while not stop.wait(1.0):
            if time.monotonic() - app.last_request > idle_seconds:
                logger.info("no requests for %.0fs; stopping", idle_seconds)
                break
    finally:
        server.shutdown()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE).unlink()
        if keep_data and app.ready.is_set():
            try:
                app.compact(data_dir)  # the next start then loads one snapshot and no journal
            except OSError as exc:
                logger.error(
                    "cannot write a snapshot (%s); the next start replays the journal", exc
                )
        if app.journal is not None:
            app.journal.close()
        running.close()
    return 0


def _load(app: JournalingApp, data_dir: Path) -> bool:
    """Load the folder's data into the engine; False (logged) if it cannot be."""
    try:
        report = app.load(data_dir)
    except store.StoreError as exc:
        logger.error("cannot load the data: %s", exc)
        return False
    logger.info(
        "loaded %d items and %d journal entries in %.2fs (%d problems)",
        report.snapshot_items,
        report.journal_entries,
        report.seconds,
        len(report.problems),
    )
    return True


def _compact_at_exit(app: JournalingApp, data_dir: Path) -> None:
    """Leave one snapshot and no journal for the next start, if the disk takes it."""
    try:
        app.compact(data_dir)
    except OSError as exc:
        logger.error("cannot write a snapshot (%s); the next start replays the journal", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS)
    parser.add_argument("--request-timeout", type=float, default=REQUEST_TIMEOUT)
    parser.add_argument("--detach", action="store_true", help="fork into the background")
    parser.add_argument(
        "--memory", action="store_true", help="keep no journal: data is lost on exit"
    )
    args = parser.parse_args(argv)
    if args.detach and os.fork() != 0:
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        return serve(
            args.data_dir,
            args.port,
            args.idle_seconds,
            keep_data=not args.memory,
            request_timeout=args.request_timeout,
        )
    except EngineError as exc:
        logger.error("%s; see %s", exc, args.data_dir / LOG)
        return 1
