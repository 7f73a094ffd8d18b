"""Several departments on the calendar page at once, as Google overlays calendars: chosen
in a dialog, each with its colour, in month, week and list and in search, kept in the link;
in headless Chromium at 1280 and 390 px, in Korean and English."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from backend.api.page_text import PAGE_TEXT
from tests.browser import (
    DESKTOP,
    PHONE,
    Browser,
    Site,
    chromium,
    click,
    console,
    event_element,
    loaded_count,
    new_department,
    new_event,
    open_event,
    open_page,
    save_and_wait,
    screenshot,
    serve_site,
    site_settings,
    status_text,
    type_into,
    visible_dialog,
    visit,
    wait_closed,
    wait_for,
    wait_loaded,
    width,
)

pytestmark = pytest.mark.slow  # drives headless Chromium

COLOURS = ["#8430ce", "#137333", "#b06000", "#c2185b"]  # OVERLAY_COLOURS in calendar.js


@pytest.fixture(scope="module")
def site(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve_site(site_settings(engine_url, tmp_path_factory.mktemp("overlays"))) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(browser: Browser) -> Browser:
    console(browser)
    return browser


def rgba(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, 1)"


def shows(title: str) -> Callable[[Browser], WebElement | None]:
    return lambda driver: event_element(driver, title)


def teams(site: Site, count: int, day: int = 5) -> list[dict[str, Any]]:
    """``count`` departments, each with one event on a day of March 2024 of its own."""
    made = []
    for n in range(count):
        department = new_department(site.api)
        new_event(
            site.api,
            department["id"],
            event_date=f"2024-03-{day + n:02d}",
            title=f"회의 {department['name'][-4:]}",
        )
        made.append(department)
    return made


def title_of(department: dict[str, Any]) -> str:
    return f"회의 {department['name'][-4:]}"


def event_requests(driver: Browser) -> list[str]:
    found: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map((r) => new URL(r.name))"
        ".filter((u) => u.pathname.startsWith('/api/events/')).map((u) => u.pathname);"
    )
    return found


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_departments_chosen_together_show_in_every_view_each_in_its_colour(
    site: Site, driver: Browser, pixels: int, language: str
) -> None:
    chosen, second, third = teams(site, 3)
    text = PAGE_TEXT[language]
    with width(driver, pixels):
        visit(driver, f"{site.url}/?department={chosen['id']}&view=week&date=2024-03-05", language)
        assert driver.find_element(By.ID, "overlay").text == text["overlay"]
        assert not driver.find_element(By.ID, "shown-departments").is_displayed()
        click(driver, "#overlay")
        dialog = visible_dialog(driver, "overlay-dialog")
        assert dialog.find_element(By.ID, "overlay-dialog-title").text == text["overlay_title"]
        # Shown in the order of the department list (by name), each with the next colour.
        listed = [label.text for label in dialog.find_elements(By.CSS_SELECTOR, "label")]
        second, third = sorted((second, third), key=lambda d: listed.index(d["name"]))
        for department in (second, third):
            label = dialog.find_element(
                By.XPATH,
                f"//div[@id='overlay-choices']/label[normalize-space()='{department['name']}']",
            )
            label.click()
        before = loaded_count(driver)
        click(driver, "#overlay-ok")
        wait_closed(driver, "overlay-dialog")
        wait_loaded(driver, before)
        assert f"with={second['id']}%2C{third['id']}" in driver.current_url

        legend = driver.find_element(By.ID, "shown-departments")
        assert [li.text for li in legend.find_elements(By.CSS_SELECTOR, "li")] == [
            chosen["name"],
            second["name"],
            third["name"],
        ]
        url = driver.current_url
        for view in ("week", "month", "list"):
            visit(driver, url.replace("view=week", f"view={view}"), language)
            for department, colour in ((second, COLOURS[0]), (third, COLOURS[1])):
                element = wait_for(driver, shows(title_of(department)), view)
                assert "overlay" in str(element.get_attribute("class"))
                assert element.value_of_css_property("border-left-color") == rgba(colour) or (
                    view == "list"
                )
                assert department["name"] in str(element.get_attribute("title")) or view == "list"
            mine = wait_for(driver, lambda d: event_element(d, title_of(chosen)), view)
            assert "overlay" not in str(mine.get_attribute("class"))
            screenshot(driver, f"overlay-{view}-{language}-{pixels}")
            # One list request a department, side by side.
            assert len(event_requests(driver)) == 3


def test_five_departments_cost_five_requests_a_month_and_search_reads_them_all(
    site: Site, driver: Browser
) -> None:
    departments = teams(site, 5)
    chosen, *others = departments
    with_ids = ",".join(d["id"] for d in others)
    open_page(driver, f"{site.url}/?department={chosen['id']}&month=2024-03&with={with_ids}")
    for department in departments:
        wait_for(driver, shows(title_of(department)), "each team")
    paths = event_requests(driver)
    assert sorted(paths) == sorted(f"/api/events/{d['id']}" for d in departments)

    before = loaded_count(driver)
    type_into(driver, "q", title_of(others[2]))
    click(driver, "#search button[type=submit]")
    wait_loaded(driver, before)
    assert status_text(driver) == PAGE_TEXT["ko"]["search_results"].format(
        q=title_of(others[2]), count=1
    )
    assert event_element(driver, title_of(others[2])) is not None
    assert event_element(driver, title_of(chosen)) is None


def test_at_most_four_others_can_be_chosen(site: Site, driver: Browser) -> None:
    chosen, *_ = teams(site, 6)
    open_page(driver, f"{site.url}/?department={chosen['id']}&month=2024-03")
    click(driver, "#overlay")
    visible_dialog(driver, "overlay-dialog")
    boxes = driver.find_elements(By.CSS_SELECTOR, "#overlay-choices input")
    assert len(boxes) >= 5
    for box in boxes[:4]:
        box.click()
    assert all(not box.is_enabled() for box in boxes[4:])
    boxes[0].click()
    assert all(box.is_enabled() for box in boxes)
    click(driver, "#overlay-dialog [data-close]")
    wait_closed(driver, "overlay-dialog")


def test_another_departments_event_is_edited_in_its_own_department(
    site: Site, driver: Browser
) -> None:
    chosen, other = teams(site, 2)
    open_page(driver, f"{site.url}/?department={chosen['id']}&month=2024-03&with={other['id']}")
    open_event(driver, title_of(other))
    type_into(driver, "event-title", "다른 팀 회의 (변경)")
    save_and_wait(driver)
    [changed] = site.api.get(f"/api/events/{other['id']}").get_json()["items"]
    assert (changed["title"], changed["version"]) == ("다른 팀 회의 (변경)", 2)
    [mine] = site.api.get(f"/api/events/{chosen['id']}").get_json()["items"]
    assert mine["title"] == title_of(chosen)
    # Choosing the other one as the department takes it out of those shown with it.
    driver.find_element(By.ID, "department").send_keys(other["name"])
    wait_for(driver, lambda d: "with=" not in d.current_url, "the link without it")
