"""Bad input of every kind gets a clear problem+json: 400, 413, 415 or 422, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import assert_problem, create_department, create_event


@pytest.fixture
def dept_id(client: FlaskClient) -> str:
    return str(create_department(client, "개발팀")["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 7}, "name"),
        ({"name": ["개발팀"]}, "name"),
        ({"name": "가" * 101}, "name"),
        ({"name": "개발\n팀"}, "name"),
        ({"name": "개발팀", "description": "x" * 2001}, "description"),
        ({"name": "개발팀", "description": 3}, "description"),
        ({"name": "개발팀", "colour": "blue"}, "colour"),
        ({"name": "개발팀", "id": "chosen-by-client"}, "id"),
    ],
)
def test_invalid_department_is_422_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(client.post("/api/departments", json=body), 422, field=field)
    assert client.get("/api/departments").get_json()["items"] == []


def test_limits_are_inclusive(client: FlaskClient) -> None:
    body = create_department(client, "가" * 100, description="d" * 2000)

    assert len(body["name"]) == 100


def test_all_field_errors_are_reported_at_once(client: FlaskClient) -> None:
    response = client.post("/api/departments", json={"name": "", "description": 5, "x": 1})

    body = assert_problem(response, 422)
    assert sorted(e["field"] for e in body["errors"]) == ["description", "name", "x"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "회의"}, "event_date"),
        ({"event_date": "2024-01-20"}, "title"),
        ({"event_date": "2024-02-30", "title": "회의"}, "event_date"),
        ({"event_date": "2023-02-29", "title": "회의"}, "event_date"),
        ({"event_date": "2024-1-5", "title": "회의"}, "event_date"),
        ({"event_date": "2024/01/05", "title": "회의"}, "event_date"),
        ({"event_date": "next week", "title": "회의"}, "event_date"),
        ({"event_date": 20240120, "title": "회의"}, "event_date"),
        ({"event_date": None, "title": "회의"}, "event_date"),
        ({"event_date": "2024-01-20", "title": ""}, "title"),
        ({"event_date": "2024-01-20", "title": " \t "}, "title"),
        ({"event_date": "2024-01-20", "title": "t" * 201}, "title"),
        ({"event_date": "2024-01-20", "title": "회의", "time": 15}, "time"),
        ({"event_date": "2024-01-20", "title": "회의", "time": "t" * 101}, "time"),
        ({"event_date": "2024-01-20", "title": "회의", "department_id": "x"}, "department_id"),
    ],
)
def test_invalid_event_is_422_naming_the_field(
    client: FlaskClient, dept_id: str, body: dict[str, Any], field: str
) -> None:
    assert_problem(client.post(f"/api/events/{dept_id}", json=body), 422, field=field)
    assert client.get(f"/api/events/{dept_id}").get_json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"event_date": "2024-13-01"}, "event_date"),
        ({"start_time": "10:00"}, "start_time"),
        ({"version": 5}, "version"),
    ],
)
def test_invalid_event_patch_is_422_and_changes_nothing(
    client: FlaskClient, dept_id: str, body: dict[str, Any], field: str
) -> None:
    event = create_event(client, dept_id)
    url = f"/api/events/{dept_id}/{event['id']}"

    assert_problem(client.patch(url, json=body), 422, field=field)
    assert client.get(url).get_json() == event


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"name": "x",}', b"not json", b'{"name": NaN}', b"\xff\xfe{}", b"", b"[" * 100_000],
)
def test_malformed_json_is_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/api/departments", data=raw, content_type="application/json")

    assert_problem(response, 400)


@pytest.mark.parametrize("raw", [b"[]", '"개발팀"'.encode(), b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_422(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/api/departments", data=raw, content_type="application/json")

    assert_problem(response, 422, field="body")


def test_utf8_bom_is_accepted(client: FlaskClient) -> None:
    raw = "\ufeff" + '{"name": "개발팀"}'

    response = client.post("/api/departments", data=raw.encode(), content_type="application/json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=euc-kr"],
)
def test_wrong_content_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"data": b'{"name": "x"}'}
    if content_type:
        kwargs["content_type"] = content_type

    assert_problem(client.post("/api/departments", **kwargs), 415)


def test_body_over_one_mib_is_413(client: FlaskClient) -> None:
    raw = b'{"name": "x", "description": "' + b"a" * (1024 * 1024) + b'"}'

    assert_problem(client.post("/api/departments", data=raw, content_type="application/json"), 413)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1&limit=2", "limit"),
        ("month=2024-13", "month"),
        ("month=2024-1", "month"),
        ("from=2024-02-30", "from"),
        ("to=yesterday", "to"),
        ("cursor=garbage", "cursor"),
        ("colour=blue", "colour"),
    ],
)
def test_bad_event_list_query_is_400(
    client: FlaskClient, dept_id: str, query: str, field: str
) -> None:
    assert_problem(client.get(f"/api/events/{dept_id}?{query}"), 400, field=field)


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=1000", "limit"), ("name=", "name"), ("cursor=abc", "cursor"), ("sort=name", "sort")],
)
def test_bad_department_list_query_is_400(client: FlaskClient, query: str, field: str) -> None:
    assert_problem(client.get(f"/api/departments?{query}"), 400, field=field)


@pytest.mark.parametrize("value", ["maybe", "", "2"])
def test_bad_cascade_value_is_400_and_deletes_nothing(
    client: FlaskClient, dept_id: str, value: str
) -> None:
    assert_problem(
        client.delete(f"/api/departments/{dept_id}?cascade={value}"), 400, field="cascade"
    )
    assert client.get(f"/api/departments/{dept_id}").status_code == 200


def _pages(client: FlaskClient, url: str) -> str:
    body = client.get(url).get_json()
    cursor: str = body["next_cursor"]
    assert cursor
    return cursor


def test_forged_or_garbled_cursor_is_400(client: FlaskClient, dept_id: str) -> None:
    for n in range(3):
        create_event(client, dept_id, title=f"일정 {n}")
    cursor = _pages(client, f"/api/events/{dept_id}?limit=1")

    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert_problem(
        client.get(f"/api/events/{dept_id}?limit=1&cursor={tampered}"), 400, field="cursor"
    )
    payload, _, _sig = cursor.rpartition(".")
    forged = payload + ".c2lnbmF0dXJl"
    assert_problem(
        client.get(f"/api/events/{dept_id}?limit=1&cursor={forged}"), 400, field="cursor"
    )


def test_cursor_replayed_on_another_department_or_filter_is_400(
    client: FlaskClient, dept_id: str
) -> None:
    other = create_department(client, "마케팅팀")["id"]
    for n in range(3):
        create_event(client, dept_id, title=f"일정 {n}")
        create_event(client, other, title=f"일정 {n}")
    cursor = _pages(client, f"/api/events/{dept_id}?limit=1")

    assert_problem(client.get(f"/api/events/{other}?limit=1&cursor={cursor}"), 400, field="cursor")
    assert_problem(
        client.get(f"/api/events/{dept_id}?month=2024-01&cursor={cursor}"), 400, field="cursor"
    )
    assert_problem(client.get(f"/api/departments?cursor={cursor}"), 400, field="cursor")
    assert client.get(f"/api/events/{dept_id}?limit=2&cursor={cursor}").status_code == 200


def test_cursor_from_another_secret_key_is_400(client: FlaskClient, dept_id: str) -> None:
    from itsdangerous import URLSafeSerializer  # noqa: PLC0415

    forged = URLSafeSerializer("someone-else", salt="list-cursor/v1").dumps(
        {"s": ["events", dept_id, None, None], "p": ["2024-01-20", "", "", ""]}
    )

    assert_problem(client.get(f"/api/events/{dept_id}?cursor={forged}"), 400, field="cursor")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/nowhere"),
        ("get", "/api"),
        ("get", "/api/events"),
        ("post", "/api/departments/some-id"),
        ("put", "/api/departments"),
        ("delete", "/api/departments"),
        ("put", "/api/events/x/y"),
    ],
)
def test_unknown_routes_and_methods_are_problem_json(
    client: FlaskClient, method: str, url: str
) -> None:
    response = getattr(client, method)(url)

    assert response.status_code in {404, 405}
    assert_problem(response, response.status_code)
    if response.status_code == 405:
        assert response.headers["Allow"]


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\x7f" + "x" * 300})
    assert replaced.headers["X-Request-ID"] != "bad id"
    assert len(replaced.headers["X-Request-ID"]) == 32
    body = assert_problem(client.get("/nowhere", headers={"X-Request-ID": "trace-9"}), 404)
    assert body["request_id"] == "trace-9"


@pytest.mark.parametrize("if_match", ['""', 'W/"1"', '"abc"', '"", "x"'])
def test_if_match_that_names_no_version_is_412_not_an_error(
    client: FlaskClient, dept_id: str, if_match: str
) -> None:
    event = create_event(client, dept_id)

    for url in (f"/api/events/{dept_id}/{event['id']}", f"/api/departments/{dept_id}"):
        assert_problem(client.delete(url, headers={"If-Match": if_match}), 412)
        assert_problem(
            client.patch(url, json={"description": "x"}, headers={"If-Match": if_match}), 412
        )
    assert_problem(client.delete(f"/api/events/{dept_id}/nope", headers={"If-Match": '""'}), 404)


@pytest.mark.parametrize("length", [1025, 3000])
def test_ids_longer_than_any_key_are_404_not_an_error(
    client: FlaskClient, dept_id: str, length: int
) -> None:
    long_id = "가" * length

    assert_problem(client.get(f"/api/departments/{long_id}"), 404)
    assert_problem(client.get(f"/api/events/{long_id}"), 404)
    assert_problem(client.get(f"/api/events/{dept_id}/{long_id}"), 404)
    assert_problem(
        client.post(f"/api/events/{long_id}", json={"event_date": "2024-01-20", "title": "t"}), 404
    )
    assert_problem(client.delete(f"/api/events/{dept_id}/{long_id}"), 404)
