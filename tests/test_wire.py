"""Read responses taken off the wire (``storage/wire.py``) are exactly botocore's.

Each read's parsed response and each item's plain values are compared with what botocore's
shape-driven parser and boto3's ``TypeDeserializer`` give for the same bytes, for every
DynamoDB type; errors still surface as ``ClientError`` with their codes and reasons.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import botocore.session
import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import JSONParser

from backend.config import Settings
from backend.errors import StorageUnavailable
from backend.storage import Storage
from backend.storage.dynamo import (
    cancelled_by,
    error_code,
    from_item,
    is_contention,
    make_client,
    to_item,
    translated_errors,
)
from backend.storage.wire import ReadParser, may_hold_binary, plain_item, plain_value
from tests.helpers import local_aws_client

_MODEL = botocore.session.get_session().get_service_model("dynamodb")

# Every type, Korean text, numbers whole and not, nested and in sets.
EVERY_TYPE: dict[str, Any] = {
    "id": {"S": "이벤트-1"},
    "department_id": {"S": "개발팀"},
    "title": {"S": '팀 회의 📅 "인용" \\ 끝'},
    "empty": {"S": ""},
    "count": {"N": "42"},
    "negative": {"N": "-7"},
    "zero_padded": {"N": "007"},
    "exponent": {"N": "1E+2"},
    "fraction": {"N": "3.14"},
    "whole_fraction": {"N": "2.0"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "tiny": {"N": "-0.000000000000000000000000000001"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "list": {"L": [{"S": "가"}, {"N": "1"}, {"N": "1.5"}, {"NULL": True}, {"L": []}]},
    "map": {"M": {"이름": {"S": "값"}, "n": {"N": "5"}, "inner": {"M": {"b": {"BOOL": False}}}}},
    "strings": {"SS": ["가", "나", "다"]},
    "numbers": {"NS": ["1", "2.5", "-3"]},
}
WITH_BINARY: dict[str, Any] = EVERY_TYPE | {
    "blob": {"B": "AAEC/w=="},
    "blobs": {"BS": ["AAE=", "/w=="]},
    "nested_blob": {"L": [{"B": "YQ=="}]},
}


def old_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """What ``dynamo.from_item`` did before: TypeDeserializer, then whole numbers as int."""
    plain = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    return {
        k: int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else v
        for k, v in plain.items()
    }


def response(body: Any, status: int = 200) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return {
        "body": raw,
        "headers": {"x-amzn-requestid": "req-1", "content-type": "application/x-amz-json-1.0"},
        "status_code": status,
        "context": {},
    }


def both(operation: str, body: Any, status: int = 200) -> tuple[Any, Any]:
    shape: Any = _MODEL.operation_model(operation).output_shape
    return (
        ReadParser().parse(response(body, status), shape),
        JSONParser().parse(response(body, status), shape),
    )


def botocore_item(item: dict[str, Any]) -> dict[str, Any]:
    """The item as botocore's own parser gives it (binary values decoded to bytes)."""
    shape: Any = _MODEL.operation_model("GetItem").output_shape
    parsed = JSONParser().parse(response({"Item": item}), shape)
    return dict(parsed["Item"])


# -- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "with-binary"])
def test_get_item_is_parsed_as_botocore_parses_it(item: dict[str, Any]) -> None:
    body = {"Item": item, "ConsumedCapacity": {"TableName": "events", "CapacityUnits": 1.0}}
    ours, theirs = both("GetItem", body)
    assert ours == theirs
    assert ours["ResponseMetadata"]["RequestId"] == "req-1"


