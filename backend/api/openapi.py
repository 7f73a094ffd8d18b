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

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from flask import Flask

from backend.access.rights import NEED_ATTRIBUTE, PRINCIPAL_MAX, PRINCIPAL_PATTERN, Need, Role
from backend.api.access_log import MAX_REQUEST_ID
from backend.api.inputs import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT
from backend.api.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from backend.errors import PROBLEM_TYPES
from backend.fields import DEPARTMENT, EVENT
from backend.services.idempotency import MAX_KEY_LENGTH
from backend.storage.idempotency import KEEP_HOURS
from backend.storage.imports import RESULT_REJECTIONS

_JSON = "application/json"
VERSION = "1.2.0"
SECURITY_SCHEME = "bearerAuth"


_EXAMPLE_REQUEST_ID = "8c1f2e3d4c5b4a69b8a7c6d5e4f3a2b1"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


REQUEST_ID_HEADER = {"X-Request-ID": header("X-Request-ID")}
RESOURCE_HEADERS = {"ETag": header("ETag")}
REPLAYABLE_HEADERS = {
    **RESOURCE_HEADERS,
    "Location": header("Location"),
    "Idempotent-Replayed": header("Idempotent-Replayed"),
}
CALENDAR_ETAG_HEADERS = {"ETag": header("CalendarETag")}


def json_body(schema: str, description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {_JSON: {"schema": _ref(schema), "example": example}},
    }


def json_response(
    description: str,
    schema: str,
    example: Any,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**(headers or {}), **REQUEST_ID_HEADER},
        "content": {_JSON: {"schema": _ref(schema), "example": example}},
    }


def empty_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "headers": {**(headers or {}), **REQUEST_ID_HEADER}}


# -- examples --------------------------------------------------------------------------------

DEPARTMENT_EXAMPLE = DEPARTMENT.example()
EVENT_EXAMPLE = EVENT.example()
_EXAMPLE_DEPARTMENT_ID = DEPARTMENT_EXAMPLE["id"]
_EXAMPLE_EVENT_ID = EVENT_EXAMPLE["id"]


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
    "forbidden": _problem_example(
        "forbidden",
        f"this needs the writer role in department {_EXAMPLE_DEPARTMENT_ID!r}; "
        "user:2f6c0e4a-93b1-4c2e-8f0a-1d2b3c4d5e6f is reader",
        "/api/events/" + _EXAMPLE_DEPARTMENT_ID,
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
    "sync-token-expired": _problem_example(
        "sync-token-expired",
        "the token is older than the 30 days of history kept",
        "/api/events/" + _EXAMPLE_DEPARTMENT_ID,
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


def _webhook_schemas() -> dict[str, Any]:
    text, when = {"type": "string"}, _nullable("string")
    properties: dict[str, Any] = {
        "id": text,
        "department_id": text,
        "url": text,
        "format": {"type": "string", "enum": ["json", "slack", "teams"]},
        "language": {"type": "string", "enum": ["ko", "en"]},
        "status": {"type": "string", "enum": ["active", "failing"]},
        "created_at": text,
        "delivered_version": {"type": "integer", "minimum": 0},
        "attempts": {"type": "integer", "minimum": 0},
        "failing_since": when,
        "next_attempt_at": when,
        "last_error": when,
        "last_delivered_at": when,
    }
    webhook: dict[str, Any] = {
        "type": "object",
        "description": "A webhook and the state of its deliveries; url shows its host "
        "and last characters only",
        "properties": properties,
    }
    required = ["id", "department_id", "url", "format", "language", "status"]
    webhook["required"] = required
    created = {
        **webhook,
        "description": "A new webhook, with the secret that signs its json deliveries",
        "required": [*required, "secret"],
        "properties": {**properties, "secret": text},
    }
    return {
        "Webhook": webhook,
        "WebhookCreated": created,
        "WebhookList": _list_schema("Webhook"),
        "WebhookCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "format"],
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 2048},
                "format": {"type": "string", "enum": ["json", "slack", "teams"]},
                "language": {"type": "string", "enum": ["ko", "en"], "default": "ko"},
            },
        },
    }


