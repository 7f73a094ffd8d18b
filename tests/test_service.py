"""Service endpoints: /healthz, /readyz, /openapi.json and the offline /docs page."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from backend import create_app
from backend.api.calendar import MAX_IMPORT_BYTES
from backend.api.inputs import DEFAULT_LIMIT, MAX_LIMIT, SEARCH_MAX
from backend.config import Settings
from backend.fields import MAX_EVENT_DAYS, TITLE_MAX
from backend.services.departments import CASCADE_BUDGET
from backend.services.idempotency import MAX_KEY_LENGTH
from backend.storage import Storage
from backend.storage.connection import connect
from backend.storage.idempotency import KEEP_HOURS
from tests.helpers import create_department, local_aws_client, storage_without_retries


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_both_tables_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_readyz_names_a_missing_table(settings: Settings) -> None:
    storage, _ = connect(settings)
    storage.create_tables()
    local_aws_client("dynamodb", str(settings.endpoint_url)).delete_table(
        TableName=settings.events_table
    )
    client = create_app(settings, storage).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert any(settings.events_table in p and "does not exist" in p for p in body["problems"])
    assert response.headers["Retry-After"]


def test_requests_against_a_missing_table_are_503_with_retry_after(settings: Settings) -> None:
    storage, _ = connect(settings)  # tables never created
    client = create_app(settings, storage).test_client()

    response = client.get("/api/departments")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def test_unreachable_dynamodb_is_503_not_a_traceback(settings: Settings) -> None:
    unreachable = Settings(**{**settings.__dict__, "endpoint_url": "http://127.0.0.1:9"})
    storage, _ = storage_without_retries(unreachable)
    client = create_app(unreachable, storage).test_client()

    response = client.post("/api/departments", json={"name": "개발팀"})

    assert response.status_code == 503
    assert response.get_json()["type"] == "/problems/storage-unavailable"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").get_json()
    return body


def test_openapi_document_is_valid_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    validate(openapi)


def test_openapi_covers_every_route_of_the_app(app: Flask, openapi: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("page."):  # the calendar page and its assets: not API
            continue
        if rule.endpoint.endswith("static") or rule.rule in {
            "/openapi.json",
            "/docs",
            "/problems/<slug>",
        }:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served |= {(m, path) for m in rule.methods or () if m not in {"HEAD", "OPTIONS"}}

    assert served == documented


def test_every_operation_has_an_id_for_client_generators(openapi: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for item in openapi["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids)) == 26


def test_documented_problem_types_resolve(client: FlaskClient) -> None:
    response = client.get("/problems/validation-error")

    assert response.status_code == 200
    assert response.get_json()["type"] == "/problems/validation-error"


def test_docs_page_works_offline(client: FlaskClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "swagger-ui" in html
    assert "http://" not in html
    assert "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.get_data()
        response.close()


def test_responses_are_utf8_json_with_korean_readable(client: FlaskClient) -> None:
    create_department(client, "개발팀", description="백엔드/프론트엔드 개발 🚀")

    raw = client.get("/api/departments").get_data()

    assert "백엔드/프론트엔드 개발 🚀".encode() in raw


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        op["operationId"]: (method, op)
        for item in document["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    }


WRITES = {
    "createDepartment",
    "updateDepartment",
    "deleteDepartment",
    "importEvents",
    "createEvent",
    "updateEvent",
    "deleteEvent",
    "createWebhook",
    "deleteWebhook",
    "putMember",
    "deleteMember",
    "rotateFeedKey",
}
# Reads that show credentials (webhook URLs, members, the feed's secret address): they
# need the token where writes do.
GUARDED_READS = {"listWebhooks", "getWebhook", "listMembers", "getFeedKey", "getImportJob"}


def test_a_server_without_tokens_does_not_claim_writes_need_one(
    openapi: dict[str, Any],
) -> None:
    for operation_id, (_, op) in _operations(openapi).items():
        assert op["security"] == [], operation_id
        assert "401" not in op["responses"], operation_id
    assert "open" in openapi["info"]["description"]


def test_a_server_with_tokens_says_which_operations_need_one(
    settings: Settings, storage: Storage
) -> None:
    guarded = create_app(replace(settings, api_tokens=("a-token-0123456789abcdef",)), storage)
    document: dict[str, Any] = guarded.test_client().get("/openapi.json").get_json()
    validate(document)
    for operation_id, (method, op) in _operations(document).items():
        write = operation_id in WRITES | GUARDED_READS
        assert (method != "get") == (operation_id in WRITES), operation_id
        assert op["security"] == ([{"bearerAuth": []}] if write else []), operation_id
        assert ("401" in op["responses"]) == write, operation_id


def test_the_document_states_the_numbers_the_code_uses(openapi: dict[str, Any]) -> None:
    limit = openapi["components"]["parameters"]["Limit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (MAX_LIMIT, DEFAULT_LIMIT)
    key = openapi["components"]["parameters"]["IdempotencyKey"]
    assert key["schema"]["maxLength"] == MAX_KEY_LENGTH
    assert f"{KEEP_HOURS} hours" in key["description"]
    operations = _operations(openapi)
    search = next(p for p in operations["listEvents"][1]["parameters"] if p.get("name") == "q")
    assert search["schema"]["maxLength"] == SEARCH_MAX
    assert (
        f"at most {CASCADE_BUDGET} per request" in operations["deleteDepartment"][1]["description"]
    )
    assert f"{MAX_IMPORT_BYTES // 2**20} MiB" in operations["importEvents"][1]["description"]
    event = openapi["components"]["schemas"]["EventCreate"]["properties"]
    assert event["title"]["maxLength"] == TITLE_MAX
    assert str(MAX_EVENT_DAYS) in event["end_date"]["description"]


def test_query_parameters_are_checked_before_conditional_headers(client: FlaskClient) -> None:
    department = client.post("/api/departments", json={"name": "개발팀"}).get_json()
    url = f"/api/events/{department['id']}?month=2024-01&from=2024-01-05&cursor=garbled"

    response = client.get(url, headers={"If-None-Match": "*"})

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "cursor"
