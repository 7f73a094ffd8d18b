"""Batched DynamoDB reads and writes that absorb throttling without losing an item.

The migration and the backup move many items at once; both use ``BatchIO`` (BatchGetItem
in 100s, BatchWriteItem in 25s, retried past botocore's own attempts) and the two helpers
that keep their memory flat: ``batched`` and ``bounded_map``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from backend.errors import StorageUnavailable, WriteFailed
from backend.storage.dynamo import error_code, from_item, pages, to_item, translated_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

BATCH_WRITE_MAX = 25  # DynamoDB's limit per BatchWriteItem
BATCH_GET_MAX = 100  # DynamoDB's limit per BatchGetItem
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
    and Jitter"): waits are random in [0, min(cap, base * 2**attempt)]."""

    base: float = 0.05
    cap: float = 5.0
    attempts: int = 15  # for timeouts; throttling is waited out, however long it lasts

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2**attempt))  # noqa: S311


class RateLimit:
    """At most ``per_second`` capacity units a second across all threads (a token bucket),
    so that a migration or a backup leaves a provisioned table room for live traffic."""

    def __init__(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_second = per_second
        self._sleep = sleep
        self._lock = threading.Lock()
        self._available = per_second
        self._updated = time.monotonic()

    def take(self, units: float) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._available = min(
                    self.per_second, self._available + (now - self._updated) * self.per_second
                )
                self._updated = now
                if self._available >= min(units, self.per_second):
                    self._available -= units
                    return
                wait = (min(units, self.per_second) - self._available) / self.per_second
            self._sleep(wait)


def capacity_units(raw: str) -> float:
    """A ``--max-wcu`` / ``--max-rcu`` value: a positive number of units a second."""
    value = float(raw)
    if not 0 < value < float("inf"):
        raise ValueError(f"must be a positive number of units, not {raw}")
    return value


def write_units(item: Mapping[str, Any]) -> int:
    """Write capacity units of an item in DynamoDB JSON: one per KB, rounded up."""
    size = len(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    return max(1, -(-size // 1024))


class BatchIO:
    """BatchGetItem in 100s and BatchWriteItem in 25s on one shared, thread-safe client."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wcu: float | None = None,
        max_rcu: float | None = None,
    ) -> None:
        self._client = client
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._writes = RateLimit(max_wcu) if max_wcu else None
        self._reads = RateLimit(max_rcu) if max_rcu else None

    def get(self, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items that exist among ``keys`` (strongly consistent), as plain dicts."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_MAX):
            pending: Any = {
                table: {
                    "Keys": [to_item(k) for k in keys[start : start + BATCH_GET_MAX]],
                    "ConsistentRead": True,
                }
            }
            attempt = 0
            while pending:
                if self._reads is not None:
                    self._reads.take(len(pending[table]["Keys"]))  # ≤ 4 KB each, consistent
                response = self._call(self._client.batch_get_item, RequestItems=pending)
                found.extend(from_item(i) for i in response.get("Responses", {}).get(table, []))
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    attempt = self._wait(attempt, "BatchGetItem left keys unprocessed")
        return found

    def write(
        self, table: str, puts: Iterable[dict[str, Any]], deletes: Iterable[dict[str, Any]] = ()
    ) -> None:
        """Put and delete items in batches of 25; raises ``WriteFailed`` naming leftovers."""
        requests: list[Any] = [{"PutRequest": {"Item": to_item(p)}} for p in puts]
        requests += [{"DeleteRequest": {"Key": to_item(k)}} for k in deletes]
        self._write_requests(table, requests)

    def scan_raw(self, table: str) -> Iterator[dict[str, Any]]:
        """Every item of ``table`` in DynamoDB JSON (strongly consistent), for a dump."""
        params = {"TableName": table, "ConsistentRead": True}
        if self._reads is not None:
            params["Limit"] = max(1, int(self._reads.per_second))  # a page's cost is bounded
        for page in pages(partial(self._call, self._client.scan), params):
            if self._reads is not None:
                self._reads.take(float(page.get("ScannedCount", 1)))
            yield from page.get("Items", [])

    def is_empty(self, table: str) -> bool:
        """Whether ``table`` holds no item at all (one strongly consistent read)."""
        page = self._call(
            self._client.scan,
            TableName=table,
            Limit=1,
            ConsistentRead=True,
            ProjectionExpression="id",
        )
        return not page.get("Items") and "LastEvaluatedKey" not in page

    def write_raw(self, table: str, items: Iterable[dict[str, Any]]) -> None:
        """Put items already in DynamoDB JSON (as an export or a Scan gives them)."""
        self._write_requests(table, [{"PutRequest": {"Item": item}} for item in items])

    def _write_requests(self, table: str, requests: list[Any]) -> None:
        failures: list[tuple[dict[str, Any], str]] = []
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            failures += self._write_batch(table, requests[start : start + BATCH_WRITE_MAX])
        if failures:
            raise WriteFailed(failures)

    def _write_batch(self, table: str, batch: list[Any]) -> list[tuple[dict[str, Any], str]]:
        pending: Any = {table: batch}
        attempt = 0
        while pending:
            if self._writes is not None:
                self._writes.take(sum(write_units(_request_item(r)) for r in pending[table]))
            try:
                response = self._call(self._client.batch_write_item, RequestItems=pending)
            except ClientError as exc:
                if error_code(exc) != "ValidationException":
                    raise
                # One bad item fails the whole batch: write them one by one to name it.
                return self._write_singly(table, pending[table])
            pending = response.get("UnprocessedItems") or {}
            if pending:  # throttled in part: wait it out, however long, losing nothing
                attempt = self._wait(attempt, "BatchWriteItem left items unprocessed")
        return []

    def _write_singly(self, table: str, batch: list[Any]) -> list[tuple[dict[str, Any], str]]:
        failures = []
        for request in batch:
            try:
                if "PutRequest" in request:
                    self._call(
                        self._client.put_item, TableName=table, Item=request["PutRequest"]["Item"]
                    )
                else:
                    self._call(
                        self._client.delete_item,
                        TableName=table,
                        Key=request["DeleteRequest"]["Key"],
                    )
            except ClientError as exc:
                if error_code(exc) != "ValidationException":
                    raise
                message = exc.response.get("Error", {}).get("Message", "rejected by DynamoDB")
                failures.append(
                    (from_item(_request_item(request)), f"DynamoDB refused it: {message}")
                )
        return failures

    def _call(self, operation: Callable[..., Any], **params: Any) -> Any:
        """Call, backing off on throttling for longer than botocore's own retries do."""
        attempt = 0
        while True:
            try:
                with translated_errors("migration batch"):
                    return operation(**params)
            except StorageUnavailable as exc:
                # Throttling and timeouts pass; batch puts and deletes are safe to repeat.
                cause = exc.__cause__
                throttled = isinstance(cause, ClientError) and error_code(cause) in _THROTTLED
                timed_out = isinstance(cause, ReadTimeoutError | ConnectionError)
                if not (throttled or (timed_out and attempt + 1 < self._backoff.attempts)):
                    raise
            attempt = self._wait(attempt, "DynamoDB throttled or timed out")

    def _wait(self, attempt: int, why: str) -> int:
        delay = self._backoff.delay(attempt)
        logger.debug("%s; retrying in %.2fs (attempt %d)", why, delay, attempt + 1)
        if attempt and attempt % 20 == 0:
            logger.warning(
                "%s for %d attempts in a row: the table's capacity is too low for this rate "
                "(--max-wcu / --max-rcu lower it); still waiting, nothing is lost",
                why,
                attempt,
            )
        self._sleep(delay)
        return attempt + 1


def _request_item(request: Any) -> Any:
    return (
        request["PutRequest"]["Item"]
        if "PutRequest" in request
        else request["DeleteRequest"]["Key"]
    )


T = TypeVar("T")
R = TypeVar("R")


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bounded_map(
    pool: ThreadPoolExecutor, function: Callable[[T], R], inputs: Iterable[T], window: int
) -> Iterator[R]:
    """``pool.map`` that pulls its inputs lazily, with at most ``window`` in flight, and
    yields results as they complete: memory stays flat however long ``inputs`` is."""
    in_flight: set[Future[R]] = set()
    for value in inputs:
        if len(in_flight) >= window:
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
        in_flight.add(pool.submit(function, value))
    for future in as_completed(in_flight):
        yield future.result()
