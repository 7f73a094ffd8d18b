"""Every error the product raises on purpose, and the one table of problem types.

Storage, the jobs and the API raise these; ``backend.api.problems`` turns them into RFC
9457 problem+json through ``PROBLEM_TYPES``, which also drives the ``/problems/<slug>``
pages and the OpenAPI document. No Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class ProblemType:
    """One kind of failure a client can see: its status, ``type`` slug and title."""

    slug: str
    status: int
    title: str
    description: str
    headers: tuple[str, ...] = ()  # response headers that come with it


PROBLEM_TYPES: Mapping[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType(
            "bad-request",
            400,
            "Bad request",
            "The request could not be read: malformed JSON, a bad query value or cursor.",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Unauthorized",
            "No or bad credentials: send Authorization: Bearer <token>, a service token "
            "from API_TOKENS or the company sign-in's token (OIDC_ISSUER). "
            "WWW-Authenticate says which (RFC 6750).",
            ("WWW-Authenticate",),
        ),
        ProblemType(
            "forbidden",
            403,
            "Forbidden",
            "Signed in, but without the right this needs in this department (reader, "
            "writer or owner); an owner or an admin can grant it.",
        ),
        ProblemType(
            "not-found", 404, "Not found", "The department, event or route does not exist."
        ),
        ProblemType(
            "method-not-allowed",
            405,
            "Method not allowed",
            "The route exists but not with this method; see the Allow header.",
            ("Allow",),
        ),
        ProblemType("name-taken", 409, "Name already taken", "Another department has this name."),
        ProblemType(
            "has-events",
            409,
            "Department has events",
            "The department still has events; delete them or use ?cascade=true.",
        ),
        ProblemType(
            "busy",
            409,
            "Conflict",
            "The resource changed too often while this request was applied; retry.",
        ),
        ProblemType(
            "day-full",
            409,
            "Day full",
            "The department already has the most events one date may hold (200).",
        ),
        ProblemType(
            "too-many-series",
            409,
            "Too many recurring events",
            "The department already holds the most recurring events (series) it may: 500.",
        ),
        ProblemType(
            "too-many-exceptions",
            409,
            "Too many changed occurrences",
            "The series already holds the most changed or deleted occurrences it may; "
            "change the whole series or split it (scope=following).",
        ),
        ProblemType(
            "too-many-webhooks",
            409,
            "Too many webhooks",
            "The department already has the most webhooks it may: 10. Delete one first.",
        ),
        ProblemType(
            "last-owner",
            409,
            "Last owner",
            "The department's last owner cannot be removed or made writer or reader; make "
            "someone else owner first.",
        ),
        ProblemType(
            "too-many-members",
            409,
            "Too many members",
            "The department already has the most members it may: 100. Grant a group instead.",
        ),
        ProblemType(
            "idempotency-key-in-use",
            409,
            "Idempotency key in use",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        ),
        ProblemType(
            "precondition-failed",
            412,
            "Precondition failed",
            "If-Match no longer matches the resource's ETag; fetch it again.",
            ("ETag",),
        ),
        ProblemType(
            "sync-token-expired",
            410,
            "Sync token expired",
            "The sync token is older than the 30 days of history kept, from another "
            "department, or not one this service issued: start again with ?sync=true.",
        ),
        ProblemType(
            "payload-too-large", 413, "Payload too large", "The request body is over 1 MiB."
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type",
            "Send the body as application/json (UTF-8).",
        ),
        ProblemType(
            "validation-error",
            422,
            "Invalid input",
            "The request body or query breaks a rule; see errors[] per field.",
        ),
        ProblemType(
            "idempotency-key-reused",
            422,
            "Idempotency key reused",
            "This Idempotency-Key was used within 24 hours for a request with another body.",
        ),
        ProblemType(
            "internal-error",
            500,
            "Internal Server Error",
            "An unexpected error on our side; it has been logged with the request id.",
        ),
        ProblemType(
            "storage-unavailable",
            503,
            "Storage unavailable",
            "DynamoDB cannot answer right now; retry after Retry-After seconds.",
            ("Retry-After",),
        ),
        ProblemType(
            "sign-in-unavailable",
            503,
            "Sign-in unavailable",
            "The identity provider (OIDC_ISSUER) cannot be reached to check the token; "
            "retry after Retry-After seconds.",
            ("Retry-After",),
        ),
    )
}

# The problem type of each HTTP error that Werkzeug raises before our code runs.
HTTP_STATUS_PROBLEMS: Mapping[int, str] = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class CalendarError(Exception):
    """Base of every error this product raises on purpose.

    ``slug`` names its entry in ``PROBLEM_TYPES``; the properties below let an error say
    more than its table entry (a title naming the resource, the headers that go with it).
    """

    slug: ClassVar[str] = "internal-error"

    @property
    def problem(self) -> ProblemType:
        return PROBLEM_TYPES[self.slug]

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def detail(self) -> str:
        return str(self)

    @property
    def field_errors(self) -> list[FieldError]:
        return []

    def headers(self) -> dict[str, str]:
        return {}


class ConfigError(CalendarError):
    """The environment or ``.env`` cannot work as given; the message says what to set."""


class StartupError(CalendarError):
    """The server cannot serve: tables missing, engine unavailable. The message says why."""


class BadRequest(CalendarError):
    """A request we cannot read (400): malformed JSON, a bad query value, a bad cursor."""

    slug = "bad-request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    @property
    def field_errors(self) -> list[FieldError]:
        return self.errors


class Unauthorized(CalendarError):
    """No credentials where they are needed, or bad ones (401, RFC 6750).

    ``error`` is RFC 6750's code: ``invalid_token`` when a token was sent and refused,
    nothing when none was sent.
    """

    slug = "unauthorized"

    def __init__(
        self,
        detail: str = "this needs the header Authorization: Bearer <token>",
        *,
        error: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.error = error

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="department-calendar"'
        if self.error:
            # RFC 6750: printable ASCII without '"' and '\\'.
            description = "".join(c for c in str(self) if " " <= c <= "~" and c not in '"\\')
            challenge += f', error="{self.error}", error_description="{description}"'
        return {"WWW-Authenticate": challenge}


class Forbidden(CalendarError):
    """Signed in, without the right a request needs in its department (403)."""

    slug = "forbidden"


class SignInUnavailable(CalendarError):
    """The identity provider cannot be reached to check a token (503): never "let in"."""

    slug = "sign-in-unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class NotFound(CalendarError):
    slug = "not-found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} does not exist")
        self.kind = kind
        self.ident = ident

    @property
    def title(self) -> str:
        return f"{self.kind.capitalize()} not found"


class Conflict(CalendarError):
    """The request clashes with the current state (a taken name, a department with events).

    ``code`` is its problem type: ``name-taken``, ``has-events`` or ``busy``.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def problem(self) -> ProblemType:
        return PROBLEM_TYPES[self.code]


