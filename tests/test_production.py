"""Production: AWS or refuse to start, tokens required, strong keys, logs CloudWatch reads."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cfnlint.decode import decode

from backend import create_app
from backend.config import (
    MIN_SECRET_BITS,
    Mode,
    Settings,
    configure_logging,
    secret_key_weakness,
)
from backend.errors import ConfigError
from backend.storage import Storage
from backend.storage.dynamo import make_client

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
# Made with secrets.token_urlsafe(32), as the docs say to make them.
STRONG = "fnH_e9fhYY06uoYW1br0aikEhae0jy2s9x1S3K8qB9k"
TOKENS = "dWM0AyUcyMKmbtc-rfZb8PBj276DD_V4fS6H5K-1ir8"


def from_env(env: dict[str, str]) -> Settings:
    return Settings.from_env(environ=env, dotenv_path=None)


def production(**extra: str) -> dict[str, str]:
    return {"FLASK_ENV": "production", "SECRET_KEY": STRONG, "API_TOKENS": TOKENS, **extra}


def test_production_without_aws_settings_means_aws_with_the_default_chain() -> None:
    settings = from_env(production())

    assert settings.mode is Mode.AWS
    assert settings.aws_access_key_id is None


def test_production_refuses_the_embedded_engine() -> None:
    with pytest.raises(ConfigError, match="DYNAMODB_MODE=local"):
        from_env(production(DYNAMODB_MODE="local"))


@pytest.mark.parametrize("mistyped", ["prod", "Production ", "staging"])
def test_a_mistyped_flask_env_is_refused(mistyped: str) -> None:
    with pytest.raises(ConfigError, match="FLASK_ENV"):
        from_env({"FLASK_ENV": mistyped})


def test_production_needs_tokens_unless_open_writes_are_asked_for() -> None:
    env = production()
    del env["API_TOKENS"]

    with pytest.raises(ConfigError, match="ALLOW_OPEN_WRITES=true"):
        from_env(env)
    assert from_env({**env, "ALLOW_OPEN_WRITES": "true"}).allow_open_writes
    with pytest.raises(ConfigError, match="ALLOW_OPEN_WRITES"):
        from_env({**env, "ALLOW_OPEN_WRITES": "yes please"})


# Long enough by length alone, guessable all the same: words, runs, repeats, keyboard walks,
# the hex of a small number, a random token too short for 128 bits.
WEAK_SECRETS = {
    "dictionary and sequence": "password1234567890abcdefghijkl",
    "one character": "a" * 64,
    "a repeated block": "abc" * 20,
    "a keyboard walk": "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p-=[];./",
    "a keyboard row": "qwertyuiopasdfghjklzxcvbnm1234567890qwertyuiop",
    "a repeated word": "calendar" * 6,
    "a repeated password": "Tr0ub4dor&3" * 4,
    "a phrase": "department-calendar-production-token-2024",
    "hex of 1": "0" * 63 + "1",
    "an alphabet": "abcdefghijklmnopqrstuvwxyz0123456789",
    "random but short": "pR0d-Tq8vKx2mZ7nW4yB9cLf",
    "a uuid's hex": "4f1c2a9e8b7d4e6fa3c5b1d2e7f80912",
}


@pytest.mark.parametrize("weak", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_weak_secret_keys_are_refused_whatever_their_length(weak: str) -> None:
    assert secret_key_weakness(weak) is not None
    with pytest.raises(ConfigError, match="strong SECRET_KEY") as refused:
        from_env(production(SECRET_KEY=weak))
    assert f"fewer than {MIN_SECRET_BITS}" in str(refused.value)
    assert weak not in str(refused.value)


@pytest.mark.parametrize("weak", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_weak_api_tokens_are_refused_by_position_never_by_value(weak: str) -> None:
    with pytest.raises(ConfigError) as refused:
        from_env(production(API_TOKENS=f"{TOKENS},{weak}"))

    message = str(refused.value)
    assert "API_TOKENS: token 2 of 2 is too weak" in message
    assert f"fewer than {MIN_SECRET_BITS}" in message
    assert weak not in message
    assert not any(weak[i : i + 10] in message for i in range(len(weak) - 9))
    assert TOKENS not in message


def test_generated_api_tokens_pass() -> None:
    import secrets  # noqa: PLC0415

    tokens = ",".join(secrets.token_urlsafe(32) for _ in range(3))
    assert len(from_env(production(API_TOKENS=tokens)).api_tokens) == 3


def test_generated_secret_keys_pass() -> None:
    import secrets  # noqa: PLC0415

    assert all(secret_key_weakness(secrets.token_urlsafe(32)) is None for _ in range(50))
    assert all(secret_key_weakness(secrets.token_hex(32)) is None for _ in range(50))


def test_production_with_no_credentials_fails_fast_naming_dynamodb_mode(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        # No instance metadata lookups from a test machine (the check itself is the chain's).
        "AWS_EC2_METADATA_DISABLED": "true",
        **production(),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started

    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert elapsed < 10, elapsed
    assert "DYNAMODB_MODE=aws" in output
    assert "no AWS credentials" in output
    assert "Traceback" not in output
    assert "embedded" in output  # says how to get the development engine instead


def test_elastic_beanstalk_needs_nothing_but_an_instance_role_and_its_secrets() -> None:
    config = yaml.safe_load((ROOT / ".ebextensions" / "01-calendar.config").read_text())
    options = config["option_settings"]
    environment = options["aws:elasticbeanstalk:application:environment"]

    settings = from_env({**environment, "SECRET_KEY": STRONG, "API_TOKENS": TOKENS})

    assert settings.mode is Mode.AWS
    assert (settings.aws_access_key_id, settings.aws_profile) == (None, None)
    assert options["aws:elasticbeanstalk:environment:proxy"]["ProxyServer"] == "nginx"


def test_the_template_deploys_neither_open_writes_nor_plain_http_to_the_bucket() -> None:
    parsed, problems = decode(str(ROOT / "deploy" / "template.yaml"))
    assert not problems
    assert parsed is not None
    tokens = parsed["Parameters"]["ApiTokens"]
    statement = parsed["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]

    assert "Default" not in tokens
    assert tokens["MinLength"] >= 16
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_iam_policies_name_no_account_wildcard() -> None:
    for name in ("iam-policy.json", "iam-admin-policy.json"):
        text = (ROOT / "deploy" / name).read_text()
        assert ":*:" not in text, name


def test_the_lambda_timeout_covers_the_worst_case_of_a_dynamodb_call() -> None:
    client = make_client(
        region="ap-northeast-2", endpoint_url="http://127.0.0.1:9", access_key="x", secret_key="x"
    )
    config: Any = client.meta.config  # botocore's Config declares its fields dynamically
    attempts = config.retries["total_max_attempts"]  # the first try included
    # botocore's standard mode waits at most 2**n seconds (capped at 20) before retry n+1.
    backoff = sum(min(20, 2**n) for n in range(attempts - 1))
    worst = attempts * (config.connect_timeout + config.read_timeout) + backoff
    parsed, _ = decode(str(ROOT / "deploy" / "template.yaml"))
    assert parsed is not None

    assert parsed["Resources"]["ApiFunction"]["Properties"]["Timeout"] >= worst


# The embedded metric format's specification (CloudWatch User Guide, "Specification: Embedded
# metric format"), as JSON Schema: what CloudWatch requires of a line to extract metrics.
_METRIC_NAME = {"type": "string", "minLength": 1, "maxLength": 1024}
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _METRIC_NAME,
                                        "Unit": {
                                            "enum": [
                                                "Seconds", "Microseconds", "Milliseconds",
                                                "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
                                                "Terabytes", "Bits", "Kilobits", "Megabits",
                                                "Gigabits", "Terabits", "Percent", "Count",
                                                "Bytes/Second", "Kilobytes/Second",
                                                "Megabytes/Second", "Gigabytes/Second",
                                                "Terabytes/Second", "Bits/Second",
                                                "Kilobits/Second", "Megabits/Second",
                                                "Gigabits/Second", "Terabits/Second",
                                                "Count/Second", "None",
                                            ]
                                        },
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}  # fmt: skip


def _formatted_lines(log_format: str, app: Any, *paths: str) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(log_format, "INFO")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        client = app.test_client()
        for path in paths:
            client.get(path)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    return stream.getvalue()


def test_the_written_access_line_carries_a_valid_emf_block(
    settings: Settings, storage: Storage
) -> None:
    output = _formatted_lines("json", create_app(settings, storage), "/api/departments")

    line = next(
        json.loads(text)
        for text in output.splitlines()
        if json.loads(text).get("logger") == "backend.access"
    )
    jsonschema.validate(line, EMF_SCHEMA)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    # Every dimension and metric named must be a top-level member, metrics numeric.
    for dimension_set in directive["Dimensions"]:
        for dimension in dimension_set:
            assert isinstance(line[dimension], str)
    for metric in directive["Metrics"]:
        assert isinstance(line[metric["Name"]], int | float)
    age = datetime.now(UTC).timestamp() * 1000 - line["_aws"]["Timestamp"]
    assert 0 <= age < 60_000  # CloudWatch drops timestamps over 2 weeks old or 2 h ahead


def test_text_logs_cannot_be_forged_through_a_request_path(
    settings: Settings, storage: Storage
) -> None:
    output = _formatted_lines(
        "text", create_app(settings, storage), "/x%0A2026-01-01 00:00:00 INFO forged: hi"
    )

    lines = [line for line in output.splitlines() if "backend.access" in line]
    assert len(lines) == 1
    assert "\\x0a2026-01-01" in lines[0]
    assert not any(
        line.startswith("2026-01-01 00:00:00 INFO forged") for line in output.splitlines()
    )


def test_processes_creating_the_development_key_at_once_all_get_the_same_full_key(
    tmp_path: Path,
) -> None:
    settings = replace(Settings(), local_dir=tmp_path / "localdb")
    barrier = threading.Barrier(16)
    keys: list[str] = []

    def resolve() -> None:
        barrier.wait()
        keys.append(settings.resolved_secret_key())

    threads = [threading.Thread(target=resolve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 16
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32
    assert sorted(p.name for p in (tmp_path / "localdb").iterdir()) == ["secret-key"]
