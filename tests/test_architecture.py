"""The layering rules of ARCHITECTURE.md, checked over the source: who may import what."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
LOCALDB = ROOT / "localdb"
# The only modules of the application that may import the embedded engine, and only its
# package (the launcher's interface), inside a function: production installs have none.
ENGINE_DOORS = {Path("storage/connection.py"), Path("storage/startup.py")}

# DynamoDB request parameters: building one outside storage/ means talking to DynamoDB.
_REQUEST_KEYS = re.compile(
    r"\b(KeyConditionExpression|ConditionExpression|UpdateExpression|TransactItems|"
    r"RequestItems|ExclusiveStartKey|ExpressionAttributeValues)\b"
)
# The vocabulary modules: what every layer may import.
_VOCABULARY = ("config", "errors", "domain", "fields", "timetext", "recurrence")
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
    "recurrence.py",  # recurrence rules (RFC 5545) and their dates
    "public_holidays.py",  # Korean public holidays by year
}


def _modules(under: Path) -> list[Path]:
    """The modules of a package; its static files' and its own tests' are not its code."""
    return sorted(
        p for p in under.rglob("*.py") if not {"static", "tests"} & set(p.relative_to(under).parts)
    )


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
    for path in _outside("storage"):
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


def test_services_know_neither_flask_nor_boto3_and_storage_knows_no_service() -> None:
    services = [
        f"{p.relative_to(BACKEND)}: {sorted(bad)}"
        for p in _modules(BACKEND / "services")
        if (bad := {n for n in _imports(p) if n.split(".")[0] in {"flask", "boto3", "botocore"}})
    ]
    storage = [
        p.relative_to(BACKEND)
        for p in _modules(BACKEND / "storage")
        if any(n.startswith("backend.services") for n in _imports(p))
    ]
    assert not services
    assert not storage


def test_views_write_through_services_only() -> None:
    """A view parses, calls one service function and answers: no repository write verb
    is called from the API (reads may go to a repository directly)."""
    writes = re.compile(
        r"storage\(\)\.(events|departments|idempotency|mailings)\."
        r"(create|replace|remove|delete|update|set_count|claim|complete|release)\("
    )
    offenders = [
        f"{p.relative_to(BACKEND)}: {found[0]}"
        for p in _modules(BACKEND / "api")
        if (found := writes.search(p.read_text(encoding="utf-8")))
    ]
    assert not offenders


def test_no_private_name_crosses_a_module() -> None:
    """``from x import _name`` reaches into another module's private parts."""
    offenders = []
    for path in [*_modules(BACKEND), *_modules(LOCALDB)]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and not all(n.startswith("__") for n in private):
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module} {private}")
    assert not offenders


@pytest.mark.parametrize(
    "package", ["storage", "services", "migration", "report", "backup", "webhooks", "access"]
)
def test_lower_layers_never_import_the_api(package: str) -> None:
    offenders = [
        p.relative_to(BACKEND)
        for p in _modules(BACKEND / package)
        if any(n.startswith("backend.api") for n in _imports(p))
    ]
    assert not offenders


def _outside_webhooks_layer(names: set[str]) -> list[str]:
    """What ``webhooks/`` may not import: anything but the standard library, urllib3, the
    vocabulary and itself (no storage, services, API, Flask or boto3)."""
    allowed = ("backend.webhooks", *(f"backend.{module}" for module in _VOCABULARY))
    return sorted(
        name
        for name in names
        if name.split(".")[0] not in {*sys.stdlib_module_names, "urllib3"}
        and not any(name == a or name.startswith(f"{a}.") for a in allowed)
    )


def test_access_imports_only_the_standard_library_pyjwt_urllib3_and_the_vocabulary() -> None:
    """The rules of who may do what know no Flask, no storage and no service: the API
    applies them, and storage keeps members as plain data."""
    allowed = ("backend.access", *(f"backend.{module}" for module in _VOCABULARY))
    modules = _modules(BACKEND / "access")
    offenders = {
        str(p.relative_to(BACKEND)): sorted(
            name
            for name in _imports(p)
            if name.split(".")[0] not in {*sys.stdlib_module_names, "urllib3", "jwt"}
            and not any(name == a or name.startswith(f"{a}.") for a in allowed)
        )
        for p in modules
    }

    assert len(modules) >= 3
    assert not {path: bad for path, bad in offenders.items() if bad}


