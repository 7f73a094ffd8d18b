"""The guide's four DynamoDB troubleshooting errors end in a clear message or a 503."""

from __future__ import annotations

from typing import Any

import pytest

from backend import create_app
from backend.config import Mode, Settings
from backend.errors import StartupError
from backend.storage import Storage
from tests.helpers import dynamodb_errors, first, storage_without_retries


@pytest.fixture
def faulty_storage(settings: Settings, storage: Storage) -> tuple[Storage, Any]:
    """Storage over its own client (no retries) that a test can make fail."""
    return storage_without_retries(settings)


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_throttling_is_503_with_retry_after(
    settings: Settings, faulty_storage: tuple[Storage, Any], code: str
) -> None:
    storage, dynamodb = faulty_storage
    client = create_app(settings, storage).test_client()

    with dynamodb_errors(dynamodb, lambda _op: True, code):
        responses = (
            client.post("/api/departments", json={"name": "개발팀"}),
            client.get("/api/departments"),
            client.get("/api/events/some-department?month=2024-01"),
        )

    for response in responses:
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/storage-unavailable"
        assert int(response.headers["Retry-After"]) >= 1


def test_throttling_is_absorbed_by_retries_when_it_passes(
    settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    with dynamodb_errors(dynamodb, first(2)):
        response = create_app(settings, storage).test_client().get("/api/departments")

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

    from backend.storage.connection import connect  # noqa: PLC0415
    from localdb.server import JournalingApp  # noqa: PLC0415

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


def test_a_transaction_still_in_progress_is_retried_then_503_never_500(
    settings: Settings, faulty_storage: tuple[Storage, Any]
) -> None:
    storage, dynamodb = faulty_storage  # botocore's own retries off: ours are under test
    client = create_app(settings, storage).test_client()
    department = client.post("/api/departments", json={"name": "개발팀"}).get_json()["id"]
    url = f"/api/events/{department}"
    body = {"event_date": "2024-01-20", "title": "회의"}

    with dynamodb_errors(
        dynamodb, lambda op: op == "TransactWriteItems", "TransactionInProgressException"
    ):
        stuck = client.post(url, json=body)
    in_progress = first(4)  # fewer than our attempts

    with dynamodb_errors(
        dynamodb,
        lambda op: op == "TransactWriteItems" and in_progress(op),
        "TransactionInProgressException",
    ):
        passed = client.post(url, json=body)

    assert stuck.status_code == 503
    assert stuck.get_json()["type"] == "/problems/storage-unavailable"
    assert int(stuck.headers["Retry-After"]) >= 1
    assert passed.status_code == 201
