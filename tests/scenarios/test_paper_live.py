"""The paper exchange on a real exchange's public market data (``feed = "live"``), end to end
against the loopback Binance emulator: downloaded markets, the public ticker socket, fills,
reconnects, the stale alert, the followed set, the chart."""

from __future__ import annotations

import time
from decimal import Decimal as D

import trio

from actors.exchange.paper import PaperExchange
from actors.store.writer import Store
from engine.config import PaperConfig
from tests.scenarios.live_kit import (
    MANY, SOL, control, eventually, feed, fetch_into, live_emulator, live_engine, loopback_only,
    reset, streams,
)
from tests.web.runtime_kit import entry, get_json

__all__ = ["live_emulator", "loopback_only"]  # fixtures


async def test_markets_fetch_writes_a_file_the_paper_exchange_loads(
        live_emulator, tmp_path, loopback_only):
    path = await fetch_into(live_emulator, tmp_path)
    store = Store.open(tmp_path / "paper.db")
    try:
        paper = PaperExchange(db=store, config=PaperConfig(), clock_ms=lambda: 1,
                              markets_path=path)
        assert len(paper.markets) == MANY
        sol = paper.markets[SOL]
        btc = paper.markets["BTCUSDT"]  # SOLUSDT carries BTCUSDT's real filters here
        assert (sol.tick_size, sol.step_size, sol.min_notional, sol.max_num_orders) == (
            btc.tick_size, btc.step_size, btc.min_notional, btc.max_num_orders)
        assert sol.bid_multiplier_up == D(5) and sol.ask_multiplier_down == D("0.2")
        await paper.aclose()
    finally:
        store.close()
    assert loopback_only  # the download did go over the network, to the emulator


async def _group(client, symbol: str = SOL) -> dict:
    rows = (await get_json(client, f"/api/groups?symbol={symbol}"))["groups"]
    return rows[0] if rows else {}


