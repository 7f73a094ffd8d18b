"""Read responses taken off the wire directly, not walked shape by shape.

botocore parses every response by walking its model: for each attribute value of each item
it visits the ten members of ``AttributeValue`` and dispatches on their shapes, which was a
third of a month list's CPU. For the reads that return items (GetItem, Query, Scan,
BatchGetItem), ``ReadParser`` takes the items as ``json.loads`` gives them, which is what
that walk returns for every attribute type but binary (base64 on the wire, ``bytes`` once
parsed): a response that may hold a binary value, every error and every other operation
are parsed by botocore as before. Signing, retries (the CRC32 check included), error codes
and the event hooks are botocore's, untouched.

``plain_item`` turns an item into plain values in one pass, as boto3's ``TypeDeserializer``
does value by value (whole numbers at the top level as ``int``, see ``dynamo.from_item``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary
from botocore.parsers import JSONParser, ResponseParser, ResponseParserFactory

# The outputs whose items are taken as they come, and their members that hold items
# (maps of attribute values); their other members are parsed by the model, as before.
_ITEM_OUTPUTS = frozenset({"GetItemOutput", "QueryOutput", "ScanOutput", "BatchGetItemOutput"})
_ITEM_MEMBERS = frozenset({"Item", "Items", "LastEvaluatedKey", "Responses"})

_decimal = DYNAMODB_CONTEXT.create_decimal


def may_hold_binary(body: bytes) -> bool:
    """Whether a response body may hold a binary attribute value (``"B"`` or ``"BS"``).

    The type names are object keys, so each appears quoted as it is; a body that escapes
    characters as ``\\u00XX`` could spell them otherwise, and is left to botocore too. A
    string value that happens to read ``"B"`` only costs the slower parse.
    """
    return b'"B"' in body or b'"BS"' in body or b"\\u00" in body


class ReadParser(JSONParser):
    """botocore's parser of the ``json`` protocol, with items taken as they come."""

    def _handle_json_body(self, raw_body: Any, shape: Any) -> Any:
        if (
            shape is None
            or shape.name not in _ITEM_OUTPUTS
            or not raw_body
            or may_hold_binary(raw_body)
        ):
            return super()._handle_json_body(raw_body, shape)  # type: ignore[misc]
        body = self._parse_body_as_json(raw_body)  # type: ignore[attr-defined]
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            value = body.get(name)
            if value is None:
                continue
            parsed[name] = value if name in _ITEM_MEMBERS else self._parse_shape(member, value)  # type: ignore[attr-defined]
        return parsed


class ReadParserFactory(ResponseParserFactory):
    """The parser factory of our client's session: ``ReadParser`` for the ``json``
    protocol (DynamoDB's), botocore's own for any other."""

    def __init__(self) -> None:
        super().__init__()
        self._json = ReadParser()  # parsers keep no state between responses

    def create_parser(self, protocol_name: str) -> ResponseParser:
        if protocol_name == "json":
            return self._json
        return super().create_parser(protocol_name)


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item's plain values: ``TypeDeserializer``'s, but whole numbers at the top level
    are ``int`` (numbers inside lists, maps and sets stay ``Decimal``)."""
    plain: dict[str, Any] = {}
    for name, value in item.items():
        if "S" in value:
            plain[name] = value["S"]
        elif "N" in value:
            plain[name] = _top_number(value["N"])
        else:
            plain[name] = plain_value(value)
    return plain


def plain_value(value: Mapping[str, Any]) -> Any:
    """One attribute value as ``TypeDeserializer.deserialize`` gives it."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind = next(iter(value))
    raw = value[kind]
    if kind == "S":
        return raw
    if kind == "N":
        return _decimal(raw)
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: plain_value(v) for k, v in raw.items()}
    if kind == "L":
        return [plain_value(v) for v in raw]
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return set(map(_decimal, raw))
    if kind == "B":
        return Binary(raw)
    if kind == "BS":
        return set(map(Binary, raw))
    raise TypeError(f"Dynamodb type {kind} is not supported")


def _top_number(text: str) -> int | Decimal:
    if text.isdigit() and text.isascii() and len(text) <= 38:
        return int(text)
    number = _decimal(text)
    return int(number) if number == number.to_integral_value() else number
