"""Settings: which DynamoDB a process uses, and configurations refused with advice."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from backend.config import Mode, Settings
from backend.errors import ConfigError
from backend.storage.dynamo import make_client


def from_env(env: dict[str, str], dotenv: Path | None = None) -> Settings:
    return Settings.from_env(environ=env, dotenv_path=dotenv)


def test_no_aws_settings_means_the_embedded_local_engine() -> None:
    settings = from_env({})

    assert settings.mode is Mode.LOCAL
    assert settings.departments_table == "departments"
    assert settings.events_table == "events"
    assert settings.region == "ap-northeast-2"


def test_a_region_alone_does_not_reach_for_aws() -> None:
    assert from_env({"AWS_REGION": "us-west-2"}).mode is Mode.LOCAL


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_ACCESS_KEY_ID": "AKIAREALKEY", "AWS_SECRET_ACCESS_KEY": "s3cr3t"},
        {"AWS_PROFILE": "calendar"},
        {"AWS_LAMBDA_FUNCTION_NAME": "calendar-api"},
        {"DYNAMODB_MODE": "aws"},
    ],
)
def test_configured_credentials_mean_aws(env: dict[str, str]) -> None:
    assert from_env(env).mode is Mode.AWS


def test_endpoint_variable_selects_that_endpoint_and_table_names_come_from_env() -> None:
    settings = from_env(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
            "DEPARTMENTS_TABLE": "dept-staging",
            "EVENTS_TABLE": "events-staging",
        }
    )

    assert settings.mode is Mode.ENDPOINT
    assert settings.endpoint_url == "http://127.0.0.1:8000"
    assert (settings.departments_table, settings.events_table) == ("dept-staging", "events-staging")


def test_the_seed_dotenv_placeholders_are_refused_with_what_to_set(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "AWS_REGION=ap-northeast-2\n"
        "AWS_ACCESS_KEY_ID=your_access_key_id_here\n"
        "AWS_SECRET_ACCESS_KEY=your_secret_access_key_here\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as error:
        from_env({}, dotenv)

    message = str(error.value)
    assert "AWS_ACCESS_KEY_ID" in message
    assert str(dotenv) in message
    assert "embedded local DynamoDB" in message


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY"):
        from_env({"AWS_ACCESS_KEY_ID": "AKIAREALKEY"})


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("EVENTS_TABLE=from-file\nDEPARTMENTS_TABLE=dept-file\n", encoding="utf-8")

    settings = from_env({"EVENTS_TABLE": "from-env"}, dotenv)

    assert settings.events_table == "from-env"
    assert settings.departments_table == "dept-file"


@pytest.mark.parametrize("secret", [None, "your-secret-key-change-in-production", "short"])
def test_production_refuses_a_missing_or_placeholder_secret_key(secret: str | None) -> None:
    env = {"FLASK_ENV": "production"} | ({"SECRET_KEY": secret} if secret else {})

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        from_env(env)


def test_development_without_secret_key_keeps_one_generated_key(tmp_path: Path) -> None:
    settings = from_env({"LOCAL_DYNAMODB_DIR": str(tmp_path)})

    first = settings.resolved_secret_key()

    assert len(first) >= 32
    assert settings.resolved_secret_key() == first
    assert (tmp_path / "secret-key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DYNAMODB_MODE": "cloud"}, "DYNAMODB_MODE"),
        ({"DYNAMODB_MODE": "endpoint"}, "AWS_ENDPOINT_URL_DYNAMODB"),
        ({"DYNAMODB_MAX_POOL_CONNECTIONS": "many"}, "DYNAMODB_MAX_POOL_CONNECTIONS"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_env(env)


@pytest.mark.parametrize(
    ("given", "scopes"),
    [
        (None, "openid email profile"),
        ("openid email profile groups", "openid email profile groups"),
        ("  email   profile ", "openid email profile"),  # the page signs in with an ID token
        ("openid openid email", "openid email"),
    ],
)
def test_the_pages_scopes_default_to_openid_email_profile(given: str | None, scopes: str) -> None:
    env = {"OIDC_ISSUER": "https://login.example.com", "OIDC_CLIENT_ID": "calendar-page"}
    if given is not None:
        env["OIDC_SCOPES"] = given
    settings = from_env(env)
    assert settings.oidc_scopes == scopes
    assert settings.oidc_audiences == ("calendar-page",)  # the page's ID tokens are accepted


def test_env_example_lists_every_variable_settings_read() -> None:
    example = (Path(__file__).parent.parent / ".env.example").read_text(encoding="utf-8")
    source = (Path(__file__).parent.parent / "backend" / "config.py").read_text(encoding="utf-8")
    import re  # noqa: PLC0415

    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert read <= listed, sorted(read - listed)


def _signing_key(client: Any) -> str:
    return str(client._request_signer._credentials.access_key)


def test_explicit_keys_win_over_a_profile_and_each_client_reads_credentials_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[team]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = secret\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    common: dict[str, Any] = {"region": "ap-northeast-2", "endpoint_url": None}

    explicit = make_client(**common, access_key="EXPLICIT", secret_key="s", profile="team")
    profile = make_client(**common, access_key=None, secret_key=None, profile="team")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FIRST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    first = make_client(**common, access_key=None, secret_key=None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "SECOND")
    second = make_client(**common, access_key=None, secret_key=None)

    assert _signing_key(explicit) == "EXPLICIT"
    assert _signing_key(profile) == "PROFILEKEY"
    assert (_signing_key(first), _signing_key(second)) == ("FIRST", "SECOND")
    assert "Boto3/" in second.meta.config.user_agent  # type: ignore[attr-defined]


def test_service_tokens_may_be_named_and_the_name_never_holds_the_token() -> None:
    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    settings = from_env({"API_TOKENS": f"nightly-import:{first}, {second}"})

    assert settings.api_tokens == (first, second)
    assert settings.api_token_names == ("nightly-import", "token-2")
    with pytest.raises(ConfigError, match="same name"):
        from_env({"API_TOKENS": f"a:{first},a:{second}"})
    with pytest.raises(ConfigError, match="entry 1") as refused:
        from_env({"API_TOKENS": f"bad name:{first}"})
    assert first not in str(refused.value)


def test_sign_in_needs_an_https_issuer_and_an_audience() -> None:
    issuer = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_AbCdEfGhI"

    settings = from_env({"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": "page-client"})

    assert settings.oidc_issuer == issuer
    assert settings.oidc_audiences == ("page-client",)  # the page's ID tokens
    assert from_env({"OIDC_ISSUER": "http://127.0.0.1:8080", "OIDC_AUDIENCE": "x"}).oidc_issuer
    with pytest.raises(ConfigError, match="https"):
        from_env({"OIDC_ISSUER": "http://sso.example.com", "OIDC_AUDIENCE": "x"})
    with pytest.raises(ConfigError, match="OIDC_AUDIENCE"):
        from_env({"OIDC_ISSUER": issuer})
    with pytest.raises(ConfigError, match="without OIDC_ISSUER"):
        from_env({"OIDC_AUDIENCE": "x"})


def test_production_starts_with_sign_in_alone() -> None:
    settings = from_env(
        {
            "FLASK_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "OIDC_ISSUER": "https://sso.example.com/realms/company",
            "OIDC_AUDIENCE": "calendar",
        }
    )

    assert settings.is_production
    assert settings.api_tokens == ()
