"""The Performance page in a real browser (Debian's Chromium) against the real engine process,
on the database of the January 2018 replay (tests/scenarios/test_replay_2018_analytics.py):
every block renders what the API answers, the CSV download is the API's CSV, the PNG export is
a PNG drawn by the browser, and a trade closed meanwhile updates the page without a reload."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.scenarios.test_replay_2018_analytics import replayed_database  # noqa: F401
from tests.web.engine_process import ADMIN, ADMIN_PASSWORD, EngineProcess, wait_for

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
              pytest.mark.slow]
WAIT = 30_000  # ms: generous, the suite shares two cores
BLOCKS = ("pnl-periods", "equity", "win-loss", "risk-metrics", "heatmap", "distribution",
          "daily-snapshot", "allocation", "ladder", "risk-ledger")
CHARTS = ("equity", "drawdown", "histogram", "daily", "time-in-trade")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture
def engine(tmp_path, replayed_database) -> Iterator[EngineProcess]:  # noqa: F811
    source, _ = replayed_database
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(source) as src, sqlite3.connect(data / "engine.db") as dest:
        src.backup(dest)  # the replay's record: closed trades, fills, snapshots, roll-ups
    proc = EngineProcess(tmp_path, {"app.quote_currencies": ["BTC"]}).start()
    try:
        yield proc
    finally:
        proc.stop()


def open_page(page: Page, engine: EngineProcess) -> None:
    page.goto(engine.url + "/analytics")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("[data-test=analytics]").wait_for(timeout=WAIT)


def test_every_block_renders_the_replay_and_csv_and_png_export(page: Page,
                                                               engine: EngineProcess):
    summary = engine.get("/api/analytics/summary")
    heatmap = engine.get("/api/analytics/heatmap")
    trades = summary["win_loss"]["trades"]
    assert trades > 10
    open_page(page, engine)
    root = page.locator("[data-test=analytics]")
    expect(root).to_have_attribute("data-trades", str(trades), timeout=WAIT)
    for block in BLOCKS:
        expect(page.locator(f"[data-test={block}]").first).to_be_visible(timeout=WAIT)
    for chart in CHARTS:
        expect(page.locator(f"[data-chart={chart}] canvas").first).to_be_attached(timeout=WAIT)
    expect(page.locator("[data-test=win-rate]")).to_have_text(
        f"{summary['win_loss']['win_rate_percent']} %")
    expect(page.locator("[data-test=sharpe]")).to_have_text(summary["risk"]["sharpe"])
    expect(page.locator("[data-test=pnl-all] .stat-value")).to_contain_text(
        summary["pnl"]["realized_by_period_usd"]["all"].lstrip("-").split(".")[0])
    cells = page.locator("td[data-cell]")
    expect(cells).to_have_count(len(heatmap["pairs"]) * len(heatmap["timeframes"]))
    first = heatmap["cells"][0]
    assert first["timeframe"] in (5, 15)  # the replay's keys: shown "5m", "15m"
    expect(page.locator(f"td[data-cell='{first['pair']}|{first['timeframe']}']")).to_have_attribute(
        "title", f"{first['pair']} {first['timeframe']}m: {first['pnl_usd']} over "
                 f"{first['trades']} trades")
    points = engine.get("/api/analytics/equity")["points"]
    expect(page.locator("[data-chart=equity]")).to_have_attribute("data-points", str(points))

    before = engine.admin.get("/api/analytics/equity?kind=total&period=all&format=csv").text
    with page.expect_download(timeout=WAIT) as download:
        page.locator("[data-test=csv-total]").click()
    got = Path(download.value.path()).read_text()
    after = engine.admin.get("/api/analytics/equity?kind=total&period=all&format=csv").text
    assert got in (before, after)  # a snapshot may be taken in between (every 5 minutes)
    assert got.count("\n") > 1000 and got.startswith("ts,time_utc,total_equity_usd,")
    with page.expect_download(timeout=WAIT) as png:
        page.locator("[data-test=png-equity]").click()
    assert png.value.suggested_filename == "equity.png"
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_closed_trade_updates_the_page_without_reload(page: Page, engine: EngineProcess):
    open_page(page, engine)
    root = page.locator("[data-test=analytics]")
    trades = engine.get("/api/analytics/summary")["win_loss"]["trades"]
    expect(root).to_have_attribute("data-trades", str(trades), timeout=WAIT)
    engine.price("ETHBTC", "0.09000")
    engine.webhook("ETHBTC", "0.09", size="0.01", timeframe="60")
    group = wait_for(lambda: [g for g in engine.get("/api/groups?status=open")["groups"]
                              if g["symbol"] == "ETHBTC" and D(g["open_quantity"]) > 0],
                     what="the ETHBTC entry to fill")[0]
    assert engine.admin.post(f"/api/groups/{group['id']}/close").status_code == 200
    expect(root).to_have_attribute("data-trades", str(trades + 1), timeout=WAIT)
