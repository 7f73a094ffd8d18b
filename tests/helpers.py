"""Small request helpers shared by the API tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from backend.api import calendar, departments, events, health, holidays
from backend.api.openapi import AccessMode, document
from backend.config import Settings
from backend.storage import Storage
from backend.storage.dynamo import make_client
from backend.storage.events import INDEX_SETTLE

SEED_DEPARTMENT = {"name": "QA팀", "description": "품질 보증"}
SEED_EVENT = {"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"}

# The time texts api.md and legacy-data.md name, with the start time each must give; the API
# and the migration are both held to it (they share one parser).
TIME_FORMS = [
    ("오후 3:00", "15:00"),
    ("오전 9:30", "09:30"),
    ("3:00 PM", "15:00"),
    ("15:00", "15:00"),
    ("종일", None),
    ("", None),
    (None, None),
]


def api_document(*, mode: AccessMode = AccessMode.TOKENS) -> dict[str, Any]:
    """The OpenAPI document of the API's routes, without a server or storage: for tests
    that need it at collection time."""
    app = Flask(__name__)
    for blueprint in (departments.bp, events.bp, calendar.bp, holidays.bp, health.bp):
        app.register_blueprint(blueprint)
    return document(app, mode=mode)


def create_department(client: FlaskClient, name: str = "개발팀", **extra: Any) -> dict[str, Any]:
    response = client.post("/api/departments", json={"name": name, **extra})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def create_event(client: FlaskClient, department_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"event_date": "2024-01-20", "title": "팀 회의", **fields}
    response = client.post(f"/api/events/{department_id}", json=payload)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def assert_problem(
    response: TestResponse, status: int, *, field: str | None = None
) -> dict[str, Any]:
    """The response is problem+json with ``status`` (and names ``field`` when given)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


# -- AWS clients and DynamoDB faults ---------------------------------------------------------


def local_aws_client(service: str, url: str) -> Any:
    """A boto3 client of a local moto server (any signature is accepted there)."""
    import boto3  # noqa: PLC0415

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name="ap-northeast-2",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def storage_without_retries(
    settings: Settings, endpoint_url: str | None = None
) -> tuple[Storage, Any]:
    """Storage over a client of its own that gives up at the first failure, and that client."""
    client = make_client(
        region=settings.region,
        endpoint_url=endpoint_url or settings.endpoint_url,
        access_key="local",
        secret_key="local",
        max_attempts=1,
    )
    return Storage(client, settings.departments_table, settings.events_table), client


THROTTLED = "ProvisionedThroughputExceededException"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@contextmanager
def dynamodb_errors(
    client: Any, should_fail: Callable[[str], bool], code: str = THROTTLED
) -> Iterator[None]:
    """Answer a client's requests with DynamoDB error ``code`` while ``should_fail(operation)``.

    A botocore ``before-send`` hook, so retries, parsing and our error mapping all run as
    they would against a throttled table; nothing of ours is replaced.
    """
    lock = threading.Lock()

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"").decode().rpartition(".")[2]
        with lock:
            if not should_fail(operation):
                return None
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
        )
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "test"}, _Body(body.encode()))  # type: ignore[arg-type]

    handler: Any = answer
    client.meta.events.register("before-send.dynamodb", handler)
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.dynamodb", handler)


def first(count: int) -> Callable[[str], bool]:
    """Fail the first ``count`` requests, then let everything through."""
    remaining = [count]

    def decide(_operation: str) -> bool:
        remaining[0] -= 1
        return remaining[0] >= 0

    return decide


def settle(dynamodb: Any, settings: Settings, department_id: str) -> None:
    """Move the department's last change ``INDEX_SETTLE`` into the past, as if a minute
    had gone by: lists then trust the index again and answer polls from the version."""
    earlier = datetime.now(UTC) - INDEX_SETTLE - timedelta(seconds=1)
    dynamodb.update_item(  # the department's calendar item
        TableName=settings.events_table,
        Key={"id": {"S": f"#calendar#{department_id}"}, "department_id": {"S": department_id}},
        UpdateExpression="SET changed_at = :t",
        ConditionExpression="attribute_exists(id)",
        ExpressionAttributeValues={":t": {"S": earlier.isoformat(timespec="milliseconds")}},
    )
