"""Reading requests: JSON bodies, query strings, conditional headers, and field rules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from backend.api.problems import BadRequest
from backend.domain import (
    DESCRIPTION_MAX,
    NAME_MAX,
    NOTIFY_EMAILS_MAX,
    TIME_MAX,
    TITLE_MAX,
    json_kind,
)
from backend.errors import FieldError, Invalid
from backend.storage.versioning import IfMatch

T = TypeVar("T")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Deliberately plain: one @, no spaces, a dotted domain; deliverability is SES's to judge.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")
_JSON_TYPES = ("application/json", "application/merge-patch+json")


# -- bodies ---------------------------------------------------------------------------------


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or the right 400/413/415/422."""
    if request.mimetype not in _JSON_TYPES:
        raise UnsupportedMediaType(
            "send the body as JSON with the header Content-Type: application/json"
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in {"utf-8", "utf8"}:
        raise UnsupportedMediaType(f"the body must be UTF-8, not {charset}")
    raw = request.get_data(cache=True)  # werkzeug raises 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode("utf-8-sig")  # a BOM, as some Windows clients send, is fine
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise BadRequest("the body is empty; send a JSON object")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Invalid([FieldError("body", f"must be a JSON object, not {json_kind(data)}")])
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class Fields:
    """Collects every field error of a body before failing, so a client sees them all."""

    def __init__(self, data: Mapping[str, Any], allowed: set[str]) -> None:
        self.data = data
        self.errors: list[FieldError] = []
        self.clean: dict[str, Any] = {}
        for name in sorted(set(data) - allowed):
            self.errors.append(FieldError(name, "is not a field of this resource"))

    def text(
        self,
        name: str,
        *,
        required: bool,
        nullable: bool,
        max_length: int,
        trim: bool = False,
        single_line: bool = False,
    ) -> None:
        if name not in self.data:
            if required:
                self.errors.append(FieldError(name, "is required"))
            return
        value = self.data[name]
        if value is None:
            if nullable:
                self.clean[name] = None
            else:
                self.errors.append(FieldError(name, "must be a string, not null"))
            return
        if not isinstance(value, str):
            self.errors.append(FieldError(name, f"must be a string, not {json_kind(value)}"))
            return
        if trim:
            value = value.strip()
            if not value:
                self.errors.append(FieldError(name, "must not be empty"))
                return
        if len(value) > max_length:
            self.errors.append(
                FieldError(name, f"must be at most {max_length} characters (got {len(value)})")
            )
            return
        if single_line and _CONTROL.search(value):
            self.errors.append(FieldError(name, "must not contain control characters"))
            return
        self.clean[name] = value

    def emails(self, name: str) -> None:
        """An optional list of e-mail addresses; null or [] clears it; duplicates merge."""
        if name not in self.data:
            return
        value = self.data[name]
        if value is None:
            self.clean[name] = ()
            return
        if not isinstance(value, list):
            kind = json_kind(value)
            self.errors.append(FieldError(name, f"must be a list of e-mail addresses, not {kind}"))
            return
        if len(value) > NOTIFY_EMAILS_MAX:
            self.errors.append(FieldError(name, f"must hold at most {NOTIFY_EMAILS_MAX} addresses"))
            return
        seen: dict[str, str] = {}
        for n, address in enumerate(value):
            if not isinstance(address, str) or not _EMAIL.fullmatch(address.strip()):
                message = f"is not an e-mail address: {address!r}"
                self.errors.append(FieldError(f"{name}[{n}]", message))
                return
            seen.setdefault(address.strip().lower(), address.strip())
        self.clean[name] = tuple(seen.values())

    def date(self, name: str, *, required: bool) -> None:
        if name not in self.data:
            if required:
                self.errors.append(FieldError(name, "is required"))
            return
        value = self.data[name]
        if not isinstance(value, str):
            self.errors.append(FieldError(name, f"must be a string, not {json_kind(value)}"))
            return
        message = date_problem(value)
        if message:
            self.errors.append(FieldError(name, message))
        else:
            self.clean[name] = value

    def result(self) -> dict[str, Any]:
        if self.errors:
            raise Invalid(self.errors)
        return self.clean


def date_problem(value: str) -> str | None:
    """Why ``value`` is not a real ``YYYY-MM-DD`` date, or None when it is one."""
    if not _DATE.fullmatch(value):
        return f"must be a date written YYYY-MM-DD, not {value!r}"
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value} is not a real calendar date"
    return None


def department_fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    fields = Fields(data, {"name", "description", "notify_emails"})
    fields.text(
        "name", required=creating, nullable=False, max_length=NAME_MAX, trim=True, single_line=True
    )
    fields.text("description", required=False, nullable=True, max_length=DESCRIPTION_MAX)
    fields.emails("notify_emails")
    return fields.result()


def event_fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    fields = Fields(data, {"event_date", "title", "time", "description"})
    fields.date("event_date", required=creating)
    fields.text(
        "title",
        required=creating,
        nullable=False,
        max_length=TITLE_MAX,
        trim=True,
        single_line=True,
    )
    fields.text("time", required=False, nullable=True, max_length=TIME_MAX, single_line=True)
    fields.text("description", required=False, nullable=True, max_length=DESCRIPTION_MAX)
    return fields.result()


# -- query strings ---------------------------------------------------------------------------


def query(parsers: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Parse the query string with one parser per allowed parameter.

    Unknown parameters, repeated ones and unreadable values are a 400 naming each.
    """
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name in request.args:
        given = request.args.getlist(name)
        if name not in parsers:
            allowed = ", ".join(sorted(parsers)) or "none"
            errors.append(FieldError(name, f"is not a parameter of this list (allowed: {allowed})"))
        elif len(given) > 1:
            errors.append(FieldError(name, "is given more than once"))
        else:
            try:
                values[name] = parsers[name](given[0])
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
    if errors:
        raise BadRequest("the query string has invalid parameters", errors)
    return values


def limit_param(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise ValueError(f"must be a whole number from 1 to 200, not {raw!r}")
    return int(raw)


def date_param(raw: str) -> str:
    message = date_problem(raw)
    if message:
        raise ValueError(message)
    return raw


def month_param(raw: str) -> tuple[str, str]:
    """``YYYY-MM`` → its first and last day."""
    match = _MONTH.fullmatch(raw)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"must be a month written YYYY-MM, not {raw!r}")
    year, month = int(match[1]), int(match[2])
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(following.toordinal() - 1).isoformat()


def bool_param(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(f"must be true or false, not {raw!r}")


def name_param(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"must be a department name of 1 to {NAME_MAX} characters")
    return name


def text_param(raw: str) -> str:
    return raw


# -- conditional headers ---------------------------------------------------------------------


def if_match() -> IfMatch | None:
    """``If-Match`` as the versions it accepts; None when the header is absent.

    ETags here are strong (``"3"``): weak ones never match, as RFC 9110 wants for If-Match,
    and a tag that is not a version matches nothing, so the write gets 412.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = request.if_match
    if tags.star_tag:
        return IfMatch(None)
    return IfMatch(frozenset(int(t) for t in tags.as_set() if t and t.isdigit()))


def not_modified(version: int) -> bool:
    """Whether a GET's ``If-None-Match`` already holds this version (weak comparison)."""
    tags = request.if_none_match
    return bool(tags) and (tags.star_tag or tags.contains_weak(str(version)))
