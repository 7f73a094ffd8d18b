"""Departments: create, list, find by name, get, update, delete, with ETags."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from backend.config import Settings
from tests.helpers import SEED_DEPARTMENT, assert_problem, create_department, create_event

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def test_create_returns_the_department_with_location_and_etag(client: FlaskClient) -> None:
    response = client.post("/api/departments", json=SEED_DEPARTMENT)

    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "QA팀"
    assert body["description"] == "품질 보증"
    assert body["version"] == 1
    assert ISO_UTC.fullmatch(body["created_at"])
    assert body["updated_at"] == body["created_at"]
    assert response.headers["Location"] == f"/api/departments/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert client.get(response.headers["Location"]).get_json() == body


def test_korean_comes_back_readable_not_escaped(client: FlaskClient) -> None:
    response = client.post("/api/departments", json=SEED_DEPARTMENT)

    raw = response.get_data()
    assert "QA팀".encode() in raw
    assert b"\\u" not in raw


def test_name_is_trimmed_and_description_optional(client: FlaskClient) -> None:
    body = create_department(client, "  마케팅팀 \t")

    assert body["name"] == "마케팅팀"
    assert body["description"] is None


def test_duplicate_name_is_409_even_with_surrounding_spaces(client: FlaskClient) -> None:
    create_department(client, "개발팀")

    response = client.post("/api/departments", json={"name": " 개발팀 "})

    body = assert_problem(response, 409)
    assert "개발팀" in body["detail"]


def test_list_is_ordered_by_name(client: FlaskClient) -> None:
    for name in ["마케팅팀", "QA팀", "개발팀", "Alpha"]:
        create_department(client, name)

    body = client.get("/api/departments").get_json()

    assert [d["name"] for d in body["items"]] == sorted(["마케팅팀", "QA팀", "개발팀", "Alpha"])
    assert body["next_cursor"] is None


def test_list_pages_with_cursor_without_overlap(client: FlaskClient) -> None:
    names = [f"부서{n:02d}" for n in range(7)]
    for name in reversed(names):
        create_department(client, name)

    seen: list[str] = []
    url = "/api/departments?limit=3"
    pages = 0
    while url:
        body = client.get(url).get_json()
        seen += [d["name"] for d in body["items"]]
        pages += 1
        url = (
            f"/api/departments?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else ""
        )

    assert seen == names
    assert pages == 3


def test_find_by_exact_name(client: FlaskClient) -> None:
    wanted = create_department(client, "개발팀")
    create_department(client, "개발팀2")

    body = client.get("/api/departments", query_string={"name": "개발팀"}).get_json()

    assert body["items"] == [wanted]
    assert client.get("/api/departments?name=없는팀").get_json()["items"] == []


def test_get_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/departments/no-such-id"), 404)


def test_name_claims_are_never_served_as_departments(client: FlaskClient) -> None:
    create_department(client, "개발팀")

    assert_problem(client.get("/api/departments/%23name%23개발팀"), 404)
    assert len(client.get("/api/departments").get_json()["items"]) == 1


def test_patch_changes_fields_and_bumps_version(client: FlaskClient) -> None:
    created = create_department(client, "개발팀", description="old")

    response = client.patch(
        f"/api/departments/{created['id']}", json={"name": "플랫폼팀", "description": None}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "플랫폼팀"
    assert body["description"] is None
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert client.get(f"/api/departments/{created['id']}").get_json() == body


def test_patch_that_changes_nothing_keeps_the_version(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")

    body = client.patch(f"/api/departments/{created['id']}", json={"name": "개발팀"}).get_json()

    assert body["version"] == 1


def test_rename_to_a_taken_name_is_409_and_changes_nothing(client: FlaskClient) -> None:
    create_department(client, "개발팀")
    other = create_department(client, "마케팅팀")

    assert_problem(client.patch(f"/api/departments/{other['id']}", json={"name": "개발팀"}), 409)
    assert client.get(f"/api/departments/{other['id']}").get_json() == other


def test_rename_frees_the_old_name(client: FlaskClient) -> None:
    first = create_department(client, "개발팀")
    client.patch(f"/api/departments/{first['id']}", json={"name": "플랫폼팀"})

    reused = create_department(client, "개발팀")

    assert reused["id"] != first["id"]
    assert_problem(client.post("/api/departments", json={"name": "플랫폼팀"}), 409)


def test_patch_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.patch("/api/departments/nope", json={"description": "x"}), 404)


def test_delete_then_get_is_404_and_name_is_free(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")

    response = client.delete(f"/api/departments/{created['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(client.get(f"/api/departments/{created['id']}"), 404)
    create_department(client, "개발팀")


def test_delete_unknown_department_is_404(client: FlaskClient) -> None:
    assert_problem(client.delete("/api/departments/nope"), 404)


def test_delete_with_events_is_409_unless_cascade(client: FlaskClient) -> None:
    department = create_department(client, "개발팀")
    events = [create_event(client, department["id"], title=f"회의 {n}") for n in range(30)]

    body = assert_problem(client.delete(f"/api/departments/{department['id']}"), 409)
    assert "cascade" in body["detail"]
    assert client.get(f"/api/departments/{department['id']}").status_code == 200

    assert client.delete(f"/api/departments/{department['id']}?cascade=true").status_code == 204
    assert_problem(client.get(f"/api/departments/{department['id']}"), 404)
    for event in events:
        assert_problem(client.get(f"/api/events/{department['id']}/{event['id']}"), 404)


def test_get_with_matching_if_none_match_is_304(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")
    url = f"/api/departments/{created['id']}"

    response = client.get(url, headers={"If-None-Match": '"1"'})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == '"1"'
    assert client.get(url, headers={"If-None-Match": '"7"'}).status_code == 200
    assert client.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304


def test_patch_with_stale_if_match_is_412_and_changes_nothing(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")
    url = f"/api/departments/{created['id']}"
    assert (
        client.patch(url, json={"description": "v2"}, headers={"If-Match": '"1"'}).status_code
        == 200
    )

    response = client.patch(url, json={"description": "lost"}, headers={"If-Match": '"1"'})

    assert_problem(response, 412)
    assert response.headers["ETag"] == '"2"'
    assert client.get(url).get_json()["description"] == "v2"


def test_if_match_star_and_lists_of_tags(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")
    url = f"/api/departments/{created['id']}"

    assert (
        client.patch(url, json={"description": "a"}, headers={"If-Match": "*"}).status_code == 200
    )
    response = client.patch(url, json={"description": "b"}, headers={"If-Match": '"1", "2"'})
    assert response.status_code == 200
    assert (
        client.patch(url, json={"description": "c"}, headers={"If-Match": "garbage"}).status_code
        == 412
    )


def test_delete_with_stale_if_match_is_412_and_keeps_the_department(client: FlaskClient) -> None:
    created = create_department(client, "개발팀")
    url = f"/api/departments/{created['id']}"
    client.patch(url, json={"description": "v2"})

    assert_problem(client.delete(url, headers={"If-Match": '"1"'}), 412)
    assert client.get(url).status_code == 200
    assert client.delete(url, headers={"If-Match": '"2"'}).status_code == 204


def test_notify_emails_are_optional_validated_and_clearable(client: FlaskClient) -> None:
    plain = create_department(client, "개발팀")
    assert "notify_emails" not in plain

    created = create_department(
        client,
        "마케팅팀",
        notify_emails=["lead@example.com", " Lead@Example.com ", "kim@example.co.kr"],
    )
    url = f"/api/departments/{created['id']}"

    assert created["notify_emails"] == ["lead@example.com", "kim@example.co.kr"]
    assert client.get(url).get_json()["notify_emails"] == ["lead@example.com", "kim@example.co.kr"]
    cleared = client.patch(url, json={"notify_emails": []}).get_json()
    assert "notify_emails" not in cleared
    assert cleared["version"] == 2
    for bad in (["not-an-address"], "lead@example.com", [5], ["a@b"], ["a b@example.com"]):
        response = client.patch(url, json={"notify_emails": bad})
        assert response.status_code == 422, bad
        assert response.get_json()["errors"][0]["field"].startswith("notify_emails")


def test_a_change_leaves_what_another_program_wrote_without_created_at_alone(
    client: FlaskClient, settings: Settings, dynamodb: Any
) -> None:
    dynamodb.put_item(  # as the AWS console or the first app writes a department
        TableName=settings.departments_table,
        Item={"id": {"S": "console-1"}, "name": {"S": "콘솔팀"}, "updated_at": {"S": "2024-01-02"}},
    )

    changed = client.patch("/api/departments/console-1", json={"description": "설명"})

    assert changed.status_code == 200
    assert changed.get_json()["created_at"] == "2024-01-02"  # served from updated_at
    stored = dynamodb.get_item(TableName=settings.departments_table, Key={"id": {"S": "console-1"}})
    assert "created_at" not in stored["Item"]
    assert stored["Item"]["description"] == {"S": "설명"}


def test_an_address_is_at_most_254_characters(client: FlaskClient) -> None:
    local = "a" * 64
    longest = f"{local}@{'b' * (254 - 64 - 1 - 4)}.com"
    too_long = f"{local}@{'b' * (255 - 64 - 1 - 4)}.com"
    assert (len(longest), len(too_long)) == (254, 255)

    kept = client.post("/api/departments", json={"name": "메일팀", "notify_emails": [longest]})
    refused = client.post(
        "/api/departments", json={"name": "긴메일팀", "notify_emails": ["x@y.co", too_long]}
    )

    assert kept.status_code == 201
    assert kept.get_json()["notify_emails"] == [longest]
    problem = assert_problem(refused, 422, field="notify_emails[1]")
    assert "254" in problem["errors"][0]["message"]


def test_a_department_written_elsewhere_with_a_taken_name_can_be_renamed_and_deleted(
    client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    """The console (or the first app) can write a second department with a name another
    holds; the name's claim stays with its holder through the duplicate's changes."""
    holder = client.post("/api/departments", json={"name": "개발팀"}).get_json()
    for ident in ("console-1", "console-2"):
        dynamodb.put_item(
            TableName=settings.departments_table,
            Item={"id": {"S": ident}, "name": {"S": "개발팀"}, "created_at": {"S": "2024-01-01"}},
        )

    renamed = client.patch("/api/departments/console-1", json={"name": "콘솔팀"})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "콘솔팀"
    assert client.delete("/api/departments/console-2").status_code == 204

    # The holder keeps its name: another department cannot take it.
    taken = client.post("/api/departments", json={"name": "개발팀"})
    assert taken.status_code == 409
    assert client.get(f"/api/departments/{holder['id']}").get_json()["name"] == "개발팀"
    # And the renamed one holds its new name.
    assert client.post("/api/departments", json={"name": "콘솔팀"}).status_code == 409
