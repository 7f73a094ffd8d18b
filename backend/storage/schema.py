"""The two tables and their GSIs, declared once, exactly as the setup guide creates them.

``create_tables()``, the readiness check, the tests and the docs all read these
definitions; the AWS CLI commands of the guide produce the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Reserved words in DynamoDB expressions that our attribute names collide with; every
# expression refers to attributes through ``#name`` placeholders for this reason.
RESERVED_ATTRIBUTES = ("name", "time", "date", "description", "version")


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None
    read_capacity: int
    write_capacity: int


@dataclass(frozen=True)
class TableSchema:
    logical_name: str  # "departments" / "events": what settings map to a real table name
    hash_key: str
    range_key: str | None
    attributes: tuple[tuple[str, str], ...]  # (name, DynamoDB scalar type) of every key
    indexes: tuple[Index, ...]
    read_capacity: int
    write_capacity: int

    def key_schema(self) -> list[dict[str, str]]:
        return _key_schema(self.hash_key, self.range_key)

    def create_table_request(self, table_name: str, *, on_demand: bool = True) -> dict[str, Any]:
        """The CreateTable parameters for this schema under ``table_name``: on-demand
        capacity (billed per request, by item size), or, ``on_demand=False``, the setup
        guide's provisioned capacity, with each index given at least its table's (an index
        smaller than its table throttles the table's writes)."""
        request: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in self.attributes
            ],
            "KeySchema": self.key_schema(),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.hash_key, index.range_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ],
        }
        if on_demand:
            request["BillingMode"] = "PAY_PER_REQUEST"
            return request
        throughput = self.provisioned()
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = throughput
        for index in request["GlobalSecondaryIndexes"]:
            index["ProvisionedThroughput"] = dict(throughput)
        return request

    def provisioned(self) -> dict[str, int]:
        """The provisioned capacity of the table and of each of its indexes."""
        read = max([self.read_capacity, *(i.read_capacity for i in self.indexes)])
        write = max([self.write_capacity, *(i.write_capacity for i in self.indexes)])
        return {"ReadCapacityUnits": read, "WriteCapacityUnits": write}

    def problems_with(self, description: dict[str, Any]) -> list[str]:
        """What a DescribeTable result lacks compared with this schema (empty when usable)."""
        problems = []
        if _normal_keys(description.get("KeySchema", [])) != _normal_keys(self.key_schema()):
            problems.append(
                f"its key schema is not {self._keys_text(self.hash_key, self.range_key)}"
            )
        found = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes", [])}
        for index in self.indexes:
            actual = found.get(index.name)
            if actual is None:
                problems.append(f"it has no global secondary index {index.name!r}")
                continue
            wanted = _key_schema(index.hash_key, index.range_key)
            if _normal_keys(actual.get("KeySchema", [])) != _normal_keys(wanted):
                keys = self._keys_text(index.hash_key, index.range_key)
                problems.append(f"index {index.name!r} is not keyed on {keys}")
            if actual.get("Projection", {}).get("ProjectionType") != "ALL":
                problems.append(f"index {index.name!r} does not project ALL attributes")
        return problems

    @staticmethod
    def _keys_text(hash_key: str, range_key: str | None) -> str:
        return f"{hash_key} (HASH)" + (f" + {range_key} (RANGE)" if range_key else "")


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _normal_keys(keys: list[Any]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in keys)


DEPARTMENTS = TableSchema(
    logical_name="departments",
    hash_key="id",
    range_key=None,
    attributes=(("id", "S"), ("name", "S")),
    indexes=(Index("name-index", "name", None, read_capacity=5, write_capacity=5),),
    read_capacity=10,
    write_capacity=10,
)

EVENTS = TableSchema(
    logical_name="events",
    hash_key="id",
    range_key="department_id",
    attributes=(("id", "S"), ("department_id", "S"), ("event_date", "S")),
    indexes=(
        Index(
            "department-date-index",
            "department_id",
            "event_date",
            read_capacity=10,
            write_capacity=10,
        ),
    ),
    read_capacity=10,
    write_capacity=10,
)

NAME_INDEX = DEPARTMENTS.indexes[0].name
DEPARTMENT_DATE_INDEX = EVENTS.indexes[0].name
