"""The console's TradingView page in a real browser (Debian's Chromium) against the real engine
process: the webhook URL, the template with the masked secret only, the copy button, and the
"Check a message" box answering for a pasted message."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path

import pytest

from tests.web.engine_process import (
    ADMIN, ADMIN_PASSWORD, WEBHOOK_SECRET, EngineProcess, entry_body,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    proc = EngineProcess(tmp_path_factory.mktemp("tv-page")).start()
    try:
        yield proc
    finally:
        proc.stop()


def login(page, engine: EngineProcess) -> None:
    page.goto(engine.url + "/tradingview")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_setup_page_shows_url_template_and_never_the_secret(page, engine: EngineProcess):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, engine)
    url = page.locator("[data-test=webhook-url]")
    url.wait_for(timeout=30_000)
    assert url.inner_text() == f"{engine.url}/webhook"
    template = page.locator("[data-test=template]").inner_text()
    assert '"secret": "****456789"' in template and "{{strategy.order.contracts}}" in template
    assert WEBHOOK_SECRET not in page.content()
    page.get_by_role("button", name="Copy the template").click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == template.strip()


def test_check_a_message_answers_or_names_the_field(page, engine: EngineProcess):
    login(page, engine)
    box = page.locator("[data-test=check-input]")
    box.wait_for(timeout=30_000)
    box.fill(json.dumps(entry_body("BTCUSDT", "60000")))
    page.get_by_role("button", name="Check", exact=True).click()
    answer = page.locator("[data-test=check-answer], [data-test=check-refused], "
                          "[data-test=check-missing]")
    answer.first.wait_for(timeout=30_000)
    if page.locator("[data-test=check-missing]").count():
        pytest.skip("POST /api/signals/check is not in this engine yet")
    assert "opens a new group" in page.locator("[data-test=check-decision]").inner_text()
    assert page.locator("[data-test=check-ladder] tbody tr").count() == 5
    box.fill(json.dumps(entry_body("BTCUSDT", "60000", size="10")))  # 2 USDT legs: too small
    page.get_by_role("button", name="Check", exact=True).click()
    page.locator("text=Smallest order_size that passes").wait_for(timeout=30_000)
    bad = entry_body("BTCUSDT", "60000")
    bad["tv"]["timeframe"] = "30S"
    box.fill(json.dumps(bad))
    page.get_by_role("button", name="Check", exact=True).click()
    refused = page.locator("[data-test=check-refused]")
    refused.wait_for(timeout=30_000)
    assert "tv.timeframe" in refused.inner_text()
