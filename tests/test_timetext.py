"""Reading a 24-hour start time from the free text people write in ``time``."""

from __future__ import annotations

import pytest

from backend.timetext import parse_start_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("오후 3:00", "15:00"),
        ("오전 9:30", "09:30"),
        ("3:00 PM", "15:00"),
        ("3:00PM", "15:00"),
        ("3 pm", "15:00"),
        ("3 p.m.", "15:00"),
        ("15:00", "15:00"),
        ("09:05", "09:05"),
        ("9:05", "09:05"),
        ("15:00:00", "15:00"),
        ("오후 3시", "15:00"),
        ("오후 3시 30분", "15:30"),
        ("오전 10시반", "10:30"),
        ("14시", "14:00"),
        ("12:00 AM", "00:00"),
        ("12:00 PM", "12:00"),
        ("오전 12:00", "00:00"),
        ("오후 12:30", "12:30"),
        ("정오", "12:00"),
        ("자정", "00:00"),
        ("저녁 7시", "19:00"),
        ("밤 12시", "00:00"),
        ("새벽 2시", "02:00"),
        ("14:00~15:00", "14:00"),
        ("오후 2:00 - 3:00", "14:00"),
        ("10:00부터", "10:00"),
        ("  오후 3:00  ", "15:00"),
        ("１５：００", "15:00"),
    ],
)
def test_readable_times(text: str, expected: str) -> None:
    assert parse_start_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "3", "종일", "all day", "next week", "25:00", "24:00", "12:60", "오전 13:00",
     "9:5", "오후 3:00 PM", "TBD", "3:00 XM"],
)  # fmt: skip
def test_unreadable_times_have_no_start_time(text: str | None) -> None:
    assert parse_start_time(text) is None
