"""The dashboard's parts fed by the live status topic, against an engine started WITHOUT a
webhook secret: the warning banner with its copyable command until a secret is set over the
API, the price feed card before and after a price arrives, the order line card when the
engine reports one, and the paper markets file on the Settings page. Screenshots of the dashboard with the banner at both sizes and themes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, login
from tests.web.engine_process import WEBHOOK_SECRET, EngineProcess

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def bare_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """No webhook secret: every webhook is refused until one is set. No test here pushes a
    price except the price feed's, which needs none before it."""
    proc = EngineProcess(tmp_path_factory.mktemp("no-secret"), webhook_secret=None).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_price_feed_waits_for_prices_then_shows_each_symbols_age(page: Page,
                                                                 bare_engine: EngineProcess):
    login(page, bare_engine)
    card = page.locator('[data-test="price-feed"]')
    expect(card).to_contain_text("prices set over the API")
    expect(card.locator('[data-test="no-prices"]')).to_have_text("waiting for prices")
    expect(card.locator('[data-test="markets-source"]')).to_contain_text("bundled snapshot")
    bare_engine.price("ETHUSDT", "3000.00")
    chip = card.locator('li[data-symbol="ETHUSDT"]')
    expect(chip).to_have_text(re.compile(r"ETHUSDT\s+\d+ s"))  # pushed live, no reload
    expect(card.locator('[data-test="no-prices"]')).to_have_count(0)
    expect(chip).not_to_have_class(re.compile("stale"))  # prices set over the API never go stale


def test_settings_precision_names_the_paper_markets_file(page: Page, bare_engine: EngineProcess):
    source = bare_engine.get("/api/precision")["markets_source"]
    login(page, bare_engine, path="/settings")
    shown = page.locator('[data-test="markets-source"]')
    expect(shown).to_contain_text(source["file"])
    expect(shown).to_contain_text(source["exchange"])


def test_order_line_card_follows_what_the_engine_reports(page: Page, bare_engine: EngineProcess):
    login(page, bare_engine)
    expect(page.locator('[data-test="price-feed"]')).to_be_visible()  # the status topic arrived
    line = bare_engine.get("/api/status").get("order_line")
    card = page.locator('[data-test="order-line"]')
    if line is None:  # an engine without the order line: no card, the rest of the page intact
        expect(card).to_have_count(0)
        return
    for cls in line["classes"]:
        expect(card.locator(f'dd[data-class="{cls["name"]}"]')).to_contain_text("waiting")


def test_webhook_warning_shows_the_command_until_a_secret_is_set(page: Page,
                                                                 bare_engine: EngineProcess):
    warning = bare_engine.get("/api/status")["webhook_warning"]
    assert warning["refused"] is True and warning["code"] == "webhook_secret_missing"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, bare_engine)
    banner = page.locator('[data-test="webhook-warning"]')
    expect(banner).to_contain_text("Webhooks are refused")
    expect(banner.locator('[data-test="webhook-command"]')).to_have_text(warning["command"])
    banner.get_by_role("button", name="Copy the command").click()
    expect(page.get_by_text("command copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == warning["command"]
    shoot_dashboard(page)
    r = bare_engine.admin.put("/api/secrets/security.webhook_secret", json={"value": WEBHOOK_SECRET})
    assert r.status_code == 200, r.text
    expect(banner).to_have_count(0)  # the next status push drops it, no reload
    expect(page.locator('[data-test="dashboard"]')).to_be_visible()
    assert bare_engine.get("/api/status")["webhook_warning"] is None


def shoot_dashboard(page: Page) -> None:
    """The dashboard with the banner in both themes and sizes; the phone must not scroll
    sideways (the command wraps inside the banner)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for theme in ("light", "dark"):
        page.evaluate(f"() => localStorage.setItem('engine.prefs', JSON.stringify({{theme: '{theme}'}}))")
        for width, height in SIZES.values():
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            expect(page.locator('[data-test="webhook-warning"]')).to_be_visible()
            expect(page.locator('[data-test="price-feed"]')).to_be_visible()
            page.wait_for_timeout(300)  # let the last live update paint
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"the dashboard scrolls sideways by {overflow}px at {width}px"
            page.screenshot(path=SCREENSHOTS / f"dashboard-warning-{theme}-{width}x{height}.png",
                            full_page=True)
