"""The calendar page's drag and drop, its import of an iCalendar file and its export of the
dates shown, in headless Chromium at 1280 and 390 px, in Korean and English.

Each test works in a department of its own on one live server for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.command import Command
from selenium.webdriver.remote.webelement import WebElement

from backend.api.page_text import MESSAGES, PAGE_TEXT
from tests.browser import (
    DESKTOP,
    PHONE,
    Browser,
    Site,
    chromium,
    click,
    console,
    event_element,
    events_on,
    loaded_count,
    new_department,
    new_event,
    open_page,
    screenshot,
    serve_site,
    site_settings,
    status_text,
    visible_dialog,
    visit,
    wait_closed,
    wait_for,
    wait_loaded,
    width,
)

pytestmark = pytest.mark.slow  # drives headless Chromium


@pytest.fixture(scope="module")
def site(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve_site(site_settings(engine_url, tmp_path_factory.mktemp("drag"))) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(browser: Browser) -> Browser:
    console(browser)
    return browser


def stored(site: Site, department_id: str, event_id: str) -> dict[str, Any]:
    response = site.api.get(f"/api/events/{department_id}/{event_id}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


# -- dragging as a person does: press, move a little, move there, release ------------------


def box(driver: Browser, element: WebElement) -> dict[str, float]:
    found: dict[str, float] = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {left: r.left, top: r.top, width: r.width, height: r.height};",
        element,
    )
    return found


def drag(driver: Browser, grab: tuple[float, float], drop: tuple[float, float]) -> None:
    """Press the mouse at ``grab``, move it in steps to ``drop`` and let go (viewport px)."""
    (x0, y0), (x1, y1) = grab, drop

    def move(x: float, y: float) -> dict[str, Any]:
        return {"type": "pointerMove", "duration": 50, "x": int(x), "y": int(y)}

    steps = [move(x0 + (x1 - x0) * i / 5, y0 + (y1 - y0) * i / 5) for i in range(1, 6)]
    mouse = {
        "type": "pointer",
        "id": "mouse",
        "parameters": {"pointerType": "mouse"},
        "actions": [
            move(x0, y0),
            {"type": "pointerDown", "button": 0},
            *steps,
            {"type": "pause", "duration": 200},
            {"type": "pointerUp", "button": 0},
        ],
    }
    # WebDriver's own actions endpoint: selenium's builder has no type hints.
    driver.execute(Command.W3C_ACTIONS, {"actions": [mouse]})
    driver.execute(Command.W3C_CLEAR_ACTIONS)


def in_cell(driver: Browser, day: str, title: str) -> WebElement:
    """The month's element of ``title`` in the cell of ``day`` (where a segment starts)."""

    def found(d: Browser) -> WebElement | None:
        cell = d.find_element(By.CSS_SELECTOR, f'td.fc-daygrid-day[data-date="{day}"]')
        for element in cell.find_elements(By.CSS_SELECTOR, ".fc-event"):
            if title in element.text:
                return element
        return None

    return wait_for(driver, found, f"{title!r} on {day}")


def cell_centre(driver: Browser, day: str) -> tuple[float, float]:
    cell = driver.find_element(By.CSS_SELECTOR, f'td.fc-daygrid-day[data-date="{day}"]')
    r = box(driver, cell)
    return r["left"] + r["width"] / 2, r["top"] + r["height"] / 2


