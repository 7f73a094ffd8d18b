"""Schemathesis against /openapi.json: no 5xx and no response the document does not allow.

Examples per operation are bounded so the suite stays fast. Each operation is a test of
its own, driving the Flask app in-process through schemathesis' WSGI transport.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.api.openapi import document
from tests.helpers import create_department

SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_conforms_to_the_document(app: Flask, operation: Any) -> None:
    client = app.test_client()
    department = create_department(client, "개발팀")
    client.post(
        f"/api/events/{department['id']}", json={"event_date": "2024-01-20", "title": "회의"}
    )

    @given(case=operation.as_strategy())
    @settings(
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
        # (at most 31 days; the end after the start), a documented 422.
        body = case.body if isinstance(case.body, dict) else {}
        refusable = (
            "cursor" in (case.query or {})
            or "Idempotency-Key" in (case.headers or {})
            or bool({"end_date", "end_time"} & set(body))
        )
        excluded: list[Any] = [positive_data_acceptance] if refusable else []
        case.call_and_validate(app=app, excluded_checks=excluded)

    conforms()
