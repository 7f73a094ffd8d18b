"""The page signs in with the company's OpenID provider (``access.md``, "The page").

A real provider (oidc-provider, ``tests/oidc.py``) runs beside the app on a live server; the
browser goes through its login form and back, as a person would: authorisation code with
PKCE, the ID token on every API call, the rights of each department shown, and sign-out.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By

from backend import create_app
from backend.access.oidc import OidcSettings, OidcVerifier
from backend.api.page_text import PAGE_TEXT
from backend.config import Settings
from backend.storage import Storage
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Browser,
    Site,
    chromium,
    click,
    console,
    csp_violations,
    english,
    event_element,
    events_on,
    open_page,
    save_and_wait,
    screenshot,
    serve_site,
    shown,
    site_settings,
    type_into,
    visible_dialog,
    wait_closed,
    wait_for,
    wait_loaded,
    width,
)
from tests.oidc import CLIENT_ID, SCOPES, Provider, running_provider
from tests.test_page_accessibility import axe

MONTH = "2024-07"
# The provider's login page imports a web font from Google: no such host here, at once.
NO_FONTS = (
    "--host-resolver-rules=MAP fonts.googleapis.com ~NOTFOUND, MAP fonts.gstatic.com ~NOTFOUND",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def signed_in(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app with sign-in on, and the provider whose client sends people back to it.

    The app must know its issuer when it is made, and the provider its redirect URI (the
    page's address, port included) when it starts: the provider's port is chosen first."""
    port = free_port()
    settings = site_settings(
        engine_url,
        tmp_path_factory.mktemp("sign-in"),
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id=CLIENT_ID,
        oidc_audiences=(CLIENT_ID,),
        oidc_scopes=SCOPES,
    )
    with serve_site(settings) as site:
        page = f"{site.url}/"
        with running_provider(
            redirect_uris=[page], post_logout_redirect_uris=[page], port=port
        ) as provider:
            site.provider = provider  # type: ignore[attr-defined]
            yield site


def provider_of(site: Site) -> Provider:
    found: Provider = site.provider  # type: ignore[attr-defined]
    return found


@pytest.fixture
def driver() -> Iterator[Browser]:
    """A browser of its own per test: no sign-in or provider session carries over."""
    with chromium(flags=NO_FONTS) as browser:
        yield browser


def as_person(provider: Provider, sub: str) -> dict[str, str]:
    account = provider.accounts[sub]
    token = provider.mint({"sub": sub, "email": account["email"], "name": account["name"]})
    return {"Authorization": f"Bearer {token}"}


def assert_accessible(runs: list[dict[str, Any]], name: str) -> None:
    """No axe-core violation of any impact; every run kept in test-artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-sign-in-{name}.json").write_text(json.dumps(runs, indent=2), "utf-8")
    assert [run for run in runs if run["violations"]] == []


def displayed(driver: Browser, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def sign_in_as(driver: Browser, login: str) -> None:
    """Sign in on the provider's form, and wait for the page to show who is signed in."""
    click(driver, "#sign-in")
    field = wait_for(
        driver, lambda d: d.find_element(By.NAME, "login"), "the provider's login form"
    )
    field.send_keys(login)
    driver.find_element(By.NAME, "password").send_keys("anything")
    click(driver, "button[type=submit]")
    shown(driver, "signed-in-as", f"the page to say {login} is signed in")
    wait_loaded(driver)


def keep_screenshots(driver: Browser, name: str) -> list[Path]:
    """The page as it is now, reloaded at desktop and phone width in Korean and English."""
    kept = []
    url = driver.current_url
    for language in ("ko", "en"):
        for pixels in (DESKTOP, PHONE):
            with width(driver, pixels), english(driver) if language == "en" else nullcontext():
                open_page(driver, url)
                shown(driver, "signed-in-as")
                label = PAGE_TEXT[language]["sign_out"]
                assert driver.find_element(By.ID, "sign-out").text == label
                kept.append(screenshot(driver, f"{name}-{language}-{pixels}"))
    return kept


# -- the page as served ------------------------------------------------------------------


def test_without_sign_in_the_page_loads_no_sign_in_script_and_keeps_its_csp(
    client: FlaskClient,
) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "oidc-client-ts" not in html
    assert 'id="sign-in"' not in html
    assert '"sign_in": null' in html
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in csp


