"""The calendar page at ``/``: served by the app, used in headless Chromium over the API.

One browser and one live server for the module; each test works in a department of its
own, so the tests do not see each other's events. The sample data (개발팀, 마케팅팀) is
migrated once, through the migration's ``main``.
"""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from backend.api.page_text import FIELD_RULES, LANGUAGES, MESSAGES, PAGE_TEXT
from backend.errors import PROBLEM_TYPES
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Browser,
    Site,
    alert,
    chromium,
    click,
    console,
    csp_violations,
    english,
    event_element,
    events_on,
    focused,
    listed,
    loaded_count,
    new_department,
    new_event,
    open_event,
    open_page,
    sample_site,
    save_and_wait,
    screenshot,
    series_in_new_department,
    serve_site,
    shown,
    site_settings,
    status_text,
    tab_to,
    type_into,
    visible_dialog,
    visit,
    wait_closed,
    wait_for,
    wait_loaded,
    width,
)
from tests.helpers import api_document, assert_problem

pytestmark = pytest.mark.slow  # drives headless Chromium

DEV = "550e8400-e29b-41d4-a716-446655440000"  # 개발팀 in the sample data
MKT = "6fa459ea-ee8a-3ca4-894e-db77e160355e"  # 마케팅팀
XSS = "<img src=x onerror=alert(1)>"
TOKEN = "page-test-token-0123456789"


@pytest.fixture(scope="module")
def site(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with sample_site(engine_url, tmp_path_factory.mktemp("page")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(browser: Browser) -> Browser:
    console(browser)  # start each test with an empty console
    return browser


# -- the page as served ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "lang", "label"),
    [
        (None, "ko", "새 일정"),
        ("ko-KR,ko;q=0.9,en;q=0.8", "ko", "새 일정"),
        ("en-US,en;q=0.9,ko;q=0.5", "en", "New event"),
        ("fr-FR,en;q=0.5", "en", "New event"),
        ("fr-FR", "ko", "새 일정"),
    ],
)
def test_page_is_korean_first_and_english_when_the_browser_prefers_it(
    client: FlaskClient, accept_language: str | None, lang: str, label: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}

    response = client.get("/", headers=headers)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert label in html
    assert "Accept-Language" in response.headers["Vary"]


def test_no_word_of_the_page_hides_behind_a_method_of_its_table(client: FlaskClient) -> None:
    """The template reads ``text.<key>``: Jinja tries the attribute first, so a key named
    like a dict method (``copy``, ``items``) would print the method instead of the word."""
    for language in LANGUAGES:
        assert [key for key in PAGE_TEXT[language] if hasattr(dict, key)] == []
        html = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
        assert "built-in method" not in html
        assert "<bound method" not in html


def test_page_is_gzipped_for_browsers_that_accept_it(client: FlaskClient) -> None:
    plain = client.get("/")
    zipped = client.get("/", headers={"Accept-Encoding": "gzip, br"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data).decode().startswith("<!doctype html>")
    assert len(zipped.data) < len(plain.data) / 2
    assert "Accept-Encoding" in zipped.headers["Vary"]


def test_page_has_a_strict_csp_with_a_fresh_nonce_and_no_inline_script(
    client: FlaskClient,
) -> None:
    first, second = client.get("/"), client.get("/")

    policy = first.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    html = first.get_data(as_text=True)
    nonce = re.search(r'<meta name="csp-nonce" content="([^"]+)">', html)
    assert nonce
    assert directives["style-src"] == f"'self' 'nonce-{nonce[1]}'"
    assert nonce[1] not in second.get_data(as_text=True)
    # Scripts come from files; the one inline <script> is JSON data, which never runs.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' type="application/json" id="page-text"']
    assert not re.search(r"\s(style|on\w+)=", html)


def test_assets_are_served_gzipped_and_cached_by_content(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    script = re.search(r'src="(/calendar/fullcalendar/index\.global\.min\.js\?v=\w+)"', html)
    assert script

    zipped = client.get(script[1], headers={"Accept-Encoding": "gzip, deflate"})
    plain = client.get(script[1])
    again = client.get(script[1], headers={"If-None-Match": plain.headers["ETag"]})
    unversioned = client.get(script[1].split("?")[0])

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.data) < len(plain.data) / 2
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert "immutable" in plain.headers["Cache-Control"]
    assert again.status_code == 304
    assert unversioned.headers["Cache-Control"] == "no-cache"
    assert plain.mimetype in {"text/javascript", "application/javascript"}


@pytest.mark.parametrize(
    "path", ["/calendar/nothing.js", "/calendar/../page.py", "/calendar/fullcalendar/VERSION"]
)
def test_unknown_assets_are_problem_404(client: FlaskClient, path: str) -> None:
    assert_problem(client.get(path), 404)


# -- in the browser -------------------------------------------------------------------------


def test_sample_data_after_migration_shows_the_team_meeting_on_january_20(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))

    assert "팀 회의" in events_on(driver, "2024-01-20")
    assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == "2024년 1월"
    assert driver.find_element(By.ID, "department").get_attribute("value") == DEV
    assert "14:00" in wait_for(driver, lambda d: event_element(d, "팀 회의"), "팀 회의").text
    screenshot(driver, "month-view")


def test_today_is_highlighted_and_the_default_is_this_month(site: Site, driver: Browser) -> None:
    open_page(driver, site.url)

    today = date.today().isoformat()
    cell = driver.find_element(By.CSS_SELECTOR, "td.fc-day-today")
    assert cell.get_attribute("data-date") == today
    assert cell.value_of_css_property("background-color") == "rgba(255, 244, 194, 1)"
    assert f"month={today[:7]}" in driver.current_url
    assert "department=" in driver.current_url  # the first department, chosen for the URL


def test_the_url_follows_navigation_and_the_back_button_restores_it(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))

    click(driver, ".fc-next-button")
    wait_for(driver, lambda d: "month=2024-02" in d.current_url, "the URL to show February")
    click(driver, ".fc-timeGridWeek-button")
    wait_for(driver, lambda d: "view=week" in d.current_url, "the URL to show the week view")
    assert "date=2024-01-28" in driver.current_url  # the week that holds February 1st

    driver.back()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".fc-dayGridMonth-view"), "month")
    assert "month=2024-02" in driver.current_url
    driver.back()
    wait_for(
        driver, lambda d: "팀 회의" in events_on(d, "2024-01-20"), "January with 팀 회의 again"
    )
    assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == "2024년 1월"

    # A shared link opens the same department and month.
    open_page(driver, site.page(department=MKT, month="2024-02"))
    assert driver.find_element(By.ID, "department").get_attribute("value") == MKT
    assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == "2024년 2월"


