"""Expiring bookkeeping is spread over many index keys, and what the service wrote before
it was spread (under the one partition ``#bookkeeping``) keeps answering until the sweep
has moved it into its partition."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from backend import create_app
from backend.config import Settings
from backend.errors import QuotaReached, StorageUnavailable
from backend.storage import Storage
from backend.storage.bookkeeping import (
    EXPIRING_PARTITION,
    EXPIRING_SHARDS,
    expiring_partition,
    expiring_partitions,
)
from backend.storage.dynamo import to_item
from backend.storage.schema import DEPARTMENT_DATE_INDEX
from tests.aws_lane import error_response
from tests.helpers import create_department

DAY = date(2024, 1, 20)


def partition_ids(dynamodb: Any, table: str, partition: str) -> list[str]:
    response = dynamodb.query(
        TableName=table,
        IndexName=DEPARTMENT_DATE_INDEX,
        KeyConditionExpression="department_id = :p",
        ExpressionAttributeValues={":p": {"S": partition}},
    )
    return [item["id"]["S"] for item in response["Items"]]


def written_before_spreading(dynamodb: Any, table: str, ident: str) -> None:
    """Put the item ``ident`` where the service kept it before spreading, as it wrote it."""
    key = {"id": {"S": ident}, "department_id": {"S": expiring_partition(ident)}}
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    dynamodb.put_item(TableName=table, Item=item | {"department_id": {"S": EXPIRING_PARTITION}})
    dynamodb.delete_item(TableName=table, Key=key)


def only_id(dynamodb: Any, table: str, prefix: str) -> str:
    found = [
        ident
        for partition in (*expiring_partitions(), EXPIRING_PARTITION)
        for ident in partition_ids(dynamodb, table, partition)
        if ident.startswith(prefix)
    ]
    assert len(found) == 1, found
    return found[0]


KEYED = {"json": {"event_date": "2024-01-20", "title": "주간 회의"}}


def created_before_spreading(
    client: FlaskClient, dynamodb: Any, table: str
) -> tuple[str, TestResponse, str]:
    """A department, the answer of an event create with ``Idempotency-Key: k1``, and the
    id of the key's record, which is then put where the service kept it before spreading."""
    department: str = create_department(client)["id"]
    first = client.post(f"/api/events/{department}", headers={"Idempotency-Key": "k1"}, **KEYED)
    assert first.status_code == 201
    ident = only_id(dynamodb, table, "#idempotency#")
    written_before_spreading(dynamodb, table, ident)
    return department, first, ident


def restarted(settings: Settings, storage: Storage, dynamodb: Any) -> FlaskClient:
    """A new server process on the same tables (it has not looked at the old partition)."""
    fresh = Storage(dynamodb, storage.departments.table, storage.events.table)
    return create_app(settings, fresh).test_client()


def test_idempotency_records_are_spread_over_every_partition(
    storage: Storage, dynamodb: Any
) -> None:
    for n in range(160):
        assert storage.idempotency.claim("scope", f"key-{n}", "request").token is not None

    held = Counter(
        partition
        for partition in expiring_partitions()
        for _ in partition_ids(dynamodb, storage.events.table, partition)
    )
    assert sum(held.values()) == 160
    assert len(held) == EXPIRING_SHARDS  # every one of the 16 holds some
    assert max(held.values()) <= 25  # and none holds many more than its share (10)
    assert partition_ids(dynamodb, storage.events.table, EXPIRING_PARTITION) == []


