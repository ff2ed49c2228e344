"""The chart's price history (actors/market/history.py) and the chart's answer
(actors/market/chart.py), on a real Store."""

from __future__ import annotations

from decimal import Decimal as D

import trio

from actors.market.chart import PriceCharts, levels
from actors.market.history import MINUTE_MS, PriceHistory
from actors.store.writer import Store

T0 = 1_700_000_040_000  # a minute boundary


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def history(store: Store, clock: Clock, backfill=None, days: int = 30) -> PriceHistory:
    return PriceHistory(store=store, exchange="paper", clock_ms=clock,
                        retention_days=lambda: days, backfill=backfill)


async def test_observed_prices_become_minute_bars_of_followed_symbols(tmp_path):
    store = Store.open(tmp_path / "e.db")
    clock = Clock()
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        h = history(store, clock)
        h.follow({"AUSDT"})
        for at, price in ((0, "10"), (10_000, "12"), (20_000, "9"), (59_999, "11"),
                          (MINUTE_MS, "11.5")):
            clock.now = T0 + at
            h.observe("AUSDT", D(price))
            h.observe("BUSDT", D("1"))  # not followed: not recorded
        assert h.bars("AUSDT", T0, T0 + MINUTE_MS) == [
            (T0, D(10), D(12), D(9), D(11)), (T0 + MINUTE_MS, D("11.5"), D("11.5"),
                                              D("11.5"), D("11.5"))]
        await h.flush()
        clock.now = T0 + MINUTE_MS + 5_000
        h.observe("AUSDT", D("13"))  # the same minute, after its first write
        await h.flush()
        rows = store.query("SELECT symbol, t, open, high, low, close FROM price_bars ORDER BY t")
        assert rows == [
            {"symbol": "AUSDT", "t": T0, "open": "10", "high": "12", "low": "9", "close": "11"},
            {"symbol": "AUSDT", "t": T0 + MINUTE_MS, "open": "11.5", "high": "13",
             "low": "11.5", "close": "13"}]
        nursery.cancel_scope.cancel()
    store.close()


async def test_a_newly_followed_symbol_is_backfilled_without_overwriting(tmp_path):
    store = Store.open(tmp_path / "e.db")
    clock = Clock()
    clock.now = T0 + 3 * MINUTE_MS + 1_000
    asked: list[tuple[str, int, int]] = []

    async def backfill(symbol: str, since: int, until: int) -> list:
        asked.append((symbol, since, until))
        return [(T0 + i * MINUTE_MS, D(1), D(3), D("0.5"), D(2)) for i in range(4)]

    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        h = history(store, clock, backfill, days=1)
        await nursery.start(h.run)
        h.observe("AUSDT", D(7))  # not followed yet
        h.follow({"AUSDT"})
        h.observe("AUSDT", D(7))
        with trio.fail_after(10):
            while h.backfilled < 3:
                await trio.sleep(0.01)
        assert asked == [("AUSDT", clock.now - 60 * MINUTE_MS, clock.now)]
        bars = h.bars("AUSDT", 0, clock.now)
        # three finished minutes from the exchange; the current one is what we observed
        assert bars[:3] == [(T0 + i * MINUTE_MS, D(1), D(3), D("0.5"), D(2)) for i in range(3)]
        assert bars[3] == (T0 + 3 * MINUTE_MS, D(7), D(7), D(7), D(7))
        # retention: a day later the bars are deleted at the next prune
        clock.now += 2 * 86_400_000
        await h._prune()
        assert store.query("SELECT count(*) AS n FROM price_bars")[0]["n"] == 0
        nursery.cancel_scope.cancel()
    store.close()


