"""What ships: the product without the embedded engine, and a clear word where it is missing.

``localdb/`` (the embedded DynamoDB) is a development tool of the checkout: the wheel and
the Lambda package hold ``backend/`` only, with the files it reads at run time (the report
e-mail's templates, the calendar page and the API docs). Started without AWS settings,
such an install says in one line what to do instead of showing a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from backend import create_app
from backend.config import Mode, Settings
from backend.errors import ConfigError
from backend.storage.connection import ENGINE_NOT_INSTALLED, connect

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"

# Files the product reads at run time, besides its modules.
RUNTIME_FILES = [
    "backend/report/templates/report.html.j2",
    "backend/report/templates/report.txt.j2",
    "backend/api/templates/calendar.html",
    "backend/api/static/docs.js",
    "backend/api/static/calendar/calendar.js",
    "backend/api/static/swagger-ui/swagger-ui-bundle.js",
]

# Makes ``localdb`` unimportable, as in an install that does not have it.
NO_ENGINE = """
import sys

class NoEngine:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "localdb":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoEngine)
"""

# In an install: the report e-mail rendered, and a start without AWS settings.
INSTALLED_CHECK = """
import json, sys, tempfile
from datetime import date
from pathlib import Path

import backend
from backend.config import Mode, Settings
from backend.domain import Department, Event
from backend.errors import ConfigError
from backend.report.job import render

try:
    import localdb
    engine = localdb.__file__
except ModuleNotFoundError:
    engine = None

stamp = "2024-01-01T00:00:00Z"
department = Department("d1", "개발팀", None, stamp, stamp, 1)
event = Event("e1", "d1", "2024-01-20", "팀 회의", "오후 2:00", "14:00", None, stamp, stamp, 1)
subject, html, text = render(department, [event], date(2024, 1, 20), 7)

try:
    backend.create_app(
        Settings(mode=Mode.LOCAL, local_dir=Path(tempfile.mkdtemp()), secret_key="k" * 32)
    )
    start = "started"
except ConfigError as exc:
    start = str(exc)

print(json.dumps({
    "backend": backend.__file__, "engine": engine, "subject": subject, "html": html,
    "text": text, "start": start,
}))
"""


def _no_aws_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LOCAL_DYNAMODB_DIR": str(tmp_path / "localdb"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }


def _run_installed(tree: Path, code: str, tmp_path: Path) -> dict[str, Any]:
    """``code`` on ``tree`` and this environment's installed packages, not on the checkout
    (isolated mode, and no site processing, so no editable install's path either)."""
    paths = sysconfig.get_paths()
    prelude = (
        "import sys; "
        f"sys.path[:0] = [{str(tree)!r}]; "
        f"sys.path += [{paths['purelib']!r}, {paths['platlib']!r}]\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        cwd=tmp_path,
        env=_no_aws_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def _assert_a_production_install(answer: dict[str, Any], tree: Path) -> None:
    assert Path(answer["backend"]).is_relative_to(tree), answer["backend"]
    assert answer["engine"] is None
    assert answer["subject"].startswith("[부서 캘린더] 개발팀")
    assert "팀 회의" in answer["html"]
    assert "팀 회의" in answer["text"]
    assert "다가오는 일정" in answer["text"]
    assert answer["start"] == ENGINE_NOT_INSTALLED


def test_without_the_engine_package_a_local_start_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "localdb", None)  # import localdb: ModuleNotFoundError
    local = Settings(mode=Mode.LOCAL, local_dir=tmp_path / "localdb", secret_key="k" * 32)

    with pytest.raises(ConfigError) as connecting:
        connect(local)
    with pytest.raises(ConfigError) as starting:
        create_app(local)

    message = str(connecting.value)
    assert str(starting.value) == message == ENGINE_NOT_INSTALLED
    assert "\n" not in message
    assert "development tool" in message
    assert "./scripts/serve" in message
    assert "AWS_ACCESS_KEY_ID" in message
    assert "AWS_ENDPOINT_URL_DYNAMODB" in message
    assert not (tmp_path / "localdb" / "engine.json").exists()


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("import app", 3),  # flask run / gunicorn app:app in backend/
        ("from models import DynamoDBDatabase\nDynamoDBDatabase().create_tables()", 1),
    ],
)
def test_the_entry_points_without_the_engine_end_in_one_line(
    tmp_path: Path, command: str, code: int
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_ENGINE + command],
        cwd=BACKEND,
        env=_no_aws_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if ENGINE_NOT_INSTALLED in line], output
    assert not (tmp_path / "localdb" / "engine.json").exists()


def _lambda_copy_command() -> tuple[str, ...]:
    """The step of scripts/package_lambda that copies the application into the package."""
    script = (ROOT / "scripts" / "package_lambda").read_text(encoding="utf-8")
    found = re.search(r"^python -c '(?P<code>[^']*copytree[^']*)' \"\$out\"$", script, re.M)
    assert found, "scripts/package_lambda no longer copies backend/ with python -c '...'"
    return (sys.executable, "-c", found["code"])


def test_the_lambda_package_copies_the_application_without_the_engine(tmp_path: Path) -> None:
    out = tmp_path / "lambda"
    out.mkdir()
    subprocess.run([*_lambda_copy_command(), str(out)], cwd=ROOT, check=True, timeout=60)

    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {p.split("/")[0] for p in files} == {"backend"}
    assert not [p for p in files if {"localdb", "local_engine"} & set(p.split("/"))]
    assert not [p for p in files if "/data/" in p or p.endswith(".env") or "__pycache__" in p]
    assert set(RUNTIME_FILES) <= files
    assert "backend/lambda_handler.py" in files
    _assert_a_production_install(_run_installed(out, INSTALLED_CHECK, tmp_path), out)


def _source_copy(target: Path) -> Path:
    """The checkout as a build sees it, without caches or earlier builds' leftovers."""
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            ".*_cache",
            "__pycache__",
            "build",
            "dist",
            "*.egg-info",
            ".localdb",
            "node_modules",
            "test-artifacts",
            ".cache",
            "backups",
            ".env",
        ),
    )
    return target


@pytest.mark.slow
def test_the_wheel_holds_the_product_and_its_templates_but_not_the_engine(
    tmp_path: Path,
) -> None:
    source = _source_copy(tmp_path / "source")
    started = time.monotonic()
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("*.whl")
    print(f"wheel built in {time.monotonic() - started:.1f} s")  # shown with pytest -s

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "installed")

    top = {n.split("/")[0] for n in names}
    assert top == {"backend", *(t for t in top if t.endswith(".dist-info"))}
    assert not [n for n in names if {"localdb", "local_engine", "tests"} & set(n.split("/"))]
    assert not [n for n in names if re.search(r"(^|/)(test_[^/]*|conftest)\.py$", n)]
    assert set(RUNTIME_FILES) <= names
    installed = tmp_path / "installed"
    _assert_a_production_install(_run_installed(installed, INSTALLED_CHECK, tmp_path), installed)
