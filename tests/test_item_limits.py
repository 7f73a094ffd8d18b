"""A write DynamoDB refuses because the item would pass 400 KB is a 422 naming the field to
shorten, never a 500: items written by other programs need not keep the API's bounds."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from backend.config import Settings
from tests.aws_lane import AwsBehaviour
from tests.helpers import assert_problem, create_department

# Korean text of about 404,700 bytes in UTF-8: with the rest of its item just under the
# item limit of the engine the tests run on (moto's 405,000 bytes; DynamoDB's is 400 KB).
LONG_KOREAN = "가" * 134_900


def written_by_others(
    dynamodb: Any, settings: Settings, department: str, event_id: str, description: str
) -> None:
    """An event as the console writes it: a description no API request could send."""
    dynamodb.put_item(
        TableName=settings.events_table,
        Item={
            "id": {"S": event_id},
            "department_id": {"S": department},
            "event_date": {"S": "2025-03-10"},
            "title": {"S": "회의"},
            "description": {"S": description},
        },
    )


def test_changing_an_event_that_others_made_huge_names_the_field(
    client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    department = create_department(client)["id"]
    written_by_others(dynamodb, settings, department, "huge-event", LONG_KOREAN)
    url = f"/api/events/{department}/huge-event"
    assert client.get(url).status_code == 200

    where = "회의실" * 66  # 198 characters, within the API's bound: 594 bytes more
    refused = client.patch(url, json={"location": where}, headers={"If-Match": '"1"'})

    body = assert_problem(refused, 422)
    # The largest field the write carried: the one to shorten (location is bounded at 200).
    assert [e["field"] for e in body["errors"]] == ["description"]
    assert "400 KB" in body["errors"][0]["message"]
    kept = client.get(url).get_json()
    assert kept["title"] == "회의"
    assert "location" not in kept or kept["location"] is None


def test_a_department_that_others_made_huge_names_the_field(
    client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    dynamodb.put_item(
        TableName=settings.departments_table,
        Item={
            "id": {"S": "huge-department"},
            "name": {"S": "큰 부서"},
            "description": {"S": LONG_KOREAN + "가" * 50},
        },
    )
    url = "/api/departments/huge-department"
    assert client.get(url).status_code == 200

    refused = client.patch(url, json={"name": "큰 부서 " + "가" * 90})

    body = assert_problem(refused, 422)
    assert [e["field"] for e in body["errors"]] == ["description"]


def test_on_dynamodb_a_cancelled_transaction_names_the_field(
    client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    """DynamoDB cancels a transaction whose write would pass the limit, with reason
    ``ValidationError`` at that item's place; the lane refuses as it does, here at 300 KB."""
    department = create_department(client)["id"]
    written_by_others(dynamodb, settings, department, "large-event", "나" * 100_100)  # 300,300 B
    url = f"/api/events/{department}/large-event"
    lane = AwsBehaviour(dynamodb, str(settings.endpoint_url), item_limit=300_000)
    with lane.installed():
        refused = client.patch(url, json={"title": "바뀐 회의"}, headers={"If-Match": '"1"'})
        department_write = client.patch(
            f"/api/departments/{department}", json={"description": "다" * 2_000}
        )

    body = assert_problem(refused, 422)
    assert [e["field"] for e in body["errors"]] == ["description"]
    assert lane.injected["item too large"] == 1
    assert department_write.status_code == 200  # small items go through the same lane
    assert client.get(url).get_json()["title"] == "회의"