async def test_a_symbol_only_the_file_knows_trades_on_the_emulators_prices(
        live_emulator, tmp_path, loopback_only):
    emu = live_emulator
    await reset(emu, {SOL: "100"})
    earlier = (int(time.time() * 1000) // 60_000 - 10) * 60_000
    # history the chart backfills when the group opens (the emulator's klines)
    await control(emu, "klines", {"symbol": SOL, "bars": [[earlier, "97", "101", "96", "100"]]})
    async with live_engine(emu, tmp_path) as eng:
        admin = await eng.login()
        answer = await eng.webhook(entry(SOL, price=100.0, size=1000.0))
        assert answer.status_code == 200, answer.text
        group = await eventually(lambda: _group(admin), timeout=30)
        paper = eng.handle.core.port.inner
        # the ladder rests on the paper exchange; DCA0 at the current price filled at once
        await eventually(lambda: len(paper.book.open_orders(SOL)) >= 4, timeout=30)
        live = feed(eng)
        await eventually(lambda: SOL in live.subscribed, timeout=30)
        await trio.to_thread.run_sync(emu.price, SOL, "99.4")  # DCA1 at 99.50 fills
        filled = await eventually(lambda: _legs_filled(eng, group["id"], 2), timeout=30)
        assert filled
        chart = await eventually(lambda: _chart_with_tps(admin, group["id"], 2), timeout=30)
        levels = chart["levels"]
        assert [leg["filled"] for leg in levels["legs"]] == [True, True, False, False, False]
        assert [leg["price"] for leg in levels["legs"]] == [
            "100.00", "99.50", "99.00", "98.50", "98.00"]
        assert {(t["pyramid"], t["leg"]) for t in levels["tps"]} == {(0, 0), (0, 1)}
        assert D(levels["avg_entry"]) == D("99.75")  # two equal-notional-ish lots at 100, 99.5
        assert chart["bars"][0] == [earlier, "97", "101", "96", "100"]  # backfilled
        assert chart["bars"][-1][4] == "99.4"  # observed: the newest price closes the last bar
        await trio.to_thread.run_sync(emu.price, SOL, "101")  # both TPs (100.99, 100.00)
        tps = await eventually(lambda: _tp_fills(eng, group["id"], 2), timeout=30)
        assert {t["side"] for t in tps} == {"sell"}
        chart = await get_json(admin, f"/api/groups/{group['id']}/chart")
        assert len(chart["fills"]) == 4 and all(isinstance(f["t_ms"], int) and
                                                isinstance(f["price"], str)
                                                for f in chart["fills"])
        assert [f["side"] for f in chart["fills"]] == ["buy", "buy", "sell", "sell"]
        status = await get_json(admin, "/api/status")
        feed_status = status["price_feed"]
        assert feed_status["feed"] == "live" and feed_status["state"] == "connected"
        assert feed_status["symbols"][SOL]["age_ms"] is not None
        assert feed_status["markets"]["exchange"] == "binance"
        source = (await get_json(admin, f"/api/precision?symbol={SOL}"))["markets_source"]
        assert source["file"].endswith("binance_spot.json") and source["age_ms"] > 0
        assert source["fetched_at_ms"] == 1_700_000_000_000  # the download's time (fetch_into)
    assert loopback_only


async def _chart_with_tps(client, group_id: int, n: int) -> dict | None:
    chart = await get_json(client, f"/api/groups/{group_id}/chart")
    return chart if len(chart["levels"]["tps"]) >= n else None


def _legs_filled(eng, group_id: int, n: int) -> bool:
    rows = eng.store.query("SELECT count(*) AS n FROM fills f JOIN orders o ON"
                           " o.client_order_id = f.client_order_id WHERE f.group_id = ? AND"
                           " o.purpose = 'e'", (group_id,))
    return rows[0]["n"] >= n


def _tp_fills(eng, group_id: int, n: int) -> list[dict]:
    rows = eng.store.query("SELECT f.* FROM fills f JOIN orders o ON"
                           " o.client_order_id = f.client_order_id WHERE f.group_id = ? AND"
                           " o.purpose = 't'", (group_id,))
    return rows if len(rows) >= n else []


async def _open(eng, symbol: str, price: float) -> dict:
    admin = await eng.login()
    answer = await eng.webhook(entry(symbol, price=price, size=1000.0))
    assert answer.status_code == 200, answer.text
    return await eventually(lambda: _group(admin, symbol), timeout=30)


async def test_a_dropped_socket_reconnects_and_catches_up(live_emulator, tmp_path,
                                                         loopback_only):
    emu = live_emulator
    await reset(emu, {SOL: "100"})
    async with live_engine(emu, tmp_path) as eng:
        await _open(eng, SOL, 100.0)
        live = feed(eng)
        await eventually(lambda: SOL in live.subscribed, timeout=30)
        paper = eng.handle.core.port.inner
        connects = live.connects
        # stalled, the exchange sends nothing and its REST answers 503: the move made while
        # the socket is down can only arrive through the catch-up once it answers again
        await control(emu, "public", {"stall": True})
        await control(emu, "fault", {"kind": "drop_ws"})
        await trio.to_thread.run_sync(emu.price, SOL, "100.7")
        await eventually(lambda: live.connects > connects, timeout=30)
        assert paper.book.prices[SOL] == D(100)
        await control(emu, "public", {"stall": False})
        await eventually(lambda: paper.book.prices[SOL] == D("100.7"), timeout=30)
        await eventually(lambda: SOL in live.subscribed, timeout=30)
        assert "solusdt@bookticker" in streams(await control(emu, "public"))
        await trio.to_thread.run_sync(emu.price, SOL, "100.8")  # and the socket is live again
        await eventually(lambda: paper.book.prices[SOL] == D("100.8"), timeout=30)
        assert live.state == "connected"


async def test_a_stalled_stream_raises_the_alert(live_emulator, tmp_path, loopback_only):
    emu = live_emulator
    await reset(emu, {SOL: "100"})
    async with live_engine(emu, tmp_path, **{"exchange.paper.live.stale_sec": 5}) as eng:
        await _open(eng, SOL, 100.0)
        admin = await eng.login()
        live = feed(eng)
        await eventually(lambda: SOL in live.subscribed, timeout=30)
        await control(emu, "public", {"stall": True})

        async def alerted() -> list:
            rows = (await get_json(admin, "/api/alerts"))["alerts"]
            return [a for a in rows if a["event"] == "price_feed_stale"]

        (alert,) = await eventually(alerted, timeout=60)
        assert SOL in alert["message"] and alert["data"]["symbols"] == [SOL]
        status = (await get_json(admin, "/api/status"))["price_feed"]
        assert status["stale"] == [SOL] and status["symbols"][SOL]["age_ms"] > 5000
        await control(emu, "public", {"stall": False})
        await trio.to_thread.run_sync(emu.price, SOL, "100.1")
        await eventually(lambda: not live.stale, timeout=30)
        events = {e["event"] for e in eng.events()}
        assert "price_feed_recovered" in events


async def test_subscriptions_follow_the_open_set(live_emulator, tmp_path, loopback_only):
    emu = live_emulator
    avax = "AVAXUSDT"
    await reset(emu, {SOL: "100", avax: "20"})
    async with live_engine(emu, tmp_path) as eng:
        admin = await eng.login()
        sol = await _open(eng, SOL, 100.0)
        await _open(eng, avax, 20.0)
        both = {"solusdt@bookticker", "avaxusdt@bookticker"}

        async def subscribed() -> set[str]:
            return streams(await control(emu, "public"))

        await eventually(lambda: _equal(subscribed, both), timeout=30)
        r = await admin.post(f"/api/groups/{sol['id']}/close")
        assert r.status_code == 200, r.text
        await eventually(lambda: _closed(admin, sol["id"]), timeout=30)
        # no group, no queue entry, no resting order on SOLUSDT any more: unsubscribed
        await eventually(lambda: _equal(subscribed, {"avaxusdt@bookticker"}), timeout=30)
        assert feed(eng).symbols() == {avax}


async def _equal(read, expected: set[str]) -> bool:
    return await read() == expected


async def _closed(client, group_id: int) -> bool:
    return (await get_json(client, f"/api/groups/{group_id}"))["status"] == "closed"


async def test_without_a_socket_prices_are_polled(live_emulator, tmp_path, loopback_only):
    """Exchanges other than Binance: ccxt tickers over REST every poll_sec (the same loop,
    here against the emulator's REST)."""
    from actors.exchange.public_client import PublicClient
    from actors.market.live_feed import LiveFeed
    from engine.config.model import PaperLiveConfig

    emu = live_emulator
    await reset(emu, {SOL: "100"})
    path = await fetch_into(emu, tmp_path)
    store = Store.open(tmp_path / "paper.db")

    def wall() -> int:
        return int(time.time() * 1000)

    paper = PaperExchange(db=store, config=PaperConfig(), clock_ms=wall, markets_path=path)
    live = LiveFeed(client=PublicClient("binance", rest_url=emu.base), paper=paper,
                    cfg=PaperLiveConfig(poll_sec=D("0.5")), clock_ms=wall, socket=False)
    await paper.push_price("ETHUSDT", D(3000), wall() - 31_000)  # as restored after a restart
    await paper.push_price("BTCUSDT", D(60000), wall() - 1_000)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(live.run)
            # a price older than stale_sec is no market price: forgotten, asked afresh
            assert set(paper.book.prices) == {"BTCUSDT"}
            live.want({SOL})
            await eventually(lambda: paper.book.prices.get(SOL) == D(100), timeout=30)
            await trio.to_thread.run_sync(emu.price, SOL, "101.5")
            await eventually(lambda: paper.book.prices.get(SOL) == D("101.5"), timeout=30)
            status = live.status()
            assert status["state"] == "polling" and status["symbols"][SOL]["price"] == "101.5"
            assert (await control(emu, "public"))["sockets"] == 0
            nursery.cancel_scope.cancel()
    finally:
        await paper.aclose()
        store.close()
