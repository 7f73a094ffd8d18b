"""The layering rules of ARCHITECTURE.md, checked over the source: who may import what."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"

# DynamoDB request parameters: building one outside storage/ means talking to DynamoDB.
_REQUEST_KEYS = re.compile(
    r"\b(KeyConditionExpression|ConditionExpression|UpdateExpression|TransactItems|"
    r"RequestItems|ExclusiveStartKey|ExpressionAttributeValues)\b"
)
_ROOT_MODULES = {
    "__init__.py",  # create_app
    "app.py",  # flask run / gunicorn app:app
    "models.py",  # the guide's DynamoDBDatabase
    "migrate_to_dynamodb.py",  # the guide's migration command, run from backend/
    "lambda_handler.py",  # the Lambda entry points
    "gunicorn.conf.py",  # gunicorn's settings
    "config.py",  # settings and logging
    "errors.py",  # the error vocabulary and problem table
    "domain.py",  # the records
    "fields.py",  # the resources' fields
    "timetext.py",  # reading time text
}


def _modules(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "static" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _outside(*packages: str) -> list[Path]:
    return [
        p
        for p in _modules(BACKEND)
        if not set(packages) & set(p.relative_to(BACKEND).with_suffix("").parts)
    ]


def test_only_storage_talks_to_dynamodb() -> None:
    """The embedded engine is DynamoDB itself (a development server), not a client of it."""
    offenders = []
    for path in _outside("storage", "local_engine"):
        text = path.read_text(encoding="utf-8")
        imports = _imports(path)
        if any("mypy_boto3_dynamodb" in name or name == "boto3.dynamodb" for name in imports):
            offenders.append(f"{path.relative_to(BACKEND)} imports the DynamoDB client")
        if re.search(r"\.client\(\s*['\"]dynamodb['\"]", text):
            offenders.append(f"{path.relative_to(BACKEND)} makes a DynamoDB client")
        if found := _REQUEST_KEYS.search(text):
            offenders.append(f"{path.relative_to(BACKEND)} builds a DynamoDB request ({found[0]})")
        if re.search(r"storage\.client\b|\._client\b", text):
            offenders.append(f"{path.relative_to(BACKEND)} reaches for the client")
    assert not offenders


def test_storage_knows_no_flask_and_the_api_no_boto3() -> None:
    storage = [p for p in _modules(BACKEND / "storage") if "flask" in str(_imports(p))]
    api = [
        p
        for p in _modules(BACKEND / "api")
        if any(n.startswith(("boto3", "botocore")) for n in _imports(p))
    ]
    assert not storage
    assert not api


@pytest.mark.parametrize("package", ["storage", "migration", "report", "backup"])
def test_lower_layers_never_import_the_api(package: str) -> None:
    offenders = [
        p.relative_to(BACKEND)
        for p in _modules(BACKEND / package)
        if any(n.startswith("backend.api") for n in _imports(p))
    ]
    assert not offenders


def test_nothing_but_the_engine_package_imports_moto() -> None:
    offenders = [
        p.relative_to(BACKEND)
        for p in _outside("local_engine")
        if any(n.startswith("moto") for n in _imports(p))
    ]
    assert not offenders


def test_the_backend_root_holds_vocabulary_and_entry_points_only() -> None:
    root = {p.name for p in BACKEND.glob("*.py")}
    assert root <= _ROOT_MODULES, root - _ROOT_MODULES


def test_the_development_tree_is_the_real_tree() -> None:
    spec = importlib.util.spec_from_file_location("dev_tree", ROOT / "scripts" / "dev_tree.py")
    assert spec is not None
    assert spec.loader is not None
    dev_tree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev_tree)

    assert dev_tree.TARGET == ROOT / "docs" / "development.md"
    assert dev_tree.tree() in dev_tree.TARGET.read_text(encoding="utf-8"), (
        "docs/development.md's module tree is out of date: python scripts/dev_tree.py --write"
    )
