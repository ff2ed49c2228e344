"""``/api/analytics/*`` (SPEC 11.3, 11.6) against the real app over HTTP: the empty forms of an
empty history, 400s naming the parameter and its allowed values, capped limits, and one real
trade (webhook → paper fills → manual close) shown by every block and pushed live."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest

from tests.web.conftest import OPERATOR
from tests.web.runtime_kit import LTC, LiveClient, engine_with_core, entry, eventually, get_json

ROUTES = ("summary", "equity", "trades", "distribution", "heatmap", "daily", "allocation",
          "ladder", "risk-ledger")


async def test_an_empty_history_answers_every_block_in_its_empty_form(eng):
    viewer = await eng.login(OPERATOR)  # analytics are reads: operators see them too
    answers = {r: await get_json(viewer, f"/api/analytics/{r}") for r in ROUTES}
    summary = answers["summary"]
    assert summary["period"] == "all" and summary["capital_base_usd"] == "n/a"
    assert summary["equity"] == {"realized_usd": "n/a", "total_usd": "n/a",
                                 "unrealized_usd": "0.00"}
    assert summary["pnl"]["realized_usd"] == "0.00" and summary["pnl"]["by_pair"] == []
    assert summary["pnl"]["realized_by_period_usd"] == {
        "day": "0.00", "week": "0.00", "month": "0.00", "all": "0.00"}
    wl = summary["win_loss"]
    assert (wl["trades"], wl["win_rate_percent"], wl["avg_win_usd"], wl["rr"]) == \
        (0, "n/a", "n/a", "n/a")
    assert wl["long"] == {"trades": 0, "win_rate_percent": "n/a", "pnl_usd": "0.00"}
    risk = summary["risk"]
    assert [risk[k] for k in ("max_drawdown_percent", "current_drawdown_percent", "sharpe",
                              "sortino", "profit_factor")] == ["n/a"] * 5
    assert answers["equity"] == {"kind": "total", "period": "all", "points": 0, "ts": [],
                                 "equity_usd": [], "drawdown_percent": []}
    assert answers["trades"] == {"sort": "-closed_at", "limit": 100, "capped": False,
                                 "trades": []}
    assert answers["distribution"]["histogram"] == [] and answers["distribution"]["best"] == []
    assert answers["heatmap"]["cells"] == [] and answers["heatmap"]["scale_usd"] == "0.00"
    assert answers["daily"]["today"]["fills"] == 0 and answers["daily"]["days"] == []
    alloc = answers["allocation"]
    assert alloc["pool"] == {"used": 0, "max": 10, "used_percent": "0.00"}
    assert alloc["tvl"]["free_usd"] == "n/a" and alloc["pairs"] == []
    assert answers["ladder"]["legs"] == [] and len(answers["ladder"]["pyramids"]) == 5
    assert answers["risk-ledger"]["actions"] == []
    assert answers["risk-ledger"]["total"]["net_usd"] == "0.00"
    csv_text = (await viewer.get("/api/analytics/equity?format=csv")).text
    assert csv_text == "ts,time_utc,total_equity_usd,drawdown_percent,day_boundary\n"


@pytest.mark.parametrize("query, field, allowed", [
    ("summary?period=year", "period", "day, week, month, all"),
    ("equity?kind=net", "kind", "realized, total"),
    ("equity?format=xml", "format", "json, csv"),
    ("equity?points=1", "points", "at least 2"),
    ("trades?sort=size", "sort", "closed_at, -closed_at"),
    ("trades?limit=0", "limit", "positive"),
    ("trades?limit=many", "limit", "int"),
    ("heatmap?timeframe=1h", "timeframe", "int"),
    ("daily?days=-3", "days", "positive"),
    ("ladder?color=red", "color", "unknown field"),
])
async def test_bad_parameters_are_400_naming_the_parameter(eng, query, field, allowed):
    admin = await eng.login()
    r = await admin.get(f"/api/analytics/{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["details"]["field"] == field and allowed in body["message"], body


async def test_a_huge_limit_is_capped(eng):
    admin = await eng.login()
    answer = await get_json(admin, "/api/analytics/trades?limit=100000000&sort=pnl")
    assert (answer["limit"], answer["capped"], answer["sort"]) == (1000, True, "pnl")


async def _closed_trade(eng, admin) -> int:
    assert (await eng.webhook(entry(LTC))).status_code == 200
    groups = await eventually(lambda: eng.store.query("SELECT id FROM position_groups"))
    gid = groups[0]["id"]
    for price in ("99.4", "100.2"):  # DCA0 and DCA1 fill, then DCA1's TP (99.99) fills
        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": price})
        assert r.status_code == 200
        await eventually(lambda: eng.store.query(
            "SELECT 1 FROM fills WHERE group_id = ? AND price = ?", (gid, "99.99"))
            if price == "100.2" else eng.store.query(
            "SELECT 1 FROM dca_orders WHERE group_id = ? AND leg = 1 AND filled_qty != '0'",
            (gid,)))
    assert (await admin.post(f"/api/groups/{gid}/close")).status_code == 200
    await eventually(lambda: eng.store.query("SELECT 1 FROM closed_trades"))
    return gid


async def test_a_closed_trade_shows_in_every_block_and_is_pushed_live(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        live = await LiveClient.open(eng, admin)
        try:
            first = await live.until(lambda m: m["topic"] == "analytics")
            assert first["data"]["trades"] == 0
            gid = await _closed_trade(eng, admin)
            pushed = await live.until(lambda m: m["topic"] == "analytics"
                                      and m["data"]["trades"] == 1)
            assert pushed["kind"] == "delta"
        finally:
            await live.aclose()
        trade = eng.store.query("SELECT * FROM closed_trades")[0]
        pnl = D(trade["realized_pnl"]).quantize(D("0.01"))
        summary = await get_json(admin, "/api/analytics/summary")
        assert summary["win_loss"]["trades"] == 1
        assert D(summary["pnl"]["realized_usd"]) == pnl
        assert summary["pnl"]["by_pair"][0]["pair"] == LTC
        assert summary["pnl"]["by_strategy"][0]["strategy"] == "BTC Long Entry"
        today = await get_json(admin, "/api/analytics/summary?period=day")
        assert D(today["pnl"]["realized_usd"]) == pnl
        listed = (await get_json(admin, "/api/analytics/trades"))["trades"]
        assert [(t["group_id"], D(t["pnl_usd"])) for t in listed] == [(gid, pnl)]
        assert (await get_json(admin, f"/api/analytics/trades?pair={LTC}&timeframe=60"))[
            "trades"][0]["group_id"] == gid
        assert (await get_json(admin, "/api/analytics/trades?pair=BTCUSDT"))["trades"] == []
        filtered = await get_json(admin, f"/api/analytics/summary?pair={LTC}")
        assert filtered["pnl"] == summary["pnl"] and filtered["win_loss"] == summary["win_loss"]
        heat = await get_json(admin, "/api/analytics/heatmap")
        assert [(c["pair"], c["timeframe"], c["trades"]) for c in heat["cells"]] == \
            [(LTC, 60, 1)]
        dist = await get_json(admin, "/api/analytics/distribution")
        assert sum(h["trades"] for h in dist["histogram"]) == 1
        assert dist["best"][0]["group_id"] == dist["worst"][0]["group_id"] == gid
        daily = await get_json(admin, "/api/analytics/daily")
        fills = eng.store.query("SELECT count(*) AS n FROM fills")[0]["n"]
        assert daily["today"]["fills"] == fills and D(daily["today"]["realized_usd"]) == pnl
        assert daily["today"]["best_symbol"] == LTC
        ladder = await get_json(admin, "/api/analytics/ladder")
        legs = {row["index"]: row for row in ladder["legs"]}
        assert (legs[0]["filled"], legs[1]["filled"], legs[4]["filled"]) == (1, 1, 0)
        assert legs[4]["fill_rate_percent"] == "0.00"
        assert ladder["pyramids"][0]["groups"] == 1
        alloc = await get_json(admin, "/api/analytics/allocation")
        assert alloc["pool"]["used"] == 0 and alloc["tvl"]["deployed_usd"] == "0.00"
        await eventually(lambda: eng.store.query("SELECT 1 FROM equity_snapshots"))
        equity = await get_json(admin, "/api/analytics/equity?points=20000")
        assert equity["points"] >= 1
        rows = list(csv.DictReader(io.StringIO(
            (await admin.get("/api/analytics/equity?format=csv")).text)))
        assert [int(r["ts"]) for r in rows] == equity["ts"]
        assert [r["total_equity_usd"] for r in rows] == equity["equity_usd"]