DETAIL = {
    "id": 3, "queue_id": None, "symbol": "AUSDT", "side": "long", "created_at": T0,
    "closed_at": T0 + 10 * MINUTE_MS, "avg_entry": "99.75", "aggregate_target": None,
    "legs": [
        {"pyramid": 0, "leg": 0, "planned_price": "100", "filled_quantity": "2",
         "tp_target": "leg", "tp_price": "101", "tp_state": "placed"},
        {"pyramid": 0, "leg": 1, "planned_price": "99.5", "filled_quantity": "0.000",
         "tp_target": "leg", "tp_price": None, "tp_state": "none"}],
    "fills": [{"ts": T0 + 1, "price": "100", "quantity": "2", "side": "buy", "fee": "0.2"}],
}


def test_levels_and_fills_come_from_the_group_detail():
    assert levels(DETAIL) == {
        "legs": [{"price": "100", "filled": True, "pyramid": 0, "leg": 0},
                 {"price": "99.5", "filled": False, "pyramid": 0, "leg": 1}],
        "tps": [{"price": "101", "pyramid": 0, "leg": 0, "state": "placed"}],
        "avg_entry": "99.75", "aggregate_target": None}
    charts = PriceCharts(group={3: DETAIL}.get, history=None, clock_ms=lambda: T0)
    chart = charts.chart(3)
    assert chart["fills"] == [{"t_ms": T0 + 1, "price": "100", "qty": "2", "side": "buy"}]
    assert chart["bars"] == [] and charts.chart(4) is None


def test_a_replay_on_the_feed_clock_charts_its_candles(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("ts,open,high,low,close,volume\n" + "".join(
        f"{T0 + i * 300_000},{100 + i},{101 + i},{99 + i},{100.5 + i},1\n" for i in range(-8, 6)))
    charts = PriceCharts(group={3: DETAIL}.get, history=None, clock_ms=lambda: T0,
                         candle_files={"AUSDT": csv})
    bars = charts.chart(3)["bars"]
    # from 30 minutes before the group opened to its close, as replayed (5-minute candles)
    assert [b[0] for b in bars] == [T0 + i * 300_000 for i in range(-6, 3)]
    assert bars[6] == [T0, "100", "101", "99", "100.5"]


def test_market_data_tells_when_the_price_taken_arrived():
    """The group actor passes it on (``PriceChanged.received_ms``): the stale guard's input."""
    from actors.exchange.port import PriceUpdate
    from actors.market.prices import MarketData

    clock = Clock()
    market = MarketData(port=None, clock_ms=clock)  # type: ignore[arg-type]
    woken = []
    sub = market.subscribe("AUSDT", woken.append)
    market.on_price(PriceUpdate(symbol="AUSDT", price=D(5), ts_ms=1))
    clock.now += 45_000
    assert (sub.take(), sub.received_ms) == (D(5), T0) and len(woken) == 1


def test_only_the_live_feed_has_a_stale_limit():
    from actors.market.feed_status import stale_limit_ms
    from engine.config import parse_config

    assert stale_limit_ms(parse_config('[exchange.paper]\nfeed = "live"\n'
                                       '[exchange.paper.live]\nstale_sec = 12\n')) == 12_000
    assert stale_limit_ms(parse_config("")) is None  # api feed
    assert stale_limit_ms(parse_config('[exchange]\nname = "binance"\n')) is None


async def test_a_real_exchange_backfills_through_the_ccxt_adapter():
    from tests.contract.conftest_ccxt import make_adapter, shared_emulator

    emu = shared_emulator()
    await trio.to_thread.run_sync(emu.reset)
    minute = (T0 // MINUTE_MS) * MINUTE_MS
    await trio.to_thread.run_sync(emu.control, "klines", {"symbol": "BTCUSDT", "bars": [
        [minute, "60000", "60100", "59900", "60050"],
        [minute + MINUTE_MS, "60050", "60060", "60000", "60010"]]})
    port = make_adapter(emu)
    try:
        bars = await port.fetch_ohlcv("BTCUSDT", minute, minute + 10 * MINUTE_MS)
    finally:
        await port.aclose()
    assert bars == [(minute, D(60000), D(60100), D(59900), D(60050)),
                    (minute + MINUTE_MS, D(60050), D(60060), D(60000), D(60010))]