def test_an_event_added_by_clicking_a_day_appears_in_the_grid_and_the_api(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    open_page(driver, site.page(department=department["id"], month="2024-03"))

    click(driver, 'td.fc-daygrid-day[data-date="2024-03-14"]')
    visible_dialog(driver, "event-dialog")
    assert driver.find_element(By.ID, "event-date").get_attribute("value") == "2024-03-14"
    type_into(driver, "event-title", "주간 회의")
    type_into(driver, "event-time", "오후 3시")
    type_into(driver, "event-description", "3층 회의실")
    save_and_wait(driver)

    assert events_on(driver, "2024-03-14") == ["주간 회의"]
    assert "15:00" in status_text(driver)  # the time as the server read it, shown back
    [stored] = listed(site.api, department["id"])
    assert stored["event_date"] == "2024-03-14"
    assert stored["time"] == "오후 3시"
    assert stored["start_time"] == "15:00"
    assert stored["description"] == "3층 회의실"


def test_editing_an_event_saves_it_with_if_match(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    event = new_event(
        site.api, department["id"], event_date="2024-04-10", title="기획 회의", time="오후 2:00"
    )
    open_page(driver, site.page(department=department["id"], month="2024-04"))

    open_event(driver, "기획 회의")
    assert driver.find_element(By.ID, "event-title").get_attribute("value") == "기획 회의"
    assert "14:00" in driver.find_element(By.ID, "event-parsed-time").text
    screenshot(driver, "edit-dialog")
    type_into(driver, "event-title", "기획 회의 (연기)")
    type_into(driver, "event-time", "오전 10:30")
    save_and_wait(driver)

    assert events_on(driver, "2024-04-10") == ["기획 회의 (연기)"]
    stored = site.api.get(f"/api/events/{department['id']}/{event['id']}").get_json()
    assert stored["title"] == "기획 회의 (연기)"
    assert stored["start_time"] == "10:30"
    assert stored["version"] == 2


def test_deleting_an_event_asks_first_then_removes_it(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    event = new_event(site.api, department["id"], event_date="2024-04-11", title="취소된 회의")
    open_page(driver, site.page(department=department["id"], month="2024-04"))

    open_event(driver, "취소된 회의")
    before = loaded_count(driver)
    click(driver, "#event-delete")
    confirmation = wait_for(driver, alert, "the confirmation")
    assert "취소된 회의" in confirmation.text
    confirmation.accept()
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)

    assert events_on(driver, "2024-04-11") == []
    assert site.api.get(f"/api/events/{department['id']}/{event['id']}").status_code == 404


def test_a_change_made_meanwhile_is_a_412_that_offers_to_reload(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    event = new_event(site.api, department["id"], event_date="2024-04-12", title="원래 제목")
    path = f"/api/events/{department['id']}/{event['id']}"
    open_page(driver, site.page(department=department["id"], month="2024-04"))
    open_event(driver, "원래 제목")

    changed = site.api.patch(path, json={"title": "다른 사람이 바꾼 제목"})
    assert changed.status_code == 200
    type_into(driver, "event-title", "내가 바꾼 제목")
    click(driver, "#event-save")

    conflict = shown(driver, "event-conflict", "the conflict notice")
    assert "다른 사람이" in conflict.text
    assert site.api.get(path).get_json()["title"] == "다른 사람이 바꾼 제목"  # not overwritten

    click(driver, "#event-reload")
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "event-title").get_attribute("value") == "다른 사람이 바꾼 제목"
        ),
        "the latest version in the form",
    )
    assert not driver.find_element(By.ID, "event-conflict").is_displayed()
    type_into(driver, "event-title", "합의한 제목")
    save_and_wait(driver)

    stored = site.api.get(path).get_json()
    assert stored["title"] == "합의한 제목"
    assert stored["version"] == 3


def test_user_text_is_shown_as_text_never_as_html(site: Site, driver: Browser) -> None:
    department = new_department(site.api, name=f"<b>{XSS}</b> {uuid.uuid4().hex[:6]}")
    new_event(
        site.api, department["id"], event_date="2024-05-02", title=XSS, description=XSS, time=XSS
    )
    open_page(driver, site.page(department=department["id"], month="2024-05"))

    assert events_on(driver, "2024-05-02") == [XSS]
    selected = driver.find_element(By.CSS_SELECTOR, "#department option:checked")
    assert selected.text == department["name"]
    open_event(driver, XSS)
    assert driver.find_element(By.ID, "event-description").get_attribute("value") == XSS

    assert driver.find_elements(By.CSS_SELECTOR, "img") == []
    assert driver.find_elements(By.CSS_SELECTOR, "b") == []
    assert alert(driver) is None
    assert XSS in driver.title


def test_an_event_can_be_created_with_the_keyboard_alone(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    open_page(driver, site.page(department=department["id"]))

    tab_to(driver, lambda d: focused(d).get_attribute("id") == "add-event")
    focused(driver).send_keys(Keys.ENTER)
    visible_dialog(driver, "event-dialog")
    assert focused(driver).get_attribute("id") == "event-title"
    focused(driver).send_keys("키보드 일정")
    tab_to(driver, lambda d: focused(d).get_attribute("id") == "event-time")
    before = loaded_count(driver)
    focused(driver).send_keys("오전 9시", Keys.ENTER)
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)

    today = date.today().isoformat()
    assert events_on(driver, today) == ["키보드 일정"]
    [stored] = listed(site.api, department["id"])
    assert (stored["event_date"], stored["time"], stored["start_time"]) == (
        today,
        "오전 9시",
        "09:00",
    )
    # It opens with the keyboard too: events take the focus, and Enter opens them.
    tab_to(driver, lambda d: "fc-event" in str(focused(d).get_attribute("class")))
    focused(driver).send_keys(Keys.ENTER)
    visible_dialog(driver, "event-dialog")
    assert driver.find_element(By.ID, "event-title").get_attribute("value") == "키보드 일정"
    focused(driver).send_keys(Keys.ESCAPE)
    wait_closed(driver, "event-dialog")


def test_departments_are_created_and_renamed_with_errors_beside_the_field(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))
    name = f"신규팀 {uuid.uuid4().hex[:6]}"

    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    type_into(driver, "department-name", "개발팀")  # taken by the sample data
    click(driver, "#department-dialog button[type=submit]")
    error = shown(driver, "department-name-error", "the error beside the name")
    assert "개발팀" in error.text
    field = driver.find_element(By.ID, "department-name")
    assert field.get_attribute("aria-invalid") == "true"
    type_into(driver, "department-name", name)
    click(driver, "#department-dialog button[type=submit]")
    wait_closed(driver, "department-dialog")

    wait_for(
        driver,
        lambda d: d.find_element(By.CSS_SELECTOR, "#department option:checked").text == name,
        "the new department, chosen",
    )
    created = site.api.get("/api/departments", query_string={"name": name}).get_json()["items"]
    wait_for(
        driver,
        lambda d: f"department={created[0]['id']}" in d.current_url,
        "the new department in the URL",
    )

    click(driver, "#rename-department")
    visible_dialog(driver, "department-dialog")
    assert driver.find_element(By.ID, "department-name").get_attribute("value") == name
    type_into(driver, "department-name", f"{name} (개명)")
    click(driver, "#department-dialog button[type=submit]")
    wait_closed(driver, "department-dialog")
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#department option:checked").text == f"{name} (개명)"
        ),
        "the new name in the list",
    )


def test_an_api_field_error_is_shown_beside_its_field(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    open_page(driver, site.page(department=department["id"], month="2024-06"))

    click(driver, 'td.fc-daygrid-day[data-date="2024-06-12"]')
    visible_dialog(driver, "event-dialog")
    type_into(driver, "event-title", "끝이 앞선 일정")
    driver.execute_script(
        "const f = document.getElementById('event-end-date');"
        "f.value = '2024-06-10'; f.dispatchEvent(new Event('input'));"
    )
    click(driver, "#event-save")

    error = shown(driver, "event-end-date-error", "the error beside the end date")
    assert error.text
    assert driver.find_element(By.ID, "event-end-date").get_attribute("aria-invalid") == "true"
    assert listed(site.api, department["id"]) == []


def test_subscribe_offers_the_departments_ics_address(site: Site, driver: Browser) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))

    click(driver, "#subscribe")
    visible_dialog(driver, "subscribe-dialog")

    address = driver.find_element(By.ID, "subscribe-url").get_attribute("value")
    assert address == f"{site.url}/api/departments/{DEV}/calendar.ics"
    assert driver.find_element(By.ID, "subscribe-status").text


@pytest.mark.parametrize(("language", "label"), [("ko", "복사"), ("en", "Copy")])
def test_the_subscribe_dialogs_copy_button_says_copy(
    site: Site, driver: Browser, language: str, label: str
) -> None:
    with english(driver) if language == "en" else nullcontext():
        open_page(driver, site.page(department=DEV, month="2024-01"))
    click(driver, "#subscribe")
    visible_dialog(driver, "subscribe-dialog")

    assert driver.find_element(By.ID, "subscribe-copy").text == label


def test_korean_by_default_and_english_when_the_browser_prefers_it(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert driver.find_element(By.ID, "add-event").text == "새 일정"

    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "en-US,en;q=0.9"}}
    )
    try:
        open_page(driver, site.page(department=DEV, month="2024-01"))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert driver.find_element(By.ID, "add-event").text == "New event"
        assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == "January 2024"
        assert driver.title.endswith("Department calendar")
    finally:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def test_csp_holds_with_no_violation_in_the_browser(site: Site, driver: Browser) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))
    for view in ("timeGridWeek", "listMonth", "dayGridMonth"):
        click(driver, f".fc-{view}-button")
        shown_view = f".fc-{view}-view"
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, shown_view), view)  # noqa: B023
    open_event(driver, "팀 회의")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)

    entries = console(driver)
    assert csp_violations(entries) == []
    assert [e for e in entries if e["level"] == "SEVERE"] == []
    # FullCalendar's own stylesheet carries the nonce, so it applies.
    assert driver.execute_script(
        "const s = document.querySelector('style[data-fullcalendar]'); return !!(s && s.nonce)"
    )
    toolbar = driver.find_element(By.CSS_SELECTOR, ".fc-header-toolbar")
    assert toolbar.value_of_css_property("display") == "flex"


