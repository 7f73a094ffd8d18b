"""Bearer tokens for writes, CORS by allow-list, security headers, production warnings."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from backend import create_app
from backend.api.security import token_is_valid
from backend.config import Settings
from backend.errors import ConfigError
from backend.storage import Storage
from tests.helpers import assert_problem

TOKEN = "calendar-writer-token-0123456789"
OTHER = "second-writer-token-abcdefghijk"


@pytest.fixture
def guarded(settings: Settings, storage: Storage) -> FlaskClient:
    secured = Settings(**{**settings.__dict__, "api_tokens": (TOKEN, OTHER)})
    return create_app(secured, storage).test_client()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token-0123456789",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        TOKEN,
    ],
)
def test_writes_without_a_valid_token_are_401(
    guarded: FlaskClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = guarded.post("/api/departments", json={"name": "개발팀"}, headers=headers)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert guarded.get("/api/departments").get_json()["items"] == []


@pytest.mark.parametrize("token", [TOKEN, OTHER])
def test_writes_with_any_configured_token_pass(guarded: FlaskClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}

    created = guarded.post("/api/departments", json={"name": "개발팀"}, headers=auth)
    url = created.headers["Location"]

    assert created.status_code == 201
    assert guarded.patch(url, json={"description": "x"}, headers=auth).status_code == 200
    assert_problem(guarded.delete(url), 401)
    assert guarded.delete(url, headers=auth).status_code == 204


def test_reads_stay_open_when_tokens_are_set(guarded: FlaskClient) -> None:
    assert guarded.get("/api/departments").status_code == 200
    assert guarded.get("/healthz").status_code == 200


def test_token_comparison_needs_the_bearer_scheme() -> None:
    assert token_is_valid(f"bearer {TOKEN}", (TOKEN,))
    assert not token_is_valid(f"Bearer {TOKEN}", ())
    assert not token_is_valid(None, (TOKEN,))


def test_production_warns_loudly_when_writes_are_open(
    settings: Settings, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    production = Settings(
        **{**settings.__dict__, "flask_env": "production", "allow_open_writes": True}
    )

    with caplog.at_level("WARNING", logger="backend.api.security"):
        create_app(production, storage)

    assert "WRITES ARE OPEN, as ALLOW_OPEN_WRITES=true asks" in caplog.text


def test_production_refuses_open_writes_unless_asked(settings: Settings, storage: Storage) -> None:
    production = Settings(**{**settings.__dict__, "flask_env": "production"})

    with pytest.raises(ConfigError, match="ALLOW_OPEN_WRITES"):
        create_app(production, storage)


@pytest.fixture
def browser_app(settings: Settings, storage: Storage) -> FlaskClient:
    allowed = Settings(**{**settings.__dict__, "cors_origins": ("https://calendar.example.com",)})
    return create_app(allowed, storage).test_client()


def test_cors_allows_listed_origins_only(browser_app: FlaskClient) -> None:
    allowed = browser_app.get(
        "/api/departments", headers={"Origin": "https://calendar.example.com"}
    )
    refused = browser_app.get("/api/departments", headers={"Origin": "https://evil.example.net"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://calendar.example.com"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_cors_preflight_for_a_conditional_patch(browser_app: FlaskClient) -> None:
    response = browser_app.options(
        "/api/departments/x",
        headers={
            "Origin": "https://calendar.example.com",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type, if-match",
        },
    )

    assert response.status_code == 200
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "if-match" in response.headers["Access-Control-Allow-Headers"].lower()


def test_no_cors_headers_without_an_allow_list(client: FlaskClient) -> None:
    response = client.get("/api/departments", headers={"Origin": "https://calendar.example.com"})

    assert "Access-Control-Allow-Origin" not in response.headers


def test_security_headers_on_api_and_docs(client: FlaskClient) -> None:
    api = client.get("/api/departments")
    docs = client.get("/docs")

    for response in (api, docs):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "script-src" not in docs.headers["Content-Security-Policy"]
    assert docs.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_hsts_only_in_production(settings: Settings, storage: Storage) -> None:
    production = Settings(
        **{**settings.__dict__, "flask_env": "production", "api_tokens": (TOKEN,)}
    )

    assert (
        "Strict-Transport-Security"
        in create_app(production, storage).test_client().get("/healthz").headers
    )
    assert (
        "Strict-Transport-Security"
        not in create_app(settings, storage).test_client().get("/healthz").headers
    )
