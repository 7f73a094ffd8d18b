"""What a write costs the engine: the items it touches, not the size of its tables.

Transactions keep (to undo them) only the items they write, a cancelled one leaves every
item and index as it found them, the engine's memory stays flat over a thousand
transactions, and a transaction retried with its ClientRequestToken is answered as its
first attempt was without being applied twice.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from localdb import credentials, ensure_running, transactions
from localdb.launcher import STATE
from localdb.server import JournalingApp, Tokens

pytestmark = pytest.mark.slow


def _client(url: str, secret: str = "local") -> Any:  # noqa: S107 - the test engine has none
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="ap-northeast-2",
        aws_access_key_id="local-engine",
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[JournalingApp, Any]]:
    app = JournalingApp()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, _client(f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def _events_table(client: Any) -> str:
    """A table shaped like the events table: partition, sort key and a date index."""
    name = f"costs-{uuid.uuid4().hex[:10]}"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "day-index",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "day", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _event(n: int) -> dict[str, Any]:
    return {
        "pk": {"S": "dept"},
        "sk": {"S": f"ev{n:06d}"},
        "day": {"S": f"2024-01-{n % 28 + 1:02d}"},
        "title": {"S": f"회의 {n}"},
    }


def _write(table: str, n: int, token: str | None = None) -> dict[str, Any]:
    """An event write as the service makes one: the event and its calendar's count."""
    request: dict[str, Any] = {
        "TransactItems": [
            {
                "Put": {
                    "TableName": table,
                    "Item": _event(n),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "cal"}, "sk": {"S": "cal"}},
                    "UpdateExpression": "ADD #n :one",
                    "ExpressionAttributeNames": {"#n": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    }
    if token is not None:
        request["ClientRequestToken"] = token
    return request


def _count(client: Any, table: str) -> int:
    got = client.get_item(
        TableName=table, Key={"pk": {"S": "cal"}, "sk": {"S": "cal"}}, ConsistentRead=True
    )
    return int(got.get("Item", {}).get("count", {"N": "0"})["N"])


def _day(client: Any, table: str, day: str) -> list[str]:
    pages = client.get_paginator("query").paginate(
        TableName=table,
        IndexName="day-index",
        KeyConditionExpression="pk = :p AND #d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":p": {"S": "dept"}, ":d": {"S": day}},
    )
    return sorted(item["sk"]["S"] for page in pages for item in page["Items"])


def test_a_transaction_keeps_only_the_items_it_writes(engine: tuple[JournalingApp, Any]) -> None:
    _, client = engine
    table = _events_table(client)
    copies: list[int] = []
    for size in (10, 2000):
        batch = [{"PutRequest": {"Item": _event(n)}} for n in range(size)]
        for at in range(0, len(batch), 25):
            client.batch_write_item(RequestItems={table: batch[at : at + 25]})
        before = transactions.copied[0]
        client.transact_write_items(**_write(table, 100_000 + size))
        copies.append(transactions.copied[0] - before)

    assert copies == [2, 2]  # the event and the calendar item, at 10 items as at 2,000


def test_a_cancelled_transaction_leaves_items_and_indexes_as_they_were(
    engine: tuple[JournalingApp, Any],
) -> None:
    _, client = engine
    table = _events_table(client)
    for n in range(50):
        client.transact_write_items(**_write(table, n))
    day = _event(3)["day"]["S"]
    listed = _day(client, table, day)
    changed = _event(3) | {"day": {"S": "2024-02-01"}, "title": {"S": "옮김"}}

    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": changed}},  # moves an event
                {"Put": {"TableName": table, "Item": _event(900)}},  # adds one
                {"Delete": {"TableName": table, "Key": {k: _event(4)[k] for k in ("pk", "sk")}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "cal"}, "sk": {"S": "cal"}},
                        "UpdateExpression": "ADD #n :one",
                        "ExpressionAttributeNames": {"#n": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "dept"}, "sk": _event(5)["sk"]},
                        "ConditionExpression": "attribute_not_exists(pk)",  # fails
                    }
                },
            ]
        )

    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert _count(client, table) == 50
    assert _day(client, table, day) == listed
    assert _day(client, table, "2024-02-01") == []
    event3 = client.get_item(TableName=table, Key={"pk": {"S": "dept"}, "sk": _event(3)["sk"]})
    assert event3["Item"]["title"] == {"S": "회의 3"}
    scanned = client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
    assert scanned == 51  # 50 events and the calendar item: none added, none removed


def test_a_retried_transaction_is_answered_as_its_first_attempt(
    engine: tuple[JournalingApp, Any],
) -> None:
    _, client = engine
    table = _events_table(client)
    token = str(uuid.uuid4())

    client.transact_write_items(**_write(table, 1, token))
    client.transact_write_items(**_write(table, 1, token))  # a retry: not applied again
    with pytest.raises(ClientError) as mismatch:
        client.transact_write_items(**_write(table, 2, token))
    client.transact_write_items(**_write(table, 2, str(uuid.uuid4())))
    with pytest.raises(ClientError) as again:  # a new token: run, and its condition fails
        client.transact_write_items(**_write(table, 1, str(uuid.uuid4())))

    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert again.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _count(client, table) == 2


def test_tokens_are_forgotten_after_ten_minutes_and_beyond_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    tokens = Tokens(seconds=600, limit=3)
    answer: tuple[str, list[tuple[str, str]], bytes] = ("200 OK", [], b"{}")
    body = json.dumps({"ClientRequestToken": "t0", "TransactItems": []}).encode()
    key = Tokens.key("TransactWriteItems", "ap-northeast-2", body)
    assert key == ("ap-northeast-2", "t0")
    tokens.remember(key, body, answer)
    reordered = json.dumps({"TransactItems": [], "ClientRequestToken": "t0"}).encode()

    assert tokens.answer(key, reordered) == answer
    clock[0] += 601
    assert tokens.answer(key, body) is None
    for n in range(5):
        tokens.remember(("r", f"t{n}"), body, answer)
    assert len(tokens) == 3
    assert Tokens.key("PutItem", "r", body) is None


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_thousand_transactions_keep_the_engines_memory_flat(tmp_path: Path) -> None:
    data_dir = tmp_path / "localdb"
    url = ensure_running(data_dir)
    pid = int(json.loads((data_dir / STATE).read_text())["pid"])
    try:
        client = _client(url, credentials(data_dir)[1])
        table = _events_table(client)
        for n in range(1000):
            client.transact_write_items(**_write(table, n))
        rss = _rss_mib(pid)
        assert _count(client, table) == 1000
    finally:
        os.kill(pid, signal.SIGTERM)

    assert rss < 300, f"the engine holds {rss:.0f} MiB after 1,000 transactions"


def test_a_transaction_retried_after_a_crash_is_not_applied_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "localdb"
    url = ensure_running(data_dir)
    client = _client(url, credentials(data_dir)[1])
    table = _events_table(client)
    token = str(uuid.uuid4())
    client.transact_write_items(**_write(table, 1, token))
    pid = int(json.loads((data_dir / STATE).read_text())["pid"])
    os.kill(pid, signal.SIGKILL)  # as if its answer was lost with the engine
    time.sleep(0.3)
    try:
        again = _client(ensure_running(data_dir), credentials(data_dir)[1])
        again.transact_write_items(**_write(table, 1, token))  # the tool's retry
        with pytest.raises(ClientError) as mismatch:
            again.transact_write_items(**_write(table, 2, token))
        count = _count(again, table)
    finally:
        os.kill(int(json.loads((data_dir / STATE).read_text())["pid"]), signal.SIGTERM)

    assert count == 1
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
