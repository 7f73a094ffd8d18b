"""Headless Chromium for the page tests: the browser, a live server, and waiting helpers.

Debian's ``chromium`` and ``chromium-driver`` are used (``scripts/test`` installs them);
``CHROMIUM`` and ``CHROMEDRIVER`` point at others. A missing browser fails the tests with
the command that installs it: it is never a reason to skip them.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.alert import Alert
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from backend import create_app
from backend.config import Mode, Settings
from backend.migration.cli import main as migrate
from backend.storage import Storage
from backend.storage.dynamo import make_client
from tests.conftest import TEST_SECRET
from tests.live_server import serving

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WINDOW = (1280, 900)
WAIT_SECONDS = 15

T = TypeVar("T")
Browser = webdriver.Chrome


def _find(variable: str, names: tuple[str, ...]) -> str:
    given = os.environ.get(variable)
    if given:
        return given
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"no {names[0]} found (set {variable} to its path): the browser tests need Debian's "
        "chromium and chromium-driver; ./scripts/test installs them, or run "
        "apt-get install chromium chromium-driver"
    )


@contextmanager
def chromium(accept_language: str = "ko-KR,ko", flags: tuple[str, ...] = ()) -> Iterator[Browser]:
    """One headless Chromium with a fresh profile, console messages kept for the tests;
    ``flags`` are further command-line switches."""
    binary = _find("CHROMIUM", ("chromium", "chromium-browser", "google-chrome"))
    driver_path = _find("CHROMEDRIVER", ("chromedriver",))
    with tempfile.TemporaryDirectory(prefix="calendar-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--lang={accept_language.split(',', maxsplit=1)[0]}",
            *flags,
        ):
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.set_capability("unhandledPromptBehavior", "ignore")
        driver = Browser(options=options, service=Service(executable_path=driver_path))
        try:
            driver.set_page_load_timeout(30)
            yield driver
        finally:
            driver.quit()


class Site:
    """The app on a live server for the browser, and a test client of the same app."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url
        self.api: FlaskClient = app.test_client()

    def page(self, **query: str) -> str:
        """The page's URL with ``query`` (``department``, ``month``, ...)."""
        pairs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.url}/?{pairs}" if pairs else f"{self.url}/"


def site_settings(engine_url: str, folder: Path, **overrides: Any) -> Settings:
    """Settings with tables of their own on the tests' engine, as conftest's ``settings``."""
    suffix = uuid.uuid4().hex[:10]
    base = Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=engine_url,
        region="ap-northeast-2",
        departments_table=f"page-departments-{suffix}",
        events_table=f"page-events-{suffix}",
        secret_key=TEST_SECRET,
        local_dir=folder / "localdb",
    )
    return Settings(**{**base.__dict__, **overrides})


@contextmanager
def serve_site(settings: Settings) -> Iterator[Site]:
    """Fresh tables, the app over them, served on loopback for the browser."""
    client = make_client(
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        access_key="local",
        secret_key="local",
        max_pool_connections=20,
    )
    storage = Storage(client, settings.departments_table, settings.events_table)
    storage.create_tables()
    app = create_app(settings, storage)
    with serving(app) as url:
        yield Site(app, url)


@contextmanager
def sample_site(engine_url: str, folder: Path) -> Iterator[Site]:
    """A site whose tables hold the sample legacy data, moved in by the migration's main."""
    settings = site_settings(engine_url, folder)
    with serve_site(settings) as served:
        out = io.StringIO()
        assert migrate([], settings=settings, out=out) == 0, out.getvalue()
        yield served


