"""schemathesis' own CLI against a live server: every check, every phase, no failure.

The same command an operator or CI would type (``schemathesis run URL --checks all``) with
100 examples per operation, writes guarded by a bearer token so the ``ignored_auth``
check has something to check. ``tests/schemathesis.toml`` lists, per operation, the
statuses a schema-valid request may rightly get for rules JSON Schema cannot state.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from backend import create_app
from backend.config import Settings
from backend.storage import Storage
from tests.live_server import serving

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
TOKEN = "fuzz-test-token-0123456789abcdef"
EXAMPLES = 100


@pytest.fixture
def live(settings: Settings, storage: Storage) -> Iterator[str]:
    with serving(create_app(replace(settings, api_tokens=(TOKEN,)), storage)) as url:
        yield url


@pytest.mark.slow
def test_schemathesis_cli_finds_no_failure(live: str, tmp_path: Path) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--seed",
        "20240125",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=420, check=False, cwd=tmp_path
    )

    output = result.stdout + result.stderr
    summary = output.strip().splitlines()[-1]
    print(summary)  # the run's closing line, kept in the test report
    assert result.returncode == 0, output[-6000:]
    assert "Selected: 26/26" in output
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None, output[-3000:]
    assert generated[1] == generated[2]
    assert "failure" not in summary


@pytest.fixture
def open_server(settings: Settings, storage: Storage) -> Iterator[str]:
    with serving(create_app(settings, storage)) as url:
        yield url


@pytest.mark.slow
def test_a_server_without_tokens_is_described_as_open(open_server: str, tmp_path: Path) -> None:
    """The zero-config server's document claims no bearer token, so schemathesis' default
    checks find no "API accepts invalid authentication" (nor anything else)."""
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{open_server}/openapi.json",
        "--phases",
        "examples,coverage",
        "--max-examples",
        "10",
        "--seed",
        "20240125",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )

    output = result.stdout + result.stderr
    assert "invalid authentication" not in output, output[-6000:]
    assert result.returncode == 0, output[-6000:]
    assert "Selected: 26/26" in output
