"""Fixtures: one moto engine for the session, fresh tables per test, the app and its client.

The engine is the same one the embedded local mode runs (moto's server behind our
request-serialising wrapper) on a loopback port, so tests use real boto3 calls over HTTP.
Every test gets tables of its own, named uniquely, instead of resetting shared state.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from backend import create_app
from backend.config import Mode, Settings
from backend.storage import Storage
from backend.storage.dynamo import make_client
from localdb.server import JournalingApp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

TEST_SECRET = "test-secret-key-not-for-production"
RUNTIME_POLICY = Path(__file__).resolve().parent.parent / "deploy" / "iam-policy.json"


class _ActionRecorder(logging.Handler):
    """Collects the IAM actions of every request's DynamoDB calls, from the access log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.actions: dict[str, str] = {}  # action -> first request path that used it

    def emit(self, record: logging.LogRecord) -> None:
        for action in getattr(record, "iam_actions", []):
            self.actions.setdefault(
                action, f"{record.__dict__.get('method')} {record.__dict__.get('path')}"
            )


@pytest.fixture(scope="session", autouse=True)
def runtime_policy_covers_every_action() -> Iterator[None]:
    """Across the whole suite, the API only performs actions deploy/iam-policy.json grants.

    Fails the run (as an error at session teardown) naming any action outside it.
    """
    recorder = _ActionRecorder()
    access = logging.getLogger("backend.access")
    access.setLevel(logging.INFO)
    access.addHandler(recorder)
    yield
    access.removeHandler(recorder)
    policy = json.loads(RUNTIME_POLICY.read_text(encoding="utf-8"))
    granted = {
        action.removeprefix("dynamodb:")
        for statement in policy["Statement"]
        for action in statement["Action"]
    }
    outside = {a: where for a, where in recorder.actions.items() if a not in granted}
    assert not outside, f"actions outside deploy/iam-policy.json: {outside}"


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """CLIs under test configure logging as processes do (``configure_logging``); put the
    root logger back afterwards, so that no handler outlives the stream it wrote to."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def engine_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per engine request
    server: BaseWSGIServer = make_server("127.0.0.1", 0, JournalingApp(journal=None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def aws_url() -> Iterator[str]:
    """A full moto server (S3, SES, ...) for the services other than DynamoDB."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def settings(engine_url: str, tmp_path: Path) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    return Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=engine_url,
        region="ap-northeast-2",
        departments_table=f"departments-{suffix}",
        events_table=f"events-{suffix}",
        secret_key=TEST_SECRET,
        local_dir=tmp_path / "localdb",
    )


@pytest.fixture
def dynamodb(settings: Settings) -> DynamoDBClient:
    """The raw client under ``storage``: for fault injection and for setting up tables."""
    return make_client(
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        access_key="local",
        secret_key="local",
        max_pool_connections=20,
    )


@pytest.fixture
def storage(settings: Settings, dynamodb: DynamoDBClient) -> Storage:
    store = Storage(dynamodb, settings.departments_table, settings.events_table)
    store.create_tables()
    return store


@pytest.fixture
def app(settings: Settings, storage: Storage) -> Flask:
    return create_app(settings, storage)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