def wait_for(driver: Browser, condition: Callable[[Browser], T | None], what: str) -> T:
    """``condition``'s first truthy value, or a failure that says what was awaited."""
    try:
        # The page redraws as it goes: an element found a moment ago may be gone; look again.
        found = WebDriverWait(
            driver,
            WAIT_SECONDS,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(condition)
    except TimeoutException:
        screenshot(driver, "timeout")
        raise AssertionError(f"timed out waiting for {what}") from None
    assert found is not None  # until() returns only a truthy value
    return found


def loaded_count(driver: Browser) -> int:
    """How many event fetches the page has finished and drawn (``data-loaded``)."""
    value = driver.find_element(By.ID, "calendar").get_attribute("data-loaded")
    return int(value or 0)


def wait_loaded(driver: Browser, after: int = 0) -> None:
    """Wait until the calendar has drawn a fetch of events newer than ``after``."""
    wait_for(driver, lambda d: loaded_count(d) > after, "the calendar to draw its events")


def open_page(driver: Browser, url: str) -> None:
    """Load the page and wait until the calendar shows its first fetch of events."""
    driver.get(url)
    wait_loaded(driver)


def event_element(driver: Browser, title: str) -> WebElement | None:
    """The calendar's element for an event titled ``title``, if one is shown."""
    for element in driver.find_elements(By.CSS_SELECTOR, ".fc-event"):
        titles = element.find_elements(By.CSS_SELECTOR, ".fc-event-title")
        if any(t.text == title for t in titles):
            return element
    return None


def events_on(driver: Browser, day: str) -> list[str]:
    """Titles shown in the month grid's cell for ``day`` (YYYY-MM-DD)."""
    cell = driver.find_element(By.CSS_SELECTOR, f'td.fc-daygrid-day[data-date="{day}"]')
    return [e.text for e in cell.find_elements(By.CSS_SELECTOR, ".fc-event-title")]


def shown(driver: Browser, element_id: str, what: str | None = None) -> WebElement:
    """Wait until the element ``#element_id`` is displayed; return it."""

    def displayed(d: Browser) -> WebElement | None:
        element = d.find_element(By.ID, element_id)
        return element if element.is_displayed() else None

    return wait_for(driver, displayed, what or f"#{element_id} to show")


def visible_dialog(driver: Browser, dialog_id: str) -> WebElement:
    def opened(d: Browser) -> WebElement | None:
        element = d.find_element(By.ID, dialog_id)
        return element if element.get_attribute("open") is not None else None

    return wait_for(driver, opened, f"the dialog #{dialog_id} to open")


def wait_closed(driver: Browser, dialog_id: str) -> None:
    wait_for(
        driver,
        lambda d: d.find_element(By.ID, dialog_id).get_attribute("open") is None,
        f"the dialog #{dialog_id} to close",
    )


def alert(driver: Browser) -> Alert | None:
    """The page's open alert or confirm() box, if there is one."""
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def console(driver: Browser) -> list[dict[str, Any]]:
    """The browser console's messages since the last call."""
    # Chromium's log endpoint; selenium's get_log() wraps it without type hints.
    entries: list[dict[str, Any]] = driver.execute("getLog", {"type": "browser"})["value"]
    return entries


def csp_violations(entries: list[dict[str, Any]]) -> list[str]:
    return [
        str(e["message"])
        for e in entries
        if "Content Security Policy" in str(e["message"]) or "Refused to" in str(e["message"])
    ]


def screenshot(driver: Browser, name: str) -> Path:
    """Save the window as ``test-artifacts/<name>.png`` (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@contextmanager
def english(driver: Browser) -> Iterator[None]:
    """Pages loaded inside ask for English, as a browser that prefers it would."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "en-US,en;q=0.9"}}
    )
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def visit(driver: Browser, url: str, language: str) -> None:
    """Open ``url`` in the page's ``language`` (``ko`` or ``en``)."""
    with english(driver) if language == "en" else nullcontext():
        open_page(driver, url)


PHONE = 390  # CSS pixels: a common phone's width
DESKTOP = 1280


@contextmanager
def width(driver: Browser, pixels: int) -> Iterator[None]:
    """Pages loaded inside are laid out ``pixels`` wide (a phone at 390), as on a device."""
    if pixels == DESKTOP:
        yield
        return
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": pixels, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# -- acting as a user, and checking through the API -------------------------------------


def new_department(api: FlaskClient, name: str | None = None) -> dict[str, Any]:
    response = api.post(
        "/api/departments", json={"name": name or f"테스트팀 {uuid.uuid4().hex[:8]}"}
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def new_event(api: FlaskClient, department_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/api/events/{department_id}", json=fields)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def series_in_new_department(api: FlaskClient, **fields: Any) -> tuple[str, dict[str, Any]]:
    """A new department's id, and an event (a recurring one: ``fields``) made in it."""
    dept = str(new_department(api)["id"])
    return dept, new_event(api, dept, **fields)


def listed(api: FlaskClient, department_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/events/{department_id}")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def type_into(driver: Browser, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def click(driver: Browser, css: str) -> None:
    driver.find_element(By.CSS_SELECTOR, css).click()


def status_text(driver: Browser) -> str:
    return driver.find_element(By.ID, "status").text


def focused(driver: Browser) -> WebElement:
    return driver.switch_to.active_element


def tab_to(driver: Browser, reached: Callable[[Browser], bool], presses: int = 40) -> None:
    """Press Tab until ``reached`` holds, as someone without a mouse would."""
    for _ in range(presses):
        if reached(driver):
            return
        focused(driver).send_keys(Keys.TAB)
    assert reached(driver), f"Tab did not get there in {presses} presses"


def open_event(driver: Browser, title: str) -> None:
    element = wait_for(driver, lambda d: event_element(d, title), f"the event {title!r}")
    element.click()
    visible_dialog(driver, "event-dialog")


def save_and_wait(driver: Browser, dialog_id: str = "event-dialog") -> None:
    before = loaded_count(driver)
    click(driver, f"#{dialog_id} button[type=submit]")
    wait_closed(driver, dialog_id)
    wait_loaded(driver, before)
