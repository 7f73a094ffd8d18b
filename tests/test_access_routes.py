"""Every route of the OpenAPI document, called by each kind of caller, against the rules.

The routes come from the served ``/openapi.json``, so a route added later is walked too
(and fails here until its expected rights are written below). Callers: nobody, a
signed-in person who is not a member, a member reader, writer and owner, an admin, and a
service token, all on a ``members``-only department. The table the test finds is left in
``test-artifacts/access-by-route.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app
from backend.config import Settings
from backend.storage import Storage
from tests.oidc import Provider, running_provider

SERVICE_TOKEN = "pW4sQ9zX2cV7bN1mL5kJ8hG3fD6aS0eR"
ROLES = ("anonymous", "outsider", "reader", "writer", "owner", "admin", "service")
ARTIFACT = Path(__file__).resolve().parent.parent / "test-artifacts" / "access-by-route.md"

# The least role each operation needs, by access.md; "anyone" and "signed-in" need none.
NEEDS = {
    "listDepartments": "anyone",
    "createDepartment": "signed-in",
    "getDepartment": "reader",
    "updateDepartment": "owner",
    "deleteDepartment": "owner",
    "getDepartmentCalendar": "reader",
    "importEvents": "writer",
    "getImportJob": "writer",
    "createWebhook": "owner",
    "listWebhooks": "owner",
    "getWebhook": "owner",
    "deleteWebhook": "owner",
    "createEvent": "writer",
    "listEvents": "reader",
    "getEvent": "reader",
    "updateEvent": "writer",
    "deleteEvent": "writer",
    "listInstances": "reader",
    "listMembers": "owner",
    "putMember": "owner",
    "deleteMember": "owner",
    "getFeedKey": "reader",
    "rotateFeedKey": "owner",
    "listHolidays": "anyone",
    "getHealth": "anyone",
    "getReadiness": "anyone",
}
_RANK = {"reader": 1, "writer": 2, "owner": 3}
_MEMBER_RANK = {"reader": 1, "writer": 2, "owner": 3, "admin": 3, "service": 3}

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//KO\r\nBEGIN:VEVENT\r\n"
    "UID:walk-1@example.com\r\nDTSTART;VALUE=DATE:20240305\r\nSUMMARY:가져온 일정\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def app(settings: Settings, storage: Storage, provider: Provider) -> Flask:
    signed_in = replace(
        settings,
        api_tokens=(SERVICE_TOKEN,),
        oidc_issuer=provider.issuer,
        oidc_audiences=(provider.client_id,),
    )
    return create_app(signed_in, storage)


def _headers(provider: Provider, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "service":
        return {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    groups = ["calendar-admins"] if role == "admin" else []
    token = provider.mint({"sub": role, "email": f"{role}@example.com", "groups": groups})
    return {"Authorization": f"Bearer {token}"}


def _expected(operation_id: str, role: str) -> int | None:
    """The refusal status this caller must get, or None where it may go ahead."""
    need = NEEDS[operation_id]
    if need == "anyone":
        return None
    if role == "anonymous":
        return 401
    if need == "signed-in":
        return None
    if role == "outsider":
        return 404  # a members-only department is not revealed
    return None if _MEMBER_RANK[role] >= _RANK[need] else 403


def _fixture_department(client: FlaskClient, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    service = headers["service"]
    made = client.post(
        "/api/departments",
        json={"name": f"부서-{uuid.uuid4().hex[:8]}", "visibility": "members"},
        headers=service,
    ).get_json()
    department_id = made["id"]
    for role in ("reader", "writer", "owner"):
        granted = client.put(
            f"/api/departments/{department_id}/members/user:{role}",
            json={"role": role},
            headers=service,
        )
        assert granted.status_code == 201
    client.put(
        f"/api/departments/{department_id}/members/user:leaving",
        json={"role": "reader"},
        headers=service,
    )
    event = client.post(
        f"/api/events/{department_id}",
        json={
            "event_date": "2024-03-04",
            "title": "주간 회의",
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        },
        headers=service,
    ).get_json()
    webhook = client.post(
        f"/api/departments/{department_id}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "format": "json"},
        headers=service,
    ).get_json()
    job = client.post(
        f"/api/events/{department_id}/import?async=true",
        data=ICS.encode(),
        content_type="text/calendar",
        headers=service,
    ).get_json()
    return {
        "department_id": department_id,
        "event_id": event["id"],
        "webhook_id": webhook["id"],
        "job_id": job["id"],
        "principal": "user:leaving",
    }


def _call(
    client: FlaskClient, method: str, path: str, operation_id: str, headers: dict[str, str]
) -> int:
    body: dict[str, Any] = {}
    if operation_id == "importEvents":
        return client.post(
            path, data=ICS.encode(), content_type="text/calendar", headers=headers
        ).status_code
    if operation_id == "createDepartment":
        body = {"name": f"새부서-{uuid.uuid4().hex[:8]}"}
    elif operation_id == "updateDepartment":
        body = {"description": "바뀜"}
    elif operation_id == "createEvent":
        body = {"event_date": "2024-03-06", "title": "새 일정"}
    elif operation_id == "updateEvent":
        body = {"title": "바뀐 일정"}
    elif operation_id == "createWebhook":
        body = {"url": "http://127.0.0.1:9/other", "format": "slack"}
    elif operation_id == "putMember":
        body = {"role": "writer"}
    if method == "delete" and operation_id == "deleteDepartment":
        path += "?cascade=true"
    call = getattr(client, method)
    return int(
        call(path, json=body, headers=headers).status_code
        if body
        else call(path, headers=headers).status_code
    )


def test_every_route_answers_each_role_as_the_rules_say(
    client: FlaskClient, provider: Provider
) -> None:
    document = client.get("/openapi.json").get_json()
    headers = {role: _headers(provider, role) for role in ROLES}
    operations = [
        (path, method, op["operationId"])
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert {op for _, _, op in operations} == set(NEEDS), "a route without expected rights"
    found: dict[str, dict[str, int]] = {}
    wrong: list[str] = []
    ids: dict[str, str] = {}
    for path, method, operation_id in operations:
        ids = _fixture_department(client, headers)
        for role in ROLES:
            concrete = path
            for name, value in ids.items():
                concrete = concrete.replace("{" + name + "}", value)
            status = _call(client, method, concrete, operation_id, headers[role])
            found.setdefault(f"{method.upper()} {path}", {})[role] = status
            refusal = _expected(operation_id, role)
            if refusal is None and (status in (401, 403, 404) or status >= 500):
                wrong.append(f"{operation_id} as {role}: {status}, expected it to be allowed")
            elif refusal is not None and status != refusal:
                wrong.append(f"{operation_id} as {role}: {status}, expected {refusal}")
            if method != "get" and status < 400:
                ids = _fixture_department(client, headers)  # it changed: start afresh
    _write_table(found)
    assert not wrong, "\n".join(wrong)


def _write_table(found: dict[str, dict[str, int]]) -> None:
    lines = [
        "| route | " + " | ".join(ROLES) + " |",
        "| --- | " + " | ".join("---" for _ in ROLES) + " |",
    ]
    lines += [
        f"| `{route}` | " + " | ".join(str(statuses[r]) for r in ROLES) + " |"
        for route, statuses in found.items()
    ]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")