def test_writes_ask_for_the_token_once_and_keep_it_in_the_tab(
    engine_url: str, tmp_path: Path, driver: Browser
) -> None:
    settings = site_settings(engine_url, tmp_path, api_tokens=(TOKEN,))
    with serve_site(settings) as guarded:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        department = guarded.api.post(
            "/api/departments", json={"name": "보안팀"}, headers=headers
        ).get_json()
        open_page(driver, guarded.page(department=department["id"], month="2024-07"))

        click(driver, 'td.fc-daygrid-day[data-date="2024-07-08"]')
        visible_dialog(driver, "event-dialog")
        type_into(driver, "event-title", "보안 점검")
        click(driver, "#event-save")
        visible_dialog(driver, "token-dialog")
        type_into(driver, "token-input", "wrong-token")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        refused = shown(driver, "token-error", "the refused-token notice")
        assert refused.text
        before = loaded_count(driver)
        type_into(driver, "token-input", TOKEN)
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_closed(driver, "event-dialog")
        wait_loaded(driver, before)
        assert events_on(driver, "2024-07-08") == ["보안 점검"]

        # A second write in the same tab does not ask again.
        click(driver, 'td.fc-daygrid-day[data-date="2024-07-09"]')
        visible_dialog(driver, "event-dialog")
        type_into(driver, "event-title", "보안 교육")
        save_and_wait(driver)
        assert events_on(driver, "2024-07-09") == ["보안 교육"]

        kept = driver.execute_script(
            "return [sessionStorage.getItem('department-calendar.token'),"
            " Object.entries(localStorage)]"
        )
        # localStorage keeps the last department shown, never the token.
        assert kept == [TOKEN, [["department-calendar.department", department["id"]]]]
        assert TOKEN not in driver.current_url
        assert not any(TOKEN in str(e["message"]) for e in console(driver))
        assert len(listed(guarded.api, department["id"])) == 2