class SyncTokenExpired(CalendarError):
    """A sync token that cannot be answered (410): the client starts a full sync again."""

    slug = "sync-token-expired"


class PreconditionFailed(CalendarError):
    slug = "precondition-failed"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"If-Match does not match the current version ({current_version}); "
            "fetch the resource again and retry with its ETag"
        )
        self.current_version = current_version

    def headers(self) -> dict[str, str]:
        return {"ETag": f'"{self.current_version}"'}


class Invalid(CalendarError):
    """Well-formed input that breaks a rule; carries one entry per offending field."""

    slug = "validation-error"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @property
    def detail(self) -> str:
        count = len(self.errors)
        return f"{count} field{'s' if count != 1 else ''} did not pass validation"

    @property
    def field_errors(self) -> list[FieldError]:
        return self.errors


class IdempotencyKeyReused(CalendarError):
    """An ``Idempotency-Key`` sent again within 24 hours with a different request body."""

    slug = "idempotency-key-reused"


class StorageUnavailable(CalendarError):
    """DynamoDB cannot answer right now (throttled, unreachable, table missing).

    ``retry_after`` is the number of seconds a client should wait before retrying.
    """

    slug = "storage-unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# -- errors of the jobs (migration, backup, report); they reach operators, not HTTP ------


class SourceError(CalendarError):
    """A legacy file cannot be used at all: missing, unreadable, not JSON, or of neither form."""


class Rejected(CalendarError):
    """This legacy record cannot be migrated; the message says why, for the report."""


class WriteFailed(CalendarError):
    """Items that could not be written after every retry; each is named with the reason."""

    def __init__(self, failures: list[tuple[dict[str, Any], str]]) -> None:
        super().__init__(f"{len(failures)} items could not be written")
        self.failures = failures


class BackupError(CalendarError):
    """A dump or restore cannot go on; the message says why."""


class QuotaReached(CalendarError):
    """The day's e-mail sending limit would be passed by the next message."""
