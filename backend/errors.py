"""Domain errors. Storage raises them, the API turns them into problem+json; no Flask here."""

from __future__ import annotations

from dataclasses import dataclass


class CalendarError(Exception):
    """Base of every error this product raises on purpose."""


class ConfigError(CalendarError):
    """The environment or ``.env`` cannot work as given; the message says what to set."""


class StartupError(CalendarError):
    """The server cannot serve: tables missing, engine unavailable. The message says why."""


class NotFound(CalendarError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} does not exist")
        self.kind = kind
        self.ident = ident


class Conflict(CalendarError):
    """The request clashes with the current state (a taken name, a department with events)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class PreconditionFailed(CalendarError):
    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"If-Match does not match the current version ({current_version}); "
            "fetch the resource again and retry with its ETag"
        )
        self.current_version = current_version


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class Invalid(CalendarError):
    """Well-formed input that breaks a rule; carries one entry per offending field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class StorageUnavailable(CalendarError):
    """DynamoDB cannot answer right now (throttled, unreachable, table missing).

    ``retry_after`` is the number of seconds a client should wait before retrying.
    """

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
