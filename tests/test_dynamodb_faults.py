"""The guide's four DynamoDB troubleshooting errors end in a clear message or a 503."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from backend import create_app
from backend.config import Mode, Settings
from backend.errors import StartupError
from backend.storage import Storage
from backend.storage.dynamo import make_client


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _fail_with(code: str, status: int = 400) -> Any:
    """A botocore ``before-send`` hook answering every request with DynamoDB error ``code``."""

    def handler(request: Any, **_: Any) -> AWSResponse:
        error = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
        body = json.dumps(error).encode()
        return AWSResponse(request.url, status, {"x-amzn-requestid": "test"}, _Body(body))  # type: ignore[arg-type]

    return handler


@pytest.fixture
def faulty_storage(settings: Settings, storage: Storage) -> Storage:
    """Storage over its own client (no retries) that a test can make fail."""
    client = make_client(
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        access_key="local",
        secret_key="local",
        max_attempts=1,
    )
    return Storage(client, settings.departments_table, settings.events_table)


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_throttling_is_503_with_retry_after(
    settings: Settings, faulty_storage: Storage, code: str
) -> None:
    client = create_app(settings, faulty_storage).test_client()
    faulty_storage.client.meta.events.register("before-send.dynamodb", _fail_with(code))

    for response in (
        client.post("/api/departments", json={"name": "개발팀"}),
        client.get("/api/departments"),
        client.get("/api/events/some-department?month=2024-01"),
    ):
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/storage-unavailable"
        assert int(response.headers["Retry-After"]) >= 1


def test_throttling_is_absorbed_by_retries_when_it_passes(
    settings: Settings, storage: Storage
) -> None:
    failures = iter([True, True, False])
    inject = _fail_with("ProvisionedThroughputExceededException")

    def answer(request: Any, **kwargs: Any) -> AWSResponse | None:
        return inject(request, **kwargs) if next(failures, False) else None

    sometimes: Any = answer

    storage.client.meta.events.register("before-send.dynamodb", sometimes)
    try:
        response = create_app(settings, storage).test_client().get("/api/departments")
    finally:
        storage.client.meta.events.unregister("before-send.dynamodb", sometimes)

    assert response.status_code == 200


def test_no_credentials_stops_the_start_with_what_to_set(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    aws = Settings(mode=Mode.AWS, region="ap-northeast-2", secret_key="x" * 32, local_dir=tmp_path)

    with pytest.raises(StartupError) as error:
        create_app(aws)

    assert "no AWS credentials" in str(error.value)
    assert "AWS_ACCESS_KEY_ID" in str(error.value)


def test_starts_while_dynamodb_is_down_and_recovers_without_restart(settings: Settings) -> None:
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from werkzeug.serving import make_server  # noqa: PLC0415

    from backend.connection import connect  # noqa: PLC0415
    from backend.local_engine import JournalingApp  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Settings(**{**settings.__dict__, "endpoint_url": f"http://127.0.0.1:{port}"})

    client = create_app(down).test_client()  # the real start-up path, with nothing listening

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    assert client.get("/api/departments").status_code == 503

    server = make_server("127.0.0.1", port, JournalingApp(journal=None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connect(down)[0].create_tables()
        assert client.get("/readyz").status_code == 200
        assert client.post("/api/departments", json={"name": "복구팀"}).status_code == 201
    finally:
        server.shutdown()
