"""One JSON log line per request, request ids, and DynamoDB calls counted per request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app
from backend.config import Settings, configure_logging
from backend.storage import Storage
from tests.helpers import create_department, create_event, dynamodb_errors, first, settle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@pytest.fixture
def access_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("backend.access")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_each_request_logs_one_line_with_its_dynamodb_calls(
    client: FlaskClient,
    access_log: list[logging.LogRecord],
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    department = create_department(client, "개발팀")
    event = create_event(client, department["id"])
    settle(dynamodb, settings, department["id"])
    access_log.clear()

    client.get(f"/api/events/{department['id']}/{event['id']}", headers={"X-Request-ID": "req-1"})
    client.get(f"/api/events/{department['id']}?month=2024-01")
    client.post(f"/api/events/{department['id']}", json={"event_date": "2024-01-21", "title": "t"})

    get_line, list_line, create_line = access_log
    assert get_line.__dict__["method"] == "GET"
    assert get_line.__dict__["status"] == 200
    assert get_line.__dict__["request_id"] == "req-1"
    assert get_line.__dict__["duration_ms"] > 0
    assert get_line.__dict__["dynamodb_operations"] == ["GetItem"]
    assert list_line.__dict__["dynamodb_operations"] == ["GetItem", "Query"]
    # The date's events are counted (the per-date cap) through the index, then the event
    # and its department's count and calendar version move in one transaction.
    assert create_line.__dict__["dynamodb_operations"] == [
        "Query",
        "GetItem",
        "TransactWriteItems",
    ]
    assert set(create_line.__dict__["iam_actions"]) == {
        "Query",
        "GetItem",
        "PutItem",
        "UpdateItem",
    }
    assert create_line.__dict__["status"] == 201


def test_polling_a_list_with_its_etag_costs_one_small_read_and_no_query(
    client: FlaskClient,
    access_log: list[logging.LogRecord],
    dynamodb: DynamoDBClient,
    settings: Settings,
) -> None:
    department = create_department(client, "개발팀")
    create_event(client, department["id"])
    settle(dynamodb, settings, department["id"])  # a minute later
    etag = client.get(f"/api/events/{department['id']}?month=2024-01").headers["ETag"]
    access_log.clear()

    response = client.get(
        f"/api/events/{department['id']}?month=2024-01", headers={"If-None-Match": etag}
    )

    assert response.status_code == 304
    assert access_log[0].__dict__["dynamodb_operations"] == ["GetItem"]


def test_consumed_capacity_is_logged_when_dynamodb_reports_it(
    client: FlaskClient, access_log: list[logging.LogRecord]
) -> None:
    department = create_department(client, "개발팀")
    created = access_log[-1].__dict__
    client.get(f"/api/departments/{department['id']}")
    read = access_log[-1].__dict__

    assert "TransactWriteItems" in created["dynamodb_operations"]
    assert {"PutItem", "Query"} <= set(created["iam_actions"])
    assert "TransactWriteItems" not in created["iam_actions"]
    assert read["dynamodb_operations"] == ["GetItem"]
    assert read["consumed_capacity"] > 0


def test_load_balancer_trace_id_is_the_request_id(client: FlaskClient) -> None:
    trace = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"

    response = client.get("/nowhere", headers={"X-Amzn-Trace-Id": trace})

    assert response.headers["X-Request-ID"] == "1-67891233-abcdef012345678912345678"
    assert response.get_json()["request_id"] == "1-67891233-abcdef012345678912345678"


def test_json_logs_are_one_object_per_line_without_secrets(
    settings: Settings, storage: Storage
) -> None:
    token = "s3cr3t-token-0123456789abcdef"
    app: Flask = create_app(Settings(**{**settings.__dict__, "api_tokens": (token,)}), storage)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("json", "INFO")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        client = app.test_client()
        client.post(
            "/api/departments",
            json={"name": "개발팀"},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "abc"},
        )
        client.post(
            "/api/departments",
            json={"name": "x"},
            headers={"Authorization": "Bearer wrong-token-value"},
        )
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])

    lines: list[dict[str, Any]] = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line.get("logger") == "backend.access"]
    assert [line["status"] for line in access] == [201, 401]
    assert access[0]["request_id"] == "abc"
    assert access[0]["path"] == "/api/departments"
    assert {
        "time",
        "level",
        "message",
        "duration_ms",
        "dynamodb_calls",
        "consumed_capacity",
    } <= set(access[0])
    assert token not in stream.getvalue()
    assert "wrong-token-value" not in stream.getvalue()


def test_access_lines_carry_cloudwatch_embedded_metrics(
    client: FlaskClient, access_log: list[logging.LogRecord]
) -> None:
    client.get("/api/departments")

    line = access_log[-1].__dict__
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "DepartmentCalendar"
    assert directive["Dimensions"] == [["Service"]]
    for metric in directive["Metrics"]:
        assert isinstance(line[metric["Name"]], int | float), metric
    assert (line["Requests"], line["Errors5xx"], line["Service"]) == (1, 0, "api")


def test_throttled_attempts_are_counted_for_the_alarm(
    settings: Settings, storage: Storage, dynamodb: Any, access_log: list[logging.LogRecord]
) -> None:
    with dynamodb_errors(dynamodb, first(1)):
        response = create_app(settings, storage).test_client().get("/api/departments")

    assert response.status_code == 200
    assert access_log[-1].__dict__["DynamoDBThrottles"] == 1
