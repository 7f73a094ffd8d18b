"""The reference for scripts/bench: what a first draft of the same three calls would be.

Minimal Flask + boto3: no validation, no ETag, no problem+json, no request log. It makes
the same DynamoDB calls the contract needs (a create checks that the department exists,
so that it can answer 404), so the comparison measures the product's own overhead.
"""

from __future__ import annotations

import calendar
import os
import uuid
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from flask import Flask, jsonify, request

app = Flask(__name__)
app.json.ensure_ascii = False  # type: ignore[attr-defined]
_client = boto3.client(
    "dynamodb",
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"),
    region_name=os.environ.get("AWS_REGION", "ap-northeast-2"),
    # The benchmark's embedded engine checks signatures with its folder's key pair.
    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
    config=Config(max_pool_connections=int(os.environ.get("DYNAMODB_MAX_POOL_CONNECTIONS", "10"))),
)
_events = os.environ.get("EVENTS_TABLE", "events")
_departments = os.environ.get("DEPARTMENTS_TABLE", "departments")
_out = TypeDeserializer()
_in = TypeSerializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _out.deserialize(v) for k, v in item.items()}


@app.get("/api/events/<department_id>")
def list_events(department_id: str) -> Any:
    year, month = (int(p) for p in request.args["month"].split("-"))
    last = calendar.monthrange(year, month)[1]
    response = _client.query(
        TableName=_events,
        IndexName="department-date-index",
        KeyConditionExpression="department_id = :d AND event_date BETWEEN :a AND :b",
        ExpressionAttributeValues={
            ":d": {"S": department_id},
            ":a": {"S": f"{year:04d}-{month:02d}-01"},
            ":b": {"S": f"{year:04d}-{month:02d}-{last:02d}"},
        },
    )
    return jsonify([_plain(i) for i in response["Items"]])


@app.get("/api/events/<department_id>/<event_id>")
def get_event(department_id: str, event_id: str) -> Any:
    response = _client.get_item(
        TableName=_events, Key={"id": {"S": event_id}, "department_id": {"S": department_id}}
    )
    return jsonify(_plain(response["Item"]))


@app.post("/api/events/<department_id>")
def create_event(department_id: str) -> Any:
    body = request.get_json()
    department = _client.get_item(TableName=_departments, Key={"id": {"S": department_id}})
    if "Item" not in department:
        return jsonify({"error": "department not found"}), 404
    item = {"id": str(uuid.uuid4()), "department_id": department_id, **body}
    _client.put_item(TableName=_events, Item={k: _in.serialize(v) for k, v in item.items()})
    return jsonify(item), 201
