"""The calendar page checked by axe-core in headless Chromium, and used by keyboard alone.

axe-core comes from npm (``tools/axe``, pinned by its package-lock.json and installed by
``scripts/_setup.sh``); its script is injected through WebDriver, which the page's CSP does
not govern, into every view (month, week, list) and every dialog, at 1280 and 390 px, in
Korean and English. A serious or critical violation fails the test; every violation found
is written to ``test-artifacts/axe-<language>-<width>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from backend.api.page_text import PAGE_TEXT
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
    event_element,
    focused,
    loaded_count,
    new_department,
    new_event,
    screenshot,
    serve_site,
    site_settings,
    tab_to,
    type_into,
    visible_dialog,
    visit,
    wait_closed,
    wait_for,
    wait_loaded,
    width,
)

pytestmark = pytest.mark.slow  # drives headless Chromium

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TOKEN = "axe-test-token-0123456789"
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def site(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve_site(site_settings(engine_url, tmp_path_factory.mktemp("axe"))) as served:
        yield served


@pytest.fixture(scope="module")
def guarded(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server that asks for a token before writes: the page's token dialog."""
    folder = tmp_path_factory.mktemp("axe-guarded")
    with serve_site(site_settings(engine_url, folder, api_tokens=(TOKEN,))) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as driver:
        driver.set_script_timeout(60)
        yield driver


@pytest.fixture
def driver(browser: Browser) -> Browser:
    console(browser)
    return browser


def axe_script() -> str:
    if not AXE.exists():
        raise RuntimeError(
            f"{AXE} is missing: ./scripts/test installs it (npm ci in tools/axe; Node.js and "
            "npm are needed)"
        )
    return AXE.read_text(encoding="utf-8")


