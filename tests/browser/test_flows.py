"""The operator's flows in a real browser against the real engine: log in and out, live rows
from a webhook and from a price push without reload, legs, the chart, closing a group, the
risk panel's Run Now, log filters and export, and the live push dropping and coming back."""

from __future__ import annotations

import csv
import io
import json
import re

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.conftest import assert_not_reloaded, login, mark_document
from tests.web.engine_process import ADMIN_PASSWORD, EngineProcess, wait_for


def open_group(engine: EngineProcess, symbol: str, price: str, timeframe: str) -> int:
    """A group opened by a webhook at ``price`` (the paper price is set first)."""
    engine.price(symbol, price)
    engine.webhook(symbol, price, timeframe=timeframe)
    tf = int(timeframe)

    def found():
        rows = engine.get(f"/api/groups?symbol={symbol}&status=open")["groups"]
        return next((g["id"] for g in rows if g["timeframe"] == tf), None)

    return wait_for(found, what=f"the {symbol} {timeframe} group")


def row(page: Page, table: str, group_id: int):
    return page.locator(f'[data-table="{table}"] tr[data-row="g{group_id}"]')


def test_login_rejects_a_wrong_password_then_logs_in_and_out(page: Page, engine: EngineProcess):
    page.goto(engine.url + "/positions")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    login(page, engine, path="/positions")
    expect(page.get_by_role("heading", name="Positions & Pyramids")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.reload()  # the session is gone server-side too
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_keyboard_alone_logs_in_and_reaches_the_pages(page: Page, engine: EngineProcess):
    page.goto(engine.url + "/")
    page.get_by_label("User name").focus()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Queue").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Waiting Queue")).to_be_visible()


def test_a_webhook_shows_up_on_dashboard_and_positions_without_reload(page: Page,
                                                                      engine: EngineProcess):
    login(page, engine)
    expect(page.locator('[data-test="dashboard"]')).to_be_visible()
    mark_document(page)
    gid = open_group(engine, "XRPUSDT", "0.5000", "60")
    expect(row(page, "dashboard", gid)).to_contain_text("XRPUSDT 1h")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Positions").click()
    expect(row(page, "positions", gid)).to_be_visible()
    other = open_group(engine, "XRPUSDT", "0.5000", "240")
    expect(row(page, "positions", other)).to_contain_text("XRPUSDT 4h")
    assert_not_reloaded(page)


def test_a_price_push_fills_legs_and_the_rows_update(page: Page, engine: EngineProcess):
    login(page, engine, path="/positions")
    gid = open_group(engine, "LTCUSDT", "100.00", "60")
    line = row(page, "positions", gid)
    expect(line.locator('[data-test="dca"]')).to_have_text("1 / 5")
    line.get_by_role("button", name=f"Expand row g{gid}").click()
    legs = page.locator(f'[data-table="positions"] tr.detail').filter(has_text="Pyramid P0")
    expect(legs.locator('tr[data-leg="P0-DCA2"]')).to_contain_text("Pending")
    expect(legs.locator("tr[data-leg]")).to_have_count(5)
    mark_document(page)
    engine.price("LTCUSDT", "99.00")  # legs at 99.50 and 99.00 fill
    expect(line.locator('[data-test="dca"]')).to_have_text("3 / 5")
    expect(legs.locator('tr[data-leg="P0-DCA2"]')).to_contain_text("Open")
    expect(legs.locator('tr[data-leg="P0-DCA2"]')).to_contain_text("99.00")
    expect(legs.locator('tr[data-leg="P0-DCA3"]')).to_contain_text("Pending")
    assert_not_reloaded(page)


def test_the_group_chart_draws_its_levels(page: Page, engine: EngineProcess):
    gid = open_group(engine, "ADAUSDT", "1.0000", "15")
    engine.price("ADAUSDT", "0.9940")  # fills the second leg: filled and planned lines, TPs
    wait_for(lambda: engine.get(f"/api/groups/{gid}")["legs_filled"] >= 2, what="two fills")
    login(page, engine, path=f"/groups/{gid}")
    chart = page.locator(".chart")
    expect(chart.locator("canvas")).to_be_visible()
    key = page.get_by_label("Chart key")
    for text in ("Average entry", "P0-DCA0 filled", "P0-DCA1 filled", "P0-DCA4 planned",
                 "TP P0-DCA0", "Buy fill"):
        expect(key).to_contain_text(text)
    assert int(chart.get_attribute("data-series")) >= 9  # price + 5 legs + 2 TPs + average
    assert int(chart.get_attribute("data-fills")) >= 2
    # uPlot drew something: the plot canvas is not blank
    painted = page.evaluate("""() => {
        const c = document.querySelector('.chart canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n; }""")
    assert painted > 1000