def slot(driver: Browser, day: str, time: str) -> tuple[float, float]:
    """A point just inside the week's half-hour slot of ``day`` at ``time`` (HH:MM)."""
    column = box(
        driver, driver.find_element(By.CSS_SELECTOR, f'td.fc-timegrid-col[data-date="{day}"]')
    )
    lane = driver.find_element(By.CSS_SELECTOR, f'td.fc-timegrid-slot-lane[data-time="{time}:00"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", lane)
    row = box(driver, lane)
    return column["left"] + column["width"] / 2, row["top"] + 3


def drag_event(driver: Browser, element: WebElement, drop: tuple[float, float]) -> None:
    """Drag ``element`` from just inside its start to ``drop`` (measured after scrolling)."""
    r = box(driver, element)
    drag(driver, (r["left"] + min(10, r["width"] / 2), r["top"] + 3), drop)


def moved_and_drawn(driver: Browser, before: int) -> None:
    """The PATCH answered and the calendar drew its events again."""
    wait_loaded(driver, before)


# -- moving and resizing -----------------------------------------------------------------


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_dragging_in_the_month_moves_the_dates_and_keeps_the_time_as_written(
    site: Site, driver: Browser, pixels: int, language: str
) -> None:
    dept = str(new_department(site.api)["id"])
    timed = new_event(site.api, dept, event_date="2024-03-05", title="주간 회의", time="오후 3시")
    workshop = new_event(
        site.api, dept, event_date="2024-03-12", end_date="2024-03-13", title="워크숍"
    )
    with width(driver, pixels):
        visit(driver, f"{site.url}/?department={dept}&month=2024-03&view=month", language)
        before = loaded_count(driver)
        drag_event(
            driver, in_cell(driver, "2024-03-05", "주간 회의"), cell_centre(driver, "2024-03-07")
        )
        moved_and_drawn(driver, before)
        after = stored(site, dept, timed["id"])
        assert (after["event_date"], after["time"], after["start_time"]) == (
            "2024-03-07",
            "오후 3시",
            "15:00",
        )
        assert after["version"] == 2  # sent with If-Match: "1"
        text = PAGE_TEXT[language]
        assert status_text(driver) == text["event_moved"].format(
            title="주간 회의", when="2024-03-07 오후 3시"
        )
        assert "주간 회의" in " ".join(events_on(driver, "2024-03-07"))

        before = loaded_count(driver)
        drag_event(
            driver, in_cell(driver, "2024-03-12", "워크숍"), cell_centre(driver, "2024-03-19")
        )
        moved_and_drawn(driver, before)
        after = stored(site, dept, workshop["id"])
        assert (after["event_date"], after["end_date"]) == ("2024-03-19", "2024-03-20")
        screenshot(driver, f"drag-month-{language}-{pixels}")
    assert not console(driver) or all(e["level"] != "SEVERE" for e in console(driver))


def test_resizing_in_the_month_changes_the_end_date(site: Site, driver: Browser) -> None:
    dept = str(new_department(site.api)["id"])
    made = new_event(site.api, dept, event_date="2024-03-05", title="출장")
    open_page(driver, f"{site.url}/?department={dept}&month=2024-03")
    element = in_cell(driver, "2024-03-05", "출장")
    ActionChains(driver).move_to_element(element).perform()
    resizer = element.find_element(By.CSS_SELECTOR, ".fc-event-resizer-end")
    r = box(driver, resizer)
    before = loaded_count(driver)
    drag(
        driver,
        (r["left"] + r["width"] / 2, r["top"] + r["height"] / 2),
        cell_centre(driver, "2024-03-07"),
    )
    moved_and_drawn(driver, before)
    after = stored(site, dept, made["id"])
    assert (after["event_date"], after["end_date"], after["time"]) == (
        "2024-03-05",
        "2024-03-07",
        None,
    )


@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_dragging_in_the_week_rewrites_the_time_and_a_resize_its_end(
    site: Site, driver: Browser, pixels: int
) -> None:
    dept = str(new_department(site.api)["id"])
    made = new_event(site.api, dept, event_date="2024-03-05", title="면담", time="오전 10시-11시")
    with width(driver, pixels):
        open_page(driver, f"{site.url}/?department={dept}&view=week&date=2024-03-05")
        element = wait_for(driver, lambda d: event_element(d, "면담"), "the event in the week")
        before = loaded_count(driver)
        drag_event(driver, element, slot(driver, "2024-03-06", "14:00"))
        moved_and_drawn(driver, before)
        after = stored(site, dept, made["id"])
        assert (after["event_date"], after["time"], after["start_time"], after["end_time"]) == (
            "2024-03-06",
            "14:00~15:00",
            "14:00",
            "15:00",
        )
        if pixels == DESKTOP:
            element = wait_for(driver, lambda d: event_element(d, "면담"), "the moved event")
            # The last half hour (14:30) is stretched to 15:30: the end moves to 16:00.
            drop = slot(driver, "2024-03-06", "15:30")  # scrolls first, then measures
            ActionChains(driver).move_to_element(element).perform()
            resizer = element.find_element(By.CSS_SELECTOR, ".fc-event-resizer-end")
            r = box(driver, resizer)
            before = loaded_count(driver)
            drag(driver, (r["left"] + r["width"] / 2, r["top"] + r["height"] / 2), drop)
            moved_and_drawn(driver, before)
            after = stored(site, dept, made["id"])
            assert (after["time"], after["start_time"], after["end_time"]) == (
                "14:00~16:00",
                "14:00",
                "16:00",
            )
        screenshot(driver, f"drag-week-{pixels}")


def test_dragging_an_occurrence_moves_that_one_only(site: Site, driver: Browser) -> None:
    dept = str(new_department(site.api)["id"])
    series = new_event(
        site.api,
        dept,
        event_date="2024-03-04",
        title="스탠드업",
        time="오전 10시",
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"],
    )
    open_page(driver, f"{site.url}/?department={dept}&month=2024-03")
    before = loaded_count(driver)
    drag_event(driver, in_cell(driver, "2024-03-11", "스탠드업"), cell_centre(driver, "2024-03-13"))
    moved_and_drawn(driver, before)

    listed = site.api.get(f"/api/events/{dept}?month=2024-03").get_json()["items"]
    assert [(e["event_date"], e.get("original_date")) for e in listed] == [
        ("2024-03-04", "2024-03-04"),
        ("2024-03-13", "2024-03-11"),
        ("2024-03-18", "2024-03-18"),
        ("2024-03-25", "2024-03-25"),
    ]
    assert all(e["recurring_event_id"] == series["id"] for e in listed)
    whole = stored(site, dept, series["id"])
    assert (whole["event_date"], whole["recurrence"]) == (
        "2024-03-04",
        ["RRULE:FREQ=WEEKLY;COUNT=4"],
    )


@pytest.mark.parametrize("language", ["ko", "en"])
def test_a_drag_over_a_change_made_meanwhile_is_put_back_and_offers_both_versions(
    site: Site, driver: Browser, language: str
) -> None:
    dept = str(new_department(site.api)["id"])
    made = new_event(site.api, dept, event_date="2024-03-05", title="검토 회의", time="14:00")
    visit(driver, f"{site.url}/?department={dept}&month=2024-03", language)
    path = f"/api/events/{dept}/{made['id']}"
    changed = site.api.patch(path, json={"event_date": "2024-03-06"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200

    drag_event(
        driver, in_cell(driver, "2024-03-05", "검토 회의"), cell_centre(driver, "2024-03-08")
    )
    dialog = visible_dialog(driver, "event-dialog")
    wait_for(driver, lambda d: d.find_element(By.ID, "event-conflict").is_displayed(), "the 412")
    rows = {
        row.get_attribute("data-field"): [
            c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")
        ]
        for row in dialog.find_elements(By.CSS_SELECTOR, "#event-conflict-rows tr")
    }
    label = MESSAGES[language]["fields"]["event.event_date"]["label"]
    assert rows == {"event_date": [label, "2024-03-08", "2024-03-06"]}
    # Put back where it was drawn before the drag, until the person chooses.
    assert "검토 회의" in " ".join(events_on(driver, "2024-03-05"))
    screenshot(driver, f"drag-conflict-{language}")

    before = loaded_count(driver)
    click(driver, "#event-reapply")
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)
    after = stored(site, dept, made["id"])
    assert (after["event_date"], after["time"], after["version"]) == ("2024-03-08", "14:00", 3)


def test_a_drag_of_an_event_deleted_meanwhile_says_it_is_gone(site: Site, driver: Browser) -> None:
    dept = str(new_department(site.api)["id"])
    made = new_event(site.api, dept, event_date="2024-03-05", title="취소된 회의")
    open_page(driver, f"{site.url}/?department={dept}&month=2024-03")
    assert site.api.delete(f"/api/events/{dept}/{made['id']}").status_code == 204
    drag_event(
        driver, in_cell(driver, "2024-03-05", "취소된 회의"), cell_centre(driver, "2024-03-07")
    )
    wait_for(driver, lambda d: status_text(d) == PAGE_TEXT["ko"]["gone"], "the status line")
    wait_for(driver, lambda d: event_element(d, "취소된 회의") is None, "the event to go")


def test_holidays_cannot_be_dragged(site: Site, driver: Browser) -> None:
    dept = str(new_department(site.api)["id"])
    open_page(driver, f"{site.url}/?department={dept}&month=2025-01")
    holiday = wait_for(
        driver,
        lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, ".fc-event.holiday")), None),
        "a holiday",
    )
    assert "fc-event-draggable" not in str(holiday.get_attribute("class"))