def test_with_sign_in_the_page_names_the_provider_and_may_reach_it(
    settings: Settings, storage: Storage
) -> None:
    issuer = f"http://127.0.0.1:{free_port()}/realms/company"
    configured = replace(
        settings,
        oidc_issuer=issuer,
        oidc_client_id="calendar-page",
        oidc_audiences=("calendar-page",),
        oidc_scopes="openid email profile",
    )
    answer = (
        create_app(configured, storage).test_client().get("/", headers={"Accept-Encoding": "gzip"})
    )
    html = gzip.decompress(answer.data).decode()

    script = re.search(r'<script type="application/json" id="page-text">(.*?)</script>', html)
    assert script is not None
    assert '"sign_in": {"client_id": "calendar-page"' in script[1]
    assert f'"issuer": "{issuer}"' in script[1]
    assert '"scopes": "openid email profile"' in script[1]
    assert re.search(
        r'<script src="/calendar/oidc-client-ts/oidc-client-ts\.min\.js\?v=\w+" defer>', html
    )
    assert html.index("oidc-client-ts.min.js") < html.index("calendar.js")
    assert re.search(r'<button type="button" id="sign-in"[^>]*>로그인</button>', html)
    # The provider is away here: its issuer's origin alone, until its discovery is read.
    origin = issuer.removesuffix("/realms/company")
    assert f"connect-src 'self' {origin};" in answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in answer.headers["Content-Security-Policy"]


class _Answer:
    def __init__(self, document: dict[str, Any]) -> None:
        self.status = 200
        self._body = json.dumps(document).encode()

    def read(self, _limit: int) -> bytes:
        return self._body

    def release_conn(self) -> None:
        return None


class _Provider:
    """A provider's discovery document, as Cognito serves it: endpoints on another host."""

    def __init__(self, issuer: str) -> None:
        self.asked: list[str] = []
        self.document = {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "token_endpoint": "https://calendar.auth.ap-northeast-2.amazoncognito.com/oauth2/token",
            "userinfo_endpoint": "https://calendar.auth.ap-northeast-2.amazoncognito.com/oauth2/userInfo",
            "authorization_endpoint": "https://calendar.auth.ap-northeast-2.amazoncognito.com/login",
        }

    def request(self, _method: str, url: str, **_kwargs: Any) -> _Answer:
        self.asked.append(url)
        return _Answer(self.document)


def test_the_page_may_reach_the_providers_token_endpoint_on_another_host() -> None:
    issuer = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_Abc123"
    http = _Provider(issuer)
    verifier = OidcVerifier(OidcSettings(issuer, ("client",)), http=http)  # type: ignore[arg-type]

    first = verifier.browser_origins()
    again = verifier.browser_origins()

    assert (
        first
        == again
        == (
            "https://cognito-idp.ap-northeast-2.amazonaws.com",
            "https://calendar.auth.ap-northeast-2.amazoncognito.com",
        )
    )
    assert http.asked == [f"{issuer}/.well-known/openid-configuration"]  # read once


def test_the_vendored_library_is_served_but_its_license_and_version_are_not(
    client: FlaskClient,
) -> None:
    assert client.get("/calendar/oidc-client-ts/oidc-client-ts.min.js").status_code == 200
    assert client.get("/calendar/oidc-client-ts/LICENSE").status_code == 404
    assert client.get("/calendar/oidc-client-ts/VERSION").status_code == 404


# -- in a browser, against the provider ------------------------------------------------