def test_page_weight_and_time_to_a_rendered_month(site: Site, driver: Browser) -> None:
    """Measured uncached, as a first visit: written to test-artifacts/page-metrics.json."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    try:
        open_page(driver, site.page(department=DEV, month="2024-01"))
        metrics = driver.execute_script(
            """
            const nav = performance.getEntriesByType('navigation')[0];
            const resources = performance.getEntriesByType('resource');
            const rendered = performance.getEntriesByName('calendar-rendered')[0];
            return {
              document: {bytes: nav.transferSize, body: nav.encodedBodySize},
              resources: resources.map(r => ({
                name: new URL(r.name).pathname, bytes: r.transferSize,
                body: r.encodedBodySize, decoded: r.decodedBodySize})),
              rendered_ms: rendered.startTime,
              dom_content_loaded_ms: nav.domContentLoadedEventEnd,
            };
            """
        )
    finally:
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    assets = [r for r in metrics["resources"] if r["name"].startswith("/calendar/")]
    api_calls = [r for r in metrics["resources"] if r["name"].startswith("/api/")]
    metrics["asset_bytes"] = metrics["document"]["bytes"] + sum(r["bytes"] for r in assets)
    metrics["api_bytes"] = sum(r["bytes"] for r in api_calls)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")

    assert {r["name"] for r in assets} >= {
        "/calendar/calendar.js",
        "/calendar/calendar.css",
        "/calendar/fullcalendar/index.global.min.js",
    }
    assert all(r["body"] < r["decoded"] for r in assets if r["decoded"] > 4096)  # gzip
    assert metrics["asset_bytes"] < 150_000
    assert metrics["rendered_ms"] < 5_000


# -- v1.1: end dates and times, places, search, the iCalendar feed --------------------


def set_date(driver: Browser, element_id: str, value: str) -> None:
    """Fill a date field (typing into one depends on the browser's own locale)."""
    driver.execute_script(
        "const f = document.getElementById(arguments[0]); f.value = arguments[1];"
        "f.dispatchEvent(new Event('input', {bubbles: true}));"
        "f.dispatchEvent(new Event('change', {bubbles: true}));",
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
    # 어린이날 and its substitute day are listed too, as holidays.
    titles = driver.find_elements(
        By.CSS_SELECTOR, ".fc-list-event:not(.holiday) .fc-list-event-title"
    )
    assert [t.text for t in titles] == ["워크숍"] * 3


def test_a_multi_day_event_started_last_month_shows_this_month(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    new_event(
        site.api, department["id"], event_date="2024-07-29", end_date="2024-08-02", title="출장"
    )

    open_page(driver, site.page(department=department["id"], month="2024-08", view="list"))

    titles = driver.find_elements(
        By.CSS_SELECTOR, ".fc-list-event:not(.holiday) .fc-list-event-title"
    )
    assert [t.text for t in titles] == ["출장"] * 2  # August 1 and 2 (and 광복절, a holiday)


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


# -- reading well at every width, in both languages ----------------------------------------


def page_data(client: FlaskClient, language: str) -> dict[str, Any]:
    """What the page hands its script: ``{"text": ..., "messages": ...}``."""
    html = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="page-text">(.*?)</script>', html, re.S)
    assert found
    data: dict[str, Any] = json.loads(found[1])
    return data


def selected_department(driver: Browser) -> str:
    return str(driver.find_element(By.ID, "department").get_attribute("value"))


def keep_screenshot(driver: Browser, name: str) -> None:
    """A screenshot in test-artifacts/ to look at, as the tests' others are."""
    screenshot(driver, name)


@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_month_events_show_their_title_first_and_the_whole_event_as_a_tooltip(
    site: Site, driver: Browser, pixels: int
) -> None:
    department = new_department(site.api)
    new_event(
        site.api,
        department["id"],
        event_date="2024-02-14",
        title="예산 회의",
        time="14:00~15:30",
        location="본관 3층",
    )
    new_event(site.api, department["id"], event_date="2024-02-15", title="점검", time="오후 2시")

    with width(driver, pixels):
        open_page(driver, site.page(department=department["id"], month="2024-02", view="month"))
        keep_screenshot(driver, f"month-events-{pixels}")
        for title in ("예산 회의", "점검"):
            element = wait_for(driver, lambda d: event_element(d, title), title)  # noqa: B023
            placed = driver.execute_script(
                """
                const event = arguments[0];
                const main = event.querySelector('.fc-event-main') || event;
                const title = event.querySelector('.fc-event-title');
                const box = main.getBoundingClientRect();
                const rects = [...title.getClientRects()];
                return {
                  first: main.firstElementChild === title,
                  inside: rects.length > 0 && rects.every(
                    r => r.left >= box.left - 1 && r.right <= box.right + 1
                      && r.bottom <= box.bottom + 1),
                };
                """,
                element,
            )
            assert placed == {"first": True, "inside": True}, title
        tooltip = event_element(driver, "예산 회의")
        assert tooltip is not None
        assert tooltip.get_attribute("title") == "예산 회의 · 14:00–15:30 · 본관 3층"
        if pixels == DESKTOP:  # a phone's month leaves the time to the tooltip and the list
            assert tooltip.text.startswith("예산 회의")
            assert "14:00" in tooltip.text


@pytest.mark.parametrize(("language", "label"), [("ko", "날짜로 이동"), ("en", "Go to date")])
def test_a_date_link_and_the_date_picker_open_that_date(
    site: Site, driver: Browser, language: str, label: str
) -> None:
    visit(driver, site.page(department=DEV, date="2024-01-20"), language)

    assert driver.find_element(By.CSS_SELECTOR, "label[for=go-to-date]").text == label
    january = "2024년 1월" if language == "ko" else "January 2024"
    assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == january
    assert "팀 회의" in events_on(driver, "2024-01-20")
    assert driver.find_element(By.ID, "go-to-date").get_attribute("value") == "2024-01-20"

    before = loaded_count(driver)
    set_date(driver, "go-to-date", "2023-11-05")
    wait_loaded(driver, before)
    november = "2023년 11월" if language == "ko" else "November 2023"
    assert driver.find_element(By.CSS_SELECTOR, ".fc-toolbar-title").text == november
    wait_for(driver, lambda d: "month=2023-11" in d.current_url, "the URL to show November")
    assert f"department={DEV}" in driver.current_url


def test_a_first_visit_opens_the_last_department_or_else_the_first_by_name(
    engine_url: str, tmp_path: Path, driver: Browser
) -> None:
    with serve_site(site_settings(engine_url, tmp_path)) as fresh:
        made = {name: new_department(fresh.api, name)["id"] for name in ("나팀", "가팀", "다팀")}
        driver.get(fresh.url)
        driver.execute_script("localStorage.clear()")

        open_page(driver, fresh.url)
        assert selected_department(driver) == made["가팀"]  # the first by name

        open_page(driver, fresh.page(department=made["다팀"], month="2024-01"))
        open_page(driver, fresh.url)
        assert selected_department(driver) == made["다팀"]  # the last one used
        assert f"department={made['다팀']}" in driver.current_url

        click(driver, "#department")
        before = loaded_count(driver)
        driver.find_element(By.CSS_SELECTOR, f'#department option[value="{made["나팀"]}"]').click()
        wait_loaded(driver, before)
        open_page(driver, fresh.url)
        assert selected_department(driver) == made["나팀"]


@pytest.mark.parametrize(
    ("language", "words"), [("ko", "부서를 찾을 수 없습니다"), ("en", "Department not found")]
)
def test_a_link_to_an_unknown_department_says_so(
    site: Site, driver: Browser, language: str, words: str
) -> None:
    missing = str(uuid.uuid4())
    open_page(driver, site.page(department=DEV, month="2024-01"))  # remembered, not shown

    visit(driver, site.page(department=missing, month="2024-01"), language)

    status = driver.find_element(By.ID, "status")
    assert words in status.text
    assert "error" in str(status.get_attribute("class"))
    assert selected_department(driver) == ""
    assert driver.find_elements(By.CSS_SELECTOR, ".fc-event:not(.holiday)") == []
    assert not driver.find_element(By.ID, "add-event").is_enabled()
    assert f"department={missing}" in driver.current_url  # the link stays what it was

    before = loaded_count(driver)
    Select(driver.find_element(By.ID, "department")).select_by_value(DEV)
    wait_loaded(driver, before)
    assert "팀 회의" in events_on(driver, "2024-01-20")
    assert words not in status_text(driver)


def test_every_problem_type_and_writable_field_has_korean_and_english_words(
    client: FlaskClient,
) -> None:
    document = api_document()
    schemas = document["components"]["schemas"]
    problem_types = re.findall(
        r"/problems/([a-z-]+)", schemas["Problem"]["properties"]["type"]["description"]
    )
    assert set(problem_types) == set(PROBLEM_TYPES)
    fields = {
        f"{resource}.{name}"
        for schema, resource in (
            ("EventCreate", "event"),
            ("EventUpdate", "event"),
            ("DepartmentCreate", "department"),
            ("DepartmentUpdate", "department"),
        )
        for name in schemas[schema]["properties"]
    }
    assert "event.end_date" in fields
    assert "department.notify_emails" in fields

    for language in LANGUAGES:
        messages = page_data(client, language)["messages"]
        for slug in problem_types:
            assert messages["problems"].get(slug), (language, slug)
        for field in fields:
            entry = messages["fields"].get(field) or {}
            assert entry.get("label"), (language, field)
            assert entry.get("generic"), (language, field)
        kinds = {kind for kind, _ in messages["field_rules"]}
        assert kinds == set(messages["rules"]), language
        assert messages["problem_other"]
        assert messages["field_generic"]
    # The two languages say different things (no English left in the Korean table).
    korean, english_ = (page_data(client, lang)["messages"] for lang in ("ko", "en"))
    for slug in problem_types:
        assert korean["problems"][slug] != english_["problems"][slug]
        assert re.search("[가-힣]", korean["problems"][slug]), slug


BROKEN_DEPARTMENTS: list[dict[str, Any]] = [
    {},
    {"name": "   "},
    {"name": 5},
    {"name": "가" * 101},
    {"name": "개발\u200b팀"},
    {"name": "개발\n팀"},
    {"name": "팀", "colour": "red"},
    {"name": "팀", "notify_emails": ["not an address"]},
    {"name": "팀", "notify_emails": [f"a{n}@example.com" for n in range(51)]},
    {"name": "팀", "notify_emails": "a@example.com"},
    {"name": "팀\ud800"},
]
BROKEN_EVENTS: list[dict[str, Any]] = [
    {"title": "회의"},
    {"event_date": "2024-02-30", "title": "회의"},
    {"event_date": "20240101", "title": "회의"},
    {"event_date": "2024-06-12", "title": "회의", "end_date": "2024-06-10"},
    {"event_date": "2024-06-12", "title": "회의", "end_date": "2024-08-10"},
    {"event_date": "2024-06-12", "title": "회의", "end_time": "25:00"},
    {"event_date": "2024-06-12", "title": "회의", "end_time": "10:00"},
    {"event_date": "2024-06-12", "title": "회의", "time": "오후 3시", "end_time": "14:00"},
    {"event_date": "2024-06-12", "title": "회의", "location": "1층\n2층"},
]


def test_every_field_error_the_api_gives_is_recognised_by_the_pages_rules(
    client: FlaskClient,
) -> None:
    """Each ``errors[].message`` of a 422 names a rule the page has its own words for."""
    rules = [(kind, re.compile(pattern)) for kind, pattern in FIELD_RULES]
    department = client.post("/api/departments", json={"name": "규칙팀"}).get_json()
    sent = [("/api/departments", body) for body in BROKEN_DEPARTMENTS]
    sent += [(f"/api/events/{department['id']}", body) for body in BROKEN_EVENTS]
    # As JSON text with \u escapes: a lone surrogate is valid JSON, not valid UTF-8.
    answers = [
        client.post(path, data=json.dumps(body), content_type="application/json")
        for path, body in sent
    ]
    seen = set()
    for response in answers:
        assert response.status_code == 422, response.get_json()
        for entry in response.get_json()["errors"]:
            kinds = [kind for kind, pattern in rules if pattern.search(entry["message"])]
            assert kinds, entry
            seen.add(kinds[0])
    assert seen == {kind for kind, _ in FIELD_RULES}


@pytest.mark.parametrize("language", ["ko", "en"])
def test_api_errors_are_shown_in_the_pages_language_never_the_apis_english(
    site: Site, driver: Browser, language: str
) -> None:
    department = new_department(site.api)
    visit(driver, site.page(department=department["id"], month="2024-06", view="month"), language)
    rules = MESSAGES[language]["rules"]

    click(driver, 'td.fc-daygrid-day[data-date="2024-06-12"]')
    visible_dialog(driver, "event-dialog")
    type_into(driver, "event-title", "끝이 앞선 일정")
    set_date(driver, "event-end-date", "2024-06-10")
    type_into(driver, "event-time", "오후 3시")
    click(driver, "#event-save")
    error = shown(driver, "event-end-date-error", "the error beside the end date")
    assert error.text == rules["before_start"]
    assert "event_date" not in error.text

    set_date(driver, "event-end-date", "")
    driver.execute_script("document.getElementById('event-title').removeAttribute('maxlength')")
    type_into(driver, "event-title", "가" * 201)
    click(driver, "#event-save")
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "event-title-error").text == rules["too_long"].format(n=200)
        ),
        "the length rule in the page's words",
    )
    assert not driver.find_element(By.ID, "event-end-date-error").is_displayed()
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)

    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    type_into(driver, "department-name", "개발팀")
    click(driver, "#department-dialog button[type=submit]")
    taken = shown(driver, "department-name-error", "the taken name")
    assert taken.text == MESSAGES[language]["problems"]["name-taken"].format(name="개발팀")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert listed(site.api, department["id"]) == []