def test_closing_a_group_asks_for_confirmation(page: Page, engine: EngineProcess):
    gid = open_group(engine, "DOGEUSDT", "0.10000", "60")
    login(page, engine, path="/positions")
    line = row(page, "positions", gid)
    line.get_by_role("button", name=f"Close group {gid}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Close DOGEUSDT 1h (group {gid})?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert engine.get(f"/api/groups/{gid}")["status"] not in ("closing", "closed")
    line.get_by_role("button", name=f"Close group {gid}").click()
    page.get_by_role("dialog").get_by_role("button", name="Close group").click()
    expect(page.get_by_text(f"Close of group {gid} requested")).to_be_visible()
    expect(line).to_be_hidden()  # closed groups leave the "Open and waiting" view
    closed = wait_for(lambda: (g := engine.get(f"/api/groups/{gid}"))["status"] == "closed" and g,
                      what="the close")
    assert closed["close_reason"] == "manual"
    page.get_by_label("View", exact=True).select_option("ended")
    expect(row(page, "positions", gid)).to_contain_text("Manual")


def test_risk_panel_run_now_with_force(page: Page, engine: EngineProcess):
    login(page, engine, path="/risk")
    page.get_by_role("button", name="Run a risk cycle now").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Run a risk cycle now?")
    dialog.get_by_label("Force (skip the timer condition)").check()
    dialog.get_by_role("button", name="Run now").click()
    expect(page.get_by_text(re.compile(r"Risk cycle ran: "))).to_be_visible()
    expect(page.locator('[data-test="last-cycle"]')).to_contain_text("(forced)")
    assert engine.get("/api/risk")["last_cycle"]["trigger"] == "run_now_forced"


def test_logs_filter_and_export(page: Page, engine: EngineProcess):
    open_group(engine, "TRXUSDT", "0.2500", "60")
    login(page, engine, path="/logs")
    console = page.get_by_role("log", name="Event log")
    expect(console.locator('[data-category="webhook"]').first).to_be_visible()
    page.get_by_label("Category").select_option("order")
    page.get_by_label("Pair").fill("TRXUSDT")
    expect(console.locator('[data-category="webhook"]')).to_have_count(0)
    expect(console.locator('[data-category="order"]').first).to_be_visible()
    assert "TRXUSDT" in console.inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name=".csv").click()
    rows = list(csv.DictReader(io.StringIO(open(info.value.path()).read())))
    assert rows and {r["category"] for r in rows} == {"order"}
    assert {r["symbol"] for r in rows} == {"TRXUSDT"}
    with page.expect_download() as info:
        page.get_by_role("link", name=".json").click()
    events = json.loads(open(info.value.path()).read())
    assert len(events) == len(rows)
    with page.expect_download() as info:
        page.get_by_role("link", name=".txt").click()
    assert "TRXUSDT" in open(info.value.path()).read()


def test_losing_the_live_push_shows_the_banner_polls_and_recovers(page: Page,
                                                                  engine: EngineProcess):
    state: dict = {"up": True, "open": []}

    def route(ws: WebSocketRoute) -> None:
        if not state["up"]:
            ws.close(code=1011, reason="test: link down")
            return
        server = ws.connect_to_server()
        state["open"].append((ws, server))

    page.route_web_socket(re.compile(r".*/api/ws$"), route)
    login(page, engine, path="/positions")
    banner = page.locator('[data-test="live-paused"]')
    # the route callback runs only while Playwright is called: wait with the page, not sleep
    wait_for(lambda: state["open"] or page.wait_for_timeout(200), what="the live socket")
    expect(banner).to_be_hidden()
    state["up"] = False
    for ws, server in state["open"]:
        ws.close(code=1011, reason="test: link down")
        server.close()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Live updates paused")
    gid = open_group(engine, "XRPUSDT", "0.5000", "30")  # arrives by REST polling meanwhile
    expect(row(page, "positions", gid)).to_be_visible()
    state["up"] = True
    expect(banner).to_be_hidden()
    assert len(state["open"]) >= 2


def test_an_expired_session_returns_to_the_login_with_a_message(page: Page,
                                                               engine: EngineProcess):
    login(page, engine, path="/signals")
    expect(page.locator('[data-table="signals"]')).to_be_visible()
    page.context.clear_cookies()  # the session ends (as at its timeout)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Signals").click()
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Logs").click()
    expect(page.get_by_text("Your session expired — log in again.")).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_theme_text_size_and_time_zone_are_remembered(page: Page, engine: EngineProcess):
    open_group(engine, "XRPUSDT", "0.5000", "120")  # a signal: a row with a time
    login(page, engine, path="/signals")
    html = page.locator("html")
    start = html.get_attribute("data-theme")
    page.get_by_role("button", name=re.compile(r"Switch to (light|dark) theme")).click()
    flipped = "light" if start == "dark" else "dark"
    expect(html).to_have_attribute("data-theme", flipped)
    page.get_by_role("button", name="Larger text").click()
    expect(html).to_have_attribute("style", re.compile(r"font-size: 15px"))
    expect(page.locator('[data-table="signals"] td').filter(has_text=" UTC").first).to_be_visible()
    page.get_by_role("button", name="Show times in local time").click()
    expect(page.locator('[data-table="signals"] td').filter(has_text=" UTC")).to_have_count(0)
    page.reload()
    expect(html).to_have_attribute("data-theme", flipped)
    expect(page.get_by_role("button", name="Show times in UTC")).to_be_visible()
