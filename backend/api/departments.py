"""``/api/departments``: create, list, get, update and delete departments."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, jsonify, url_for

from backend.api.context import cursors, storage
from backend.api.idempotency import idempotent
from backend.api.inputs import (
    bool_param,
    if_match,
    json_object,
    limit_param,
    name_param,
    query,
    text_param,
)
from backend.api.responses import department_json, list_response, resource_response
from backend.fields import DEPARTMENT
from backend.services import departments
from backend.storage.departments import DepartmentPosition, department_position
from backend.storage.idempotency import StoredResponse

bp = Blueprint("departments", __name__, url_prefix="/api/departments")

DEFAULT_LIMIT = 50


@bp.post("")
def create_department() -> Response:
    body = json_object()
    fields = DEPARTMENT.validate(body, creating=True)

    def create() -> StoredResponse:
        department = storage().departments.create(
            fields["name"], fields.get("description"), fields.get("notify_emails", ())
        )
        location = url_for(".get_department", department_id=department.id)
        return StoredResponse(201, department_json(department), location)

    return idempotent(body, create)


@bp.get("")
def list_departments() -> Response:
    args = query({"name": name_param, "limit": limit_param, "cursor": text_param})
    scope = ["departments", args.get("name")]
    after = None
    if "cursor" in args:
        after = cast(DepartmentPosition, cursors().decode(args["cursor"], scope, 2))
    page, more = storage().departments.list_page(
        args.get("name"), after, args.get("limit", DEFAULT_LIMIT)
    )
    next_cursor = cursors().encode(scope, department_position(page[-1])) if more else None
    return list_response([department_json(d) for d in page], next_cursor)


@bp.get("/<department_id>")
def get_department(department_id: str) -> Response:
    department = storage().departments.get(department_id)
    return resource_response(department_json(department), department.version)


@bp.patch("/<department_id>")
def update_department(department_id: str) -> Response:
    changes = DEPARTMENT.validate(json_object(), creating=False)
    department = departments.update_department(storage(), department_id, changes, if_match())
    return resource_response(department_json(department), department.version)


@bp.delete("/<department_id>")
def delete_department(department_id: str) -> Response:
    args = query({"cascade": bool_param})
    result = departments.delete_department(
        storage(), department_id, if_match(), cascade=args.get("cascade", False)
    )
    if result.remaining:
        # A cascade does a bounded amount of work per request: say what is left.
        response = jsonify(
            {
                "deleted_events": result.deleted,
                "remaining_events": result.remaining,
                "detail": "the department is deleted once its events are; repeat this request",
            }
        )
        response.status_code = 202
        response.headers["Retry-After"] = "1"
        return response
    return Response(status=204)