WORDS_BROKEN_ACROSS_LINES = """
const broken = [];
for (const root of document.querySelectorAll('.bar, .fc-header-toolbar, #status')) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.getClientRects().length) continue;
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const tops = [...range.getClientRects()].map(r => r.top);
      if (tops.length && Math.max(...tops) - Math.min(...tops) > 4) broken.push(word[0]);
    }
  }
}
return broken;
"""


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_words_are_never_broken_and_a_phone_opens_the_list(
    site: Site, driver: Browser, pixels: int, language: str
) -> None:
    with width(driver, pixels):
        visit(driver, site.page(department=DEV, month="2024-01"), language)
        keep_screenshot(driver, f"page-{language}-{pixels}")

        assert driver.execute_script(WORDS_BROKEN_ACROSS_LINES) == []
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        view = "listMonth" if pixels == PHONE else "dayGridMonth"  # no view in the link
        assert driver.find_elements(By.CSS_SELECTOR, f".fc-{view}-view")
        if pixels == PHONE:
            assert "view=list" in driver.current_url
            visit(driver, site.page(department=DEV, month="2024-01", view="month"), language)
            assert driver.find_elements(By.CSS_SELECTOR, ".fc-dayGridMonth-view")
            assert driver.execute_script(WORDS_BROKEN_ACROSS_LINES) == []


@pytest.mark.parametrize(
    ("language", "more"), [("ko", r"\+(\d+)개 더보기"), ("en", r"\+(\d+) more")]
)
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_a_busy_day_shows_more_rather_than_stretching_the_month(
    site: Site, driver: Browser, pixels: int, language: str, more: str
) -> None:
    department = new_department(site.api)
    for n in range(9):
        new_event(site.api, department["id"], event_date="2024-03-13", title=f"회의 {n + 1}")
    new_event(site.api, department["id"], event_date="2024-03-16", title="토요 근무")

    with width(driver, pixels):
        visit(
            driver, site.page(department=department["id"], month="2024-03", view="month"), language
        )
        keep_screenshot(driver, f"busy-day-{language}-{pixels}")

        cell = driver.find_element(By.CSS_SELECTOR, 'td.fc-daygrid-day[data-date="2024-03-13"]')
        link = cell.find_element(By.CSS_SELECTOR, ".fc-daygrid-more-link")
        found = re.fullmatch(more, str(link.get_attribute("textContent")).strip())
        assert found, link.get_attribute("textContent")
        drawn = [
            e
            for e in cell.find_elements(By.CSS_SELECTOR, ".fc-daygrid-event-harness")
            if e.is_displayed() and e.value_of_css_property("visibility") != "hidden"
        ]
        assert int(found[1]) + len(drawn) == 9
        rows = [
            r.size["height"] for r in driver.find_elements(By.CSS_SELECTOR, ".fc-daygrid-body tr")
        ]
        assert max(rows) - min(rows) <= 2  # the busy week is no taller than the others
        saturday = driver.find_element(By.CSS_SELECTOR, 'td.fc-daygrid-day[data-date="2024-03-16"]')
        calendar = driver.find_element(By.ID, "calendar")
        right = saturday.location["x"] + saturday.size["width"]
        assert right <= calendar.location["x"] + calendar.size["width"] + 1
        assert (
            driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            <= 0
        )

        link.click()
        popover = wait_for(
            driver, lambda d: d.find_element(By.CSS_SELECTOR, ".fc-popover"), "the day's popover"
        )
        titles = [t.text for t in popover.find_elements(By.CSS_SELECTOR, ".fc-event-title")]
        assert sorted(titles) == sorted(f"회의 {n + 1}" for n in range(9))
        driver.find_element(By.CSS_SELECTOR, ".fc-popover-close").click()


@pytest.mark.parametrize("language", ["ko", "en"])
def test_after_a_412_the_change_typed_is_shown_beside_the_saved_one_and_applied_again(
    site: Site, driver: Browser, language: str
) -> None:
    department = new_department(site.api)
    event = new_event(
        site.api, department["id"], event_date="2024-04-12", title="원래 제목", location="A동"
    )
    path = f"/api/events/{department['id']}/{event['id']}"
    visit(driver, site.page(department=department["id"], month="2024-04", view="month"), language)
    open_event(driver, "원래 제목")

    changed = site.api.patch(path, json={"title": "다른 사람이 바꾼 제목", "location": "B동"})
    assert changed.status_code == 200
    type_into(driver, "event-title", "내가 바꾼 제목")
    type_into(driver, "event-description", "내가 적은 설명")
    click(driver, "#event-save")

    conflict = shown(driver, "event-conflict", "the conflict notice")
    text = PAGE_TEXT[language]
    assert text["conflict"] in conflict.text
    rows = {
        row.get_attribute("data-field"): [
            c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")
        ]
        for row in conflict.find_elements(By.CSS_SELECTOR, "#event-conflict-rows tr")
    }
    labels = MESSAGES[language]["fields"]
    # The fields the person edited, beside what is saved now; B동 was not theirs to show.
    assert rows == {
        "title": [labels["event.title"]["label"], "내가 바꾼 제목", "다른 사람이 바꾼 제목"],
        "description": [
            labels["event.description"]["label"],
            "내가 적은 설명",
            text["empty_value"],
        ],
    }
    headers = [h.text for h in conflict.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers == [text["conflict_field"], text["conflict_yours"], text["conflict_theirs"]]
    # What was typed stays in the form.
    assert driver.find_element(By.ID, "event-title").get_attribute("value") == "내가 바꾼 제목"
    assert site.api.get(path).get_json()["title"] == "다른 사람이 바꾼 제목"
    keep_screenshot(driver, f"conflict-{language}")

    assert driver.find_element(By.ID, "event-reapply").text == text["reapply"]
    before = loaded_count(driver)
    click(driver, "#event-reapply")  # sent again with If-Match: "2", the version saved now
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)

    stored = site.api.get(path).get_json()
    assert (stored["title"], stored["description"], stored["version"]) == (
        "내가 바꾼 제목",
        "내가 적은 설명",
        3,
    )
    assert stored["location"] == "B동"  # the other person's change to a field left alone


def test_creating_a_department_during_a_search_says_it_was_created(
    site: Site, driver: Browser
) -> None:
    open_page(driver, site.page(department=DEV, month="2024-01"))
    before = loaded_count(driver)
    type_into(driver, "q", "회의")
    driver.find_element(By.ID, "q").send_keys(Keys.ENTER)
    wait_loaded(driver, before)
    assert "'회의'" in status_text(driver)

    name = f"검색중팀 {uuid.uuid4().hex[:6]}"
    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    type_into(driver, "department-name", name)
    before = loaded_count(driver)
    click(driver, "#department-dialog button[type=submit]")
    wait_closed(driver, "department-dialog")
    wait_loaded(driver, before)

    assert status_text(driver) == PAGE_TEXT["ko"]["department_created"].format(name=name)
    assert driver.find_element(By.ID, "q").get_attribute("value") == ""
    assert "q=" not in driver.current_url


# -- repeating events (recurrence.md, "The page") ------------------------------------------


def instances(api: FlaskClient, department_id: str, query: str) -> list[tuple[str, str]]:
    """(date, title) of each event the API lists for ``query`` (``month=2024-09``)."""
    response = api.get(f"/api/events/{department_id}?{query}")
    assert response.status_code == 200, response.get_json()
    return [(i["event_date"], i["title"]) for i in response.get_json()["items"]]


def series_of(api: FlaskClient, department_id: str) -> list[dict[str, Any]]:
    """The department's series (and single events), each once."""
    response = api.get(f"/api/events/{department_id}?from=2024-01-01&to=2025-12-31&expand=false")
    assert response.status_code == 200
    return [i for i in response.get_json()["items"] if "recurrence" in i]


def open_on(driver: Browser, day: str) -> None:
    """Open the first event drawn in the month's cell for ``day``."""
    selector = f'td.fc-daygrid-day[data-date="{day}"] .fc-event:not(.holiday)'
    element = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector), day)
    element.click()
    visible_dialog(driver, "event-dialog")


def choose(driver: Browser, element_id: str, value: str) -> None:
    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def option_text(driver: Browser, element_id: str, value: str) -> str:
    option = driver.find_element(By.CSS_SELECTOR, f'#{element_id} option[value="{value}"]')
    return str(option.get_attribute("textContent"))


