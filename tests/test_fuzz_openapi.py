"""Schemathesis against /openapi.json: no 5xx and no response the document does not allow.

Examples per operation are bounded so the suite stays fast. Each operation is a test of
its own, driving the Flask app in-process through schemathesis' WSGI transport.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from backend import create_app
from backend.api.openapi import AccessMode
from backend.config import Settings
from backend.storage import Storage
from tests.helpers import api_document

SCHEMA = schemathesis.openapi.from_dict(api_document(mode=AccessMode.TOKENS))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]


TOKEN = "fuzz-token-0123456789abcdef"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_conforms_to_the_document(
    settings: Settings, storage: Storage, operation: Any
) -> None:
    # Writes need the token, as the document says, so that "ignored_auth" has a rule to see.
    app: Flask = create_app(replace(settings, api_tokens=(TOKEN,)), storage)
    client = app.test_client()
    department = client.post(
        "/api/departments", json={"name": "개발팀"}, headers=AUTHORIZED
    ).get_json()
    client.post(
        f"/api/events/{department['id']}",
        json={"event_date": "2024-01-20", "title": "회의"},
        headers=AUTHORIZED,
    )

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def conforms(case: schemathesis.Case[Any]) -> None:
        # Schema-valid yet rightly refused, so "valid data must be accepted" is not asked:
        # a cursor is an opaque signed token (random text is a documented 400); an
        # Idempotency-Key that hypothesis repeats with another body is a documented 422;
        # end_date and end_time have rules between fields that JSON Schema cannot state
        # (at most 31 days; the end after the start), a documented 422; so do a holiday
        # range's two years (from before to, at most ten years), a documented 400.
        body = case.body if isinstance(case.body, dict) else {}
        refusable = (
            "cursor" in (case.query or {})
            or case.path == "/api/holidays"
            or "Idempotency-Key" in (case.headers or {})
            or bool({"end_date", "end_time"} & set(body))
        )
        # ignored_auth probes over HTTP, not through the app given here; the CLI run of
        # tests/test_contract_fuzz.py checks it against a live server.
        excluded: list[Any] = [ignored_auth]
        if refusable:
            excluded.append(positive_data_acceptance)
        case.call_and_validate(app=app, excluded_checks=excluded, headers=AUTHORIZED)

    conforms()