def _department_schema() -> dict[str, Any]:
    schema = DEPARTMENT.output_schema("A department; notify_emails is present only when set")
    schema["properties"]["access_role"] = {
        "type": "string",
        "enum": ["owner", "writer", "reader"],
        "description": "The caller's role in the department (as Google's accessRole): what "
        "it may do here. owner on a server without sign-in and for service tokens.",
    }
    return schema


def _access_schemas() -> dict[str, Any]:
    member = {
        "type": "object",
        "required": ["principal", "role"],
        "properties": {
            "principal": {
                "type": "string",
                "description": "user:<sub or e-mail> or group:<name>",
                "maxLength": PRINCIPAL_MAX,
            },
            "role": {"type": "string", "enum": [str(r) for r in Role]},
        },
    }
    return {
        "Member": member,
        "MemberList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref("Member")}},
        },
        "MemberGrant": {
            "type": "object",
            "additionalProperties": False,
            "required": ["role"],
            "properties": {"role": {"type": "string", "enum": [str(r) for r in Role]}},
        },
        "FeedKey": {
            "type": "object",
            "required": ["key", "url"],
            "properties": {
                "key": {"type": "string", "description": "At least 128 bits of randomness"},
                "url": {
                    "type": "string",
                    "format": "uri",
                    "description": "The secret address to give a calendar app",
                },
            },
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Department": _department_schema(),
        **_access_schemas(),
        "DepartmentCreate": DEPARTMENT.input_schema(creating=True),
        "DepartmentUpdate": DEPARTMENT.input_schema(creating=False),
        "DepartmentList": _list_schema("Department"),
        "Event": EVENT.output_schema("A calendar event of one department"),
        "EventCreate": EVENT.input_schema(creating=True),
        "EventUpdate": EVENT.input_schema(creating=False),
        "EventList": _list_schema("Event"),
        "SyncPage": {
            "type": "object",
            "description": "A page of a sync: events and series (unexpanded) as they are "
            "now, and for each deleted event, series or occurrence a cancelled entry; the "
            "last page (next_cursor null) carries next_sync_token",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"oneOf": [_ref("Event"), _ref("CancelledEntry")]},
                },
                "next_cursor": _nullable("string"),
                "next_sync_token": {
                    "type": "string",
                    "description": "Pass as ?sync_token= to get what changed since",
                },
            },
        },
        "EventListOrSyncPage": {
            "description": "A page of the list, or (with sync or sync_token) of a sync",
            "anyOf": [_ref("EventList"), _ref("SyncPage")],
        },
        "CancelledEntry": {
            "type": "object",
            "description": "An event, series or occurrence that was deleted",
            "required": ["id", "status"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["cancelled"]},
            },
        },
        **_webhook_schemas(),
        "Holiday": {
            "type": "object",
            "description": "A Korean public holiday",
            "required": ["date", "name", "name_en"],
            "properties": {
                "date": {"type": "string", "format": "date"},
                "name": {"type": "string", "description": "In Korean"},
                "name_en": {"type": "string", "description": "In English"},
            },
        },
        "HolidayList": _list_schema("Holiday"),
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
                "rejected_not_listed": {
                    "type": "integer",
                    "minimum": 1,
                    "description": f"A job's rejections past the first {RESULT_REJECTIONS}, "
                    "counted only",
                },
            },
        },
        "ImportJob": {
            "type": "object",
            "description": "An import run in the background, and how far it got",
            "required": ["id", "status", "total", "done", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["queued", "running", "succeeded", "failed"],
                },
                "total": {"type": "integer", "minimum": 0, "description": "VEVENTs in the file"},
                "done": {"type": "integer", "minimum": 0, "description": "VEVENTs applied"},
                "created_at": {"type": "string", "format": "date-time"},
                "result": _ref("ImportResult"),
                "error": {"type": "string", "description": "Why a failed job stopped"},
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
        "ImportJobId": {
            "name": "job_id",
            "in": "path",
            "required": True,
            "description": "The import job's id (the 202's Location)",
            "schema": {"type": "string"},
            "example": "6f1c2b0e9d8a4c7b8e5f4a3b2c1d0e9f",
        },
        "WebhookId": {
            "name": "webhook_id",
            "in": "path",
            "required": True,
            "description": "The webhook's id",
            "schema": {"type": "string"},
            "example": "5f2b9c1e7a3d4e60",
        },
        "Principal": {
            "name": "principal",
            "in": "path",
            "required": True,
            "description": "user:<sub or e-mail> or group:<name> (an e-mail is matched "
            "without regard to case)",
            "schema": {"type": "string", "maxLength": PRINCIPAL_MAX, "pattern": PRINCIPAL_PATTERN},
            "example": "user:kim@example.com",
        },
        "Limit": limit_parameter(MAX_LIMIT, DEFAULT_LIMIT),
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
            f"{KEEP_HOURS} hours, the same key and body return the first response again; "
            "another body is 422; while the first is running, 409.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": "^[\\x20-\\x7e]+$",
            },
            "example": "3f2b9c0e-5d1a-4e8b-9c7d-2a1b0c9d8e7f",
        },
        "RequestId": {
            "name": "X-Request-ID",
            "in": "header",
            "description": "Correlates the client's logs with ours: echoed in the response "
            f"header and in every problem, when it is 1 to {MAX_REQUEST_ID} of "
            "A-Z a-z 0-9 . _ : / = + - (anything else is replaced by a new id, never refused)",
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
        "HolidayETag": {
            "description": "The holidays' version, strong: a digest of the body",
            "schema": {"type": "string"},
            "example": '"9f86d081884c7d659a2f"',
        },
        "CacheControl": {
            "description": "How long caches may keep the answer",
            "schema": {"type": "string"},
            "example": "public, max-age=86400",
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
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    503: "Unavailable",
}


def _problem_response(description: str, example: dict[str, Any], headers: list[str]) -> Any:
    return {
        "description": description,
        "headers": {**{h: header(h) for h in headers}, **REQUEST_ID_HEADER},
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


def _components(*, signs_in: bool) -> dict[str, Any]:
    responses = _problem_responses()
    if not signs_in:
        del responses["Forbidden"]  # only rights per department refuse with 403
    return {
        "schemas": _schemas(),
        "parameters": _parameters(),
        "headers": _headers(),
        "responses": responses,
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "A service token from the server's API_TOKENS, or, where "
                "OIDC_ISSUER is set, an access or ID token (a JWT, RS256 or ES256) of the "
                "company's OpenID Connect provider. With service tokens only, writes need "
                "one and reads never do; with sign-in, rights are per department (reader, "
                "writer, owner) and only public departments read without signing in.",
                "bearerFormat": "JWT or service token",
            },
        },
    }