def test_a_missing_item_is_parsed_as_botocore_parses_it() -> None:
    ours, theirs = both("GetItem", {})
    assert ours == theirs
    assert "Item" not in ours


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "with-binary"])
def test_query_and_scan_pages_are_parsed_as_botocore_parses_them(item: dict[str, Any]) -> None:
    body = {
        "Items": [item, {"id": {"S": "둘"}, "department_id": {"S": "개발팀"}}],
        "Count": 2,
        "ScannedCount": 3,
        "LastEvaluatedKey": {"id": {"S": "둘"}, "department_id": {"S": "개발팀"}},
        "ConsumedCapacity": {
            "TableName": "events",
            "CapacityUnits": 0.5,
            "GlobalSecondaryIndexes": {"department-date-index": {"CapacityUnits": 0.5}},
        },
    }
    for operation in ("Query", "Scan"):
        ours, theirs = both(operation, body)
        assert ours == theirs
    empty = {"Items": [], "Count": 0, "ScannedCount": 0}
    assert both("Query", empty)[0] == both("Query", empty)[1]


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "with-binary"])
def test_batch_get_item_is_parsed_as_botocore_parses_it(item: dict[str, Any]) -> None:
    body = {
        "Responses": {"events": [item], "departments": []},
        "UnprocessedKeys": {
            "events": {"Keys": [{"id": {"S": "셋"}}], "ConsistentRead": True},
        },
        "ConsumedCapacity": [{"TableName": "events", "CapacityUnits": 2}],
    }
    ours, theirs = both("BatchGetItem", body)
    assert ours == theirs


def test_members_outside_the_model_are_left_out_as_botocore_leaves_them() -> None:
    body = {"Items": [EVERY_TYPE], "Count": 1, "Surprise": {"x": 1}, "ScannedCount": None}
    ours, theirs = both("Query", body)
    assert ours == theirs
    assert "Surprise" not in ours


def test_an_unreadable_body_is_parsed_as_botocore_parses_it() -> None:
    ours, theirs = both("Query", b"<html>not json</html>")
    assert ours == theirs


def test_a_body_that_may_hold_binary_goes_to_botocore() -> None:
    assert may_hold_binary(json.dumps({"Item": WITH_BINARY}).encode())
    assert may_hold_binary(b'{"Item":{"a":{"\\u0042":"YQ=="}}}')  # an escaped "B"
    assert not may_hold_binary(json.dumps({"Item": EVERY_TYPE}, ensure_ascii=False).encode())
    # Escaped Korean (as json.dumps writes it by default) stays on the fast path.
    assert not may_hold_binary(json.dumps({"Item": EVERY_TYPE}).encode())
    escaped = {"Item": {"a": {"\u0042": "YQ=="}}}
    assert both("GetItem", json.dumps(escaped).encode())[0]["Item"]["a"]["B"] == b"a"


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("ConditionalCheckFailedException", {}),
        ("ProvisionedThroughputExceededException", {}),
        ("ThrottlingException", {}),
        ("ResourceNotFoundException", {}),
        (
            "TransactionCanceledException",
            {
                "CancellationReasons": [
                    {"Code": "None"},
                    {"Code": "ConditionalCheckFailed", "Item": EVERY_TYPE},
                ]
            },
        ),
    ],
)
def test_errors_are_parsed_as_botocore_parses_them(code: str, extra: dict[str, Any]) -> None:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "no"} | extra
    for operation in ("GetItem", "Query", "TransactWriteItems"):
        ours, theirs = both(operation, body, 400)
        assert ours == theirs
        assert ours["Error"]["Code"] == code


# -- plain values ----------------------------------------------------------------------------


@pytest.mark.parametrize("item", [EVERY_TYPE, WITH_BINARY], ids=["every-type", "with-binary"])
def test_plain_item_is_what_type_deserializer_gave(item: dict[str, Any]) -> None:
    parsed = botocore_item(item)
    ours, before = plain_item(parsed), old_from_item(parsed)
    assert ours == before
    assert [type(v) for v in ours.values()] == [type(v) for v in before.values()]
    assert from_item(parsed) == before


