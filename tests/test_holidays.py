"""Korean public holidays: ``GET /api/holidays?from=YYYY&to=YYYY``, checked against the
calendar the government published (설날, 추석, substitute and one-off holidays)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from backend import create_app
from backend.config import Settings
from backend.public_holidays import FIRST_YEAR, LAST_YEAR, MAX_YEARS, holidays_of
from backend.storage import Storage
from tests.helpers import assert_problem

# 2025 as published: 설날 Jan 28-30 (and Jan 27 declared a one-off holiday), 추석 Oct 5-7
# with Oct 8 in place of Oct 5 (a Sunday), 삼일절 on a Saturday moved to Mar 3, and
# 어린이날 and 부처님오신날 both on May 5, with May 6 in their place.
KOREA_2025 = {
    ("2025-01-27", "임시공휴일"),
    ("2025-01-28", "설날 전날"),
    ("2025-01-29", "설날"),
    ("2025-01-30", "설날 다음날"),
    ("2025-03-03", "삼일절 대체 휴일"),
    ("2025-05-05", "어린이날"),
    ("2025-05-05", "부처님오신날"),
    ("2025-10-05", "추석 전날"),
    ("2025-10-06", "추석"),
    ("2025-10-07", "추석 다음날"),
    ("2025-10-08", "추석 대체 휴일"),
    ("2025-10-09", "한글날"),
    ("2025-12-25", "기독탄신일"),
}


def holidays(client: FlaskClient, **args: Any) -> list[dict[str, str]]:
    response = client.get("/api/holidays", query_string=args)
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, str]] = response.get_json()["items"]
    return items


def test_2025_has_seollal_chuseok_and_their_substitute_days(client: FlaskClient) -> None:
    response = client.get("/api/holidays?from=2025&to=2025")

    body = response.get_json()
    assert set(body) == {"items", "next_cursor"}
    assert body["next_cursor"] is None
    found = {(h["date"], h["name"]) for h in body["items"]}
    assert found >= KOREA_2025
    assert [h["date"] for h in body["items"]] == sorted(h["date"] for h in body["items"])
    assert all(h["date"].startswith("2025-") for h in body["items"])
    english = {h["date"]: h["name_en"] for h in body["items"]}
    assert english["2025-01-29"] == "Korean New Year"
    assert english["2025-10-06"] == "Chuseok"
    assert "Alternative holiday" in english["2025-10-08"]
    assert "2025-10-04" not in english  # a Saturday, not a holiday


def test_a_range_of_years_and_the_default_year(client: FlaskClient) -> None:
    both = holidays(client, **{"from": 2025, "to": 2026})
    alone = holidays(client, **{"from": 2026})

    assert {h["date"][:4] for h in both} == {"2025", "2026"}
    assert [h for h in both if h["date"].startswith("2026")] == alone
    assert ("2026-02-17", "설날") in {(h["date"], h["name"]) for h in alone}
    assert holidays(client)[0]["date"][:4] in {str(y) for y in range(2000, 2200)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2025&to=2024", "to"),
        (f"from=2020&to={2020 + MAX_YEARS}", "to"),
        (f"from={FIRST_YEAR - 1}", "from"),
        (f"from={LAST_YEAR}&to={LAST_YEAR + 1}", "to"),
        ("from=25", "from"),
        ("from=２０２５", "from"),
        ("from=2025.0", "from"),
        ("from=-2025", "from"),
        ("from=2025&from=2026", "from"),
        ("year=2025", "year"),
    ],
)
def test_bad_ranges_are_problem_400_naming_the_parameter(
    client: FlaskClient, query: str, field: str
) -> None:
    body = assert_problem(client.get(f"/api/holidays?{query}"), 400, field=field)
    assert body["type"].endswith("/bad-request")


def test_the_widest_range_and_the_edges_of_what_is_known(client: FlaskClient) -> None:
    assert holidays(client, **{"from": 2020, "to": 2020 + MAX_YEARS - 1})
    assert holidays(client, **{"from": FIRST_YEAR})
    assert holidays(client, **{"from": LAST_YEAR})


def test_the_answer_is_cacheable_with_a_strong_etag_and_a_304(client: FlaskClient) -> None:
    first = client.get("/api/holidays?from=2025&to=2026")
    etag = first.headers["ETag"]

    assert first.headers["Cache-Control"] == "public, max-age=86400"
    assert etag.startswith('"')  # strong: the body is the same byte for byte
    assert first.mimetype == "application/json"
    again = client.get("/api/holidays?from=2025&to=2026", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=86400"
    assert not again.get_data()
    other = client.get("/api/holidays?from=2025", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["ETag"] != etag
    assert client.get("/api/holidays?from=2025", headers={"If-None-Match": "*"}).status_code == 304


class _Calls(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.operations: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "dynamodb_operations" in record.__dict__:
            self.operations.append(list(record.__dict__["dynamodb_operations"]))


@pytest.fixture
def calls() -> Iterator[_Calls]:
    handler = _Calls()
    logger = logging.getLogger("backend.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_holidays_read_no_dynamodb_and_need_no_token(
    settings: Settings, storage: Storage, calls: _Calls
) -> None:
    guarded = create_app(replace(settings, api_tokens=("a-token-0123456789abcdef",)), storage)

    holidays(guarded.test_client(), **{"from": 2024, "to": 2033})

    assert calls.operations == [[]]


def test_every_year_known_pairs_its_korean_and_english_names() -> None:
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        found = holidays_of(year)
        assert found, year
        assert all(h.name and h.name_en and h.date[:4] == str(year) for h in found)
    assert any(h.name == "설날" for h in holidays_of(2100))
