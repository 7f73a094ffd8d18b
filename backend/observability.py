"""Logs and per-request accounting: one line per request, with its DynamoDB calls.

The DynamoDB client is instrumented with botocore event hooks: every call made while a
request is being served is counted against that request, with the capacity DynamoDB
says it consumed. Nothing here logs headers, bodies or credentials.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

access_logger = logging.getLogger("backend.access")

_SANE_ID = re.compile(r"[A-Za-z0-9._:/=+-]{1,128}")
_TRACE_ROOT = re.compile(r"Root=([A-Za-z0-9-]{1,64})")
# Operations that accept ReturnConsumedCapacity.
_CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)


@dataclass
class DynamoUsage:
    """The DynamoDB calls of one request and the capacity units they consumed."""

    operations: list[str] = field(default_factory=list)
    capacity: float = 0.0
    transaction_actions: set[str] = field(default_factory=set)
    throttled_attempts: int = 0  # attempts DynamoDB throttled, retried or not

    def iam_actions(self) -> set[str]:
        """The IAM actions these calls need (a transaction needs those of its parts)."""
        return {
            op for op in self.operations if op != "TransactWriteItems"
        } | self.transaction_actions


_THROTTLING = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
METRICS_NAMESPACE = "DepartmentCalendar"
_METRICS = [
    {"Name": "Requests", "Unit": "Count"},
    {"Name": "Latency", "Unit": "Milliseconds"},
    {"Name": "Errors5xx", "Unit": "Count"},
    {"Name": "DynamoDBThrottles", "Unit": "Count"},
]

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}

_current: ContextVar[DynamoUsage | None] = ContextVar("dynamodb_usage", default=None)


def instrument(client: DynamoDBClient) -> None:
    """Count every call of ``client`` (and its consumed capacity) against the request."""
    events = client.meta.events

    def prepare(params: dict[str, Any], model: Any, **_: Any) -> None:
        usage = _current.get()
        if usage is None:
            return
        if model.name in _CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if model.name == "TransactWriteItems":
            # IAM authorises a transaction by the actions inside it.
            for entry in params.get("TransactItems", []):
                usage.transaction_actions.update(_TRANSACT_ACTIONS[k] for k in entry)

    def count(model: Any, **_: Any) -> None:
        usage = _current.get()
        if usage is not None:
            usage.operations.append(model.name)

    def add_capacity(parsed: dict[str, Any], **_: Any) -> None:
        usage = _current.get()
        consumed = parsed.get("ConsumedCapacity") if isinstance(parsed, dict) else None
        if usage is None or not consumed:
            return
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            usage.capacity += float(entry.get("CapacityUnits") or 0)

    def note_throttling(response: Any = None, **_: Any) -> None:
        usage = _current.get()
        if usage is None or not response:
            return
        parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
        if isinstance(parsed, dict) and parsed.get("Error", {}).get("Code") in _THROTTLING:
            usage.throttled_attempts += 1

    # unique_id makes this idempotent: apps built twice on one client count calls once.
    events.register("needs-retry.dynamodb", note_throttling, unique_id="cal-throttles")
    events.register("provide-client-params.dynamodb", prepare, unique_id="cal-prepare")
    events.register("before-call.dynamodb", count, unique_id="cal-count")
    events.register("after-call.dynamodb", add_capacity, unique_id="cal-consumed")


def request_id_from(headers: Any) -> str:
    """The client's X-Request-ID if sane, else the load balancer's trace root, else new."""
    given = headers.get("X-Request-ID", "")
    if _SANE_ID.fullmatch(given):
        return str(given)
    trace = _TRACE_ROOT.search(headers.get("X-Amzn-Trace-Id", ""))
    if trace:
        return trace.group(1)
    return uuid.uuid4().hex


def install(app: Flask) -> None:
    """Request ids, the per-request access log line and DynamoDB accounting."""

    @app.before_request
    def start() -> None:
        g.request_id = request_id_from(request.headers)
        g.started = time.perf_counter()
        g.usage_token = _current.set(DynamoUsage())

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(request.headers)
        response.headers["X-Request-ID"] = request_id
        usage = _current.get() or DynamoUsage()
        started = g.get("started", time.perf_counter())
        duration = round((time.perf_counter() - started) * 1000, 2)
        access_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration,
                "request_id": request_id,
                "dynamodb_calls": len(usage.operations),
                "dynamodb_operations": usage.operations,
                "iam_actions": sorted(usage.iam_actions()),
                "consumed_capacity": round(usage.capacity, 2),
                **metrics(duration, response.status_code, usage.throttled_attempts),
            },
        )
        return response

    @app.teardown_request
    def reset(_exc: BaseException | None) -> None:
        token = g.pop("usage_token", None)
        if token is not None:
            _current.reset(token)


def metrics(duration_ms: float, status: int, throttles: int) -> dict[str, Any]:
    """CloudWatch Embedded Metric Format fields for one request.

    Lambda's log pipeline and the CloudWatch agent turn these JSON log lines into metrics
    (namespace DepartmentCalendar, dimension Service=api) with no API call of our own;
    the alarms in deploy/template.yaml watch them.
    """
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": METRICS_NAMESPACE, "Dimensions": [["Service"]], "Metrics": _METRICS}
            ],
        },
        "Service": "api",
        "Requests": 1,
        "Latency": duration_ms,
        "Errors5xx": int(status >= 500),
        "DynamoDBThrottles": throttles,
    }


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once, at process start: JSON lines or plain text on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if log_format == "json":
        # Werkzeug's own request lines would repeat ours as plain text.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
