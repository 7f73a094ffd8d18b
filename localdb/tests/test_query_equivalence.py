"""The engine's fast queries and item serialisation answer exactly as moto's own code.

Two engines share one moto state in this process: the engine as it runs, and one that
queries and serialises as moto ships it. Randomised tables (base table and indexes, keys
of both types, sparse index attributes, items updated, moved between partitions and
deleted after the indexes were built) are queried through both with real boto3 calls:
key conditions of every kind, Limit, both directions, ExclusiveStartKey from pages and
from arbitrary items. Any difference, or a moto outside the range the patch was verified
for, fails loudly.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from werkzeug.serving import make_server

from localdb import queries
from localdb.server import JournalingApp

pytestmark = pytest.mark.slow  # compares many random queries with moto's own

ROUNDS = 6


def _client(url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="ap-northeast-2",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Any, Any]]:
    servers = [
        make_server("127.0.0.1", 0, JournalingApp(reference=reference), threaded=True)
        for reference in (False, True)
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    fast, reference = (_client(f"http://127.0.0.1:{s.server_address[1]}") for s in servers)
    yield fast, reference
    for server in servers:
        server.shutdown()


def test_the_patch_is_active_for_this_moto() -> None:
    import moto  # noqa: PLC0415

    assert queries.install(), f"moto {moto.__version__} is outside {queries.SUPPORTED_MOTO}"


def _value(rng: random.Random, kind: str, spread: int) -> dict[str, str]:
    n = rng.randrange(spread)
    return {"S": f"v{n:03d}"} if kind == "S" else {"N": str(n - spread // 3)}


def _attribute(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kind = rng.choice(["S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL"] + ["M", "L"] * (depth < 2))
    if kind == "S":
        return {"S": rng.choice(["", "일정", "a b", "🚀", "x" * rng.randrange(5)])}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.5", "12345678901234567890", "3.14"])}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))}
    if kind == "SS":
        return {"SS": rng.sample(["a", "b", "한", "d"], rng.randrange(1, 4))}
    if kind == "NS":
        return {"NS": rng.sample(["1", "2.5", "-3", "40"], rng.randrange(1, 4))}
    if kind == "BS":
        return {"BS": rng.sample([b"\x00", b"\x01\x02", b"zz"], rng.randrange(1, 3))}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "M":
        return {"M": {f"k{i}": _attribute(rng, depth + 1) for i in range(rng.randrange(3))}}
    return {"L": [_attribute(rng, depth + 1) for _ in range(rng.randrange(3))]}


class _Table:
    """A random table on both engines' shared state, and its random queries."""

    def __init__(self, rng: random.Random, client: Any) -> None:
        self.rng, self.client = rng, client
        self.name = f"eq-{uuid.uuid4().hex[:8]}"
        self.sk_type, self.gr_type = rng.choice("SN"), rng.choice("SN")
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        client.create_table(
            TableName=self.name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": self.sk_type},
                {"AttributeName": "gh", "AttributeType": "S"},
                {"AttributeName": "gr", "AttributeType": self.gr_type},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-gh-gr",
                    "KeySchema": [
                        {"AttributeName": "gh", "KeyType": "HASH"},
                        {"AttributeName": "gr", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": "by-gh",
                    "KeySchema": [{"AttributeName": "gh", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def put(self) -> None:
        rng = self.rng
        item: dict[str, Any] = {
            "pk": {"S": f"p{rng.randrange(8)}"},
            "sk": _value(rng, self.sk_type, 40),
            "payload": _attribute(rng),
        }
        if rng.random() < 0.85:  # some items are absent from the indexes
            item["gh"] = {"S": f"h{rng.randrange(4)}"}
        if rng.random() < 0.85:
            item["gr"] = _value(rng, self.gr_type, 12)  # many equal range values
        self.client.put_item(TableName=self.name, Item=item)
        key = (item["pk"]["S"], str(next(iter(item["sk"].values()))))
        self.items[key] = item

    def change(self) -> None:
        """Update (moving items between index partitions), overwrite or delete one item."""
        if not self.items:
            return
        rng = self.rng
        key = rng.choice(sorted(self.items))
        item = self.items[key]
        table_key = {"pk": item["pk"], "sk": item["sk"]}
        action = rng.random()
        if action < 0.4:
            values = {":h": {"S": f"h{rng.randrange(4)}"}, ":r": _value(rng, self.gr_type, 12)}
            self.client.update_item(
                TableName=self.name,
                Key=table_key,
                UpdateExpression="SET gh = :h, gr = :r",
                ExpressionAttributeValues=values,
            )
            item["gh"], item["gr"] = values[":h"], values[":r"]
        elif action < 0.55:
            self.client.update_item(
                TableName=self.name, Key=table_key, UpdateExpression="REMOVE gr"
            )
            item.pop("gr", None)
        elif action < 0.8:
            self.client.delete_item(TableName=self.name, Key=table_key)
            del self.items[key]
        else:
            self.put()

    def random_query(self) -> dict[str, Any]:
        rng = self.rng
        index = rng.choice([None, "by-gh-gr", "by-gh"])
        params: dict[str, Any] = {"TableName": self.name}
        if index is None:
            hash_name, hash_value = "pk", {"S": f"p{rng.randrange(9)}"}
            range_name, range_type, spread = "sk", self.sk_type, 40
        else:
            params["IndexName"] = index
            hash_name, hash_value = "gh", {"S": f"h{rng.randrange(5)}"}
            range_name, range_type, spread = "gr", self.gr_type, 12
        condition = f"{hash_name} = :h"
        values: dict[str, Any] = {":h": hash_value}
        kinds = ["none", "=", "<", "<=", ">", ">=", "between"]
        if range_type == "S":
            kinds.append("begins_with")
        kind = "none" if index == "by-gh" else rng.choice(kinds)
        if kind == "between":
            low, high = sorted(
                (_value(rng, range_type, spread) for _ in range(2)),
                key=lambda v: int(v["N"]) if "N" in v else v["S"],
            )
            condition += f" AND {range_name} BETWEEN :a AND :b"
            values |= {":a": low, ":b": high}
        elif kind == "begins_with":
            condition += f" AND begins_with({range_name}, :a)"
            values[":a"] = {"S": rng.choice(["v", "v0", "v00", "v01", "w"])}
        elif kind != "none":
            condition += f" AND {range_name} {kind} :a"
            values[":a"] = _value(rng, range_type, spread)
        params |= {"KeyConditionExpression": condition, "ExpressionAttributeValues": values}
        if rng.random() < 0.7:
            params["Limit"] = rng.choice([1, 2, 3, 7, 50])
        if rng.random() < 0.5:
            params["ScanIndexForward"] = False
        if rng.random() < 0.3 and self.items:
            some = self.items[rng.choice(sorted(self.items))]
            start = {k: some[k] for k in ("pk", "sk")}
            if index is not None:
                start |= {k: some[k] for k in ("gh", "gr") if k in some}
            params["ExclusiveStartKey"] = start
        return params


def _answer(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    try:
        response = client.query(**params)
    except client.exceptions.ClientError as exc:
        return {"error": exc.response["Error"]}
    response.pop("ResponseMetadata")
    return dict(response)


def _compare_pages(fast: Any, reference: Any, params: dict[str, Any]) -> int:
    pages = 0
    while True:
        got, expected = _answer(fast, params), _answer(reference, params)
        assert got == expected, f"query {params} differs"
        pages += 1
        if "LastEvaluatedKey" not in got or pages > 60:
            return pages
        params = params | {"ExclusiveStartKey": got["LastEvaluatedKey"]}


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_queries_answer_as_moto_does(engines: tuple[Any, Any], seed: int) -> None:
    fast, reference = engines
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    table = _Table(rng, fast)
    for _ in range(150):
        table.put()
    compared = 0
    for _phase in range(3):
        for _ in range(60):
            compared += _compare_pages(fast, reference, table.random_query())
        for _ in range(60):  # after the indexes are built: they must follow every change
            table.change()
    assert compared >= 180


def test_items_are_serialised_as_moto_does(engines: tuple[Any, Any]) -> None:
    fast, reference = engines
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    name = f"eq-values-{uuid.uuid4().hex[:8]}"
    fast.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys = []
    for n in range(120):
        item = {"id": {"S": f"i{n}"}} | {f"a{i}": _attribute(rng) for i in range(4)}
        fast.put_item(TableName=name, Item=item)
        keys.append({"id": {"S": f"i{n}"}})
    for start in range(0, len(keys), 40):
        request = {name: {"Keys": keys[start : start + 40], "ConsistentRead": True}}
        got = fast.batch_get_item(RequestItems=request)["Responses"][name]
        expected = reference.batch_get_item(RequestItems=request)["Responses"][name]
        assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert fast.scan(TableName=name)["Items"] == reference.scan(TableName=name)["Items"]
