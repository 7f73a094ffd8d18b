"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

It is written to be fed to client generators (NSwag and openapi-generator for C#,
openapi-typescript): every operation has an ``operationId``, request and response bodies
are named components, and nullable fields use 3.1's ``["string", "null"]``.
"""

from __future__ import annotations

from typing import Any

from backend.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from backend.errors import PROBLEM_TYPES
from backend.fields import DEPARTMENT, EVENT

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}},
    }


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _body(schema: str, description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {
            _JSON: {"schema": _ref(schema), "example": example},
            "application/merge-patch+json": {"schema": _ref(schema)},
        },
    }


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
    "422": {"$ref": "#/components/responses/ValidationError"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}
_READ_ERRORS = {k: v for k, v in _ERRORS.items() if k in {"400", "503"}}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_PRECONDITION = {"412": {"$ref": "#/components/responses/PreconditionFailed"}}


def _resource(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
        "content": {_JSON: {"schema": _ref(schema)}},
    }


def _created(schema: str) -> dict[str, Any]:
    created = _resource(schema, "Created")
    created["headers"] = created["headers"] | {
        "Location": {"description": "URL of the new resource", "schema": {"type": "string"}}
    }
    return created


_NOT_MODIFIED = {"304": {"description": "Not modified: If-None-Match holds the current ETag"}}
_NO_CONTENT = {"204": {"description": "Deleted"}}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _schemas() -> dict[str, Any]:
    timestamp = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with Z"}
    version = {"type": "integer", "minimum": 1, "description": "Starts at 1; the ETag"}
    department = {f.name: f.schema() for f in DEPARTMENT.fields}
    event = {f.name: f.schema() for f in EVENT.fields}
    return {
        "Department": {
            "type": "object",
            "required": ["id", "name", "description", "created_at", "updated_at", "version"],
            "properties": {
                "id": {"type": "string"},
                **department,
                "created_at": timestamp,
                "updated_at": timestamp,
                "version": version,
            },
        },
        "DepartmentCreate": DEPARTMENT.input_schema(creating=True),
        "DepartmentUpdate": DEPARTMENT.input_schema(creating=False),
        "DepartmentList": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("Department")},
                "next_cursor": _nullable(
                    "string", description="Pass as ?cursor= for the next page"
                ),
            },
        },
        "Event": {
            "type": "object",
            "required": [
                "id",
                "department_id",
                "event_date",
                "title",
                "time",
                "start_time",
                "description",
                "created_at",
                "updated_at",
                "version",
                "end_date",
                "end_time",
                "location",
            ],
            "properties": {
                "id": {"type": "string"},
                "department_id": {"type": "string"},
                **event,
                "start_time": _nullable(
                    "string",
                    pattern="^[0-2][0-9]:[0-5][0-9]$",
                    description="24-hour HH:MM read from time, or null when it cannot be read",
                ),
                "created_at": timestamp,
                "updated_at": timestamp,
                "version": version,
            },
        },
        "EventCreate": EVENT.input_schema(creating=True),
        "EventUpdate": EVENT.input_schema(creating=False),
        "EventList": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref("Event")},
                "next_cursor": _nullable(
                    "string", description="Pass as ?cursor= for the next page"
                ),
            },
        },
        "CascadeProgress": {
            "type": "object",
            "required": ["deleted_events", "remaining_events", "detail"],
            "properties": {
                "deleted_events": {"type": "integer", "minimum": 0},
                "remaining_events": {"type": "integer", "minimum": 1},
                "detail": {"type": "string"},
            },
        },
        "ImportResult": {
            "type": "object",
            "required": ["created", "updated", "unchanged", "deleted", "rejected"],
            "properties": {
                "created": {"type": "integer", "minimum": 0},
                "updated": {"type": "integer", "minimum": 0},
                "unchanged": {"type": "integer", "minimum": 0},
                "deleted": {"type": "integer", "minimum": 0},
                "dry_run": {"type": "boolean"},
                "rejected": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["uid", "line", "reason"],
                        "properties": {
                            "uid": {"type": ["string", "null"]},
                            "line": {"type": "integer", "minimum": 1},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
        "FieldError": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {
                    "type": "string",
                    "format": "uri-reference",
                    "description": "One of: "
                    + ", ".join(PROBLEM_BASE + slug for slug in PROBLEM_TYPES)
                    + ", or about:blank",
                },
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "request_id": _nullable("string"),
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}},
        },
        "Readiness": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "storage": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _components() -> dict[str, Any]:
    return {
        "schemas": _schemas(),
        "parameters": {
            "DepartmentId": {
                "name": "department_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
            },
            "EventId": {
                "name": "event_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
            },
            "Limit": {
                "name": "limit",
                "in": "query",
                "description": "Page size",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
            "Cursor": {
                "name": "cursor",
                "in": "query",
                "description": "next_cursor of the previous page, for the same list and filters",
                "schema": {"type": "string"},
            },
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "description": 'The ETag last read (e.g. "3"); 412 when it no longer matches',
                "schema": {"type": "string"},
            },
            "IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "Any unique string per intended create (e.g. a UUID). Within "
                "24 hours, the same key and body return the first response again; another "
                "body is 422; while the first is running, 409.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[\\x20-\\x7e]+$",
                },
            },
            "IfNoneMatch": {
                "name": "If-None-Match",
                "in": "header",
                "description": "The ETag held; 304 when it is still current",
                "schema": {"type": "string"},
            },
        },
        "headers": {
            "ETag": {
                "description": 'The resource version, quoted: "3"',
                "schema": {"type": "string"},
            },
            "CalendarETag": {
                "description": 'The department calendar\'s version, weak: W/"calendar-7"',
                "schema": {"type": "string"},
            },
            "X-Request-ID": {
                "description": "Correlates logs and errors",
                "schema": {"type": "string"},
            },
        },
        "responses": _problem_responses(),
    }


# Components of the error responses, one per status; each lists its problem types.
_RESPONSE_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    500: "InternalError",
    503: "Unavailable",
}
_HEADERS = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
    "ETag": {"$ref": "#/components/headers/ETag"},
    "WWW-Authenticate": {"description": "The scheme to use: Bearer", "schema": {"type": "string"}},
    "Allow": {"description": "The methods the route allows", "schema": {"type": "string"}},
}


def _problem_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, name in _RESPONSE_NAMES.items():
        kinds = [k for k in PROBLEM_TYPES.values() if k.status == status]
        response = _problem(" ".join(f"{PROBLEM_BASE}{k.slug}: {k.description}" for k in kinds))
        headers = {h: _HEADERS[h] for k in kinds for h in k.headers}
        if headers:
            response["headers"] = headers
        responses[name] = response
    return responses


# YYYY-MM from 0001-01: the calendar has no year 0.
_MONTH_PATTERN = (
    "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"
)


def _window_params() -> list[dict[str, Any]]:
    return [
        {
            "name": "from",
            "in": "query",
            "description": "First date, inclusive (after to: an empty list)",
            "schema": {"type": "string", "format": "date"},
        },
        {
            "name": "to",
            "in": "query",
            "description": "Last date, inclusive",
            "schema": {"type": "string", "format": "date"},
        },
        {
            "name": "month",
            "in": "query",
            "description": "YYYY-MM; with from/to, the dates in both",
            "schema": {"type": "string", "pattern": _MONTH_PATTERN},
        },
    ]


def _paths() -> dict[str, Any]:
    dept = _param("DepartmentId")
    event = _param("EventId")
    return {
        "/api/departments": {
            "post": {
                "operationId": "createDepartment",
                "tags": ["departments"],
                "summary": "Create a department",
                "requestBody": _body(
                    "DepartmentCreate",
                    "The new department",
                    {"name": "QA팀", "description": "품질 보증"},
                ),
                "responses": {
                    "201": _created("Department"),
                    "409": {"$ref": "#/components/responses/Conflict"},
                    **_ERRORS,
                },
                "parameters": [_param("IdempotencyKey")],
            },
            "get": {
                "operationId": "listDepartments",
                "tags": ["departments"],
                "summary": "List departments ordered by name",
                "parameters": [
                    {
                        "name": "name",
                        "in": "query",
                        "description": "Exact department name (surrounding white space ignored)",
                        "schema": DEPARTMENT.text("name").schema(),
                    },
                    _param("Limit"),
                    _param("Cursor"),
                ],
                "responses": {
                    "200": {
                        "description": "A page",
                        "content": {_JSON: {"schema": _ref("DepartmentList")}},
                    },
                    **_READ_ERRORS,
                },
            },
        },
        "/api/departments/{department_id}": {
            "parameters": [dept],
            "get": {
                "operationId": "getDepartment",
                "tags": ["departments"],
                "parameters": [_param("IfNoneMatch")],
                "responses": {
                    "200": _resource("Department", "The department"),
                    **_NOT_MODIFIED,
                    **_NOT_FOUND,
                    **_READ_ERRORS,
                },
            },
            "patch": {
                "operationId": "updateDepartment",
                "tags": ["departments"],
                "parameters": [_param("IfMatch")],
                "requestBody": _body(
                    "DepartmentUpdate", "Fields to change", {"description": "품질 보증팀"}
                ),
                "responses": {
                    "200": _resource("Department", "The updated department"),
                    **_NOT_FOUND,
                    "409": {"$ref": "#/components/responses/Conflict"},
                    **_PRECONDITION,
                    **_ERRORS,
                },
            },
            "delete": {
                "operationId": "deleteDepartment",
                "tags": ["departments"],
                "parameters": [
                    _param("IfMatch"),
                    {
                        "name": "cascade",
                        "in": "query",
                        "description": "Also delete the department's events",
                        "schema": {"type": "boolean", "default": False},
                    },
                ],
                "responses": {
                    **_NO_CONTENT,
                    "202": {
                        "description": "A cascade deleted a bounded share of the events (at "
                        "most 990 per request) and more remain: the department is kept; "
                        "repeat the request",
                        "headers": {
                            "Retry-After": {
                                "description": "Seconds to wait",
                                "schema": {"type": "integer"},
                            }
                        },
                        "content": {_JSON: {"schema": _ref("CascadeProgress")}},
                    },
                    **_NOT_FOUND,
                    "409": {"$ref": "#/components/responses/Conflict"},
                    **_PRECONDITION,
                    **_READ_ERRORS,
                },
            },
        },
        "/api/departments/{department_id}/calendar.ics": {
            "parameters": [dept],
            "get": {
                "operationId": "getDepartmentCalendar",
                "tags": ["calendar"],
                "summary": "The department's events as an iCalendar feed to subscribe to",
                "description": "RFC 5545, for Google Calendar (Other calendars → From URL), "
                "Outlook and Apple Calendar. Default window: one year back to two years ahead.",
                "parameters": [
                    *_window_params(),
                    _param("IfNoneMatch"),
                ],
                "responses": {
                    "200": {
                        "description": "The VCALENDAR",
                        "headers": {"ETag": {"$ref": "#/components/headers/CalendarETag"}},
                        "content": {"text/calendar": {"schema": {"type": "string"}}},
                    },
                    "304": {
                        "description": "Not modified: no event changed since that ETag",
                        "headers": {"ETag": {"$ref": "#/components/headers/CalendarETag"}},
                    },
                    **_NOT_FOUND,
                    **_READ_ERRORS,
                },
            },
        },
        "/api/events/{department_id}/import": {
            "parameters": [dept],
            "post": {
                "operationId": "importEvents",
                "tags": ["calendar"],
                "summary": "Create, update or delete events from an iCalendar file",
                "description": "Each VEVENT is matched by UID; a second import of the same "
                "file changes nothing. STATUS:CANCELLED deletes; recurring events are "
                "rejected. Up to 10 MiB.",
                "parameters": [
                    {
                        "name": "dry_run",
                        "in": "query",
                        "description": "Report what would change; write nothing",
                        "schema": {"type": "boolean", "default": False},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"text/calendar": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": {
                        "description": "What the import did",
                        "content": {_JSON: {"schema": _ref("ImportResult")}},
                    },
                    **_NOT_FOUND,
                    **_ERRORS,
                },
            },
        },
        "/api/events/{department_id}": {
            "parameters": [dept],
            "post": {
                "operationId": "createEvent",
                "tags": ["events"],
                "requestBody": _body(
                    "EventCreate",
                    "The new event",
                    {"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"},
                ),
                "parameters": [_param("IdempotencyKey")],
                "responses": {
                    "201": _created("Event"),
                    **_NOT_FOUND,
                    "409": {"$ref": "#/components/responses/Conflict"},
                    **_ERRORS,
                },
            },
            "get": {
                "operationId": "listEvents",
                "tags": ["events"],
                "summary": "List events by date, then start time (untimed first), then title",
                "description": "A multi-day event is listed in every window it overlaps. "
                "The ETag is the department calendar's: with If-None-Match it gives 304 "
                "without reading any event.",
                "parameters": [
                    *_window_params(),
                    {
                        "name": "q",
                        "in": "query",
                        "description": "Only events whose title, description or location "
                        "contains this text (Latin letters in any case)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    _param("Limit"),
                    _param("Cursor"),
                    _param("IfNoneMatch"),
                ],
                "responses": {
                    "200": {
                        "description": "A page",
                        "headers": {"ETag": {"$ref": "#/components/headers/CalendarETag"}},
                        "content": {_JSON: {"schema": _ref("EventList")}},
                    },
                    "304": {
                        "description": "Not modified: no event changed since that ETag",
                        "headers": {"ETag": {"$ref": "#/components/headers/CalendarETag"}},
                    },
                    **_NOT_FOUND,
                    **_READ_ERRORS,
                },
            },
        },
        "/api/events/{department_id}/{event_id}": {
            "parameters": [dept, event],
            "get": {
                "operationId": "getEvent",
                "tags": ["events"],
                "parameters": [_param("IfNoneMatch")],
                "responses": {
                    "200": _resource("Event", "The event"),
                    **_NOT_MODIFIED,
                    **_NOT_FOUND,
                    **_READ_ERRORS,
                },
            },
            "patch": {
                "operationId": "updateEvent",
                "tags": ["events"],
                "parameters": [_param("IfMatch")],
                "requestBody": _body("EventUpdate", "Fields to change", {"time": "오전 10:00"}),
                "responses": {
                    "200": _resource("Event", "The updated event"),
                    **_NOT_FOUND,
                    **_PRECONDITION,
                    **_ERRORS,
                },
            },
            "delete": {
                "operationId": "deleteEvent",
                "tags": ["events"],
                "parameters": [_param("IfMatch")],
                "responses": {**_NO_CONTENT, **_NOT_FOUND, **_PRECONDITION, **_READ_ERRORS},
            },
        },
        "/healthz": {
            "get": {
                "operationId": "getHealth",
                "tags": ["service"],
                "summary": "The process is running",
                "responses": {
                    "200": {"description": "Alive", "content": {_JSON: {"schema": _ref("Health")}}}
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "getReadiness",
                "tags": ["service"],
                "summary": "Both tables answer",
                "responses": {
                    "200": {
                        "description": "Ready",
                        "content": {_JSON: {"schema": _ref("Readiness")}},
                    },
                    "503": {
                        "description": "Not ready, with the reason",
                        "content": {_JSON: {"schema": _ref("Readiness")}},
                    },
                },
            }
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Department Calendar API",
            "version": "1.1.0",
            "description": (
                "Departments and their calendar events, stored in Amazon DynamoDB. "
                "Errors are RFC 9457 application/problem+json. Every response carries "
                "X-Request-ID; single resources carry an ETag for If-Match / If-None-Match."
            ),
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "departments"},
            {"name": "events"},
            {"name": "calendar"},
            {"name": "service"},
        ],
        "paths": _paths(),
        "components": _components(),
    }
