"""Small request helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

SEED_DEPARTMENT = {"name": "QA팀", "description": "품질 보증"}
SEED_EVENT = {"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"}


def create_department(client: FlaskClient, name: str = "개발팀", **extra: Any) -> dict[str, Any]:
    response = client.post("/api/departments", json={"name": name, **extra})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def create_event(client: FlaskClient, department_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"event_date": "2024-01-20", "title": "팀 회의", **fields}
    response = client.post(f"/api/events/{department_id}", json=payload)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def assert_problem(
    response: TestResponse, status: int, *, field: str | None = None
) -> dict[str, Any]:
    """The response is problem+json with ``status`` (and names ``field`` when given)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body
