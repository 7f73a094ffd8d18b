"""Recurrence rules without DynamoDB: what the contract allows, and the dates they make,
checked against the examples of RFC 5545 §3.8.5.3 that fit a series's fields (dates and
a time of day). The examples' DTSTART is 09:00 in America/New_York."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from backend.recurrence import RuleProblem, Schedule, check_lines, ended_before, with_exdate

NEW_YORK = ZoneInfo("America/New_York")


def days(first: str, lines: list[str], *, to: str = "2010-12-31", take: int = 1000) -> list[str]:
    schedule = Schedule(first, check_lines(lines) or (), "09:00", NEW_YORK)
    found = []
    for day in schedule.dates(None, date.fromisoformat(to)):
        found.append(day.isoformat())
        if len(found) == take:
            break
    return found


def d(*values: str) -> list[str]:
    return [f"{v[:4]}-{v[4:6]}-{v[6:]}" for v in values]


RFC_EXAMPLES = [
    ("daily for 10", "19970902", ["RRULE:FREQ=DAILY;COUNT=10"], None,
     d("19970902", "19970903", "19970904", "19970905", "19970906", "19970907", "19970908",
       "19970909", "19970910", "19970911")),
    ("daily until a UTC instant", "19970902", ["RRULE:FREQ=DAILY;UNTIL=19971224T000000Z"], None,
     None),
    ("every 10 days, 5 times", "19970902", ["RRULE:FREQ=DAILY;INTERVAL=10;COUNT=5"], None,
     d("19970902", "19970912", "19970922", "19971002", "19971012")),
    ("every day in January for 3 years (yearly)", "19980101",
     ["RRULE:FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA"], None,
     [f"{y}-01-{n:02d}" for y in (1998, 1999, 2000) for n in range(1, 32)]),
    ("every day in January for 3 years (daily)", "19980101",
     ["RRULE:FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1"], None,
     [f"{y}-01-{n:02d}" for y in (1998, 1999, 2000) for n in range(1, 32)]),
    ("weekly on Tuesday and Thursday for five weeks", "19970902",
     ["RRULE:FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH"], None,
     d("19970902", "19970904", "19970909", "19970911", "19970916", "19970918", "19970923",
       "19970925", "19970930", "19971002")),
    ("every other week on MO, WE, FR until Dec 24", "19970901",
     ["RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR"], None,
     d("19970901", "19970903", "19970905", "19970915", "19970917", "19970919", "19970929",
       "19971001", "19971003", "19971013", "19971015", "19971017", "19971027", "19971029",
       "19971031", "19971110", "19971112", "19971114", "19971124", "19971126", "19971128",
       "19971208", "19971210", "19971212", "19971222")),
    ("every other week on TU and TH, 8 times", "19970902",
     ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH"], None,
     d("19970902", "19970904", "19970916", "19970918", "19970930", "19971002", "19971014",
       "19971016")),
    ("monthly on the first Friday, 10 times", "19970905",
     ["RRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR"], None,
     d("19970905", "19971003", "19971107", "19971205", "19980102", "19980206", "19980306",
       "19980403", "19980501", "19980605")),
    ("every other month on the first and last Sunday", "19970907",
     ["RRULE:FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU"], None,
     d("19970907", "19970928", "19971102", "19971130", "19980104", "19980125", "19980301",
       "19980329", "19980503", "19980531")),
    ("monthly on the second-to-last Monday, 6 times", "19970922",
     ["RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=-2MO"], None,
     d("19970922", "19971020", "19971117", "19971222", "19980119", "19980216")),
    ("monthly on the third-to-last day, without end", "19970928",
     ["RRULE:FREQ=MONTHLY;BYMONTHDAY=-3"], 6,
     d("19970928", "19971029", "19971128", "19971229", "19980129", "19980226")),
    ("monthly on the first and last day, 10 times", "19970930",
     ["RRULE:FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1"], None,
     d("19970930", "19971001", "19971031", "19971101", "19971130", "19971201", "19971231",
       "19980101", "19980131", "19980201")),
    ("every Tuesday, every other month", "19970902",
     ["RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=TU"], 13,
     d("19970902", "19970909", "19970916", "19970923", "19970930", "19971104", "19971111",
       "19971118", "19971125", "19980106", "19980113", "19980120", "19980127")),
    ("every third year on the 1st, 100th and 200th day", "19970101",
     ["RRULE:FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200"], None,
     d("19970101", "19970410", "19970719", "20000101", "20000409", "20000718", "20030101",
       "20030410", "20030719", "20060101")),
    ("every 20th Monday of the year", "19970519", ["RRULE:FREQ=YEARLY;BYDAY=20MO"], 3,
     d("19970519", "19980518", "19990517")),
    ("Monday of week 20", "19970512", ["RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"], 3,
     d("19970512", "19980511", "19990517")),
    ("every Thursday in March", "19970313", ["RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=TH"], 11,
     d("19970313", "19970320", "19970327", "19980305", "19980312", "19980319", "19980326",
       "19990304", "19990311", "19990318", "19990325")),
    ("every Friday the 13th, the first date excluded", "19970902",
     ["EXDATE;TZID=America/New_York:19970902T090000",
      "RRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13"], 5,
     d("19980213", "19980313", "19981113", "19990813", "20001013")),
    ("the first Saturday after the first Sunday", "19970913",
     ["RRULE:FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13"], 10,
     d("19970913", "19971011", "19971108", "19971213", "19980110", "19980207", "19980307",
       "19980411", "19980509", "19980613")),
    ("election day every 4 years", "19961105",
     ["RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8"], 3,
     d("19961105", "20001107", "20041102")),
    ("the third of TU, WE or TH for 3 months (BYSETPOS)", "19970904",
     ["RRULE:FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3"], None,
     d("19970904", "19971007", "19971106")),
    ("the second-to-last weekday (BYSETPOS=-2)", "19970929",
     ["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2"], 7,
     d("19970929", "19971030", "19971127", "19971230", "19980129", "19980226", "19980330")),
    ("WKST=MO", "19970805", ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO"], None,
     d("19970805", "19970810", "19970819", "19970824")),
    ("WKST=SU", "19970805", ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU"], None,
     d("19970805", "19970817", "19970819", "19970831")),
    ("an invalid date is skipped", "20070115", ["RRULE:FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5"],
     None, d("20070115", "20070130", "20070215", "20070315", "20070330")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("first", "lines", "take", "expected"),
    [pytest.param(first, lines, take, expected, id=name) for name, first, lines, take, expected
     in RFC_EXAMPLES if expected is not None],
)  # fmt: skip
def test_rfc_5545_examples(
    first: str, lines: list[str], take: int | None, expected: list[str]
) -> None:
    start = f"{first[:4]}-{first[4:6]}-{first[6:]}"
    assert days(start, lines, take=take or 1000) == expected


def test_until_in_utc_is_read_on_the_calendar_clock() -> None:
    # 1997-12-24T00:00Z is 19:00 on the 23rd in New York: the 23rd at 09:00 is the last.
    found = days("1997-09-02", ["RRULE:FREQ=DAILY;UNTIL=19971224T000000Z"])
    assert found[0] == "1997-09-02"
    assert found[-1] == "1997-12-23"
    assert len(found) == 113


def test_a_series_without_end_is_expanded_only_to_the_window() -> None:
    schedule = Schedule("2024-01-01", ("RRULE:FREQ=DAILY",), None, NEW_YORK)
    window = list(schedule.dates(date(9999, 12, 1), date(9999, 12, 31)))
    assert len(window) == 31
    assert window[0] == date(9999, 12, 1)


@pytest.mark.parametrize(
    "lines",
    [
        ["RRULE:FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR"],
        ["RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH;WKST=SU"],
        ["RRULE:FREQ=YEARLY;BYWEEKNO=1,-1;BYDAY=MO"],
        ["RRULE:FREQ=DAILY;INTERVAL=7;BYMONTH=2,3"],
        ["RRULE:FREQ=YEARLY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=-1"],
        ["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1"],
    ],
)
def test_a_window_far_from_the_first_date_has_the_same_dates(lines: list[str]) -> None:
    # The expansion starts a whole number of periods after the first date when the window
    # is far from it; the dates must be those of an expansion from the first date.
    schedule = Schedule("2001-03-14", tuple(lines), "10:00", NEW_YORK)
    start, end = date(2031, 5, 1), date(2034, 8, 31)
    fast = list(schedule.dates(start, end))
    slow = [day for day in schedule.dates(None, end) if day >= start]
    assert fast == slow
    assert fast


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["RRULE:FREQ=HOURLY"], 0, "FREQ=HOURLY is not supported"),
        (["RRULE:FREQ=SECONDLY"], 0, "FREQ=SECONDLY is not supported"),
        (["RRULE:FREQ=DAILY;BYHOUR=9"], 0, "BYHOUR is not supported"),
        (["RRULE:FREQ=DAILY;BYMINUTE=30"], 0, "BYMINUTE is not supported"),
        (["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"], 1, "a second RRULE"),
        (["EXRULE:FREQ=DAILY"], 0, "EXRULE is not supported"),
        (["RRULE:FREQ=DAILY;COUNT=2;UNTIL=20240101"], 0, "COUNT and UNTIL"),
        (["RRULE:FREQ=WEEKLY;BYDAY=XX"], 0, "BYDAY=XX"),
        (["RRULE:FREQ=WEEKLY;BYDAY=2MO"], 0, "BYDAY=2MO"),
        (["RRULE:FREQ=MONTHLY;BYMONTHDAY=32"], 0, "BYMONTHDAY=32"),
        (["RRULE:INTERVAL=2"], 0, "FREQ is required"),
        (["RRULE:FREQ=DAILY;FOO=1"], 0, "FOO"),
        (["RRULE:FREQ=DAILY;INTERVAL=0"], 0, "INTERVAL=0"),
        (["RRULE:FREQ=DAILY", "EXDATE:20240230"], 1, "not a real date"),
        (["RRULE:FREQ=DAILY", "EXDATE:tomorrow"], 1, "EXDATE"),
        (["DTSTART:20240101"], 0, "DTSTART is not a recurrence line"),
        (["RRULE:FREQ=DAILY;BYWEEKNO=3"], 0, "BYWEEKNO needs FREQ=YEARLY"),
        (["RRULE:FREQ=WEEKLY;BYSETPOS=1"], 0, "BYSETPOS needs another BY part"),
    ],
)
def test_what_the_contract_refuses_names_the_line_and_part(
    lines: list[str], line: int, words: str
) -> None:
    with pytest.raises(RuleProblem) as refused:
        check_lines(lines)
    assert refused.value.line == line
    assert words in refused.value.message


def test_lines_are_kept_with_names_in_capitals() -> None:
    assert check_lines(["  rrule:freq=weekly;byday=mo,we ", "exdate:20240108"]) == (
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
        "EXDATE:20240108",
    )
    assert check_lines(None) is None
    with pytest.raises(RuleProblem):
        check_lines([])
    with pytest.raises(RuleProblem):
        check_lines(["RRULE:FREQ=DAILY"] * 11)


def test_count_must_end_within_the_horizon() -> None:
    sparse = Schedule(
        "2024-02-29", ("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=50",), None, NEW_YORK
    )
    assert sparse.count_check() is not None
    weekly = Schedule("2024-01-01", ("RRULE:FREQ=WEEKLY;COUNT=50",), None, NEW_YORK)
    assert weekly.count_check() is None
    assert weekly.ends() == date(2024, 12, 9)


def test_rewrites_for_one_occurrence_and_for_this_and_following() -> None:
    lines = ("RRULE:FREQ=WEEKLY;COUNT=10",)
    excluded = with_exdate(lines, date(2024, 1, 8), "14:00")
    assert excluded == ("RRULE:FREQ=WEEKLY;COUNT=10", "EXDATE:20240108T140000")
    assert with_exdate(excluded, date(2024, 1, 15), "14:00")[1] == (
        "EXDATE:20240108T140000,20240115T140000"
    )
    ended = ended_before(
        ("RRULE:FREQ=WEEKLY;COUNT=10", "EXDATE:20240108,20240122"), date(2024, 1, 15)
    )
    assert ended == ("RRULE:FREQ=WEEKLY;UNTIL=20240114", "EXDATE:20240108")
    schedule = Schedule("2024-01-01", ended, None, NEW_YORK)
    assert [x.isoformat() for x in schedule.dates()] == ["2024-01-01"]
