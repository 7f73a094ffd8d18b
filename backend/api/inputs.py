"""Reading requests: JSON bodies, query strings and conditional headers.

The rules of each resource's fields live in ``backend.fields``.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from backend.errors import BadRequest, FieldError, Invalid
from backend.fields import DEPARTMENT, SURROGATE, date_problem, json_kind, surrogate_message
from backend.storage.versioning import IfMatch

_MONTH = re.compile(r"(\d{4})-(\d{2})")
# What a list cursor is made of (URL-safe base64 and dots); the codec refuses the rest.
CURSOR_PATTERN = "^[A-Za-z0-9_.-]+$"
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
    raw = read_body()
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
    surrogates = list(_surrogates(data, ""))
    if surrogates:
        raise Invalid(surrogates)
    return data


def _surrogates(value: Any, path: str) -> Iterator[FieldError]:
    """A field error for every string (key or value) that holds a lone surrogate, which
    no response, log line or DynamoDB request could encode."""
    if isinstance(value, str):
        if found := SURROGATE.search(value):
            yield FieldError(path or "body", surrogate_message(found[0]))
    elif isinstance(value, dict):
        for key, item in value.items():
            if SURROGATE.search(key):
                yield FieldError(
                    key.encode("utf-8", "backslashreplace").decode("ascii", "replace"),
                    surrogate_message(SURROGATE.findall(key)[0]),
                )
            else:
                yield from _surrogates(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _surrogates(item, f"{path}[{n}]")


def read_body() -> bytes:
    """The request body, or 413 past ``max_content_length``, announced or not.

    Werkzeug refuses a Content-Length over the limit, but a chunked body (no length) is
    cut at the limit without a word: the truncated JSON would then be a misleading 400.
    A body that fills the limit exactly cannot be told from a longer one, and is refused.
    """
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        raise RequestEntityTooLarge
    return raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


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


# A list's page size: ?limit= from 1 to MAX_LIMIT, DEFAULT_LIMIT when not given.
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def limit_param(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValueError(f"must be a whole number from 1 to {MAX_LIMIT}, not {raw!r}")
    return int(raw)


def date_param(raw: str) -> str:
    message = date_problem(raw)
    if message:
        raise ValueError(message)
    return raw


def month_param(raw: str) -> tuple[str, str]:
    """``YYYY-MM`` → its first and last day."""
    match = _MONTH.fullmatch(raw)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValueError(f"must be a month written YYYY-MM (from 0001-01), not {raw!r}")
    year, month = int(match[1]), int(match[2])
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1).isoformat(), date(year, month, last).isoformat()


def bool_param(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(f"must be true or false, not {raw!r}")


def name_param(raw: str) -> str:
    """A department name to look up, by the rule names are stored by (trimmed, NFC, no
    control or invisible characters)."""
    name: str = DEPARTMENT.text("name").clean(raw)  # FieldProblem is a ValueError
    return name


def text_param(raw: str) -> str:
    return raw


SEARCH_MAX = 200


def search_param(raw: str) -> str:
    text = raw.strip()
    if not text or len(text) > SEARCH_MAX:
        raise ValueError(f"must be the text to search for, 1 to {SEARCH_MAX} characters")
    return text


# -- conditional headers ---------------------------------------------------------------------


# A version is a DynamoDB number: at most 38 significant digits.
_MAX_VERSION_DIGITS = 38


def if_match() -> IfMatch | None:
    """``If-Match`` as the versions it accepts; None when the header is absent.

    ETags here are strong (``"3"``): weak ones never match, as RFC 9110 wants for If-Match,
    and a tag that is not a version matches nothing, so the write gets 412. So does a header
    that is no entity tag at all (empty, unquoted): RFC 9110 has it match nothing.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = request.if_match
    if tags.star_tag:
        return IfMatch(None)
    # Only ASCII digits are a version: "²" passes str.isdigit() but is no number. A tag of
    # more digits than any version has matches nothing (and is never turned into an int:
    # Python refuses to read past 4,300 digits).
    return IfMatch(
        frozenset(
            int(t)
            for t in tags.as_set()
            if t and len(t) <= _MAX_VERSION_DIGITS and t.isascii() and t.isdigit()
        )
    )


def not_modified(version: int) -> bool:
    """Whether a GET's ``If-None-Match`` already holds this version (weak comparison)."""
    tags = request.if_none_match
    return bool(tags) and (tags.star_tag or tags.contains_weak(str(version)))