def axe(driver: Browser, where: str) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now (WCAG 2.1 A and AA, best practices),
    as one run: ``[{"where", "violations"}]``."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_script())
    found: list[dict[str, Any]] = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {
          runOnly: {
            type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
          },
          resultTypes: ['violations'],
        }).then(
          (r) => done(r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
            example: v.nodes[0] && v.nodes[0].failureSummary,
            html: v.nodes[0] && v.nodes[0].html.slice(0, 300),
          }))),
          (e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]),
        );
        """
    )
    return [{"where": where, "violations": found}]


def escape(driver: Browser, dialog_id: str) -> None:
    focused(driver).send_keys(Keys.ESCAPE)
    wait_closed(driver, dialog_id)


def shown_views(driver: Browser, site: Site, dept: str, language: str) -> list[dict[str, Any]]:
    found = []
    for view in ("month", "week", "list"):
        visit(driver, f"{site.url}/?department={dept}&view={view}&date=2025-01-28", language)
        found += axe(driver, view)
        more = driver.find_elements(By.CSS_SELECTOR, ".fc-more-link")
        if more:  # a crowded day's "+N": its popover too
            more[0].click()
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".fc-popover"), "popover")
            found += axe(driver, f"{view} (+N popover)")
            focused(driver).send_keys(Keys.ESCAPE)
    return found


def dialogs(driver: Browser, site: Site, dept: str, language: str) -> list[dict[str, Any]]:
    """Every dialog of the page opened in turn, each checked while it is open."""
    found = []
    # The list: every event has a row there, on a phone too.
    visit(driver, f"{site.url}/?department={dept}&view=list&date=2025-01-28", language)
    click(driver, "#add-event")
    visible_dialog(driver, "event-dialog")
    found += axe(driver, "event-dialog (new)")
    escape(driver, "event-dialog")

    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    found += axe(driver, "department-dialog")
    escape(driver, "department-dialog")

    click(driver, "#overlay")
    visible_dialog(driver, "overlay-dialog")
    found += axe(driver, "overlay-dialog")
    click(driver, "#overlay-choices input")
    click(driver, "#overlay-ok")
    wait_closed(driver, "overlay-dialog")
    wait_for(driver, lambda d: d.find_element(By.ID, "shown-departments").is_displayed(), "legend")
    found += axe(driver, "list with another department")

    click(driver, "#subscribe")
    visible_dialog(driver, "subscribe-dialog")
    found += axe(driver, "subscribe-dialog")
    escape(driver, "subscribe-dialog")

    click(driver, "#import")
    visible_dialog(driver, "import-dialog")
    found += axe(driver, "import-dialog")
    ics = ARTIFACTS / "axe-import.ics"
    ics.parent.mkdir(exist_ok=True)
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//axe//KO\r\nBEGIN:VEVENT\r\n"
        "UID:axe-1@example.com\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20250110\r\n"
        "SUMMARY:가져올 일정\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:axe-2@example.com\r\n"
        "DTSTAMP:20250101T000000Z\r\nDTSTART:20250111T100000\r\nRRULE:FREQ=HOURLY\r\n"
        "SUMMARY:거부될 일정\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    driver.find_element(By.ID, "import-file").send_keys(str(ics))
    click(driver, "#import-preview")
    wait_for(driver, lambda d: d.find_element(By.ID, "import-report").is_displayed(), "dry run")
    found += axe(driver, "import-dialog (dry run)")
    escape(driver, "import-dialog")

    # An occurrence: the scope question; then a change made meanwhile: the 412 comparison.
    open_event(driver, "주간 회의")
    type_into(driver, "event-title", "주간 회의 (변경)")
    click(driver, "#event-save")
    visible_dialog(driver, "scope-dialog")
    found += axe(driver, "scope-dialog")
    escape(driver, "scope-dialog")
    escape(driver, "event-dialog")

    open_event(driver, "검토")
    [record] = [
        e
        for e in site.api.get(f"/api/events/{dept}?month=2025-01").get_json()["items"]
        if e["title"] == "검토"
    ]
    path = f"/api/events/{dept}/{record['id']}"
    headers = {"If-Match": f'"{record["version"]}"'}
    assert site.api.patch(path, json={"location": "B동"}, headers=headers).status_code == 200
    type_into(driver, "event-title", "검토 (내 변경)")
    click(driver, "#event-save")
    wait_for(driver, lambda d: d.find_element(By.ID, "event-conflict").is_displayed(), "412")
    found += axe(driver, "event-dialog (412)")
    escape(driver, "event-dialog")
    return found


def open_event(driver: Browser, title: str) -> None:
    element = wait_for(driver, lambda d: event_element(d, title), f"the event {title!r}")
    element.click()
    visible_dialog(driver, "event-dialog")


def token_dialog(driver: Browser, guarded: Site, language: str) -> list[dict[str, Any]]:
    visit(driver, guarded.page(), language)
    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    type_into(driver, "department-name", "토큰팀")
    click(driver, "#department-dialog button[type=submit]")
    visible_dialog(driver, "token-dialog")
    found = axe(driver, "token-dialog")
    escape(driver, "token-dialog")
    escape(driver, "department-dialog")
    return found


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("pixels", [DESKTOP, PHONE])
def test_no_serious_or_critical_axe_violation_in_any_view_or_dialog(
    site: Site, guarded: Site, driver: Browser, pixels: int, language: str
) -> None:
    dept = str(new_department(site.api)["id"])
    new_department(site.api)  # another department, to show with it
    new_event(site.api, dept, event_date="2025-01-27", title="검토", time="14:00~15:00")
    new_event(site.api, dept, event_date="2025-01-20", end_date="2025-01-22", title="워크숍")
    new_event(site.api, dept, event_date="2025-01-15", title="연차", category="연차")
    for hour in range(9, 15):  # a crowded day: "+N" and its popover
        new_event(site.api, dept, event_date="2025-01-09", title=f"상담 {hour}", time=f"{hour}:00")
    new_event(
        site.api,
        dept,
        event_date="2025-01-06",
        title="주간 회의",
        time="오전 10시",
        location="3층",
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=8"],
    )
    with width(driver, pixels):
        found = shown_views(driver, site, dept, language)
        screenshot(driver, f"page-list-{language}-{pixels}")
        found += dialogs(driver, site, dept, language)
        found += token_dialog(driver, guarded, language)
        wait_for(driver, lambda d: alert(d) is None, "no alert")

    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / f"axe-{language}-{pixels}.json"
    report.write_text(json.dumps(found, ensure_ascii=False, indent=2), encoding="utf-8")
    blocking = [
        {**v, "where": run["where"]}
        for run in found
        for v in run["violations"]
        if v["impact"] in BLOCKING
    ]
    assert len(found) == 14  # 3 views, +N, 9 dialogs and their states, another department
    assert blocking == [], json.dumps(blocking, ensure_ascii=False, indent=2)


@pytest.mark.parametrize(("pixels", "language"), [(DESKTOP, "ko"), (PHONE, "en")])
def test_an_event_is_added_edited_and_deleted_with_the_keyboard_alone(
    site: Site, driver: Browser, pixels: int, language: str
) -> None:
    text = PAGE_TEXT[language]
    dept = str(new_department(site.api)["id"])
    with width(driver, pixels):
        # Each width's own first view: the month on a desktop, the list on a phone.
        visit(driver, f"{site.url}/?department={dept}", language)
        tab_to(driver, lambda d: focused(d).get_attribute("id") == "add-event")
        focused(driver).send_keys(Keys.ENTER)
        visible_dialog(driver, "event-dialog")
        assert focused(driver).get_attribute("id") == "event-title"
        before = loaded_count(driver)
        focused(driver).send_keys("키보드 회의", Keys.ENTER)  # Enter submits the form
        wait_closed(driver, "event-dialog")
        wait_loaded(driver, before)
        [made] = site.api.get(f"/api/events/{dept}").get_json()["items"]
        assert made["title"] == "키보드 회의"

        def on_event(d: Browser) -> bool:
            # An event (a list row's button on a phone); holidays take no focus.
            script = "return Boolean(document.activeElement.closest('.fc-event'))"
            return bool(d.execute_script(script))

        tab_to(driver, on_event, presses=80)
        focused(driver).send_keys(Keys.ENTER)
        visible_dialog(driver, "event-dialog")
        title = focused(driver)
        assert title.get_attribute("id") == "event-title"
        title.send_keys(Keys.END, " 변경")
        tab_to(driver, lambda d: focused(d).get_attribute("id") == "event-time")
        before = loaded_count(driver)
        focused(driver).send_keys("오후 2시", Keys.ENTER)
        wait_closed(driver, "event-dialog")
        wait_loaded(driver, before)
        changed = site.api.get(f"/api/events/{dept}/{made['id']}").get_json()
        assert (changed["title"], changed["start_time"], changed["version"]) == (
            "키보드 회의 변경",
            "14:00",
            2,
        )

        tab_to(driver, on_event, presses=80)
        focused(driver).send_keys(Keys.ENTER)
        visible_dialog(driver, "event-dialog")
        tab_to(driver, lambda d: focused(d).get_attribute("id") == "event-delete")
        assert focused(driver).text == text["delete"]
        before = loaded_count(driver)
        focused(driver).send_keys(Keys.ENTER)
        confirm = wait_for(driver, alert, "the question before deleting")
        assert confirm.text == text["confirm_delete"].format(title="키보드 회의 변경")
        confirm.accept()  # Enter on the browser's own question
        wait_closed(driver, "event-dialog")
        wait_loaded(driver, before)
        assert site.api.get(f"/api/events/{dept}").get_json()["items"] == []
