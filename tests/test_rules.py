"""The domain and service rules on their own: no DynamoDB, no HTTP server.

An autouse guard makes any AWS client creation fail, so these tests stay this layer's.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import botocore.session
import pytest

from backend.errors import Conflict, Invalid
from backend.fields import EVENT, MAX_EVENTS_PER_DAY
from backend.services.events import changed_event, matcher, new_event
from backend.services.rules import check_day_has_room


@pytest.fixture(autouse=True)
def no_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a unit test of the rules reached for an AWS client")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)


def test_a_new_event_reads_its_times_and_starts_at_version_1() -> None:
    event = new_event(
        "d-1",
        EVENT.validate(
            {"event_date": "2024-01-20", "title": " 팀 회의 ", "time": "오후 2:00 - 3:30"},
            creating=True,
        ),
    )

    assert (event.title, event.start_time, event.end_time) == ("팀 회의", "14:00", "15:30")
    assert event.version == 1
    assert event.created_at == event.updated_at
    assert event.department_id == "d-1"


def test_a_new_event_ending_before_it_starts_is_invalid() -> None:
    fields = {"event_date": "2024-01-20", "title": "회의", "time": "15:00", "end_time": "14:00"}

    with pytest.raises(Invalid, match="end_time"):
        new_event("d-1", fields)


def test_a_change_of_time_reads_the_times_again_and_keeps_the_rest() -> None:
    event = new_event("d-1", {"event_date": "2024-01-20", "title": "회의", "time": "09:00-10:00"})

    changed = changed_event(event, {"time": "오후 3:00"})

    assert (changed.start_time, changed.end_time) == ("15:00", None)
    assert (changed.title, changed.id, changed.version) == (event.title, event.id, event.version)


def test_an_end_time_sent_earlier_is_kept_when_only_the_title_changes() -> None:
    event = new_event(
        "d-1", {"event_date": "2024-01-20", "title": "회의", "time": "09:00", "end_time": "11:00"}
    )

    assert changed_event(event, {"title": "주간 회의"}).end_time == "11:00"


def test_fields_outside_the_declarations_are_not_applied() -> None:
    event = new_event("d-1", {"event_date": "2024-01-20", "title": "회의"})

    assert changed_event(event, {"version": 9, "id": "other"}) == event


def test_a_date_has_room_until_it_holds_the_most_events() -> None:
    check_day_has_room("2024-01-20", MAX_EVENTS_PER_DAY - 1)

    with pytest.raises(Conflict) as refused:
        check_day_has_room("2024-01-20", MAX_EVENTS_PER_DAY)

    assert refused.value.problem.slug == "day-full"
    assert f"{MAX_EVENTS_PER_DAY} events" in str(refused.value)


def test_search_matches_text_typed_in_either_unicode_form() -> None:
    composed = "주간 회의"
    decomposed = unicodedata.normalize("NFD", composed)
    stored = new_event("d-1", {"event_date": "2024-01-20", "title": "회의", "description": "x"})
    described = new_event(
        "d-1", {"event_date": "2024-01-20", "title": "공지", "description": decomposed}
    )

    assert matcher(unicodedata.normalize("NFD", "회의"))(stored)
    assert matcher("회의")(described)
    assert matcher("ABC")(new_event("d-1", {"event_date": "2024-01-20", "title": "abc 회의"}))
    assert not matcher("없음")(stored)
