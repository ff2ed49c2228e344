"""The waiting queue's actions, and read-only mode: an operator sees every control disabled and
no mutation gets through, even sent by hand from the page. A second engine with a pool of one
group, so that signals queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login
from tests.web.engine_process import (
    OPERATOR, OPERATOR_PASSWORD, EngineProcess, wait_for,
)


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    proc = EngineProcess(tmp_path_factory.mktemp("small-pool"),
                         {"execution_pool.max_open_groups": 1}).start()
    try:
        proc.add_operator()
        proc.price("BTCUSDT", "60000.00")
        proc.price("ETHUSDT", "3000.00")
        proc.webhook("BTCUSDT", "60000.00", timeframe="60")  # takes the only slot
        wait_for(lambda: proc.get("/api/queue")["pool"]["used"] == 1, what="the pool to fill")
        yield proc
    finally:
        proc.stop()


def queue_row(page: Page, entry_id: int):
    return page.locator(f'[data-table="queue"] tr[data-row="{entry_id}"]')


def queued(engine: EngineProcess, n: int) -> list[dict]:
    return wait_for(lambda: len(e := engine.get("/api/queue")["entries"]) >= n and e,
                    what=f"{n} queue entries")


def test_queue_promote_force_add_and_remove(page: Page, small_pool: EngineProcess):
    small_pool.webhook("ETHUSDT", "3000.00", timeframe="15")
    small_pool.webhook("ETHUSDT", "3000.00", timeframe="240")
    entries = queued(small_pool, 2)
    first, second = entries[0], entries[1]
    login(page, small_pool, path="/queue")
    expect(page.locator('[data-test="pool"]')).to_contain_text("1 / 1")
    a, b = queue_row(page, first["id"]), queue_row(page, second["id"])
    expect(a).to_contain_text("pool full")
    expect(a.locator("td").first).to_have_text("1")  # rank order
    expect(b.locator("td").first).to_have_text("2")
    # Promote: the pool is full, so the engine refuses and the UI says why
    a.get_by_role("button", name="Promote").click()
    expect(page.get_by_text("Promote failed:")).to_be_visible()
    expect(a).to_be_visible()
    # Force add overrides the pool limit: the entry leaves the queue and opens its group
    a.get_by_role("button", name="Force add").click()
    page.get_by_role("dialog").get_by_role("button", name="Force add").click()
    expect(a).to_be_hidden()
    expect(page.locator('[data-test="pool"]')).to_contain_text("2 / 1")
    # Remove, after a cancelled first try
    b.get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(b).to_be_visible()
    b.get_by_role("button", name="Remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(b).to_be_hidden()
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert small_pool.get("/api/queue")["entries"] == []
    # a new signal queues live (and stays for the operator test below)
    small_pool.webhook("ETHUSDT", "3000.00", timeframe="5")
    entry = queued(small_pool, 1)[0]
    expect(queue_row(page, entry["id"])).to_be_visible()
    inbox = small_pool.get("/api/inbox")["entries"]
    assert any(e["outcome"] and "removed from the queue" in e["outcome"] for e in inbox)


def test_an_operator_sees_disabled_controls_and_cannot_act(page: Page, small_pool: EngineProcess):
    login(page, small_pool, OPERATOR, OPERATOR_PASSWORD)
    expect(page.get_by_text("Read-only mode")).to_be_visible()
    for name in ("Pause the engine", "Reconnect the exchange"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()
    closes = page.get_by_role("button", name="Close group")
    expect(closes.first).to_be_visible()
    for i in range(closes.count()):
        expect(closes.nth(i)).to_be_disabled()
    page.get_by_role("link", name="Queue").click()
    if small_pool.get("/api/queue")["entries"]:
        for name in ("Promote", "Force add", "Remove"):
            expect(page.get_by_role("button", name=name).first).to_be_disabled()
    page.get_by_role("link", name="Risk").click()
    expect(page.get_by_role("button", name="Run a risk cycle now")).to_be_disabled()
    for button in page.get_by_role("button", name="Block").all():
        expect(button).to_be_disabled()
    page.get_by_role("link", name="Signals").click()
    expect(page.get_by_role("button", name="Replay").first).to_be_disabled()
    # the server refuses too: a mutation sent from the page with the operator's own token
    status = page.evaluate("""async () => {
        const r = await fetch('/api/engine/pause', {method: 'POST', headers: {
            'X-CSRF-Token': sessionStorage.getItem('engine.csrf'), 'Content-Type': 'application/json'},
            body: '{}'});
        return r.status; }""")
    assert status == 403
    assert small_pool.get("/api/status")["status"] == "running"
