"""The API on Lambda: real API Gateway HTTP API (v2) and Function URL events through apig-wsgi."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask import Flask

from backend.config import Settings
from backend.lambda_handler import IMPORT_JOB, make_api_handler, run_job_event, self_invoker
from backend.services.import_jobs import job_status, start_import
from backend.storage import Storage
from backend.storage.imports import CHUNK_ENTRIES
from tests.test_import_batches import calendar_file


def v2_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
    query: str = "",
    function_url: bool = False,
) -> dict[str, Any]:
    """An event as API Gateway HTTP API (payload 2.0) or a Lambda Function URL sends it."""
    domain = (
        "abcdefghij.lambda-url.ap-northeast-2.on.aws"
        if function_url
        else "abcdefghij.execute-api.ap-northeast-2.amazonaws.com"
    )
    all_headers = {"host": domain, "user-agent": "curl/8.5.0", "accept": "*/*", **(headers or {})}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012" if not function_url else "anonymous",
            "apiId": "abcdefghij",
            "domainName": domain,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795305600000,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    if body is not None:
        event["body"] = body
    return event


@pytest.fixture
def handler(app: Flask) -> Any:
    return make_api_handler(app)


def body_of(response: dict[str, Any]) -> Any:
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    return json.loads(raw)


@pytest.mark.parametrize("function_url", [False, True], ids=["http-api-v2", "function-url"])
def test_create_with_a_korean_body_then_list(handler: Any, function_url: bool) -> None:
    created = handler(
        v2_event(
            "POST",
            "/api/departments",
            body=json.dumps({"name": "개발팀", "description": "백엔드 🚀"}, ensure_ascii=False),
            headers={"content-type": "application/json", "x-request-id": "lambda-1"},
            function_url=function_url,
        ),
        None,
    )
    listed = handler(
        v2_event("GET", "/api/departments", query="limit=10", function_url=function_url), None
    )

    assert created["statusCode"] == 201
    assert created["headers"]["etag"] == '"1"' or created["headers"].get("ETag") == '"1"'
    headers = {k.lower(): v for k, v in created["headers"].items()}
    assert headers["location"].startswith("/api/departments/")
    assert headers["x-request-id"] == "lambda-1"
    assert body_of(created)["name"] == "개발팀"
    assert listed["statusCode"] == 200
    assert [d["description"] for d in body_of(listed)["items"]] == ["백엔드 🚀"]


def test_a_base64_encoded_body_is_decoded(handler: Any) -> None:
    raw = json.dumps({"name": "마케팅팀"}, ensure_ascii=False).encode("utf-8")
    response = handler(
        v2_event(
            "POST",
            "/api/departments",
            body=base64.b64encode(raw).decode("ascii"),
            base64_body=True,
            headers={"content-type": "application/json; charset=utf-8"},
        ),
        None,
    )

    assert response["statusCode"] == 201
    assert body_of(response)["name"] == "마케팅팀"


def test_errors_come_back_as_problem_json(handler: Any) -> None:
    missing = handler(v2_event("GET", "/api/departments/no-such-id"), None)
    invalid = handler(
        v2_event(
            "POST", "/api/departments", body="{", headers={"content-type": "application/json"}
        ),
        None,
    )

    for response, status in ((missing, 404), (invalid, 400)):
        headers = {k.lower(): v for k, v in response["headers"].items()}
        assert response["statusCode"] == status
        assert headers["content-type"] == "application/problem+json"
        assert body_of(response)["status"] == status


def test_conditional_get_and_month_query_through_lambda(handler: Any) -> None:
    created = body_of(
        handler(
            v2_event(
                "POST",
                "/api/departments",
                body='{"name": "QA"}',
                headers={"content-type": "application/json"},
            ),
            None,
        )
    )
    url = f"/api/departments/{created['id']}"

    not_modified = handler(v2_event("GET", url, headers={"if-none-match": '"1"'}), None)
    events = handler(v2_event("GET", f"/api/events/{created['id']}", query="month=2024-01"), None)

    assert not_modified["statusCode"] == 304
    assert events["statusCode"] == 200
    assert body_of(events) == {"items": [], "next_cursor": None}


class _Lambda:
    def __init__(self) -> None:
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, **params: Any) -> None:
        self.invoked.append(params)


def test_an_import_job_is_handed_to_another_invocation_and_on_near_the_timeout(
    client: Any, storage: Storage, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "calendar-ApiFunction-x1")
    fake = _Lambda()
    start = self_invoker(settings, fake)
    department = client.post("/api/departments", json={"name": "개발팀"}).get_json()["id"]
    job = start_import(
        storage, department, calendar_file(CHUNK_ENTRIES + 10, 5),
        timezone="Asia/Seoul", domain="localhost", dry_run=False,
    )  # fmt: skip

    start(department, job.id)
    [call] = fake.invoked
    assert (call["FunctionName"], call["InvocationType"]) == ("calendar-ApiFunction-x1", "Event")
    event = json.loads(call["Payload"])
    assert event == {IMPORT_JOB: {"department_id": department, "job_id": job.id}}
    # An invocation with little time left applies one chunk and hands the rest on ...
    short = run_job_event(storage, event[IMPORT_JOB], lambda: 1.0, start)
    assert short == {"job_id": job.id, "finished": False, "handed_on": True}
    assert len(fake.invoked) == 2
    # ... and the next one finishes it.
    done = run_job_event(storage, event[IMPORT_JOB], lambda: 30.0, start)
    assert done["finished"] is True
    assert job_status(storage, department, job.id).result == {
        "created": CHUNK_ENTRIES + 10, "updated": 0, "unchanged": 0, "deleted": 0,
        "rejected": [], "dry_run": False,
    }  # fmt: skip
