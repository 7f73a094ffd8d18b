"""``/api/departments``: create, list, get, update and delete departments."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, jsonify, url_for

from backend.access.rights import Need, Role
from backend.api.context import cursors, storage
from backend.api.idempotency import idempotent
from backend.api.inputs import (
    DEFAULT_LIMIT,
    bool_param,
    if_match,
    json_object,
    limit_param,
    name_param,
    query,
    text_param,
)
from backend.api.openapi import (
    BODY_ERRORS,
    DEPARTMENT_EXAMPLE,
    READ_ERRORS,
    REPLAYABLE_HEADERS,
    RESOURCE_HEADERS,
    describe,
    empty_response,
    header,
    json_body,
    json_response,
    operation,
    param,
)
from backend.api.responses import department_json, list_response, resource_response
from backend.api.security import caller, checked_access, gate, needs, role_name
from backend.domain import Department
from backend.fields import DEPARTMENT
from backend.services import departments
from backend.services.departments import CASCADE_BUDGET
from backend.storage.departments import (
    DepartmentAccess,
    DepartmentPosition,
    department_position,
)
from backend.storage.idempotency import StoredResponse

bp = Blueprint("departments", __name__, url_prefix="/api/departments")


@bp.post("")
@describe(
    operation(
        "createDepartment",
        "departments",
        "Create a department",
        "Creates a department with a unique name (trimmed, NFC-normalised; two "
        "creates of one new name give exactly one 201). With Idempotency-Key, a "
        "retried create returns the first answer instead of a second department.",
        {
            "201": json_response(
                "Created; Location names the new department",
                "Department",
                DEPARTMENT_EXAMPLE,
                REPLAYABLE_HEADERS,
            )
        },
        errors=("409", *BODY_ERRORS),
        parameters=[param("IdempotencyKey")],
        body=json_body(
            "DepartmentCreate",
            "The new department",
            {"name": "QA팀", "description": "품질 보증"},
        ),
        write=True,
    )
)
@needs(Need.SIGNED_IN)
def create_department() -> Response:
    body = json_object()
    fields = DEPARTMENT.validate(body, creating=True)

    who = caller()
    # A person who creates a department becomes its owner; a service token's departments
    # have no members (admins and service tokens manage them).
    creator = f"user:{who.subject}" if who.kind == "user" else None

    def render(department: Department) -> StoredResponse:
        location = url_for(".get_department", department_id=department.id)
        return StoredResponse(201, department_json(department, Role.OWNER), location)

    return idempotent(
        body,
        lambda completing: departments.create_department(
            storage(), fields, completing, owner=creator
        ),
        render,
    )


@bp.get("")
@describe(
    operation(
        "listDepartments",
        "departments",
        "List departments ordered by name",
        "Pages of up to limit departments; ?name= finds one by its exact name "
        "(surrounding white space ignored).",
        {
            "200": json_response(
                "A page",
                "DepartmentList",
                {"items": [DEPARTMENT_EXAMPLE], "next_cursor": None},
            )
        },
        errors=READ_ERRORS,
        parameters=[
            {
                "name": "name",
                "in": "query",
                "description": "Exact department name (surrounding white space ignored)",
                "schema": DEPARTMENT.text("name").schema(),
                "example": "개발팀",
            },
            param("Limit"),
            param("Cursor"),
        ],
    )
)
@needs(Need.LIST)
def list_departments() -> Response:
    args = query({"name": name_param, "limit": limit_param, "cursor": text_param})
    scope = ["departments", args.get("name")]
    after = None
    if "cursor" in args:
        after = cast(DepartmentPosition, cursors().decode(args["cursor"], scope, 2))
    the_gate, who = gate(), caller()

    def visible(access: DepartmentAccess) -> bool:
        return the_gate.role(who, access) is not None

    page, more = storage().departments.list_page(
        args.get("name"),
        after,
        args.get("limit", DEFAULT_LIMIT),
        None if who.everything or not the_gate.signs_in else visible,
    )
    next_cursor = (
        cursors().encode(scope, department_position(page[-1].department)) if more else None
    )
    items = [department_json(a.department, role_name(the_gate.role(who, a))) for a in page]
    response = list_response(items, next_cursor)
    response.vary.add("Authorization")
    return response


@bp.get("/<department_id>")
@describe(
    operation(
        "getDepartment",
        "departments",
        "Get a department",
        "The department with its ETag; with If-None-Match holding that ETag, 304.",
        {
            "200": json_response(
                "The department", "Department", DEPARTMENT_EXAMPLE, RESOURCE_HEADERS
            ),
            "304": empty_response(
                "Not modified: If-None-Match holds the current ETag", RESOURCE_HEADERS
            ),
        },
        errors=("404", *READ_ERRORS),
        parameters=[param("IfNoneMatch")],
    )
)
@needs(Need.READ)
def get_department(department_id: str) -> Response:
    access = checked_access(department_id) or storage().departments.access(department_id)
    role = gate().role(caller(), access)
    response = resource_response(
        department_json(access.department, role_name(role)), access.department.version
    )
    response.vary.add("Authorization")
    return response


@bp.patch("/<department_id>")
@describe(
    operation(
        "updateDepartment",
        "departments",
        "Change a department",
        "Changes the fields sent (a JSON merge patch: null clears description and "
        "notify_emails). With If-Match, only if nobody changed it since: else 412.",
        {
            "200": json_response(
                "The updated department",
                "Department",
                {**DEPARTMENT_EXAMPLE, "description": "플랫폼 개발", "version": 2},
                RESOURCE_HEADERS,
            )
        },
        errors=("404", "409", "412", *BODY_ERRORS),
        parameters=[param("IfMatch")],
        body=json_body("DepartmentUpdate", "Fields to change", {"description": "플랫폼 개발"}),
        write=True,
    )
)
@needs(Need.OWN)
def update_department(department_id: str) -> Response:
    changes = DEPARTMENT.validate(json_object(), creating=False)
    department = departments.update_department(storage(), department_id, changes, if_match())
    return resource_response(department_json(department, Role.OWNER), department.version)


@bp.delete("/<department_id>")
@describe(
    operation(
        "deleteDepartment",
        "departments",
        "Delete a department",
        "409 while it has events, unless cascade=true, which deletes them too (at "
        f"most {CASCADE_BUDGET} per request: 202 says how many remain; repeat the request).",
        {
            "204": empty_response("Deleted"),
            "202": json_response(
                "A cascade deleted a bounded share of the events and more remain: "
                "the department is kept; repeat the request",
                "CascadeProgress",
                {
                    "deleted_events": CASCADE_BUDGET,
                    "remaining_events": 120,
                    "detail": "the department is deleted once its events are; repeat this request",
                },
                {"Retry-After": header("Retry-After")},
            ),
        },
        errors=("404", "409", "412", *READ_ERRORS),
        parameters=[
            param("IfMatch"),
            {
                "name": "cascade",
                "in": "query",
                "description": "Also delete the department's events",
                "schema": {"type": "boolean", "default": False},
            },
        ],
        write=True,
    )
)
@needs(Need.OWN)
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
