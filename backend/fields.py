"""Each resource's writable fields, declared once.

Input validation (``api.inputs``), the OpenAPI schemas (``api.openapi``) and the
migration's record checks (``migration.records``) all read these declarations: a limit
changed here changes everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

from backend.domain import Actor
from backend.errors import FieldError, Invalid, Rejected
from backend.recurrence import MAX_LINE_LENGTH, MAX_LINES, RuleProblem, check_lines
from backend.timetext import parse_start_time, parse_time_range

NAME_MAX = 100
DESCRIPTION_MAX = 2000
TITLE_MAX = 200
TIME_MAX = 100
LOCATION_MAX = 200
CATEGORY_MAX = 30
NOTIFY_EMAILS_MAX = 50
# An address is at most 254 characters (RFC 5321's path limit): with NOTIFY_EMAILS_MAX of
# them a department item stays small, and every event write that touches it cheap.
EMAIL_MAX = 254
MAX_EVENT_DAYS = 31  # an event ends at most this many days after it starts
# Events of one department on one date. A page of a list ends only where a date is
# complete (DynamoDB orders the index by date alone), so this bounds what a page reads.
MAX_EVENTS_PER_DAY = 200

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LEGACY_DATE = re.compile(r"\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*\.?\s*")
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
CLOCK_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Deliberately plain: one @, no spaces or control characters, a dotted domain;
# deliverability is SES's to judge.
EMAIL_PATTERN = r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]{2,}"
_EMAIL = re.compile(EMAIL_PATTERN)
# Characters that do not show: zero-width spaces and joiners, the byte order mark, and the
# bidirectional controls that reorder text on screen. Two names that look the same must be
# the same name, so names refuse them (422) rather than strip them behind the user's back.
# Written as escapes, which Python's re and JSON Schema's (ECMA-262) regexes both read.
INVISIBLE = r"\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# UTF-16 halves on their own ("\ud800"): what a JavaScript client sends after cutting a
# string inside an emoji. They are not characters and cannot be stored or encoded.
SURROGATE = re.compile("[\ud800-\udfff]")
# What trimming removes: Python's white space (str.isspace) and JSON Schema's \s, which
# adds the byte order mark, so that server and schema agree on what is "empty".
_SPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# One line with at least one character that is not white space (JSON Schema, no lookahead).
# \x85 (NEL) is white space to Python's strip() though not to JSON Schema's \s.
_ONE_LINE = "[^\\x00-\\x1f\\x7f]*"
_TRIMMED_ONE_LINE = f"^{_ONE_LINE}[^\\s\\x00-\\x1f\\x7f\\x85]{_ONE_LINE}$"
# The same for names, without invisible characters anywhere.
_NAME_CHAR = f"[^\\x00-\\x1f\\x7f{INVISIBLE}]"
_TRIMMED_NAME = f"^{_NAME_CHAR}*[^\\s\\x00-\\x1f\\x7f\\x85{INVISIBLE}]{_NAME_CHAR}*$"


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


def surrogate_message(found: str) -> str:
    """Why a string holding a lone surrogate is refused, for the client that sent it."""
    return (
        f"holds a lone UTF-16 surrogate (U+{ord(found):04X}), which is not a character: "
        "cut text between characters, not inside one (an emoji is two UTF-16 units)"
    )


def date_problem(value: str) -> str | None:
    """Why ``value`` is not a real ``YYYY-MM-DD`` date, or None when it is one."""
    if not _DATE.fullmatch(value):
        return f"must be a date written YYYY-MM-DD, not {value!r}"
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value} is not a real calendar date"
    return None


def legacy_date(raw: Any) -> str:
    """A legacy record's date: ``2024-1-5``, ``2024/01/05``, ``2024.01.05`` → ``2024-01-05``;
    anything else, impossible dates included, is ``Rejected``."""
    if not isinstance(raw, str):
        raise Rejected(f"the date must be text like 2024-01-20, not {json_kind(raw)}")
    match = _LEGACY_DATE.fullmatch(raw)
    if match is None:
        raise Rejected(f"{raw!r} is not a date (expected YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        raise Rejected(f"{raw!r} is not a real calendar date") from None


class Declared(ABC):
    """What every declaration has: where the value lives on the item, how it reaches
    clients, iCalendar and the migration. Subclasses add the rules of their kind."""

    name: str
    required: bool
    attribute_name: str | None
    ical: str | None
    example: Any
    in_output: str  # "always" (present, maybe null) or "when-set" (left out when empty)
    # Whether the migration reads it from a legacy record by this declaration; when False,
    # a legacy field of that name is kept on the item exactly as the old file wrote it.
    migrated: bool

    @property
    def attribute(self) -> str:
        """The item attribute that holds the value."""
        return self.attribute_name or self.name

    def to_attribute(self, value: Any) -> Any:
        """The value as stored on the item; None means "not on the item"."""
        return value

    def from_attribute(self, value: Any) -> Any:
        """The record's value from the item's attribute. An absent attribute is None, or
        "" for a field that is never null (an item written by another program may lack it)."""
        if value is None:
            return None if getattr(self, "nullable", True) else ""
        return str(value)

    def legacy(self, value: Any) -> Any:
        """The value of a legacy (old JSON file) record, checked; ``Rejected`` if unusable."""
        return value

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """The field's JSON Schema (OpenAPI 3.1)."""


