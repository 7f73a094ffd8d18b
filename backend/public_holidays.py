"""Korean public holidays by year, named in Korean and English (the ``holidays`` library).

The library knows the lunar dates (설날, 추석, 부처님오신날), the substitute holidays
(대체 휴일) and the one-off days the government declares (임시공휴일, election days), and
names each in Korean and English. A day that is two holidays (2025-05-05: 부처님오신날 and
어린이날) gives one entry per holiday. No DynamoDB is involved: a year's holidays are
computed once per process and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays
from holidays.countries.south_korea import SouthKorea

# The years the library covers for Korea (the Republic's holidays begin in 1948).
FIRST_YEAR: int = SouthKorea.start_year
LAST_YEAR: int = SouthKorea.end_year
# The most years one request may ask for: enough for any view, small enough to stay cheap.
MAX_YEARS = 10


@dataclass(frozen=True)
class Holiday:
    date: str  # YYYY-MM-DD
    name: str  # in Korean
    name_en: str


def _named(year: int, language: str) -> dict[date, list[str]]:
    found = holidays.country_holidays("KR", years=year, language=language)
    return {day: found.get_list(day) for day in sorted(found)}


@lru_cache(maxsize=LAST_YEAR - FIRST_YEAR + 1)
def holidays_of(year: int) -> tuple[Holiday, ...]:
    """The year's public holidays in date order; ``FIRST_YEAR`` to ``LAST_YEAR`` only."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"Korean holidays are known from {FIRST_YEAR} to {LAST_YEAR}, not {year}")
    korean, english = _named(year, "ko"), _named(year, "en_US")
    # Both languages come from the same rules in the same order, so the names pair up.
    return tuple(
        Holiday(day.isoformat(), name, name_en)
        for day, names in korean.items()
        for name, name_en in zip(names, english[day], strict=True)
    )


def holidays_between(first: int, last: int) -> tuple[Holiday, ...]:
    """The public holidays of the years ``first`` to ``last``, both included."""
    return tuple(h for year in range(first, last + 1) for h in holidays_of(year))
