"""Service endpoints: /healthz, /readyz, /openapi.json and the offline /docs page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from backend import create_app
from backend.config import Settings
from backend.storage.connection import connect
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
    assert len(ids) == len(set(ids)) == 14


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
