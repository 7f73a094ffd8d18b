"""The calendar page over the v1.1 event API (calendar.md): end dates and times, places,
search and the iCalendar feed, as a user sees them in headless Chromium.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import (
    Browser,
    Site,
    chromium,
    click,
    console,
    event_element,
    events_on,
    listed,
    loaded_count,
    new_department,
    new_event,
    open_event,
    open_page,
    sample_site,
    save_and_wait,
    shown,
    status_text,
    type_into,
    visible_dialog,
    wait_for,
    wait_loaded,
)

DEV = "550e8400-e29b-41d4-a716-446655440000"  # 개발팀 in the sample data
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def site(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with sample_site(engine_url, tmp_path_factory.mktemp("page-v11")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(browser: Browser) -> Browser:
    console(browser)
    return browser


def set_date(driver: Browser, element_id: str, value: str) -> None:
    """Fill a date field (typing into one depends on the browser's own locale)."""
    driver.execute_script(
        "const f = document.getElementById(arguments[0]); f.value = arguments[1];"
        "f.dispatchEvent(new Event('input', {bubbles: true}));",
        element_id,
        value,
    )


def test_a_multi_day_event_is_drawn_across_its_days(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    new_event(
        site.api, department["id"], event_date="2024-05-06", end_date="2024-05-08", title="워크숍"
    )
    open_page(driver, site.page(department=department["id"], month="2024-05"))

    bar = wait_for(driver, lambda d: event_element(d, "워크숍"), "the workshop")
    cell = driver.find_element(By.CSS_SELECTOR, 'td.fc-daygrid-day[data-date="2024-05-06"]')
    assert bar.size["width"] > 2.5 * cell.size["width"]  # one bar over three days

    open_page(driver, site.page(department=department["id"], month="2024-05", view="list"))
    titles = driver.find_elements(By.CSS_SELECTOR, ".fc-list-event-title")
    assert [t.text for t in titles] == ["워크숍"] * 3


def test_a_multi_day_event_started_last_month_shows_this_month(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    new_event(
        site.api, department["id"], event_date="2024-07-29", end_date="2024-08-02", title="출장"
    )

    open_page(driver, site.page(department=department["id"], month="2024-08", view="list"))

    titles = driver.find_elements(By.CSS_SELECTOR, ".fc-list-event-title")
    assert [t.text for t in titles] == ["출장"] * 2  # August 1 and 2


def test_the_form_sends_end_date_and_place_and_shows_the_time_range_read(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    open_page(driver, site.page(department=department["id"], month="2024-05"))

    click(driver, 'td.fc-daygrid-day[data-date="2024-05-20"]')
    visible_dialog(driver, "event-dialog")
    type_into(driver, "event-title", "분기 리뷰")
    set_date(driver, "event-end-date", "2024-05-21")
    type_into(driver, "event-time", "오후 2시-3시")
    type_into(driver, "event-location", "대회의실")
    save_and_wait(driver)

    assert "14:00–15:00" in status_text(driver)
    [stored] = listed(site.api, department["id"])
    assert (stored["event_date"], stored["end_date"]) == ("2024-05-20", "2024-05-21")
    assert (stored["start_time"], stored["end_time"]) == ("14:00", "15:00")
    assert stored["location"] == "대회의실"
    shown_bar = wait_for(driver, lambda d: event_element(d, "분기 리뷰"), "the review")
    assert "대회의실" in shown_bar.text
    assert "14:00" in shown_bar.text

    open_event(driver, "분기 리뷰")
    assert "14:00–15:00" in driver.find_element(By.ID, "event-parsed-time").text
    assert driver.find_element(By.ID, "event-location").get_attribute("value") == "대회의실"
    type_into(driver, "event-location", "")
    set_date(driver, "event-end-date", "")
    save_and_wait(driver)
    [cleared] = listed(site.api, department["id"])
    assert (cleared["location"], cleared["end_date"]) == (None, None)


def test_a_place_is_shown_as_text(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    new_event(site.api, department["id"], event_date="2024-05-09", title="회식", location=XSS)
    open_page(driver, site.page(department=department["id"], month="2024-05"))

    bar = wait_for(driver, lambda d: event_element(d, "회식"), "the dinner")
    assert XSS in bar.text
    assert driver.find_elements(By.CSS_SELECTOR, "img") == []


def test_search_keeps_matching_events_and_follows_the_url(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    for day, title in (("03", "예산 회의"), ("04", "점심 약속"), ("05", "예산 마감")):
        new_event(site.api, department["id"], event_date=f"2024-09-{day}", title=title)
    open_page(driver, site.page(department=department["id"], month="2024-09"))
    assert events_on(driver, "2024-09-04") == ["점심 약속"]

    before = loaded_count(driver)
    type_into(driver, "q", "예산")
    driver.find_element(By.ID, "q").send_keys(Keys.ENTER)
    wait_loaded(driver, before)

    assert events_on(driver, "2024-09-03") == ["예산 회의"]
    assert events_on(driver, "2024-09-04") == []
    assert events_on(driver, "2024-09-05") == ["예산 마감"]
    assert f"q={quote('예산')}" in driver.current_url
    assert "2" in status_text(driver)

    # The link with q reopens the same search.
    open_page(driver, driver.current_url)
    assert driver.find_element(By.ID, "q").get_attribute("value") == "예산"
    assert events_on(driver, "2024-09-04") == []


def test_the_subscription_address_serves_the_departments_calendar(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))
    click(driver, "#subscribe")
    visible_dialog(driver, "subscribe-dialog")
    address = shown(driver, "subscribe-url").get_attribute("value")
    assert address

    feed = site.api.get(urlsplit(address).path)
    # The subscribed feed covers a year back to two years ahead of today; the sample data
    # of January 2024 is read through the same address with a window.
    january = site.api.get(urlsplit(address).path + "?month=2024-01")

    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    assert "X-WR-CALNAME:개발팀" in feed.get_data(as_text=True)
    assert "SUMMARY:팀 회의" in january.get_data(as_text=True)


def test_a_shared_link_with_a_search_shows_the_place(site: Site, driver: Browser) -> None:
    department = new_department(site.api, name=f"공유팀 {uuid.uuid4().hex[:6]}")
    new_event(
        site.api,
        department["id"],
        event_date="2024-10-14",
        end_date="2024-10-15",
        title="교육",
        location="연수원",
    )
    link = site.page(department=department["id"], month="2024-10", q=quote("연수원"))

    open_page(driver, link)

    bar = wait_for(driver, lambda d: event_element(d, "교육"), "the training")
    assert "연수원" in bar.text
    assert driver.find_element(By.ID, "q").get_attribute("value") == "연수원"
