"""Every page in light and dark, on a desktop (1280×800) and a phone (390×844), saved under
tests/browser/screenshots/ (git-ignored) for people to look at. Checked on the way: the page
shows its content, the phone layout does not scroll sideways (wide tables scroll inside their
own box), and the browser reports no error (a CSP violation would be one)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, login
from tests.web.engine_process import EngineProcess, wait_for

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def group_id(engine: EngineProcess) -> int:
    engine.price("ETHUSDT", "3000.00")
    engine.webhook("ETHUSDT", "3000.00", timeframe="120")
    engine.price("ETHUSDT", "2980.00")  # two legs filled: lines, TPs and fills on the chart
    found = wait_for(lambda: next((g for g in engine.get("/api/groups?symbol=ETHUSDT&status=open")
                                   ["groups"] if g["timeframe"] == 120
                                   and g["legs_filled"] >= 2), None), what="the ETHUSDT group")
    return found["id"]


def pages(gid: int) -> dict[str, tuple[str, str]]:
    """name → (path, selector of its content)."""
    return {
        "dashboard": ("/", '[data-test="dashboard"]'),
        "positions": ("/positions", '[data-table="positions"] tr[data-row]'),
        "group": (f"/groups/{gid}", ".chart canvas"),
        "risk": ("/risk", '[data-test="risk-status"]'),
        "queue": ("/queue", '[data-table="queue"]'),
        "logs": ("/logs", '[role="log"] .line'),
        "signals": ("/signals", '[data-table="signals"] tr[data-row]'),
    }


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_in_both_themes_and_sizes(page: Page, engine: EngineProcess, group_id: int,
                                             theme: str, size: str):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)  # answers: below
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/api/auth/me") else None)  # me: 401 before the login
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(exist_ok=True)
    page.goto(engine.url + "/")
    page.evaluate(f"() => localStorage.setItem('engine.prefs', JSON.stringify({{theme: '{theme}'}}))")
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("() => document.documentElement.dataset.theme") == theme
    page.screenshot(path=SCREENSHOTS / f"login-{theme}-{width}x{height}.png")
    login(page, engine)
    for name, (path, selector) in pages(group_id).items():
        page.goto(engine.url + path)
        expect(page.locator(selector).first).to_be_visible()
        if name == "positions":
            page.locator(f'tr[data-row="g{group_id}"]').get_by_role("button").first.click()
            expect(page.locator("tr.detail tr[data-leg]").first).to_be_visible()
        page.wait_for_timeout(300)  # let the last live update paint
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=SCREENSHOTS / f"{name}-{theme}-{width}x{height}.png", full_page=True)
    assert errors == []