def test_webhooks_import_only_the_standard_library_urllib3_and_the_vocabulary() -> None:
    modules = _modules(BACKEND / "webhooks")
    offenders = {
        str(p.relative_to(BACKEND)): bad
        for p in modules
        if (bad := _outside_webhooks_layer(_imports(p)))
    }

    assert len(modules) >= 5
    assert not offenders


def test_the_webhooks_rule_refuses_storage_services_the_api_flask_and_boto3() -> None:
    names = {
        "json",
        "urllib3.connection",
        "backend.config.Settings",
        "backend.webhooks.targets",
        "backend.storage",
        "backend.services.events",
        "backend.api.inputs",
        "backend.configuration",
        "flask",
        "boto3",
        "botocore.exceptions",
    }

    assert _outside_webhooks_layer(names) == [
        "backend.api.inputs",
        "backend.configuration",
        "backend.services.events",
        "backend.storage",
        "boto3",
        "botocore.exceptions",
        "flask",
    ]


def test_nothing_in_the_application_imports_moto() -> None:
    offenders = [
        p.relative_to(BACKEND)
        for p in _modules(BACKEND)
        if any(n.split(".")[0] == "moto" for n in _imports(p))
    ]
    assert not offenders


def test_the_engine_is_the_one_package_that_imports_moto_and_knows_no_application() -> None:
    engine = {p.relative_to(LOCALDB): _imports(p) for p in _modules(LOCALDB)}

    assert any(n.split(".")[0] == "moto" for names in engine.values() for n in names)
    assert not any(n.split(".")[0] == "moto" for n in engine[Path("launcher.py")])
    assert not {
        path: sorted(n for n in names if n.split(".")[0] == "backend")
        for path, names in engine.items()
        if any(n.split(".")[0] == "backend" for n in names)
    }


def _engine_imports(source: str) -> list[tuple[str, bool]]:
    """Each import of ``localdb`` in ``source``: what it names (``localdb.attach`` for ``from
    localdb import attach``) and whether it is lazy (inside a function, not at load)."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{alias.name}" for alias in child.names]
            else:
                names = []
            found.extend((n, inside) for n in names if n.split(".")[0] == "localdb")
            visit(child, inside)

    visit(ast.parse(source), lazy=False)
    return found


def _engine_exports() -> set[str]:
    """What ``localdb`` (its ``__init__``) exports: the launcher's interface."""
    tree = ast.parse((LOCALDB / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            return {f"localdb.{name}" for name in ast.literal_eval(node.value)}
    raise AssertionError("localdb/__init__.py has no __all__")


def test_the_application_imports_only_the_engines_package_lazily_in_storage() -> None:
    """``localdb`` is a development tool: the wheel and the Lambda package leave it out."""
    uses = {
        p.relative_to(BACKEND): found
        for p in _modules(BACKEND)
        if (found := _engine_imports(p.read_text(encoding="utf-8")))
    }
    allowed = {"localdb", *_engine_exports()}

    assert set(uses) == ENGINE_DOORS
    assert not [
        (str(path), name, "at load" if not lazy else "not the package's interface")
        for path, found in uses.items()
        for name, lazy in found
        if not lazy or name not in allowed
    ]


def test_the_engine_rule_sees_eager_and_submodule_imports() -> None:
    source = (
        "import localdb\n"
        "from localdb.server import JournalingApp\n"
        "def f():\n"
        "    from localdb import attach, store\n"
        "    import localdb.queries\n"
        "from backend import localdb_text\n"
    )

    assert _engine_imports(source) == [
        ("localdb", False),
        ("localdb.server.JournalingApp", False),
        ("localdb.attach", True),
        ("localdb.store", True),
        ("localdb.queries", True),
    ]
    assert "localdb.attach" in _engine_exports()
    assert "localdb.store" not in _engine_exports()


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