def checked_days(driver: Browser) -> list[str]:
    boxes = driver.find_elements(By.CSS_SELECTOR, 'input[name="repeat-day"]')
    return [str(b.get_attribute("value")) for b in boxes if b.is_selected()]


def tick_day(driver: Browser, day: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, f'input[name="repeat-day"][value="{day}"]')
    box.find_element(By.XPATH, "..").click()  # its label, as a person would


def answer_scope(driver: Browser, scope: str, language: str = "ko") -> None:
    """Answer the "이 일정 / 이 일정 및 향후 일정 / 모든 일정" question with ``scope``."""
    dialog = visible_dialog(driver, "scope-dialog")
    keep_screenshot(driver, f"repeat-scope-{language}")
    text = PAGE_TEXT[language]
    labels = [label.text for label in dialog.find_elements(By.CSS_SELECTOR, "label.choice")]
    assert labels == [text["scope_this"], text["scope_following"], text["scope_all"]]
    click(driver, f"#scope-{scope}")
    click(driver, "#scope-ok")
    wait_closed(driver, "scope-dialog")


def save_instance(driver: Browser, scope: str, language: str = "ko") -> None:
    before = loaded_count(driver)
    click(driver, "#event-save")
    answer_scope(driver, scope, language)
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)


def delete_instance(driver: Browser, scope: str, language: str = "ko") -> None:
    before = loaded_count(driver)
    click(driver, "#event-delete")
    answer_scope(driver, scope, language)
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)


def marks(driver: Browser) -> list[str]:
    return [
        str(m.get_attribute("aria-label"))
        for m in driver.find_elements(By.CSS_SELECTOR, ".fc-event .repeat-mark")
    ]