def test_a_create_answered_before_the_upgrade_is_replayed_after_it(
    app: Flask, settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    client = app.test_client()
    department, first, _ = created_before_spreading(client, dynamodb, storage.events.table)

    again = restarted(settings, storage, dynamodb).post(
        f"/api/events/{department}", headers={"Idempotency-Key": "k1"}, **KEYED
    )

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    listed = client.get(f"/api/events/{department}?month=2024-01").get_json()["items"]
    assert [e["title"] for e in listed] == ["주간 회의"]  # made once


def test_a_key_taken_before_the_upgrade_is_still_in_use(
    settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    client = restarted(settings, storage, dynamodb)
    department = create_department(client)["id"]
    claim = storage.idempotency.claim("pending", "k", "request")
    assert claim.token is not None
    table = storage.events.table
    written_before_spreading(dynamodb, table, only_id(dynamodb, table, "#idempotency#"))

    again = restarted(settings, storage, dynamodb)
    assert (
        Storage(dynamodb, storage.departments.table, table)
        .idempotency.claim("pending", "k", "request")
        .in_progress
    )
    # Another key goes through, in its own partition.
    created = again.post(
        f"/api/events/{department}",
        json={"event_date": "2024-01-20", "title": "회의"},
        headers={"Idempotency-Key": "new"},
    )
    assert created.status_code == 201


def test_the_sweep_moves_what_was_written_before_spreading(
    app: Flask, settings: Settings, storage: Storage, dynamodb: Any
) -> None:
    client = app.test_client()
    table = storage.events.table
    department, first, ident = created_before_spreading(client, dynamodb, table)
    expired = datetime.now(UTC) - timedelta(days=2)
    dynamodb.put_item(  # and one that has expired there
        TableName=table,
        Item=to_item(
            {
                "id": "#idempotency#old",
                "department_id": EXPIRING_PARTITION,
                "expires_at": int(expired.timestamp()),
                "event_date": expired.date().isoformat(),
            }
        ),
    )

    fresh = Storage(dynamodb, storage.departments.table, table)
    assert fresh.expiring.unspread.may_hold()
    assert fresh.expiring.sweep() == 1  # the expired one

    assert partition_ids(dynamodb, table, EXPIRING_PARTITION) == []
    assert ident in partition_ids(dynamodb, table, expiring_partition(ident))
    assert not Storage(dynamodb, storage.departments.table, table).expiring.unspread.may_hold()
    again = restarted(settings, storage, dynamodb).post(
        f"/api/events/{department}", headers={"Idempotency-Key": "k1"}, **KEYED
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]


def set_text(dynamodb: Any, table: str, key: dict[str, Any], name: str, value: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #n = :v",
        ExpressionAttributeNames={"#n": name},
        ExpressionAttributeValues={":v": {"S": value}},
    )


def test_a_changed_item_is_not_moved(storage: Storage, dynamodb: Any) -> None:
    """A move that meets another value than it read leaves the item where it was, and takes
    its copy back: here an answered record is taken over (a new token) between the
    sweep's copy and its delete."""
    claim = storage.idempotency.claim("racing", "k", "request")
    table = storage.events.table
    ident = only_id(dynamodb, table, "#idempotency#")
    spread_key = {"id": {"S": ident}, "department_id": {"S": expiring_partition(ident)}}
    set_text(dynamodb, table, spread_key, "status", "done")  # answered
    written_before_spreading(dynamodb, table, ident)
    old_key = {"id": {"S": ident}, "department_id": {"S": EXPIRING_PARTITION}}

    def taken_over_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("department_id") == spread_key["department_id"]:
            set_text(dynamodb, table, old_key, "token", "another request")

    event = "provide-client-params.dynamodb.PutItem"
    dynamodb.meta.events.register(event, taken_over_meanwhile)
    try:
        storage.expiring.sweep()
    finally:
        dynamodb.meta.events.unregister(event, taken_over_meanwhile)

    assert claim.token is not None
    assert partition_ids(dynamodb, table, EXPIRING_PARTITION) == [ident]
    assert partition_ids(dynamodb, table, expiring_partition(ident)) == []
    kept = dynamodb.get_item(TableName=table, Key=old_key, ConsistentRead=True)["Item"]
    assert kept["token"] == {"S": "another request"}


def test_what_may_still_be_written_is_not_moved(storage: Storage, dynamodb: Any) -> None:
    """A request still running, a report being sent and a day's quota stay where the
    earlier version writes them, and expire there."""
    table = storage.events.table
    assert storage.idempotency.claim("running", "k", "request").token is not None
    assert storage.mailings.claim(DAY, "dept-1")
    storage.mailings.reserve(DAY, 5, 100)
    left = {
        only_id(dynamodb, table, "#idempotency#"),
        storage.mailings.marker_id(DAY, "dept-1"),
        storage.mailings.quota_id(DAY),
    }
    for ident in left:
        written_before_spreading(dynamodb, table, ident)

    Storage(dynamodb, storage.departments.table, table).expiring.sweep()

    assert set(partition_ids(dynamodb, table, EXPIRING_PARTITION)) == left


def refusing_reads_of_the_old_partition(dynamodb: Any) -> Callable[..., Any]:
    """A hook that makes DynamoDB refuse each GetItem of the partition from before
    spreading (AccessDenied, which botocore does not retry)."""

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"").decode()
        key = json.loads(request.body or b"{}").get("Key", {})
        if target.endswith("GetItem") and key.get("department_id") == {"S": EXPIRING_PARTITION}:
            return error_response(request, "AccessDeniedException")
        return None

    dynamodb.meta.events.register_first("before-send.dynamodb", refuse)
    return refuse


def test_a_claim_whose_look_at_the_old_partition_fails_is_given_back(
    storage: Storage, dynamodb: Any
) -> None:
    table = storage.events.table
    assert storage.idempotency.claim("other", "k", "request").token is not None
    written_before_spreading(dynamodb, table, only_id(dynamodb, table, "#idempotency#"))
    fresh = Storage(dynamodb, storage.departments.table, table)

    refuse = refusing_reads_of_the_old_partition(dynamodb)
    try:
        with pytest.raises(StorageUnavailable):
            fresh.idempotency.claim("mine", "k", "request")
        with pytest.raises(StorageUnavailable):
            fresh.mailings.claim(DAY, "dept-1")
    finally:
        dynamodb.meta.events.unregister("before-send.dynamodb", refuse)

    # Neither claim was left behind: the retry runs, the report is not taken as sent.
    assert fresh.idempotency.claim("mine", "k", "request").token is not None
    assert not fresh.mailings.already_sent(DAY, "dept-1")
    assert fresh.mailings.claim(DAY, "dept-1")


def test_report_markers_and_the_quota_from_before_spreading_still_count(
    storage: Storage, dynamodb: Any
) -> None:
    table = storage.events.table
    mailings = storage.mailings
    assert mailings.claim(DAY, "dept-1")
    mailings.reserve(DAY, 90, 100)
    written_before_spreading(dynamodb, table, mailings.marker_id(DAY, "dept-1"))
    written_before_spreading(dynamodb, table, mailings.quota_id(DAY))

    fresh = Storage(dynamodb, storage.departments.table, table).mailings
    assert fresh.already_sent(DAY, "dept-1")
    assert not fresh.claim(DAY, "dept-1")  # its report goes out once, however retried
    with pytest.raises(QuotaReached):
        fresh.reserve(DAY, 20, 100)  # 90 before and 20 now pass the day's 100
    fresh.reserve(DAY, 10, 100)
    assert fresh.claim(DAY, "dept-2")


def test_the_old_partition_is_asked_once_when_it_holds_nothing(
    storage: Storage, dynamodb: Any
) -> None:
    queries: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        queries.append(params["ExpressionAttributeValues"][":p"]["S"])

    fresh = Storage(dynamodb, storage.departments.table, storage.events.table)
    dynamodb.meta.events.register("provide-client-params.dynamodb.Query", count)
    try:
        for n in range(5):
            fresh.idempotency.claim("scope", f"key-{n}", "request")
            fresh.mailings.already_sent(DAY, f"dept-{n}")
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.Query", count)

    assert queries == [EXPIRING_PARTITION]


def test_a_dead_record_from_before_spreading_does_not_block_its_key(
    storage: Storage, dynamodb: Any
) -> None:
    """A pending record whose request died before the upgrade frees its key after the
    stale limit, as one written after it does."""
    table = storage.events.table
    claim = storage.idempotency.claim("dead", "k", "request")
    assert claim.token is not None
    ident = only_id(dynamodb, table, "#idempotency#")
    written_before_spreading(dynamodb, table, ident)
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": ident}, "department_id": {"S": EXPIRING_PARTITION}},
        UpdateExpression="SET started_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": "1600000000"}},
    )

    fresh = Storage(dynamodb, storage.departments.table, table)
    assert fresh.idempotency.claim("dead", "k", "request").token is not None
