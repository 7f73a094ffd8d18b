"""Fixtures: one moto engine for the session, fresh tables per test, the app and its client.

The engine is the same one the embedded local mode runs (moto's server behind our
request-serialising wrapper) on a loopback port, so tests use real boto3 calls over HTTP.
Every test gets tables of its own, named uniquely, instead of resetting shared state.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from backend import create_app
from backend.config import Mode, Settings
from backend.connection import connect
from backend.local_engine import JournalingApp
from backend.storage import Storage

TEST_SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="session")
def engine_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per engine request
    server: BaseWSGIServer = make_server("127.0.0.1", 0, JournalingApp(journal=None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


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
def storage(settings: Settings) -> Storage:
    store, _target = connect(settings, max_pool_connections=20)
    store.create_tables()
    return store


@pytest.fixture
def app(settings: Settings, storage: Storage) -> Flask:
    return create_app(settings, storage)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
