"""``/api/holidays``: Korean public holidays for a range of years."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from functools import lru_cache

from flask import Blueprint, Response, current_app, request

from backend.access.rights import Need
from backend.api.context import today
from backend.api.inputs import query
from backend.api.openapi import (
    READ_ERRORS,
    describe,
    empty_response,
    header,
    json_response,
    operation,
    param,
)
from backend.api.security import needs
from backend.errors import BadRequest, FieldError
from backend.public_holidays import FIRST_YEAR, LAST_YEAR, MAX_YEARS, holidays_between

bp = Blueprint("holidays", __name__, url_prefix="/api/holidays")

# Holidays change only when the law (or the library) does: a day in caches is harmless.
CACHE_CONTROL = "public, max-age=86400"
HOLIDAY_HEADERS = {"ETag": header("HolidayETag"), "Cache-Control": header("CacheControl")}
_EXAMPLE = [
    {"date": "2025-01-28", "name": "설날 전날", "name_en": "The day preceding Korean New Year"},
    {"date": "2025-01-29", "name": "설날", "name_en": "Korean New Year"},
]


def year_param(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4) or not (
        FIRST_YEAR <= int(raw) <= LAST_YEAR
    ):
        raise ValueError(f"must be a year from {FIRST_YEAR} to {LAST_YEAR}, not {raw!r}")
    return int(raw)


def _year_parameter(name: str, description: str) -> dict[str, object]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "integer", "minimum": FIRST_YEAR, "maximum": LAST_YEAR},
        "example": 2025,
    }


@lru_cache(maxsize=256)
def _answer(first: int, last: int) -> tuple[bytes, str]:
    """The body of a range and its strong ETag (a digest of the body), made once."""
    items = [asdict(h) for h in holidays_between(first, last)]
    body = current_app.json.dumps({"items": items, "next_cursor": None}).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


@bp.get("")
@describe(
    operation(
        "listHolidays",
        "holidays",
        "Korean public holidays of a range of years",
        "Every public holiday from January 1st of `from` to December 31st of `to` (both "
        f"included, at most {MAX_YEARS} years, {FIRST_YEAR} to {LAST_YEAR}), in date "
        "order, named in Korean and English: 설날 and 추석 with the days around them, "
        "substitute holidays (대체 휴일) and one-off holidays the government declared. A "
        "day that is two holidays gives two items. Without `from`, this year; without "
        "`to`, the year of `from`. One page (next_cursor is always null), cacheable for "
        "a day, with a strong ETag. Reads no DynamoDB.",
        {
            "200": json_response(
                "The holidays",
                "HolidayList",
                {"items": _EXAMPLE, "next_cursor": None},
                HOLIDAY_HEADERS,
            ),
            "304": empty_response(
                "Not modified: If-None-Match holds the current ETag", HOLIDAY_HEADERS
            ),
        },
        errors=READ_ERRORS,
        parameters=[
            _year_parameter("from", "First year"),
            _year_parameter("to", f"Last year, at most {MAX_YEARS - 1} after from"),
            param("IfNoneMatch"),
        ],
    )
)
@needs(Need.NOTHING)
def list_holidays() -> Response:
    args = query({"from": year_param, "to": year_param})
    first = args["from"] if "from" in args else today().year
    last = args.get("to", first)
    if last < first:
        raise BadRequest(
            "the year range is empty", [FieldError("to", f"must not be before from ({first})")]
        )
    if last - first + 1 > MAX_YEARS:
        raise BadRequest(
            f"at most {MAX_YEARS} years at once",
            [FieldError("to", f"must be at most {MAX_YEARS - 1} years after from ({first})")],
        )
    body, etag = _answer(first, last)
    tags = request.if_none_match
    if tags and (tags.star_tag or tags.contains_weak(etag.strip('"'))):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
