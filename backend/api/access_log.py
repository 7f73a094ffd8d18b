"""The access log: request ids and one line per request, with its DynamoDB calls.

Each request's DynamoDB calls and consumed capacity are counted by ``storage.usage``; the
line also carries CloudWatch embedded-metric fields. Nothing here logs headers, bodies or
credentials.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from backend.storage import usage

access_logger = logging.getLogger("backend.access")

MAX_REQUEST_ID = 128
_SANE_ID = re.compile(rf"[A-Za-z0-9._:/=+-]{{1,{MAX_REQUEST_ID}}}")
_TRACE_ROOT = re.compile(r"Root=([A-Za-z0-9-]{1,64})")
METRICS_NAMESPACE = "DepartmentCalendar"
_METRICS = [
    {"Name": "Requests", "Unit": "Count"},
    {"Name": "Latency", "Unit": "Milliseconds"},
    {"Name": "Errors5xx", "Unit": "Count"},
    {"Name": "DynamoDBThrottles", "Unit": "Count"},
]


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
        g.usage_token = usage.begin()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(request.headers)
        response.headers["X-Request-ID"] = request_id
        if not access_logger.isEnabledFor(logging.INFO):
            return response  # nobody reads the line: build none
        calls = usage.current()
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
                "dynamodb_calls": len(calls.operations),
                "dynamodb_operations": calls.operations,
                "iam_actions": sorted(calls.iam_actions()),
                "consumed_capacity": round(calls.capacity, 2),
                **metrics(duration, response.status_code, calls.throttled_attempts),
            },
        )
        return response

    @app.teardown_request
    def reset(_exc: BaseException | None) -> None:
        token = g.pop("usage_token", None)
        if token is not None:
            usage.end(token)


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