def test_plain_values_keep_the_types_the_code_expects() -> None:
    plain = plain_item(botocore_item(WITH_BINARY))
    assert plain["title"] == '팀 회의 📅 "인용" \\ 끝'
    assert plain["count"] == 42
    assert type(plain["count"]) is int
    assert plain["zero_padded"] == 7
    assert type(plain["zero_padded"]) is int
    assert plain["exponent"] == 100
    assert type(plain["exponent"]) is int
    assert plain["whole_fraction"] == 2
    assert type(plain["whole_fraction"]) is int
    assert plain["big"] == 12345678901234567890123456789012345678
    assert plain["fraction"] == Decimal("3.14")
    assert plain["tiny"] == Decimal("-0.000000000000000000000000000001")
    assert plain["nothing"] is None
    assert plain["yes"] is True
    assert plain["no"] is False
    # Inside lists, maps and sets numbers stay Decimal, as TypeDeserializer leaves them.
    assert plain["list"] == ["가", Decimal(1), Decimal("1.5"), None, []]
    assert type(plain["list"][1]) is Decimal
    assert plain["map"] == {"이름": "값", "n": Decimal(5), "inner": {"b": False}}
    assert plain["strings"] == {"가", "나", "다"}
    assert plain["numbers"] == {Decimal(1), Decimal("2.5"), Decimal(-3)}
    assert plain["blob"] == Binary(b"\x00\x01\x02\xff")
    assert plain["blobs"] == {Binary(b"\x00\x01"), Binary(b"\xff")}
    assert plain["nested_blob"] == [Binary(b"a")]


def test_a_value_without_a_type_is_refused_as_before() -> None:
    with pytest.raises(TypeError):
        plain_value({})
    with pytest.raises(TypeError):
        plain_value(cast(Any, {"X": "?"}))
    with pytest.raises(TypeError):
        TypeDeserializer().deserialize(cast(Any, {"X": "?"}))


# -- through the client, against the engine ----------------------------------------------------


@pytest.fixture
def plain_client(settings: Settings) -> Any:
    """A boto3 client with botocore's own parser, to compare with."""
    assert settings.endpoint_url is not None
    return local_aws_client("dynamodb", settings.endpoint_url)