@pytest.mark.slow
def test_alice_signs_in_makes_a_department_and_an_event_and_signs_out(
    signed_in: Site, driver: Browser
) -> None:
    provider = provider_of(signed_in)
    open_page(driver, signed_in.page(month=MONTH))
    # Signed out: nothing to read (no public department), nothing to create.
    assert displayed(driver, "sign-in")
    assert not displayed(driver, "new-department")
    assert not displayed(driver, "add-event")
    screenshot(driver, "sign-in-signed-out-ko")
    found = axe(driver, "signed out")

    sign_in_as(driver, "alice")
    assert driver.find_element(By.ID, "signed-in-as").text == "Alice Kim 님"
    assert not displayed(driver, "sign-in")
    # Back where she was, the provider's answer gone from the address.
    assert "code=" not in driver.current_url
    assert "state=" not in driver.current_url
    assert f"month={MONTH}" in driver.current_url

    click(driver, "#new-department")
    visible_dialog(driver, "department-dialog")
    type_into(driver, "department-name", "인사팀")
    click(driver, "#department-dialog button[type=submit]")
    wait_closed(driver, "department-dialog")
    wait_for(driver, lambda d: displayed(d, "add-event"), "the owner's controls")
    assert displayed(driver, "rename-department")
    assert displayed(driver, "import")

    department = driver.find_element(By.ID, "department").get_attribute("value")
    api = signed_in.api
    read = api.get(f"/api/departments/{department}", headers=as_person(provider, "alice"))
    assert read.get_json()["access_role"] == "owner"
    assert read.get_json()["created_by"]["name"] == "Alice Kim"

    click(driver, f'td.fc-daygrid-day[data-date="{MONTH}-08"]')
    visible_dialog(driver, "event-dialog")
    type_into(driver, "event-title", "채용 면접")
    save_and_wait(driver)
    assert events_on(driver, f"{MONTH}-08") == ["채용 면접"]
    assert csp_violations(console(driver)) == []
    found += axe(driver, "signed in as an owner")
    assert_accessible(found, "alice")

    for path in keep_screenshots(driver, "sign-in-alice"):
        assert path.stat().st_size > 0

    # Calendar apps and downloads cannot sign in: both go by the secret feed address.
    key = api.get(
        f"/api/departments/{department}/feed-key", headers=as_person(provider, "alice")
    ).get_json()["key"]
    wait_for(
        driver,
        lambda d: f"key={key}" in (d.find_element(By.ID, "export").get_attribute("href") or ""),
        "the export link to carry the feed key",
    )
    click(driver, "#subscribe")
    visible_dialog(driver, "subscribe-dialog")
    address = driver.find_element(By.ID, "subscribe-url").get_attribute("value") or ""
    assert address.endswith(f"/api/departments/{department}/calendar.ics?key={key}")
    feed = api.get(f"{address.removeprefix(signed_in.url)}&month={MONTH}")
    assert "채용 면접" in feed.get_data(as_text=True)
    driver.execute_script("document.getElementById('subscribe-dialog').close()")

    click(driver, "#sign-out")
    wait_for(
        driver,
        lambda d: d.current_url.startswith(signed_in.url) and displayed(d, "sign-in"),
        "the page to show Sign in again",
    )
    assert "state=" not in driver.current_url
    assert not displayed(driver, "signed-in-as")
    assert not displayed(driver, "new-department")
    stored = driver.execute_script("return Object.keys(sessionStorage)")
    assert not [key for key in stored if key.startswith("oidc.user")]


@pytest.mark.slow
def test_bob_reads_alices_department_without_the_controls_to_change_it(
    signed_in: Site, driver: Browser
) -> None:
    provider = provider_of(signed_in)
    alice = as_person(provider, "alice")
    made = signed_in.api.post("/api/departments", json={"name": "재무팀"}, headers=alice)
    department: dict[str, Any] = made.get_json()
    assert department["visibility"] == "organization"
    signed_in.api.post(
        f"/api/events/{department['id']}",
        json={"title": "결산 회의", "event_date": f"{MONTH}-10"},
        headers=alice,
    )

    open_page(driver, signed_in.page(department=department["id"], month=MONTH))
    sign_in_as(driver, "bob")
    assert driver.find_element(By.ID, "signed-in-as").text == "Bob Lee 님"
    wait_for(driver, lambda d: event_element(d, "결산 회의"), "alice's event")
    for control in ("add-event", "import", "rename-department"):
        assert not displayed(driver, control), control
    assert displayed(driver, "new-department")  # any signed-in person may make one
    event = event_element(driver, "결산 회의")
    assert event is not None
    assert "fc-event-draggable" not in (event.get_attribute("class") or "")

    # A day opens nothing; the event opens to be read, not changed.
    click(driver, f'td.fc-daygrid-day[data-date="{MONTH}-12"]')
    time.sleep(0.3)
    assert driver.find_element(By.ID, "event-dialog").get_attribute("open") is None
    event.click()
    visible_dialog(driver, "event-dialog")
    assert displayed(driver, "event-read-only")
    assert not displayed(driver, "event-save")
    assert not displayed(driver, "event-delete")
    assert not driver.find_element(By.ID, "event-title").is_enabled()
    assert driver.find_element(By.ID, "event-title").get_attribute("value") == "결산 회의"
    screenshot(driver, "sign-in-bob-reader-ko")
    assert csp_violations(console(driver)) == []
    assert_accessible(axe(driver, "a reader's event dialog"), "bob")


@pytest.mark.slow
def test_a_refused_sign_in_shows_sign_in_again_and_reads_go_on_without_it(
    signed_in: Site, driver: Browser
) -> None:
    open_page(driver, signed_in.page(month=MONTH))
    sign_in_as(driver, "bob")
    # The token kept in the tab stops being accepted (as when it expires): its signature
    # no longer verifies.
    driver.execute_script(
        """
        const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
        const user = JSON.parse(sessionStorage.getItem(key));
        const [head, body, signature] = user.id_token.split('.');
        user.id_token = [head, body, signature.slice(0, -4) + 'AAAA'].join('.');
        sessionStorage.setItem(key, JSON.stringify(user));
        """
    )
    open_page(driver, driver.current_url)
    shown(driver, "sign-in", "the Sign in button again")
    assert not displayed(driver, "signed-in-as")
    assert not displayed(driver, "new-department")
    assert driver.find_element(By.ID, "status").text == PAGE_TEXT["ko"]["sign_in_expired"]
