"""``/api/departments``: create, list, get, update and delete departments."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from backend.api.inputs import (
    bool_param,
    department_fields,
    if_match,
    json_object,
    limit_param,
    name_param,
    query,
    text_param,
)
from backend.api.resources import (
    cursors,
    department_json,
    list_response,
    resource_response,
    storage,
)

bp = Blueprint("departments", __name__, url_prefix="/api/departments")

DEFAULT_LIMIT = 50


@bp.post("")
def create_department() -> Response:
    fields = department_fields(json_object(), creating=True)
    department = storage().departments.create(
        fields["name"], fields.get("description"), fields.get("notify_emails", ())
    )
    return resource_response(
        department_json(department),
        department.version,
        status=201,
        location=url_for(".get_department", department_id=department.id),
    )


@bp.get("")
def list_departments() -> Response:
    args = query({"name": name_param, "limit": limit_param, "cursor": text_param})
    limit = args.get("limit", DEFAULT_LIMIT)
    scope = ["departments", args.get("name")]
    if "name" in args:
        everything = storage().departments.find_by_name(args["name"])
    else:
        everything = storage().departments.list_all()
    rows = sorted(everything, key=lambda d: (d.name, d.id))
    if "cursor" in args:
        after = tuple(cursors().decode(args["cursor"], scope))
        rows = [d for d in rows if (d.name, d.id) > after]
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors().encode(scope, [page[-1].name, page[-1].id])
    return list_response([department_json(d) for d in page], next_cursor)


@bp.get("/<department_id>")
def get_department(department_id: str) -> Response:
    department = storage().departments.get(department_id)
    return resource_response(department_json(department), department.version)


@bp.patch("/<department_id>")
def update_department(department_id: str) -> Response:
    changes = department_fields(json_object(), creating=False)
    department = storage().departments.update(department_id, changes, if_match())
    return resource_response(department_json(department), department.version)


@bp.delete("/<department_id>")
def delete_department(department_id: str) -> Response:
    args = query({"cascade": bool_param})
    storage().delete_department(department_id, if_match(), cascade=args.get("cascade", False))
    return Response(status=204)
