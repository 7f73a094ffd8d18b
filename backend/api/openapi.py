"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

It is written to be fed to client generators (openapi-python-client, NSwag and
openapi-generator for C#, hey-api and openapi-typescript) and fuzzers (schemathesis), and
the test suite does both: every operation has an ``operationId``, a summary and a
description; a request body has one media type (``application/json``; the server also
reads ``application/merge-patch+json``, but a document offering both makes generators
emit two code paths per body); each field has one typed schema (no ``allOf`` of bare
patterns, which generators type as ``unknown``); writes declare the bearer scheme and
their 401; every operation has a ``default`` problem+json response; and every response
declares ``X-Request-ID``.
"""

from __future__ import annotations

from typing import Any

from backend.api.inputs import CURSOR_PATTERN
from backend.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from backend.errors import PROBLEM_TYPES
from backend.fields import DEPARTMENT, EVENT

_JSON = "application/json"
VERSION = "1.2.0"
SECURITY_SCHEME = "bearerAuth"


_EXAMPLE_REQUEST_ID = "8c1f2e3d4c5b4a69b8a7c6d5e4f3a2b1"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


_REQUEST_ID_HEADER = {"X-Request-ID": _header("X-Request-ID")}


def _body(schema: str, description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {_JSON: {"schema": _ref(schema), "example": example}},
    }


def _json_response(
    description: str,
    schema: str,
    example: Any,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**(headers or {}), **_REQUEST_ID_HEADER},
        "content": {_JSON: {"schema": _ref(schema), "example": example}},
    }


def _empty_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "headers": {**(headers or {}), **_REQUEST_ID_HEADER}}


# -- examples --------------------------------------------------------------------------------

_DEPARTMENT_EXAMPLE = DEPARTMENT.example()
_EVENT_EXAMPLE = EVENT.example()
_EXAMPLE_DEPARTMENT_ID = _DEPARTMENT_EXAMPLE["id"]
_EXAMPLE_EVENT_ID = _EVENT_EXAMPLE["id"]


def _problem_example(slug: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    kind = PROBLEM_TYPES[slug]
    return {
        "type": PROBLEM_BASE + slug,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": instance,
        "request_id": _EXAMPLE_REQUEST_ID,
        **extra,
    }


_PROBLEM_EXAMPLES: dict[str, dict[str, Any]] = {
    "bad-request": _problem_example(
        "bad-request",
        "the query string has invalid parameters",
        "/api/events/" + _EXAMPLE_DEPARTMENT_ID,
        errors=[{"field": "month", "message": "must be a month written YYYY-MM, not '2024-13'"}],
    ),
    "unauthorized": _problem_example(
        "unauthorized",
        "writes need the header Authorization: Bearer <token> with a token from API_TOKENS",
        "/api/departments",
    ),
    "not-found": {
        **_problem_example(
            "not-found", f"department {_EXAMPLE_DEPARTMENT_ID!r} does not exist", "/api/…"
        ),
        "title": "Department not found",
    },
    "name-taken": _problem_example(
        "name-taken", "a department named '개발팀' already exists", "/api/departments"
    ),
    "precondition-failed": _problem_example(
        "precondition-failed",
        "If-Match does not match the current version (3); fetch the resource again and "
        "retry with its ETag",
        "/api/departments/" + _EXAMPLE_DEPARTMENT_ID,
    ),
    "payload-too-large": _problem_example(
        "payload-too-large", "the request body is over 1 MiB", "/api/departments"
    ),
    "unsupported-media-type": _problem_example(
        "unsupported-media-type",
        "send the body as JSON with the header Content-Type: application/json",
        "/api/departments",
    ),
    "validation-error": _problem_example(
        "validation-error",
        "2 fields did not pass validation",
        "/api/events/" + _EXAMPLE_DEPARTMENT_ID,
        errors=[
            {"field": "event_date", "message": "2024-02-30 is not a real calendar date"},
            {"field": "title", "message": "must not be empty"},
        ],
    ),
    "storage-unavailable": _problem_example(
        "storage-unavailable",
        "DynamoDB is throttling requests or briefly unavailable; retry shortly",
        "/api/departments",
    ),
    "internal-error": _problem_example(
        "internal-error",
        "an unexpected error occurred; quote the request id when reporting it",
        "/api/departments",
    ),
}


# -- schemas ---------------------------------------------------------------------------------


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _list_schema(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"One page of {item}s, in list order",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": _nullable(
                "string",
                description="Pass as ?cursor= for the next page; null on the last page",
            ),
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Department": DEPARTMENT.output_schema(
            "A department; notify_emails is present only when set"
        ),
        "DepartmentCreate": DEPARTMENT.input_schema(creating=True),
        "DepartmentUpdate": DEPARTMENT.input_schema(creating=False),
        "DepartmentList": _list_schema("Department"),
        "Event": EVENT.output_schema("A calendar event of one department"),
        "EventCreate": EVENT.input_schema(creating=True),
        "EventUpdate": EVENT.input_schema(creating=False),
        "EventList": _list_schema("Event"),
        "CascadeProgress": {
            "type": "object",
            "description": "How far a cascading delete got in this request",
            "required": ["deleted_events", "remaining_events", "detail"],
            "properties": {
                "deleted_events": {"type": "integer", "minimum": 0},
                "remaining_events": {"type": "integer", "minimum": 1},
                "detail": {"type": "string"},
            },
        },
        "ImportRejection": {
            "type": "object",
            "description": "A VEVENT that was not imported, and why",
            "required": ["uid", "line", "reason"],
            "properties": {
                "uid": _nullable("string"),
                "line": {"type": "integer", "minimum": 1},
                "reason": {"type": "string"},
            },
        },
        "ImportResult": {
            "type": "object",
            "description": "What an import did (or, with dry_run, would do)",
            "required": ["created", "updated", "unchanged", "deleted", "rejected"],
            "properties": {
                "created": {"type": "integer", "minimum": 0},
                "updated": {"type": "integer", "minimum": 0},
                "unchanged": {"type": "integer", "minimum": 0},
                "deleted": {"type": "integer", "minimum": 0},
                "dry_run": {"type": "boolean"},
                "rejected": {"type": "array", "items": _ref("ImportRejection")},
            },
        },
        "FieldError": {
            "type": "object",
            "description": "One broken rule: the field (or parameter) and what is wrong",
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
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "request_id": _nullable("string"),
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
        },
        "Health": {
            "type": "object",
            "description": "Liveness",
            "required": ["status"],
            "properties": {"status": {"type": "string"}},
        },
        "Readiness": {
            "type": "object",
            "description": "Readiness, with the reasons when not ready",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "storage": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


# -- parameters and headers ------------------------------------------------------------------


def _parameters() -> dict[str, Any]:
    return {
        "DepartmentId": {
            "name": "department_id",
            "in": "path",
            "required": True,
            "description": "The department's id",
            "schema": {"type": "string"},
            "example": _EXAMPLE_DEPARTMENT_ID,
        },
        "EventId": {
            "name": "event_id",
            "in": "path",
            "required": True,
            "description": "The event's id",
            "schema": {"type": "string"},
            "example": _EXAMPLE_EVENT_ID,
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
            "description": "next_cursor of the previous page, for the same list and filters; "
            "a cursor of another list, or a garbled one, is 400",
            "schema": {"type": "string", "minLength": 1, "pattern": CURSOR_PATTERN},
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "description": 'The ETag last read (e.g. "3"), or *: 412 when it no longer '
            "matches (a value that is no ETag of this resource matches nothing: 412)",
            "schema": {"type": "string"},
            "example": '"3"',
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "description": "The ETag held; 304 when it is still current",
            "schema": {"type": "string"},
            "example": '"3"',
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
            "example": "3f2b9c0e-5d1a-4e8b-9c7d-2a1b0c9d8e7f",
        },
        "RequestId": {
            "name": "X-Request-ID",
            "in": "header",
            "description": "Correlates the client's logs with ours: echoed in the response "
            "header and in every problem, when it is 1 to 128 of A-Z a-z 0-9 . _ : / = + - "
            "(anything else is replaced by a new id, never refused)",
            "schema": {"type": "string"},
            "example": _EXAMPLE_REQUEST_ID,
        },
    }


def _headers() -> dict[str, Any]:
    return {
        "ETag": {
            "description": 'The resource version, quoted: "3"',
            "schema": {"type": "string"},
            "example": '"3"',
        },
        "CalendarETag": {
            "description": 'The department calendar\'s version, weak: W/"calendar-7"',
            "schema": {"type": "string"},
            "example": 'W/"calendar-7"',
        },
        "X-Request-ID": {
            "description": "The request's id: the client's X-Request-ID when sane, else the "
            "load balancer's trace root, else a new one",
            "required": True,
            "schema": {"type": "string"},
            "example": _EXAMPLE_REQUEST_ID,
        },
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 0},
            "example": 2,
        },
        "Location": {
            "description": "URL of the new resource",
            "schema": {"type": "string"},
            "example": f"/api/departments/{_EXAMPLE_DEPARTMENT_ID}",
        },
        "WWW-Authenticate": {
            "description": "The scheme to use: Bearer",
            "schema": {"type": "string"},
            "example": 'Bearer realm="department-calendar"',
        },
        "Idempotent-Replayed": {
            "description": "true when this is the stored answer to an earlier request with "
            "the same Idempotency-Key",
            "schema": {"type": "string", "enum": ["true"]},
        },
    }


# -- error responses: one per status, each listing its problem types -------------------------

_RESPONSE_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    503: "Unavailable",
}


def _problem_response(description: str, example: dict[str, Any], headers: list[str]) -> Any:
    return {
        "description": description,
        "headers": {**{h: _header(h) for h in headers}, **_REQUEST_ID_HEADER},
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem"), "example": example}},
    }


def _problem_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, name in _RESPONSE_NAMES.items():
        kinds = [k for k in PROBLEM_TYPES.values() if k.status == status]
        description = " ".join(f"{PROBLEM_BASE}{k.slug}: {k.description}" for k in kinds)
        headers = list(dict.fromkeys(h for k in kinds for h in k.headers))
        responses[name] = _problem_response(description, _PROBLEM_EXAMPLES[kinds[0].slug], headers)
    responses["Problem"] = _problem_response(
        "Any other error, as RFC 9457 problem details (e.g. 405 with an Allow header naming "
        "the route's methods, 500 with the request id to quote)",
        _PROBLEM_EXAMPLES["internal-error"],
        [],
    )
    return responses


def _components() -> dict[str, Any]:
    return {
        "schemas": _schemas(),
        "parameters": _parameters(),
        "headers": _headers(),
        "responses": _problem_responses(),
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from the server's API_TOKENS. Writes need it when "
                "API_TOKENS is set (always in production, unless open writes were asked "
                "for); reads never do.",
            }
        },
    }


# -- operations ------------------------------------------------------------------------------

_BODY_ERRORS = ("400", "413", "415", "422", "503")
_READ_ERRORS = ("400", "503")
_STATUS_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "409": "Conflict",
    "412": "PreconditionFailed",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "422": "ValidationError",
    "503": "Unavailable",
}


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    description: str,
    responses: dict[str, Any],
    *,
    errors: tuple[str, ...] = (),
    parameters: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    write: bool = False,
) -> dict[str, Any]:
    """One operation with what every operation carries: the optional X-Request-ID header,
    the documented errors, a ``default`` problem, and on writes the bearer scheme and 401."""
    statuses = set(errors) | ({"401"} if write else set())
    all_responses = dict(responses)
    for status in sorted(statuses):
        all_responses[status] = _response(_STATUS_RESPONSES[status])
    all_responses["default"] = _response("Problem")
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": [*(parameters or []), _param("RequestId")],
        "responses": dict(sorted(all_responses.items(), key=lambda kv: (kv[0] == "default", kv))),
    }
    if body is not None:
        operation["requestBody"] = body
    # Reads are public: an explicit empty list says so (rather than "forgotten").
    operation["security"] = [{SECURITY_SCHEME: []}] if write else []
    return operation


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
            "example": "2024-01-01",
        },
        {
            "name": "to",
            "in": "query",
            "description": "Last date, inclusive",
            "schema": {"type": "string", "format": "date"},
            "example": "2024-01-31",
        },
        {
            "name": "month",
            "in": "query",
            "description": "YYYY-MM; with from/to, the dates in both",
            "schema": {"type": "string", "pattern": _MONTH_PATTERN},
            "example": "2024-01",
        },
    ]


def _department_paths() -> dict[str, Any]:
    resource = {"ETag": _header("ETag")}
    created = {**resource, "Location": _header("Location")}
    replayable = {**created, "Idempotent-Replayed": _header("Idempotent-Replayed")}
    return {
        "/api/departments": {
            "post": _operation(
                "createDepartment",
                "departments",
                "Create a department",
                "Creates a department with a unique name (trimmed, NFC-normalised; two "
                "creates of one new name give exactly one 201). With Idempotency-Key, a "
                "retried create returns the first answer instead of a second department.",
                {
                    "201": _json_response(
                        "Created; Location names the new department",
                        "Department",
                        _DEPARTMENT_EXAMPLE,
                        replayable,
                    )
                },
                errors=("409", *_BODY_ERRORS),
                parameters=[_param("IdempotencyKey")],
                body=_body(
                    "DepartmentCreate",
                    "The new department",
                    {"name": "QA팀", "description": "품질 보증"},
                ),
                write=True,
            ),
            "get": _operation(
                "listDepartments",
                "departments",
                "List departments ordered by name",
                "Pages of up to limit departments; ?name= finds one by its exact name "
                "(surrounding white space ignored).",
                {
                    "200": _json_response(
                        "A page",
                        "DepartmentList",
                        {"items": [_DEPARTMENT_EXAMPLE], "next_cursor": None},
                    )
                },
                errors=_READ_ERRORS,
                parameters=[
                    {
                        "name": "name",
                        "in": "query",
                        "description": "Exact department name (surrounding white space ignored)",
                        "schema": DEPARTMENT.text("name").schema(),
                        "example": "개발팀",
                    },
                    _param("Limit"),
                    _param("Cursor"),
                ],
            ),
        },
        "/api/departments/{department_id}": {
            "parameters": [_param("DepartmentId")],
            "get": _operation(
                "getDepartment",
                "departments",
                "Get a department",
                "The department with its ETag; with If-None-Match holding that ETag, 304.",
                {
                    "200": _json_response(
                        "The department", "Department", _DEPARTMENT_EXAMPLE, resource
                    ),
                    "304": _empty_response(
                        "Not modified: If-None-Match holds the current ETag", resource
                    ),
                },
                errors=("404", *_READ_ERRORS),
                parameters=[_param("IfNoneMatch")],
            ),
            "patch": _operation(
                "updateDepartment",
                "departments",
                "Change a department",
                "Changes the fields sent (a JSON merge patch: null clears description and "
                "notify_emails). With If-Match, only if nobody changed it since: else 412.",
                {
                    "200": _json_response(
                        "The updated department",
                        "Department",
                        {**_DEPARTMENT_EXAMPLE, "description": "플랫폼 개발", "version": 2},
                        resource,
                    )
                },
                errors=("404", "409", "412", *_BODY_ERRORS),
                parameters=[_param("IfMatch")],
                body=_body("DepartmentUpdate", "Fields to change", {"description": "플랫폼 개발"}),
                write=True,
            ),
            "delete": _operation(
                "deleteDepartment",
                "departments",
                "Delete a department",
                "409 while it has events, unless cascade=true, which deletes them too (at "
                "most 990 per request: 202 says how many remain; repeat the request).",
                {
                    "204": _empty_response("Deleted"),
                    "202": _json_response(
                        "A cascade deleted a bounded share of the events and more remain: "
                        "the department is kept; repeat the request",
                        "CascadeProgress",
                        {
                            "deleted_events": 990,
                            "remaining_events": 120,
                            "detail": "the department is deleted once its events are; "
                            "repeat this request",
                        },
                        {"Retry-After": _header("Retry-After")},
                    ),
                },
                errors=("404", "409", "412", *_READ_ERRORS),
                parameters=[
                    _param("IfMatch"),
                    {
                        "name": "cascade",
                        "in": "query",
                        "description": "Also delete the department's events",
                        "schema": {"type": "boolean", "default": False},
                    },
                ],
                write=True,
            ),
        },
    }


def _calendar_paths() -> dict[str, Any]:
    calendar_etag = {"ETag": _header("CalendarETag")}
    return {
        "/api/departments/{department_id}/calendar.ics": {
            "parameters": [_param("DepartmentId")],
            "get": _operation(
                "getDepartmentCalendar",
                "calendar",
                "The department's events as an iCalendar feed to subscribe to",
                "RFC 5545, for Google Calendar (Other calendars → From URL), Outlook and "
                "Apple Calendar. Default window: one year back to two years ahead.",
                {
                    "200": {
                        "description": "The VCALENDAR",
                        "headers": {**calendar_etag, **_REQUEST_ID_HEADER},
                        "content": {
                            "text/calendar": {
                                "schema": {"type": "string"},
                                "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n…END:VCALENDAR\r\n",
                            }
                        },
                    },
                    "304": _empty_response(
                        "Not modified: no event changed since that ETag", calendar_etag
                    ),
                },
                errors=("404", *_READ_ERRORS),
                parameters=[*_window_params(), _param("IfNoneMatch")],
            ),
        },
        "/api/events/{department_id}/import": {
            "parameters": [_param("DepartmentId")],
            "post": _operation(
                "importEvents",
                "calendar",
                "Create, update or delete events from an iCalendar file",
                "Each VEVENT is matched by UID; a second import of the same file changes "
                "nothing. STATUS:CANCELLED deletes; recurring events are rejected. Up to "
                "10 MiB.",
                {
                    "200": _json_response(
                        "What the import did",
                        "ImportResult",
                        {
                            "created": 3,
                            "updated": 0,
                            "unchanged": 1,
                            "deleted": 0,
                            "rejected": [
                                {"uid": "weekly@example.com", "line": 12, "reason": "recurring"}
                            ],
                            "dry_run": False,
                        },
                    )
                },
                errors=("404", *_BODY_ERRORS),
                parameters=[
                    {
                        "name": "dry_run",
                        "in": "query",
                        "description": "Report what would change; write nothing",
                        "schema": {"type": "boolean", "default": False},
                    }
                ],
                body={
                    "required": True,
                    "description": "An iCalendar file (RFC 5545), as Google Calendar and "
                    "Outlook export it",
                    "content": {
                        "text/calendar": {
                            "schema": {"type": "string", "minLength": 1},
                            "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN"
                            "\r\nBEGIN:VEVENT\r\nUID:1@example.com\r\nDTSTART;VALUE=DATE:"
                            "20240120\r\nSUMMARY:팀 회의\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                        }
                    },
                },
                write=True,
            ),
        },
    }


def _event_paths() -> dict[str, Any]:
    resource = {"ETag": _header("ETag")}
    created = {**resource, "Location": _header("Location")}
    replayable = {**created, "Idempotent-Replayed": _header("Idempotent-Replayed")}
    calendar_etag = {"ETag": _header("CalendarETag")}
    return {
        "/api/events/{department_id}": {
            "parameters": [_param("DepartmentId")],
            "post": _operation(
                "createEvent",
                "events",
                "Add an event to a department",
                "event_date must be a real date; time is kept as sent and start_time read "
                "from it (오후 3:00 → 15:00). With Idempotency-Key, a retried create returns "
                "the first answer instead of a second event.",
                {
                    "201": _json_response(
                        "Created; Location names the new event", "Event", _EVENT_EXAMPLE, replayable
                    )
                },
                errors=("404", "409", *_BODY_ERRORS),
                parameters=[_param("IdempotencyKey")],
                body=_body(
                    "EventCreate",
                    "The new event",
                    {"event_date": "2024-01-25", "title": "테스트 이벤트", "time": "오후 3:00"},
                ),
                write=True,
            ),
            "get": _operation(
                "listEvents",
                "events",
                "List events by date, then start time (untimed first), then title",
                "A multi-day event is listed in every window it overlaps. The ETag is the "
                "department calendar's: with If-None-Match it gives 304 without reading "
                "any event.",
                {
                    "200": _json_response(
                        "A page",
                        "EventList",
                        {"items": [_EVENT_EXAMPLE], "next_cursor": None},
                        calendar_etag,
                    ),
                    "304": _empty_response(
                        "Not modified: no event changed since that ETag", calendar_etag
                    ),
                },
                errors=("404", *_READ_ERRORS),
                parameters=[
                    *_window_params(),
                    {
                        "name": "q",
                        "in": "query",
                        "description": "Only events whose title, description or location "
                        "contains this text (Latin letters in any case)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        "example": "회의",
                    },
                    _param("Limit"),
                    _param("Cursor"),
                    _param("IfNoneMatch"),
                ],
            ),
        },
        "/api/events/{department_id}/{event_id}": {
            "parameters": [_param("DepartmentId"), _param("EventId")],
            "get": _operation(
                "getEvent",
                "events",
                "Get an event",
                "The event with its ETag; with If-None-Match holding that ETag, 304.",
                {
                    "200": _json_response("The event", "Event", _EVENT_EXAMPLE, resource),
                    "304": _empty_response(
                        "Not modified: If-None-Match holds the current ETag", resource
                    ),
                },
                errors=("404", *_READ_ERRORS),
                parameters=[_param("IfNoneMatch")],
            ),
            "patch": _operation(
                "updateEvent",
                "events",
                "Change an event",
                "Changes the fields sent (a JSON merge patch: null clears the optional "
                "ones). With If-Match, only if nobody changed it since: else 412.",
                {
                    "200": _json_response(
                        "The updated event",
                        "Event",
                        {**_EVENT_EXAMPLE, "time": "오전 10:00", "start_time": "10:00"},
                        resource,
                    )
                },
                errors=("404", "409", "412", *_BODY_ERRORS),
                parameters=[_param("IfMatch")],
                body=_body("EventUpdate", "Fields to change", {"time": "오전 10:00"}),
                write=True,
            ),
            "delete": _operation(
                "deleteEvent",
                "events",
                "Delete an event",
                "With If-Match, only if nobody changed it since: else 412.",
                {"204": _empty_response("Deleted")},
                errors=("404", "412", *_READ_ERRORS),
                parameters=[_param("IfMatch")],
                write=True,
            ),
        },
    }


def _service_paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": _operation(
                "getHealth",
                "service",
                "The process is running",
                "Liveness for load balancers: 200 whenever the process answers, whatever "
                "the state of DynamoDB.",
                {"200": _json_response("Alive", "Health", {"status": "ok"})},
            )
        },
        "/readyz": {
            "get": _operation(
                "getReadiness",
                "service",
                "Both tables answer",
                "Readiness for monitoring: 200 when both tables answer, else 503 naming why.",
                {
                    "200": _json_response("Ready", "Readiness", {"status": "ready"}),
                    "503": _json_response(
                        "Not ready, with the reasons",
                        "Readiness",
                        {
                            "status": "unavailable",
                            "problems": ["DynamoDB cannot be reached; retry shortly"],
                        },
                        {"Retry-After": _header("Retry-After")},
                    ),
                },
            )
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Department Calendar API",
            "version": VERSION,
            "summary": "Departments and their calendar events, on Amazon DynamoDB",
            "description": (
                "Departments and their calendar events, stored in Amazon DynamoDB. "
                "Errors are RFC 9457 application/problem+json. Every response carries "
                "X-Request-ID; single resources carry an ETag for If-Match / If-None-Match. "
                "Writes need a bearer token when the server has API_TOKENS."
            ),
            "contact": {"name": "Department calendar team", "email": "calendar@example.com"},
            "license": {
                "name": "Proprietary: for the organisation's own use",
                "identifier": "LicenseRef-Proprietary",
            },
        },
        "servers": [{"url": "/", "description": "The server that serves this document"}],
        "tags": [
            {"name": "departments", "description": "Departments: unique names, ETags"},
            {"name": "events", "description": "A department's calendar events"},
            {"name": "calendar", "description": "iCalendar feed and import"},
            {"name": "service", "description": "Liveness and readiness probes"},
        ],
        "paths": {
            **_department_paths(),
            **_calendar_paths(),
            **_event_paths(),
            **_service_paths(),
        },
        "components": _components(),
    }
