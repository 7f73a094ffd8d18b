"""Each resource's writable fields, declared once.

Input validation (``api.inputs``), the OpenAPI schemas (``api.openapi``) and the
migration's record checks (``migration.records``) all read these declarations: a limit
changed here changes everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from backend.errors import FieldError, Invalid

NAME_MAX = 100
DESCRIPTION_MAX = 2000
TITLE_MAX = 200
TIME_MAX = 100
NOTIFY_EMAILS_MAX = 50

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Deliberately plain: one @, no spaces, a dotted domain; deliverability is SES's to judge.
EMAIL_PATTERN = r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}"
_EMAIL = re.compile(EMAIL_PATTERN)
# One line with at least one character that is not white space (JSON Schema, no lookahead).
_ONE_LINE = "[^\\x00-\\x1f\\x7f]*"
_TRIMMED_ONE_LINE = f"^{_ONE_LINE}[^\\s\\x00-\\x1f\\x7f]{_ONE_LINE}$"


def json_kind(value: object) -> str:
    """What kind of JSON value this is, for messages: "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class FieldProblem(ValueError):
    """A value breaks its field's rule; the message completes "<field> ..."."""


def date_problem(value: str) -> str | None:
    """Why ``value`` is not a real ``YYYY-MM-DD`` date, or None when it is one."""
    if not _DATE.fullmatch(value):
        return f"must be a date written YYYY-MM-DD, not {value!r}"
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value} is not a real calendar date"
    return None


@dataclass(frozen=True)
class Text:
    """A string field. ``trim``: stored without surrounding white space, never empty."""

    name: str
    max_length: int
    required: bool = False  # when creating
    nullable: bool = False
    trim: bool = False
    single_line: bool = False
    description: str = ""

    def clean(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise FieldProblem("must be a string, not null")
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        if self.trim:
            value = value.strip()
            if not value:
                raise FieldProblem("must not be empty")
        if len(value) > self.max_length:
            raise FieldProblem(f"must be at most {self.max_length} characters (got {len(value)})")
        if self.single_line and _CONTROL.search(value):
            raise FieldProblem("must not contain control characters")
        return value

    def schema(self) -> dict[str, Any]:
        kind: Any = ["string", "null"] if self.nullable else "string"
        schema: dict[str, Any] = {"type": kind, "maxLength": self.max_length}
        if self.trim:
            schema |= {"minLength": 1, "pattern": _TRIMMED_ONE_LINE}
        elif self.single_line:
            schema["pattern"] = f"^{_ONE_LINE}$"
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Date:
    """A real calendar date written ``YYYY-MM-DD``."""

    name: str
    required: bool = False
    description: str = "YYYY-MM-DD, a real date"

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        message = date_problem(value)
        if message:
            raise FieldProblem(message)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date", "description": self.description}


@dataclass(frozen=True)
class EmailList:
    """A list of e-mail addresses; null or [] clears it; duplicates (any case) merge."""

    name: str
    max_items: int
    required: bool = False
    description: str = ""

    def clean(self, value: Any) -> Any:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FieldProblem(f"must be a list of e-mail addresses, not {json_kind(value)}")
        if len(value) > self.max_items:
            raise FieldProblem(f"must hold at most {self.max_items} addresses")
        seen: dict[str, str] = {}
        for n, address in enumerate(value):
            if not isinstance(address, str) or not _EMAIL.fullmatch(address.strip()):
                raise FieldProblem(f"is not an e-mail address: {address!r}", f"{self.name}[{n}]")
            seen.setdefault(address.strip().lower(), address.strip())
        return tuple(seen.values())

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": self.max_items,
            "items": {"type": "string", "format": "email", "pattern": f"^{EMAIL_PATTERN}$"},
            "description": self.description,
        }


Field = Text | Date | EmailList


@dataclass(frozen=True)
class Resource:
    """The writable fields of one kind of resource."""

    name: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def text(self, name: str) -> Text:
        found = self.field(name)
        assert isinstance(found, Text)  # noqa: S101 - a declaration error, not input
        return found

    def validate(self, data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """The fields of a body, cleaned; every broken rule at once as ``Invalid``."""
        errors = [
            FieldError(name, "is not a field of this resource")
            for name in sorted(set(data) - {f.name for f in self.fields})
        ]
        clean: dict[str, Any] = {}
        for spec in self.fields:
            if spec.name not in data:
                if creating and spec.required:
                    errors.append(FieldError(spec.name, "is required"))
                continue
            try:
                clean[spec.name] = spec.clean(data[spec.name])
            except FieldProblem as exc:
                path = exc.args[1] if len(exc.args) > 1 else spec.name
                errors.append(FieldError(path, str(exc.args[0])))
        if errors:
            raise Invalid(errors)
        return clean

    def input_schema(self, *, creating: bool) -> dict[str, Any]:
        """The OpenAPI schema of a create (``creating``) or update body."""
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {f.name: f.schema() for f in self.fields},
        }
        required = [f.name for f in self.fields if f.required]
        if creating and required:
            schema["required"] = required
        return schema


DEPARTMENT = Resource(
    "department",
    (
        Text(
            "name",
            NAME_MAX,
            required=True,
            trim=True,
            single_line=True,
            description="Unique; stored trimmed of surrounding white space",
        ),
        Text("description", DESCRIPTION_MAX, nullable=True),
        EmailList(
            "notify_emails",
            NOTIFY_EMAILS_MAX,
            description="Who receives the department's report e-mail; present only when set",
        ),
    ),
)

EVENT = Resource(
    "event",
    (
        Date("event_date", required=True),
        Text(
            "title",
            TITLE_MAX,
            required=True,
            trim=True,
            single_line=True,
            description="Stored trimmed of surrounding white space",
        ),
        Text(
            "time",
            TIME_MAX,
            nullable=True,
            single_line=True,
            description="Free text as the client sent it, e.g. 오후 3:00",
        ),
        Text("description", DESCRIPTION_MAX, nullable=True),
    ),
)
