"""Text a client sends is never a 500: lone surrogates, look-alike names, chunked floods."""

from __future__ import annotations

import http.client
import json
import unicodedata
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import assert_problem, create_department
from tests.live_server import serving

LONE = "\\ud800"  # as JSON escapes it: what a JavaScript client cutting "😀" in half sends


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (f'{{"name": "개발{LONE}"}}', "name"),
        (f'{{"name": "개발팀", "description": "{LONE}"}}', "description"),
        (f'{{"name": "개발팀", "notify_emails": ["a{LONE}@example.com"]}}', "notify_emails[0]"),
        (f'{{"name": "개발팀", "x{LONE}": 1}}', "x\\ud800"),
    ],
)
def test_a_lone_surrogate_in_a_department_is_422_naming_the_field(
    client: FlaskClient, raw: str, field: str
) -> None:
    response = client.post("/api/departments", data=raw.encode(), content_type="application/json")

    body = assert_problem(response, 422, field=field)
    assert "surrogate" in body["errors"][0]["message"]


@pytest.mark.parametrize("field", ["title", "time", "description", "location", "category"])
def test_a_lone_surrogate_in_any_event_text_is_422(client: FlaskClient, field: str) -> None:
    department = create_department(client)
    fields = {"event_date": "2024-01-20", "title": "회의"}
    raw = json.dumps(fields)[:-1] + f', "{field}": "앞{LONE}뒤"}}'
    if field == "title":
        raw = f'{{"event_date": "2024-01-20", "title": "앞{LONE}뒤"}}'
    url = f"/api/events/{department['id']}"

    created = client.post(url, data=raw.encode(), content_type="application/json")
    patched = client.patch(
        f"{url}/{create_event_id(client, url)}",
        data=f'{{"{field}": "{LONE}"}}'.encode(),
        content_type="application/json",
    )

    assert_problem(created, 422, field=field)
    assert_problem(patched, 422, field=field)


def create_event_id(client: FlaskClient, url: str) -> str:
    response = client.post(url, json={"event_date": "2024-01-21", "title": "기존"})
    assert response.status_code == 201
    return str(response.get_json()["id"])


def test_a_decomposed_korean_name_is_the_same_name(client: FlaskClient) -> None:
    composed = "재무팀"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed

    created = create_department(client, decomposed)
    clash = client.post("/api/departments", json={"name": composed})
    found = client.get("/api/departments", query_string={"name": decomposed}).get_json()

    assert created["name"] == composed  # stored in NFC
    assert_problem(clash, 409)
    assert [d["id"] for d in found["items"]] == [created["id"]]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\ufeff", "\u202e", "\u2066"])
def test_names_with_invisible_characters_are_refused(client: FlaskClient, invisible: str) -> None:
    create_department(client, "재무팀")

    response = client.post("/api/departments", json={"name": f"재무{invisible}팀"})

    body = assert_problem(response, 422, field="name")
    assert f"U+{ord(invisible):04X}" in body["errors"][0]["message"]


@pytest.fixture
def live(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def test_a_chunked_body_over_1_mib_is_413(live: str) -> None:
    parts = urlsplit(live)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    chunk = b'{"name": "' + b"x" * 65_536

    def body() -> Iterator[bytes]:
        for _ in range(20):  # 1.25 MiB, never announced in a Content-Length
            yield chunk

    connection.request(
        "POST",
        "/api/departments",
        body=body(),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()

    assert response.status == 413, payload
    assert payload["type"] == "/problems/payload-too-large"