@dataclass(frozen=True)
class Text(Declared):
    """A string field. ``trim``: stored without surrounding white space, never empty."""

    name: str
    max_length: int
    required: bool = False  # when creating
    nullable: bool = False
    trim: bool = False
    single_line: bool = False
    description: str = ""
    empty_is_null: bool = False  # trimmed to nothing means "none" rather than an error
    identifier: bool = False  # names things: invisible characters are refused
    legacy_numbers: bool = False  # the old app's files may hold it as a JSON number
    attribute_name: str | None = None
    ical: str | None = None  # the iCalendar property that carries it (feed and import)
    # The property holds a list (CATEGORIES: comma-separated, RFC 5545 3.8.1.2): the feed
    # writes the value as a list of one, the import reads the first value of the first.
    ical_list: bool = False
    example: Any = None
    in_output: str = "always"
    migrated: bool = True

    def clean(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise FieldProblem("must be a string, not null")
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        if found := SURROGATE.search(value):
            raise FieldProblem(surrogate_message(found[0]))
        if len(value) > self.max_length:  # as sent, as the schema's maxLength counts
            raise FieldProblem(f"must be at most {self.max_length} characters (got {len(value)})")
        if self.trim:
            # NFC: 재무팀 typed on macOS (decomposed jamo) and on Windows is one name.
            value = unicodedata.normalize("NFC", value.strip(_SPACE))
            if not value and self.empty_is_null:
                return None
            if not value:
                raise FieldProblem("must not be empty")
        if len(value) > self.max_length:
            raise FieldProblem(f"must be at most {self.max_length} characters (got {len(value)})")
        if self.single_line and _CONTROL.search(value):
            raise FieldProblem("must not contain control characters")
        if self.identifier and (found := _INVISIBLE.search(value)):
            raise FieldProblem(
                f"must not contain invisible characters (U+{ord(found[0]):04X}: zero-width "
                "or bidirectional control), so that names that look the same are the same"
            )
        return value

    def legacy(self, value: Any) -> str | None:
        """Legacy text is kept as written but for trimming and the length limit: the API's
        one-line rule is not applied to what the old app stored."""
        if self.legacy_numbers and isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)  # a number typed as a time keeps its text form
        if value is None:
            if self.required:
                raise Rejected(f"{self.name} is missing")
            return None
        if not isinstance(value, str):
            raise Rejected(f"{self.name} must be text, not {json_kind(value)}")
        text = value.strip() if self.trim else value
        if self.required and not text:
            raise Rejected(f"{self.name} is empty")
        if len(text) > self.max_length:
            raise Rejected(f"{self.name} is longer than {self.max_length} characters ({len(text)})")
        if not text and self.empty_is_null:
            return None
        return text

    def schema(self) -> dict[str, Any]:
        kind: Any = ["string", "null"] if self.nullable else "string"
        schema: dict[str, Any] = {"type": kind, "maxLength": self.max_length}
        if self.trim and self.identifier:
            schema |= {"minLength": 1, "pattern": _TRIMMED_NAME}
        elif self.trim and not self.empty_is_null:
            schema |= {"minLength": 1, "pattern": _TRIMMED_ONE_LINE}
        elif self.single_line:
            schema["pattern"] = f"^{_ONE_LINE}$"
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Date(Declared):
    """A real calendar date written ``YYYY-MM-DD``."""

    name: str
    required: bool = False
    description: str = "YYYY-MM-DD, a real date"
    nullable: bool = False
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "always"
    migrated: bool = True

    def clean(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        message = date_problem(value)
        if message:
            raise FieldProblem(message)
        return value

    def legacy(self, value: Any) -> str | None:
        if value in (None, "") and not self.required:
            return None
        day: str = legacy_date(value)
        return day

    def schema(self) -> dict[str, Any]:
        kind: Any = ["string", "null"] if self.nullable else "string"
        return {"type": kind, "format": "date", "description": self.description}


@dataclass(frozen=True)
class Clock(Declared):
    """A 24-hour time of day written ``HH:MM``."""

    name: str
    required: bool = False
    nullable: bool = True
    description: str = ""
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "always"
    migrated: bool = True

    def clean(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        if not _CLOCK.fullmatch(value):
            raise FieldProblem(f"must be a 24-hour time written HH:MM, not {value!r}")
        return value

    def legacy(self, value: Any) -> str | None:
        """The old app's times of day: ``15:00``, ``오후 3시``, read as a time."""
        if value in (None, ""):
            return None
        clock = parse_start_time(str(value))
        if clock is None:
            raise Rejected(f"{self.name} {value!r} is not a time of day")
        return clock

    def schema(self) -> dict[str, Any]:
        kind: Any = ["string", "null"] if self.nullable else "string"
        schema = {"type": kind, "pattern": CLOCK_PATTERN}
        return schema | ({"description": self.description} if self.description else {})


@dataclass(frozen=True)
class EmailList(Declared):
    """A list of e-mail addresses; null or [] clears it; duplicates (any case) merge."""

    name: str
    max_items: int
    required: bool = False
    description: str = ""
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "when-set"
    migrated: bool = True

    def clean(self, value: Any) -> Any:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise FieldProblem(f"must be a list of e-mail addresses, not {json_kind(value)}")
        if len(value) > self.max_items:
            raise FieldProblem(f"must hold at most {self.max_items} addresses")
        seen: dict[str, str] = {}
        for n, given in enumerate(value):
            if isinstance(given, str) and len(given) > EMAIL_MAX:
                raise FieldProblem(
                    f"must be at most {EMAIL_MAX} characters (got {len(given)})",
                    f"{self.name}[{n}]",
                )
            address = given.strip(" \t") if isinstance(given, str) else given
            if not isinstance(address, str) or not _EMAIL.fullmatch(address):
                raise FieldProblem(f"is not an e-mail address: {given!r}", f"{self.name}[{n}]")
            seen.setdefault(address.lower(), address)
        return tuple(seen.values())

    def legacy(self, value: Any) -> tuple[str, ...]:
        try:
            cleaned: tuple[str, ...] = self.clean(value)
        except FieldProblem as exc:
            path = exc.args[1] if len(exc.args) > 1 else self.name
            raise Rejected(f"{path} {exc.args[0]}") from None
        return cleaned

    def to_attribute(self, value: Any) -> Any:
        return list(value) or None  # an empty list is no attribute at all

    def from_attribute(self, value: Any) -> tuple[str, ...]:
        return tuple(str(e) for e in value) if isinstance(value, list) else ()

    def schema(self) -> dict[str, Any]:
        # The pattern is the rule (no "format": validators disagree on what "email" allows).
        return {
            "type": ["array", "null"],
            "maxItems": self.max_items,
            "items": {
                "type": "string",
                "maxLength": EMAIL_MAX,
                "pattern": f"^[ \\t]*{EMAIL_PATTERN}[ \\t]*$",
            },
            "description": f"{self.description}; null or [] clears it".lstrip("; "),
        }


@dataclass(frozen=True)
class Derived(Declared):
    """A field the service writes itself (ids, read times, timestamps, the version):
    served to clients and stored, never sent by them."""

    name: str
    kind: str  # "string", "date", "clock", "timestamp" or "version"
    nullable: bool = False
    description: str = ""
    required: bool = False
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "always"
    migrated: bool = True

    def to_attribute(self, value: Any) -> Any:
        if self.kind == "actor":
            return None if value is None else {"principal": value.principal, "name": value.name}
        return value

    def from_attribute(self, value: Any) -> Any:
        if self.kind == "version":
            return 1 if value is None else int(value)
        if self.kind == "actor":
            if not isinstance(value, Mapping) or not isinstance(value.get("principal"), str):
                return None
            name = value.get("name")
            return Actor(value["principal"], name if isinstance(name, str) else None)
        if value is None:
            return None if self.nullable else ""
        return str(value)

    def schema(self) -> dict[str, Any]:
        if self.kind == "version":
            schema: dict[str, Any] = {"type": "integer", "minimum": 1}
        elif self.kind == "actor":
            schema = {
                "type": ["object", "null"],
                "required": ["principal", "name"],
                "properties": {
                    "principal": {
                        "type": "string",
                        "description": "user:<sub> for a signed-in person, service:<name> "
                        "for a service token",
                    },
                    "name": {"type": ["string", "null"], "description": "Their name as shown"},
                },
            }
        elif self.kind == "timestamp":
            schema = {"type": "string", "format": "date-time"}
        elif self.kind == "date":
            schema = {"type": ["string", "null"], "format": "date"}
        elif self.kind == "clock":
            schema = {"type": ["string", "null"], "pattern": CLOCK_PATTERN}
        else:
            schema = {"type": ["string", "null"] if self.nullable else "string"}
        return schema | ({"description": self.description} if self.description else {})


@dataclass(frozen=True)
class Recurrence(Declared):
    """A series's RFC 5545 lines (``RRULE``, ``EXDATE``, ``RDATE``), as Google's API takes
    them; null for a single event. ``recurrence.check_lines`` holds the rules."""

    name: str
    required: bool = False
    description: str = ""
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "when-set"
    migrated: bool = False  # the old app had no recurrence

    def clean(self, value: Any) -> Any:
        try:
            return check_lines(value)
        except RuleProblem as exc:
            path = self.name if exc.line < 0 else f"{self.name}[{exc.line}]"
            raise FieldProblem(exc.message, path) from None

    def to_attribute(self, value: Any) -> Any:
        return None if value is None else list(value)

    def from_attribute(self, value: Any) -> tuple[str, ...] | None:
        return tuple(str(line) for line in value) if isinstance(value, list) else None

    def schema(self) -> dict[str, Any]:
        return {
            "type": ["array", "null"],
            "minItems": 1,
            "maxItems": MAX_LINES,
            "items": {"type": "string", "maxLength": MAX_LINE_LENGTH},
            "description": self.description,
        }


@dataclass(frozen=True)
class Choice(Declared):
    """One of a fixed set of words; an item without it holds ``default``."""

    name: str
    choices: tuple[str, ...]
    default: str
    required: bool = False
    description: str = ""
    attribute_name: str | None = None
    ical: str | None = None
    example: Any = None
    in_output: str = "always"
    migrated: bool = False  # the old app had none: a legacy item reads as the default

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldProblem(f"must be a string, not {json_kind(value)}")
        if value not in self.choices:
            raise FieldProblem(f"must be one of {', '.join(self.choices)}")
        return value

    def from_attribute(self, value: Any) -> str:
        return str(value) if value in self.choices else self.default

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "enum": list(self.choices),
            "default": self.default,
            "description": self.description,
        }


Field = Text | Date | Clock | EmailList | Recurrence | Choice


@dataclass(frozen=True)
class Resource:
    """One kind of resource: the fields clients write, then those the service derives.

    ``output`` lists every field of the record (the domain dataclass) in its order, which
    is the order of the JSON the API answers; ``fields`` are the writable ones.
    """

    name: str
    fields: tuple[Field, ...]
    derived: tuple[Derived, ...] = ()
    order: tuple[str, ...] = ()  # the record's field order; declaration order if empty

    @cached_property
    def output(self) -> tuple[Declared, ...]:
        every: dict[str, Declared] = {f.name: f for f in (*self.derived, *self.fields)}
        names = self.order or tuple(every)
        return tuple(every[name] for name in names)

    @cached_property
    def _readers(self) -> tuple[tuple[str, str, str, Any, Any], ...]:
        """Each output field's name, attribute, and how ``from_attributes`` reads it: as
        text (its ``from_attribute`` is the plain one: ``absent`` when missing, else the
        value as ``str``), as a version, or by calling its ``from_attribute``."""
        readers = []
        for f in self.output:
            plain = type(f).from_attribute is Declared.from_attribute
            derived = type(f).from_attribute is Derived.from_attribute
            how = "call"
            if isinstance(f, Derived) and derived:
                how = {"version": "version", "actor": "call"}.get(f.kind, "text")
            elif plain:
                how = "text"
            absent = None if getattr(f, "nullable", True) else ""
            readers.append((f.name, f.attribute, how, absent, f.from_attribute))
        return tuple(readers)

    @property
    def writable_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def migrated(self) -> tuple[Field, ...]:
        """The writable fields the migration reads from legacy records by declaration."""
        return tuple(f for f in self.fields if f.migrated)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.output)

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

    # -- the item, both ways ---------------------------------------------------------------

    def to_attributes(self, record: Any) -> dict[str, Any]:
        """The item attributes of a record; ``None`` values are left off the item."""
        return {f.attribute: f.to_attribute(getattr(record, f.name)) for f in self.output}

    def from_attributes(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The record's fields (as keyword arguments) from an item's plain attributes."""
        # Each field's from_attribute, inlined for text and versions: an event list reads
        # 17 fields of each of up to 1,000 items.
        values: dict[str, Any] = {}
        for name, attribute, how, absent, read in self._readers:
            value = data.get(attribute)
            if how == "text":
                values[name] = (
                    absent if value is None else value if type(value) is str else str(value)
                )
            elif how == "version":
                values[name] = 1 if value is None else int(value)
            else:
                values[name] = read(value)
        return values

    # -- the OpenAPI schemas -----------------------------------------------------------------

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

    def output_schema(self, description: str) -> dict[str, Any]:
        """The OpenAPI schema of the resource as the API answers it."""
        return {
            "type": "object",
            "description": description,
            "required": [f.name for f in self.output if f.in_output == "always"],
            "properties": {f.name: f.schema() for f in self.output},
        }

    def example(self) -> dict[str, Any]:
        """An example of the resource as served, from each field's example."""
        return {f.name: f.example for f in self.output if f.in_output == "always"}


_VERSION = Derived("version", "version", description="Starts at 1; the ETag", example=1)


def _timestamp(name: str, example: str) -> Derived:
    return Derived(name, "timestamp", description="UTC, ISO 8601 with Z", example=example)


def _actor(name: str, what: str) -> Derived:
    return Derived(
        name,
        "actor",
        nullable=True,
        description=f"Who {what} it: a signed-in person or a service token; null for data "
        "written before sign-in existed, by the migration, or by a server without sign-in",
        example={"principal": "user:2f6c0e4a-93b1-4c2e-8f0a-1d2b3c4d5e6f", "name": "김민수"},
        migrated=False,
    )


DEPARTMENT = Resource(
    "department",
    (
        Text(
            "name",
            NAME_MAX,
            required=True,
            trim=True,
            single_line=True,
            identifier=True,
            description="Unique; stored trimmed of surrounding white space and in Unicode "
            "NFC; invisible characters (zero-width, bidirectional controls) are refused",
            example="개발팀",
        ),
        Text("description", DESCRIPTION_MAX, nullable=True, example="백엔드/프론트엔드 개발"),
        EmailList(
            "notify_emails",
            NOTIFY_EMAILS_MAX,
            description="Who receives the department's report e-mail; present only when set",
            example=["lead@example.com"],
            # The old app had no such field: one in a legacy file is kept as it was written
            # (its content digest, and the id derived from it, stay those of earlier runs).
            migrated=False,
        ),
        Choice(
            "visibility",
            ("organization", "members", "public"),
            "organization",
            description="Who reads the department besides its members, once sign-in "
            "(OIDC_ISSUER) is on: organization, every signed-in person; members, only its "
            "members (others are told it does not exist); public, anyone, signed in or not. "
            "Departments from before access control are organization.",
            example="organization",
        ),
    ),
    (
        Derived("id", "string", example="550e8400-e29b-41d4-a716-446655440000"),
        _timestamp("created_at", "2024-01-15T00:30:00.000Z"),
        _timestamp("updated_at", "2024-01-15T00:30:00.000Z"),
        _VERSION,
        _actor("created_by", "created"),
        _actor("updated_by", "last changed"),
    ),
    order=(
        "id",
        "name",
        "description",
        "created_at",
        "updated_at",
        "version",
        "notify_emails",
        "visibility",
        "created_by",
        "updated_by",
    ),
)

EVENT = Resource(
    "event",
    (
        Date("event_date", required=True, example="2024-01-20"),
        Text(
            "title",
            TITLE_MAX,
            required=True,
            trim=True,
            single_line=True,
            description="Stored trimmed of surrounding white space, in Unicode NFC",
            ical="SUMMARY",
            example="팀 회의",
        ),
        Text(
            "time",
            TIME_MAX,
            nullable=True,
            single_line=True,
            description="Free text as the client sent it, e.g. 오후 3:00",
            legacy_numbers=True,
            ical="X-CALENDAR-TIME-TEXT",
            example="오후 2:00",
        ),
        Text(
            "description",
            DESCRIPTION_MAX,
            nullable=True,
            ical="DESCRIPTION",
            example="주간 회의",
        ),
        Date(
            "end_date",
            nullable=True,
            description=f"Last day of a multi-day event (inclusive), at most {MAX_EVENT_DAYS} "
            "days after event_date; null for a single day",
        ),
        Clock(
            "end_time",
            description="24-hour HH:MM; read from time when it holds a range, unless sent",
        ),
        Text(
            "location",
            LOCATION_MAX,
            nullable=True,
            trim=True,
            single_line=True,
            empty_is_null=True,
            description="Where it happens; one line, stored trimmed",
            ical="LOCATION",
            example="3층 회의실",
        ),
        Text(
            "category",
            CATEGORY_MAX,
            nullable=True,
            trim=True,
            single_line=True,
            empty_is_null=True,
            description=f"What kind of event it is (회의, 연차, 출장, 외근): one line of at most "
            f"{CATEGORY_MAX} characters, stored trimmed; null (or blank) clears it. Left out "
            "of events without one.",
            ical="CATEGORIES",
            ical_list=True,
            example="회의",
            in_output="when-set",
            migrated=False,  # the old app had no categories
        ),
        Recurrence(
            "recurrence",
            description="A recurring event (series): 1 to 10 RFC 5545 lines, as Google's API "
            "takes them: at most one RRULE (FREQ DAILY, WEEKLY, MONTHLY or YEARLY, with "
            "INTERVAL, COUNT or UNTIL, BYDAY, BYMONTHDAY, BYMONTH, BYYEARDAY, BYWEEKNO, "
            "BYSETPOS, WKST), EXDATE and RDATE lines (dates 20240125 or wall-clock "
            "date-times 20240125T140000). event_date is the first occurrence. Left out of "
            "events that do not repeat; null turns a series into a single event.",
        ),
    ),
    (
        Derived("id", "string", example="6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"),
        Derived("department_id", "string", example="550e8400-e29b-41d4-a716-446655440000"),
        Derived(
            "start_time",
            "clock",
            nullable=True,
            description="24-hour HH:MM read from time, or null when it cannot be read",
            example="14:00",
        ),
        _timestamp("created_at", "2024-01-15T00:31:00.000Z"),
        _timestamp("updated_at", "2024-01-15T00:31:00.000Z"),
        _VERSION,
        Derived(
            "recurring_event_id",
            "string",
            nullable=True,
            in_output="when-set",
            description="On an instance of a series (id <series id>_<YYYYMMDD>): the "
            "series's id. Left out of other events.",
        ),
        Derived(
            "original_date",
            "date",
            nullable=True,
            in_output="when-set",
            description="On an instance: the date the series gives it (event_date is where "
            "it is now). Left out of other events.",
        ),
        _actor("created_by", "created"),
        _actor("updated_by", "last changed"),
    ),
    order=(
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
        "recurrence",
        "recurring_event_id",
        "original_date",
        "category",
        "created_by",
        "updated_by",
    ),
)


def event_times(
    event_date: str,
    end_date: str | None,
    time_text: str | None,
    end_time: str | None,
    *,
    end_time_sent: bool,
) -> tuple[str | None, str | None]:
    """``(start_time, end_time)`` of an event, or ``Invalid`` naming the rule it breaks.

    The start is read from ``time``; so is the end when ``time`` holds a range, but an
    ``end_time`` the client sent wins. Also checks the span: ``end_date`` is not before
    ``event_date`` and at most ``MAX_EVENT_DAYS`` after it.
    """
    start, read_end = parse_time_range(time_text)
    end = end_time if end_time_sent else read_end
    errors = []
    if end_date is not None:
        days = (date.fromisoformat(end_date) - date.fromisoformat(event_date)).days
        if days < 0:
            errors.append(FieldError("end_date", f"must not be before event_date ({event_date})"))
        elif days > MAX_EVENT_DAYS:
            errors.append(
                FieldError("end_date", f"must be at most {MAX_EVENT_DAYS} days after event_date")
            )
    single_day = end_date is None or end_date == event_date
    if end is not None and single_day:
        if start is None:
            if end_time_sent:
                errors.append(FieldError("end_time", "needs a start: time must say when it starts"))
            end = None
        elif end <= start:
            if end_time_sent:
                errors.append(FieldError("end_time", f"must be later than the start ({start})"))
            end = None
    if errors:
        raise Invalid(errors)
    return start, end