def test_reads_through_our_client_equal_botocore_reads(
    storage: Storage, dynamodb: Any, plain_client: Any
) -> None:
    table = storage.events.table
    items = [
        EVERY_TYPE | {"event_date": {"S": "2024-03-01"}},
        WITH_BINARY | {"id": {"S": "이벤트-2"}, "event_date": {"S": "2024-03-02"}},
    ]
    for item in items:
        plain_client.put_item(TableName=table, Item=item)
    keys = [{"id": i["id"], "department_id": i["department_id"]} for i in items]

    def strip(parsed: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in parsed.items() if k != "ResponseMetadata"}

    for key in keys:
        ours = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        theirs = plain_client.get_item(TableName=table, Key=key, ConsistentRead=True)
        assert strip(ours) == strip(theirs)
        assert from_item(ours["Item"]) == old_from_item(theirs["Item"])
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": "department-date-index",
        "KeyConditionExpression": "department_id = :d",
        "ExpressionAttributeValues": {":d": {"S": "개발팀"}},
        "Limit": 1,
    }
    ours, theirs = dynamodb.query(**query), plain_client.query(**query)
    assert strip(ours) == strip(theirs)
    assert "LastEvaluatedKey" in ours
    query["ExclusiveStartKey"] = ours["LastEvaluatedKey"]  # the key goes back as it came
    assert strip(dynamodb.query(**query)) == strip(plain_client.query(**query))
    batch = {"RequestItems": {table: {"Keys": keys, "ConsistentRead": True}}}
    ours, theirs = dynamodb.batch_get_item(**batch), plain_client.batch_get_item(**batch)
    assert sorted(map(str, ours["Responses"][table])) == sorted(
        map(str, theirs["Responses"][table])
    )


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _answering(client: Any, status: int, body: dict[str, Any], calls: list[str]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        calls.append(request.headers.get("X-Amz-Target", b"").decode())
        headers = {"x-amzn-requestid": "fake", "x-amz-crc32": str(zlib.crc32(data))}
        return AWSResponse(request.url, status, headers, _Body(data))  # type: ignore[arg-type]

    client.meta.events.register_first("before-send.dynamodb", answer)


def _client(attempts: int = 3) -> Any:
    return make_client(
        region="ap-northeast-2",
        endpoint_url="http://127.0.0.1:9",
        access_key="local",
        secret_key="local",
        max_attempts=attempts,
    )


def test_a_checked_answer_is_read_through_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def walked(*_: Any) -> None:
        raise AssertionError("the items were walked shape by shape")

    monkeypatch.setattr(JSONParser, "_handle_list", walked)
    client, calls = _client(), list[str]()
    _answering(client, 200, {"Items": [EVERY_TYPE], "Count": 1, "ScannedCount": 1}, calls)
    parsed = client.query(TableName="t", KeyConditionExpression="id = :i",
                          ExpressionAttributeValues={":i": {"S": "x"}})  # fmt: skip
    assert parsed["Items"] == [EVERY_TYPE]
    assert len(calls) == 1
    assert from_item(parsed["Items"][0]) == old_from_item(EVERY_TYPE)


def test_a_corrupted_answer_is_still_retried_by_botocore() -> None:
    client, calls = _client(), list[str]()
    data = json.dumps({"Item": EVERY_TYPE}).encode()

    def answer(request: Any, **_: Any) -> AWSResponse:
        calls.append("GetItem")
        headers = {"x-amz-crc32": str(zlib.crc32(data) ^ 1)}  # not the body's checksum
        return AWSResponse(request.url, 200, headers, _Body(data))  # type: ignore[arg-type]

    client.meta.events.register_first("before-send.dynamodb", answer)
    client.get_item(TableName="t", Key={"id": {"S": "x"}})
    assert len(calls) == 3  # botocore's checksum check asked for every attempt


@pytest.mark.parametrize(
    ("operation", "code", "attempts"),
    [
        ("PutItem", "ConditionalCheckFailedException", 1),
        ("GetItem", "ProvisionedThroughputExceededException", 3),  # retried by botocore
        ("Query", "ThrottlingException", 3),
    ],
)
def test_errors_still_raise_client_errors_with_their_codes(
    operation: str, code: str, attempts: int
) -> None:
    client, calls = _client(), list[str]()
    _answering(client, 400, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}"}, calls)
    params: dict[str, Any] = {
        "PutItem": {"TableName": "t", "Item": to_item({"id": "x"})},
        "GetItem": {"TableName": "t", "Key": to_item({"id": "x"})},
        "Query": {"TableName": "t", "KeyConditionExpression": "id = :i",
                  "ExpressionAttributeValues": {":i": {"S": "x"}}},
    }[operation]  # fmt: skip
    call = getattr(
        client, {"PutItem": "put_item", "GetItem": "get_item", "Query": "query"}[operation]
    )
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert error_code(caught.value) == code
    assert len(calls) == attempts
    if code != "ConditionalCheckFailedException":
        with pytest.raises(StorageUnavailable), translated_errors("read"):
            call(**params)


def test_a_cancelled_transaction_still_carries_its_reasons() -> None:
    client, calls = _client(), list[str]()
    body = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled",
        "CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
    }
    _answering(client, 400, body, calls)
    item = {"Put": {"TableName": "t", "Item": to_item({"id": "x"})}}
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(TransactItems=[item, item])
    assert error_code(caught.value) == "TransactionCanceledException"
    assert cancelled_by(caught.value, 1)
    assert not cancelled_by(caught.value, 0)
    assert not is_contention(caught.value)
    conflict, calls = _client(), list[str]()
    body["CancellationReasons"] = [{"Code": "TransactionConflict"}, {"Code": "None"}]
    _answering(conflict, 400, body, calls)
    with pytest.raises(ClientError) as caught:
        conflict.transact_write_items(TransactItems=[item, item])
    assert is_contention(caught.value)