def test_a_weekly_series_is_made_on_the_page_and_one_instance_moved(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    dept = department["id"]
    open_page(driver, site.page(department=dept, month="2024-09"))

    click(driver, 'td.fc-daygrid-day[data-date="2024-09-02"]')  # a Monday
    visible_dialog(driver, "event-dialog")
    assert driver.find_element(By.ID, "event-repeat").get_attribute("value") == "none"
    assert option_text(driver, "event-repeat", "none") == "반복 안 함"
    type_into(driver, "event-title", "주간 회의")
    type_into(driver, "event-time", "오전 10시")
    choose(driver, "event-repeat", "WEEKLY")
    assert checked_days(driver) == ["MO"]  # the event's weekday
    assert option_text(driver, "event-repeat", "WEEKLY") == "매주 월요일"
    tick_day(driver, "WE")
    assert option_text(driver, "event-repeat", "WEEKLY") == "매주 월요일, 수요일"
    save_and_wait(driver)

    [made] = series_of(site.api, dept)
    assert made["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE"]
    september = instances(site.api, dept, "month=2024-09")
    assert [d for d, _ in september] == [
        "2024-09-02", "2024-09-04", "2024-09-09", "2024-09-11", "2024-09-16",
        "2024-09-18", "2024-09-23", "2024-09-25", "2024-09-30",
    ]  # fmt: skip
    assert events_on(driver, "2024-09-11") == ["주간 회의"]
    drawn = driver.find_elements(By.CSS_SELECTOR, ".fc-event:not(.holiday)")  # not 추석
    assert marks(driver) == ["반복 일정"] * len(drawn)  # every instance shows the mark
    assert "반복 일정" in str(drawn[0].get_attribute("title"))
    keep_screenshot(driver, "repeat-month")

    # Move the instance of the 11th to the 12th, this event only.
    open_on(driver, "2024-09-11")
    assert driver.find_element(By.ID, "event-repeat").get_attribute("value") == "WEEKLY"
    assert checked_days(driver) == ["MO", "WE"]  # the series's rule, read back
    set_date(driver, "event-date", "2024-09-12")
    save_instance(driver, "this")

    moved = site.api.get(f"/api/events/{dept}/{made['id']}_20240911").get_json()
    assert (moved["event_date"], moved["original_date"]) == ("2024-09-12", "2024-09-11")
    dates = [d for d, _ in instances(site.api, dept, "month=2024-09")]
    assert "2024-09-11" not in dates
    assert "2024-09-12" in dates
    assert len(dates) == 9
    assert events_on(driver, "2024-09-12") == ["주간 회의"]
    after = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert after["recurrence"] == made["recurrence"]  # the rule itself untouched


def test_in_english_one_instance_is_deleted_the_following_retimed_and_all_renamed(
    site: Site, driver: Browser
) -> None:
    dept, made = series_in_new_department(
        site.api,
        event_date="2024-10-01",
        title="Standup",
        time="09:00",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=TU"],
    )
    visit(driver, site.page(department=dept, month="2024-10", view="month"), "en")
    assert set(marks(driver)) == {"Repeating event"}

    # Delete the 8th alone: an EXDATE on the series.
    open_on(driver, "2024-10-08")
    assert option_text(driver, "event-repeat", "WEEKLY") == "Weekly on Tuesday"
    delete_instance(driver, "this", "en")
    dates = [d for d, _ in instances(site.api, dept, "month=2024-10")]
    assert dates == ["2024-10-01", "2024-10-15", "2024-10-22", "2024-10-29"]
    assert events_on(driver, "2024-10-08") == []

    # From the 22nd on, at 10:30: a new series starts there.
    open_on(driver, "2024-10-22")
    type_into(driver, "event-time", "10:30")
    save_instance(driver, "following", "en")
    items = site.api.get(f"/api/events/{dept}?month=2024-10").get_json()["items"]
    assert [(i["event_date"], i["start_time"]) for i in items] == [
        ("2024-10-01", "09:00"), ("2024-10-15", "09:00"),
        ("2024-10-22", "10:30"), ("2024-10-29", "10:30"),
    ]  # fmt: skip
    first = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert first["recurrence"] == [
        "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20241021",
        "EXDATE:20241008T090000",
    ]

    # Rename all events of the first series, from one of its instances.
    open_on(driver, "2024-10-15")
    type_into(driver, "event-title", "Daily sync")
    save_instance(driver, "all", "en")
    items = site.api.get(f"/api/events/{dept}?month=2024-10").get_json()["items"]
    assert [(i["event_date"], i["title"]) for i in items] == [
        ("2024-10-01", "Daily sync"), ("2024-10-15", "Daily sync"),
        ("2024-10-22", "Standup"), ("2024-10-29", "Standup"),
    ]  # fmt: skip
    renamed = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert renamed["event_date"] == "2024-10-01"  # the series did not move
    assert renamed["recurrence"] == first["recurrence"]
    assert "Daily sync" in status_text(driver)


def test_changing_the_rule_of_all_keeps_the_exdates_and_deletes_following(
    site: Site, driver: Browser
) -> None:
    dept, made = series_in_new_department(
        site.api,
        event_date="2024-11-04",
        title="점검",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20241118"],
    )
    open_page(driver, site.page(department=dept, month="2024-11"))

    open_on(driver, "2024-11-11")
    choose(driver, "event-repeat", "custom")
    assert driver.find_element(By.ID, "event-repeat-every").is_displayed()
    type_into(driver, "event-repeat-interval", "2")
    assert driver.find_element(By.ID, "event-repeat-unit").get_attribute("value") == "WEEKLY"
    driver.find_element(By.CSS_SELECTOR, 'input[name="repeat-end"][value="count"]').click()
    type_into(driver, "event-repeat-count", "6")
    before = loaded_count(driver)
    click(driver, "#event-save")
    visible_dialog(driver, "scope-dialog")
    # A new rule is for a series: "this event" alone cannot take it.
    assert not driver.find_element(By.ID, "scope-this").is_enabled()
    assert driver.find_element(By.ID, "scope-note").is_displayed()
    click(driver, "#scope-all")
    click(driver, "#scope-ok")
    wait_closed(driver, "event-dialog")
    wait_loaded(driver, before)

    got = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert got["recurrence"] == [
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;COUNT=6",
        "EXDATE:20241118",  # kept: only the RRULE line was replaced
    ]
    assert got["event_date"] == "2024-11-04"
    listed_dates = [d for d, _ in instances(site.api, dept, "from=2024-11-01&to=2025-02-28")]
    # The 18th of November stays excluded, and counts as one of the six.
    assert listed_dates == ["2024-11-04", "2024-12-02", "2024-12-16", "2024-12-30", "2025-01-13"]

    # Reopened, the controls show the custom rule; then delete this and following.
    open_page(driver, site.page(department=dept, month="2024-12"))
    open_on(driver, "2024-12-16")
    assert driver.find_element(By.ID, "event-repeat").get_attribute("value") == "custom"
    assert driver.find_element(By.ID, "event-repeat-interval").get_attribute("value") == "2"
    assert driver.find_element(By.ID, "event-repeat-count").get_attribute("value") == "6"
    delete_instance(driver, "following")
    listed_dates = [d for d, _ in instances(site.api, dept, "from=2024-11-01&to=2025-02-28")]
    assert listed_dates == ["2024-11-04", "2024-12-02"]


def test_monthly_choices_follow_the_date_in_english(site: Site, driver: Browser) -> None:
    department = new_department(site.api)
    dept = department["id"]
    visit(driver, site.page(department=dept, month="2024-09", view="month"), "en")

    click(driver, 'td.fc-daygrid-day[data-date="2024-09-27"]')  # the last Friday, the 4th
    visible_dialog(driver, "event-dialog")
    type_into(driver, "event-title", "Review")
    choose(driver, "event-repeat", "MONTHLY")
    assert driver.find_element(By.ID, "event-repeat-monthly").is_displayed()
    by = {
        value: option_text(driver, "event-repeat-monthly-by", value)
        for value in ("day", "nth", "last")
    }
    assert by == {
        "day": "Monthly on day 27",
        "nth": "Monthly on the fourth Friday",
        "last": "Monthly on the last Friday",
    }
    assert option_text(driver, "event-repeat", "YEARLY") == "Annually on September 27"
    choose(driver, "event-repeat-monthly-by", "last")
    save_and_wait(driver)

    [made] = series_of(site.api, dept)
    assert made["recurrence"] == ["RRULE:FREQ=MONTHLY;BYDAY=-1FR"]
    dates = [d for d, _ in instances(site.api, dept, "from=2024-09-01&to=2024-12-31")]
    assert dates == ["2024-09-27", "2024-10-25", "2024-11-29", "2024-12-27"]


def test_a_rule_the_controls_cannot_show_is_kept_and_shown_as_text(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    dept = department["id"]
    rule = ["RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "EXDATE:20241130"]
    made = new_event(site.api, dept, event_date="2024-10-31", title="마감", recurrence=rule)
    open_page(driver, site.page(department=dept, month="2024-10"))

    open_on(driver, "2024-10-31")
    assert driver.find_element(By.ID, "event-repeat").get_attribute("value") == "keep"
    shown_rule = driver.find_element(By.ID, "event-repeat-rule")
    assert "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1" in shown_rule.text
    type_into(driver, "event-title", "월말 마감")
    save_instance(driver, "all")

    got = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert (got["title"], got["recurrence"]) == ("월말 마감", rule)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_repeat_controls_fit_a_phone(site: Site, driver: Browser, language: str) -> None:
    department = new_department(site.api)
    with width(driver, PHONE):
        visit(
            driver, site.page(department=department["id"], month="2024-09", view="month"), language
        )
        click(driver, "#add-event")
        visible_dialog(driver, "event-dialog")
        type_into(driver, "event-title", "주간 회의")
        choose(driver, "event-repeat", "custom")
        driver.find_element(By.CSS_SELECTOR, 'input[name="repeat-end"][value="until"]').click()
        repeat = driver.find_element(By.CSS_SELECTOR, "#event-form .repeat")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", repeat)
        keep_screenshot(driver, f"repeat-dialog-{language}-{PHONE}")
        fit = driver.execute_script(
            """
            const dialog = document.getElementById('event-dialog');
            const box = dialog.getBoundingClientRect();
            const outside = [];
            for (const el of dialog.querySelectorAll('.repeat *')) {
              if (!el.getClientRects().length) continue;
              const r = el.getBoundingClientRect();
              if (r.left < box.left - 1 || r.right > box.right + 1) {
                outside.push(el.id || el.tagName);
              }
            }
            const broken = [];
            const walker = document.createTreeWalker(
              dialog.querySelector('.repeat'), NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (!node.parentElement.getClientRects().length) continue;
              if (node.parentElement.id === 'event-repeat-rule') continue;
              for (const word of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const tops = [...range.getClientRects()].map(r => r.top);
                if (tops.length && Math.max(...tops) - Math.min(...tops) > 4) broken.push(word[0]);
              }
            }
            return {
              overflow: dialog.scrollWidth - dialog.clientWidth,
              outside, broken, width: box.width,
            };
            """
        )
        assert fit["overflow"] <= 0, fit
        assert fit["outside"] == [], fit
        assert fit["broken"] == [], fit
        assert fit["width"] <= PHONE
        for element_id in ("event-repeat-days", "event-repeat-every", "event-repeat-end"):
            assert driver.find_element(By.ID, element_id).is_displayed(), element_id
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait_closed(driver, "event-dialog")


def test_a_new_rule_from_an_instance_on_is_a_new_series_there(site: Site, driver: Browser) -> None:
    dept, made = series_in_new_department(
        site.api, event_date="2024-12-02", title="보고", recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"]
    )
    open_page(driver, site.page(department=dept, month="2024-12"))

    open_on(driver, "2024-12-16")
    choose(driver, "event-repeat", "DAILY")
    save_instance(driver, "following")

    old = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
    assert old["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20241215"]
    fresh = [s for s in series_of(site.api, dept) if s["id"] != made["id"]]
    assert [(s["event_date"], s["recurrence"]) for s in fresh] == [
        ("2024-12-16", ["RRULE:FREQ=DAILY"])
    ]
    dates = [d for d, _ in instances(site.api, dept, "from=2024-12-01&to=2024-12-19")]
    assert dates == [
        "2024-12-02",
        "2024-12-09",
        "2024-12-16",
        "2024-12-17",
        "2024-12-18",
        "2024-12-19",
    ]


def test_an_instance_changed_meanwhile_is_a_412_and_reloads(site: Site, driver: Browser) -> None:
    dept, made = series_in_new_department(
        site.api,
        event_date="2024-08-05",
        title="원래 회의",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO"],
    )
    open_page(driver, site.page(department=dept, month="2024-08"))
    open_on(driver, "2024-08-12")

    changed = site.api.patch(f"/api/events/{dept}/{made['id']}", json={"title": "바뀐 회의"})
    assert changed.status_code == 200
    type_into(driver, "event-title", "내 회의")
    click(driver, "#event-save")
    answer_scope(driver, "all")
    shown(driver, "event-conflict", "the conflict notice")
    assert site.api.get(f"/api/events/{dept}/{made['id']}").get_json()["title"] == "바뀐 회의"

    click(driver, "#event-reload")
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, "event-title").get_attribute("value") == "바뀐 회의",
        "the series's latest title in the form",
    )
    type_into(driver, "event-title", "합의한 회의")
    save_instance(driver, "all")
    titles = {t for _, t in instances(site.api, dept, "month=2024-08")}
    assert titles == {"합의한 회의"}


# -- Korean public holidays ------------------------------------------------------------------

HOLIDAY_RED = "rgba(197, 34, 31, 1)"


def holiday_names(driver: Browser, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"{css} .holiday-name")]


def holiday_requests(driver: Browser) -> list[str]:
    found: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(r => new URL(r.name))"
        ".filter(u => u.pathname === '/api/holidays').map(u => u.search)"
    )
    return found


@pytest.mark.parametrize(
    ("language", "seollal", "chuseok"),
    [("ko", "설날", "추석"), ("en", "Korean New Year", "Chuseok")],
)
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_january_2025_shows_seollal_on_its_days_with_their_numbers_in_red(
    site: Site, driver: Browser, language: str, seollal: str, chuseok: str, pixels: int
) -> None:
    with width(driver, pixels):
        seollal_everywhere(site, driver, language, seollal, chuseok, pixels)