# -- import and export -------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//page import//KO\r
BEGIN:VEVENT\r
UID:page-import-1@example.com\r
DTSTAMP:20240301T000000Z\r
DTSTART;VALUE=DATE:20240314\r
SUMMARY:가져온 워크숍\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:page-import-2@example.com\r
DTSTAMP:20240301T000000Z\r
DTSTART:20240315T100000\r
DTEND:20240315T110000\r
SUMMARY:가져온 면담\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:page-import-3@example.com\r
DTSTAMP:20240301T000000Z\r
DTSTART:20240316T100000\r
RRULE:FREQ=HOURLY\r
SUMMARY:매시간 알림\r
END:VEVENT\r
END:VCALENDAR\r
"""


def counts(driver: Browser) -> dict[str, str]:
    return {
        str(item.get_attribute("data-count")): item.find_element(By.CSS_SELECTOR, "dd").text
        for item in driver.find_elements(By.CSS_SELECTOR, "#import-counts > div")
    }


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_an_ics_file_is_previewed_then_imported_once_confirmed(
    site: Site, driver: Browser, tmp_path: Path, pixels: int, language: str
) -> None:
    dept = str(new_department(site.api)["id"])
    text = PAGE_TEXT[language]
    file = tmp_path / "team.ics"
    file.write_text(ICS, encoding="utf-8")
    with width(driver, pixels):
        visit(driver, f"{site.url}/?department={dept}&month=2024-03&view=month", language)
        click(driver, "#import")
        visible_dialog(driver, "import-dialog")
        click(driver, "#import-preview")  # no file yet: said beside the form, nothing sent
        assert driver.find_element(By.ID, "import-error").text == text["import_need_file"]

        driver.find_element(By.ID, "import-file").send_keys(str(file))
        click(driver, "#import-preview")
        wait_for(
            driver, lambda d: d.find_element(By.ID, "import-report").is_displayed(), "the dry run"
        )
        assert counts(driver) == {
            "created": "2",
            "updated": "0",
            "unchanged": "0",
            "deleted": "0",
            "rejected": "1",
        }
        assert driver.find_element(By.ID, "import-summary").text == text["import_previewed"]
        [rejected] = driver.find_elements(By.CSS_SELECTOR, "#import-rejected-rows tr")
        uid, line, reason = (c.text for c in rejected.find_elements(By.CSS_SELECTOR, "td"))
        assert uid == "page-import-3@example.com"
        assert line.isdigit()
        assert "HOURLY" in reason
        assert site.api.get(f"/api/events/{dept}").get_json()["items"] == []  # a dry run
        screenshot(driver, f"import-preview-{language}-{pixels}")

        before = loaded_count(driver)
        confirm = driver.find_element(By.ID, "import-confirm")
        assert confirm.text == text["import_confirm"]
        confirm.click()
        wait_loaded(driver, before)
        wait_for(
            driver,
            lambda d: d.find_element(By.ID, "import-summary").text == text["import_done"],
            "the import",
        )
        assert not driver.find_element(By.ID, "import-confirm").is_displayed()
        assert driver.find_element(By.ID, "import-close").text == text["close"]
        click(driver, "#import-close")
        wait_closed(driver, "import-dialog")

        titles = {e["title"]: e for e in site.api.get(f"/api/events/{dept}").get_json()["items"]}
        assert set(titles) == {"가져온 워크숍", "가져온 면담"}
        assert titles["가져온 면담"]["start_time"] == "10:00"
        assert status_text(driver) == text["import_status"].format(
            name="team.ics", created=2, updated=0, deleted=0, rejected=1
        )
        assert "가져온 워크숍" in " ".join(events_on(driver, "2024-03-14"))


def test_a_file_that_is_not_icalendar_is_refused_in_the_pages_words(
    site: Site, driver: Browser, tmp_path: Path
) -> None:
    dept = str(new_department(site.api)["id"])
    file = tmp_path / "notes.ics"
    file.write_text("이건 달력이 아닙니다\n", encoding="utf-8")
    open_page(driver, f"{site.url}/?department={dept}&month=2024-03")
    click(driver, "#import")
    visible_dialog(driver, "import-dialog")
    driver.find_element(By.ID, "import-file").send_keys(str(file))
    click(driver, "#import-preview")
    error = wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "import-error")
            if d.find_element(By.ID, "import-error").text
            else None
        ),
        "the refusal",
    )
    assert error.text == MESSAGES["ko"]["problems"]["bad-request"]
    assert not driver.find_element(By.ID, "import-report").is_displayed()


@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        ("month=2024-03", "2024-02-25", "2024-04-06"),
        ("view=week&date=2024-03-13", "2024-03-10", "2024-03-16"),
    ],
)
def test_export_downloads_the_feed_of_the_dates_shown(
    site: Site, driver: Browser, query: str, first: str, last: str
) -> None:
    dept = str(new_department(site.api)["id"])
    new_event(site.api, dept, event_date="2024-03-13", title="내보낼 회의")
    new_event(site.api, dept, event_date="2024-05-01", title="보이지 않는 날")
    open_page(driver, f"{site.url}/?department={dept}&{query}")
    link = driver.find_element(By.ID, "export")
    href = str(link.get_attribute("href"))
    assert href.endswith(f"/api/departments/{dept}/calendar.ics?from={first}&to={last}")
    assert str(link.get_attribute("download")).endswith(f"-{first}-{last}.ics")
    feed = site.api.get(href.removeprefix(site.url))
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    body = feed.get_data(as_text=True)
    assert "SUMMARY:내보낼 회의" in body
    assert "보이지 않는 날" not in body