# -- operations ------------------------------------------------------------------------------

BODY_ERRORS = ("400", "413", "415", "422", "503")
READ_ERRORS = ("400", "503")
_STATUS_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "409": "Conflict",
    "410": "Gone",
    "412": "PreconditionFailed",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "422": "ValidationError",
    "503": "Unavailable",
}


def operation(
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
) -> Operation:
    """One operation with what every operation carries: the optional X-Request-ID header,
    the documented errors and a ``default`` problem. A ``write`` needs the bearer token
    (and may answer 401) only where the server has tokens: ``document`` decides."""
    all_responses = dict(responses)
    for status in sorted(set(errors)):
        all_responses[status] = _response(_STATUS_RESPONSES[status])
    all_responses["default"] = _response("Problem")
    spec: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": [*(parameters or []), param("RequestId")],
        "responses": all_responses,
    }
    if body is not None:
        spec["requestBody"] = body
    return Operation(spec, write)


class AccessMode(StrEnum):
    """How the server decides rights (``api.security.Gate``)."""

    OPEN = "open"  # nothing configured: every request may do everything
    TOKENS = "tokens"  # API_TOKENS only: writes need a service token, reads are open
    SIGN_IN = "sign-in"  # OIDC_ISSUER: rights per department


_BEARER: dict[str, list[str]] = {SECURITY_SCHEME: []}
_NONE: dict[str, list[str]] = {}
_SIGNED_IN_NEEDS = (Need.SIGNED_IN, Need.WRITE, Need.OWN, Need.SEE_KEY)