def seollal_everywhere(
    site: Site, driver: Browser, language: str, seollal: str, chuseok: str, pixels: int
) -> None:
    """January 2025's month, a week of it and October's list, as the test above says."""
    visit(driver, site.page(department=DEV, month="2025-01", view="month"), language)

    day = 'td.fc-daygrid-day[data-date="2025-01-29"]'
    wait_for(driver, lambda d: holiday_names(d, day), "설날 on January 29")
    keep_screenshot(driver, f"holidays-{language}-{pixels}")
    assert holiday_names(driver, day) == [seollal]
    assert events_on(driver, "2025-01-29") == []  # a holiday is no event of the department
    for date_ in ("2025-01-28", "2025-01-29", "2025-01-30", "2025-01-01"):
        cell = driver.find_element(By.CSS_SELECTOR, f'td.fc-daygrid-day[data-date="{date_}"]')
        assert "holiday" in str(cell.get_attribute("class")), date_
        number = cell.find_element(By.CSS_SELECTOR, ".fc-daygrid-day-number")
        assert number.value_of_css_property("color") == HOLIDAY_RED, date_
    ordinary = driver.find_element(By.CSS_SELECTOR, 'td.fc-daygrid-day[data-date="2025-01-22"]')
    assert "holiday" not in str(ordinary.get_attribute("class"))
    assert (
        ordinary.find_element(By.CSS_SELECTOR, ".fc-daygrid-day-number").value_of_css_property(
            "color"
        )
        != HOLIDAY_RED
    )
    # The days around it, from the same answer, in the page's language.
    before = holiday_names(driver, 'td.fc-daygrid-day[data-date="2025-01-28"]')
    assert before == (["설날 전날"] if language == "ko" else ["The day preceding Korean New Year"])
    chip = driver.find_element(By.CSS_SELECTOR, f"{day} .fc-event.holiday")
    assert "설날" in str(chip.get_attribute("title"))
    chip.click()  # a holiday is not the department's to edit
    assert not driver.find_element(By.ID, "event-dialog").is_displayed()

    # The week and the list mark the same days.
    visit(driver, site.page(department=DEV, date="2025-01-28", view="week"), language)
    header = 'th.fc-col-header-cell[data-date="2025-01-29"]'
    wait_for(driver, lambda d: holiday_names(d, ".fc-timegrid"), "the week's holidays")
    assert seollal in holiday_names(driver, ".fc-timegrid")
    assert "holiday" in str(driver.find_element(By.CSS_SELECTOR, header).get_attribute("class"))
    visit(driver, site.page(department=DEV, month="2025-10", view="list"), language)
    wait_for(driver, lambda d: holiday_names(d, ".fc-list"), "October's holidays listed")
    listed_names = holiday_names(driver, ".fc-list")
    assert chuseok in listed_names
    assert len(listed_names) >= 6  # 개천절, 추석 전날, 추석, 추석 다음날, 대체 휴일, 한글날
    row = driver.find_element(By.CSS_SELECTOR, '.fc-list-day[data-date="2025-10-08"]')
    assert "holiday" in str(row.get_attribute("class"))


def test_holidays_are_asked_once_per_new_range_of_years(site: Site, driver: Browser) -> None:
    open_page(driver, site.page(department=DEV, month="2025-01", view="month"))
    wait_for(driver, holiday_requests, "the holidays")

    assert holiday_requests(driver) == ["?from=2024&to=2025"]  # January shows December too
    for _ in range(3):  # February to April: years already held
        before = loaded_count(driver)
        click(driver, ".fc-next-button")
        wait_loaded(driver, before)
    assert holiday_requests(driver) == ["?from=2024&to=2025"]
    set_date(driver, "go-to-date", "2025-12-15")  # the month's last week is in 2026
    wait_for(driver, lambda d: len(holiday_requests(d)) == 2, "2026's holidays")
    assert holiday_requests(driver)[1] == "?from=2026&to=2026"
    wait_for(
        driver,
        lambda d: holiday_names(d, 'td.fc-daygrid-day[data-date="2025-12-25"]'),
        "Christmas",
    )


# -- categories ------------------------------------------------------------------------------

# calendar.js's palette and hash: a category's colour is a function of its name alone.
CATEGORY_COLOURS = [
    "#0b57d0",
    "#137333",
    "#b3261e",
    "#8430ce",
    "#b06000",
    "#007b83",
    "#c2185b",
    "#5f6368",
]


def category_colour(name: str) -> str:
    """FNV-1a over the name's UTF-16 units, as calendar.js's categoryColour."""
    units = name.encode("utf-16-le")
    hashed = 0x811C9DC5
    for n in range(0, len(units), 2):
        hashed ^= int.from_bytes(units[n : n + 2], "little")
        hashed = (hashed * 0x01000193) & 0xFFFFFFFF
    return CATEGORY_COLOURS[hashed % len(CATEGORY_COLOURS)]


def rgba(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[n : n + 2], 16) for n in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, 1)"


def test_categories_have_one_colour_each_and_the_form_offers_the_recent_ones(
    site: Site, driver: Browser
) -> None:
    department = new_department(site.api)
    dept = department["id"]
    new_event(site.api, dept, event_date="2024-03-05", title="주간 회의", category="회의")
    new_event(site.api, dept, event_date="2024-03-07", title="기획 회의", category="회의")
    new_event(site.api, dept, event_date="2024-03-12", title="휴가", category="연차")
    new_event(site.api, dept, event_date="2024-03-14", title="점심")
    open_page(driver, site.page(department=dept, month="2024-03", view="month"))

    colours = {}
    for title in ("주간 회의", "기획 회의", "휴가", "점심"):
        element = wait_for(driver, lambda d: event_element(d, title), title)  # noqa: B023
        colours[title] = element.value_of_css_property("background-color")
    assert colours["주간 회의"] == colours["기획 회의"] == rgba(category_colour("회의"))
    assert colours["휴가"] == rgba(category_colour("연차"))
    assert colours["점심"] not in {rgba(c) for c in CATEGORY_COLOURS}  # no category: default
    meeting = event_element(driver, "주간 회의")
    assert meeting is not None
    assert meeting.get_attribute("data-category") == "회의"
    assert "회의" in str(meeting.get_attribute("title"))
    keep_screenshot(driver, "categories")

    # The form offers the department's categories, the latest first, then the usual ones.
    click(driver, "#add-event")
    visible_dialog(driver, "event-dialog")
    offered = driver.execute_script(
        "return [...document.querySelectorAll('#event-category-options option')].map(o => o.value)"
    )
    assert offered[:2] == ["연차", "회의"]
    assert "출장" in offered
    assert len(offered) == len(set(offered))
    set_date(driver, "event-date", "2024-03-20")
    type_into(driver, "event-title", "부산 출장")
    type_into(driver, "event-category", " 출장 ")
    save_and_wait(driver)
    trip = wait_for(driver, lambda d: event_element(d, "부산 출장"), "the trip")
    assert trip.value_of_css_property("background-color") == rgba(category_colour("출장"))
    stored = {e["title"]: e.get("category") for e in listed(site.api, dept)}
    assert stored["부산 출장"] == "출장"

    # Cleared in the form, it is cleared in the API and the event takes the default colour.
    open_event(driver, "휴가")
    assert driver.find_element(By.ID, "event-category").get_attribute("value") == "연차"
    driver.find_element(By.ID, "event-category").clear()
    save_and_wait(driver)
    assert "category" not in next(e for e in listed(site.api, dept) if e["title"] == "휴가")


# -- the README's pictures -----------------------------------------------------------------


@pytest.mark.parametrize(("pixels", "name"), [(DESKTOP, "page-desktop"), (PHONE, "page-phone")])
def test_the_readme_pictures_show_the_month_on_a_desktop_and_the_list_on_a_phone(
    site: Site, driver: Browser, pixels: int, name: str
) -> None:
    """Saved as test-artifacts/page-desktop.png and page-phone.png; docs/ holds copies."""
    with width(driver, pixels):
        open_page(driver, site.page(department=DEV, month="2024-01"))
        wanted = "dayGridMonth" if pixels == DESKTOP else "listMonth"
        assert driver.find_elements(By.CSS_SELECTOR, f".fc-{wanted}-view")
        wait_for(driver, lambda d: event_element(d, "팀 회의"), "팀 회의")
        driver.execute_script("document.activeElement.blur()")
        keep_screenshot(driver, name)