@dataclass(frozen=True)
class Operation:
    """An operation as its view declares it; ``write``: it changes something (the view's
    declared ``Need`` decides what credentials it takes)."""

    spec: dict[str, Any]
    write: bool

    def served(self, *, mode: AccessMode, need: Need) -> dict[str, Any]:
        spec = dict(self.spec)
        responses = dict(spec["responses"])
        security: list[dict[str, list[str]]] = []
        if mode is AccessMode.TOKENS and (self.write or need in _SIGNED_IN_NEEDS):
            security = [_BEARER]
        elif mode is AccessMode.SIGN_IN and need is not Need.NOTHING:
            # Reads: public departments (and feeds with their key) need no sign-in.
            security = [_BEARER] if need in _SIGNED_IN_NEEDS else [_BEARER, _NONE]
            if need is not Need.LIST:
                responses["404"] = _response(_STATUS_RESPONSES["404"])
            if need in (Need.WRITE, Need.OWN):
                responses["403"] = _response(_STATUS_RESPONSES["403"])
        if security:
            responses["401"] = _response(_STATUS_RESPONSES["401"])
        spec["responses"] = dict(sorted(responses.items(), key=lambda kv: (kv[0] == "default", kv)))
        # Open operations say so with an explicit empty list, rather than "forgotten".
        spec["security"] = security
        return spec


View = TypeVar("View", bound=Callable[..., Any])
_DESCRIBED = "__openapi__"


def describe(described: Operation) -> Callable[[View], View]:
    """Declare the OpenAPI operation of the view below: the document walks the app's
    routes and asks each view for its operation, so a route and its description are
    written side by side and cannot drift apart."""

    def mark(view: View) -> View:
        setattr(view, _DESCRIBED, described)
        return view

    return mark


def described_routes(app: Flask) -> Iterator[tuple[str, str, Operation]]:
    """``(path, method, operation)`` of every described route, in registration order;
    paths in OpenAPI's ``{name}`` form."""
    for path, method, found, _need in described_routes_with_needs(app):
        yield path, method, found


def described_routes_with_needs(app: Flask) -> Iterator[tuple[str, str, Operation, Need]]:
    """As ``described_routes``, with what each route's view declares it needs."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        found = getattr(view, _DESCRIBED, None)
        if found is None:
            continue
        need = getattr(view, NEED_ATTRIBUTE, Need.NOTHING)
        path = _FLASK_VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), found, need


_FLASK_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# The component parameter that describes each path variable of a route.
_PATH_PARAMETERS = {
    "department_id": "DepartmentId",
    "event_id": "EventId",
    "webhook_id": "WebhookId",
    "job_id": "ImportJobId",
    "principal": "Principal",
}


# YYYY-MM from 0001-01: the calendar has no year 0.
_MONTH_PATTERN = (
    "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"
)


def limit_parameter(maximum: int, default: int) -> dict[str, Any]:
    """The ``limit`` query parameter of a list: a page size from 1 to ``maximum``."""
    return {
        "name": "limit",
        "in": "query",
        "description": "Page size",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def window_params() -> list[dict[str, Any]]:
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


def document(app: Flask, *, mode: AccessMode) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s described routes, for a server that decides
    rights as ``mode`` says."""
    paths: dict[str, Any] = {}
    for path, method, described, need in described_routes_with_needs(app):
        item = paths.setdefault(path, {})
        variables = re.findall(r"\{([^{}]+)\}", path)
        if variables:
            item.setdefault("parameters", [param(_PATH_PARAMETERS[v]) for v in variables])
        item[method] = described.served(mode=mode, need=need)
    writes = {
        AccessMode.TOKENS: "Writes need a bearer token (API_TOKENS is set on this server).",
        AccessMode.OPEN: "This server asks no token: reads and writes are open.",
        AccessMode.SIGN_IN: "People sign in with the company's OpenID Connect provider "
        "and hold rights per department (reader, writer, owner; members routes); service "
        "tokens hold every right. Only public departments read without signing in; calendar "
        "apps read a feed by its secret address (?key=).",
    }[mode]
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
                + writes
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
            {"name": "webhooks", "description": "Change notifications to team chats"},
            {"name": "holidays", "description": "Korean public holidays"},
            {"name": "service", "description": "Liveness and readiness probes"},
        ],
        "paths": paths,
        "components": _components(signs_in=mode is AccessMode.SIGN_IN),
    }
