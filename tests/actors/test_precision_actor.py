"""The precision refresher: cache at start, refresh on a timer and on demand, ages from
engine.precision, failures counted and logged (paper exchange; the loopback Binance emulator
through the ccxt adapter for a refused fetch)."""

import logging

import msgspec
import pytest
import trio
import trio.testing

from actors.runtime.clock import EngineClock
from actors.market.precision import MIN_GAP_S, PrecisionActor, PrecisionRefreshed
from actors.store.writer import Store
from engine.config import PrecisionConfig, default_config
from engine.config.model import PrecisionOverride
from engine.precision import MetadataMissing, ResolvedRules
from tests.actors.runtime_kit import START_MS, D, binance_port, open_store, paper
from tests.emulator.server import EmulatorThread

HOUR_MS = 3_600_000


def actor(store, port, clock, *, refresh_sec=60, cfg=PrecisionConfig(), exchange="paper"):
    return PrecisionActor(port=port, store=store, exchange=exchange, refresh_sec=refresh_sec,
                          precision_cfg=cfg, clock_ms=clock.now_ms)


@pytest.fixture
async def world(tmp_path, nursery):
    clock = EngineClock.following_trio(START_MS)
    store = await open_store(tmp_path, nursery, clock)
    return clock, store, paper(store, clock)


async def test_first_refresh_fills_memory_and_cache_in_one_transaction(world, nursery,
                                                                      autojump_clock):
    clock, store, exchange = world
    refresher = actor(store, exchange, clock)
    heard: list[PrecisionRefreshed] = []
    refresher.subscribe(heard.append)
    batches = store.batches
    await nursery.start(refresher.run)
    assert store.batches == batches + 1
    rows = store.query("SELECT symbol, rules, fetched_at FROM precision_cache ORDER BY symbol")
    assert len(rows) == len(exchange.markets) == 11
    assert {r["fetched_at"] for r in rows} == {START_MS}
    cached = msgspec.json.decode(rows[[r["symbol"] for r in rows].index("BTCUSDT")]["rules"])
    assert cached["tick_size"] == "0.01" and cached["min_notional"] == "5"
    assert heard == [PrecisionRefreshed(fetched_at_ms=START_MS, symbols=11)]
    btc = refresher.rules("BTCUSDT")
    assert btc.tick_size == D("0.01") and btc.fetched_at_ms == START_MS
    assert refresher.last_sync_ms == START_MS and refresher.failures == 0
    assert set(refresher.all_rules()) == set(exchange.markets)


async def test_the_timer_refreshes_every_interval(world, nursery, autojump_clock):
    clock, store, exchange = world
    refresher = actor(store, exchange, clock, refresh_sec=60)
    heard: list[PrecisionRefreshed] = []
    refresher.subscribe(heard.append)
    await nursery.start(refresher.run)
    await trio.sleep(125)
    assert [h.fetched_at_ms - START_MS for h in heard] == [0, 60_000, 120_000]
    assert {r["fetched_at"] for r in store.query("SELECT fetched_at FROM precision_cache")} == {
        START_MS + 120_000}


async def test_a_restart_has_the_cached_rules_before_any_fetch(world, tmp_path, nursery,
                                                              autojump_clock):
    clock, store, exchange = world
    await actor(store, exchange, clock).refresh()
    store.close()
    reopened = Store.open(tmp_path / "engine.db", clock_ms=clock.now_ms)
    await nursery.start(reopened.run_writer)
    restarted = actor(reopened, exchange, clock)
    assert restarted.rules("BTCUSDT") is None
    assert restarted.load_cache() == 11
    assert restarted.rules("BTCUSDT").step_size == D("0.00001")
    assert restarted.last_sync_ms == START_MS
    # another exchange's cache is not ours
    assert actor(reopened, exchange, clock, exchange="binance").load_cache() == 0


async def test_stale_entries_are_used_while_refreshing_and_day_old_ones_are_missing(
        world, nursery, autojump_clock):
    clock, store, exchange = world
    await actor(store, exchange, clock).refresh()
    await trio.sleep(120)  # older than the 60 s interval
    refresher = actor(store, exchange, clock, refresh_sec=3600)
    refresher.load_cache()
    assert refresher.rules("BTCUSDT") is not None  # within an hour: not due
    refresher.refresh_sec = 60
    assert refresher.rules("BTCUSDT") is not None  # stale but still used ...
    assert refresher._wake.is_set()  # ... and a refresh is requested
    await trio.sleep(24 * 3600)
    fresh = actor(store, exchange, clock)
    fresh.load_cache()
    assert fresh.rules("BTCUSDT") is None  # older than 24 h counts as missing
    resolved = fresh.resolve("BTCUSDT")
    assert isinstance(resolved, MetadataMissing) and "24 h" in resolved.reason


async def test_a_missing_symbol_triggers_one_refresh_after_the_minimum_gap(world, nursery,
                                                                           autojump_clock):
    clock, store, exchange = world
    refresher = actor(store, exchange, clock, refresh_sec=3600)
    await nursery.start(refresher.run)
    started = trio.current_time()
    for _ in range(50):  # a burst of lookups asks for ONE refresh
        assert refresher.rules("NOPEUSDT") is None
    await trio.testing.wait_all_tasks_blocked()
    await trio.sleep(MIN_GAP_S + 1)
    assert refresher.refreshes == 2
    assert clock.now_ms() - refresher.last_sync_ms <= 1000
    assert refresher.last_sync_ms - START_MS >= (MIN_GAP_S * 1000)
    assert trio.current_time() - started < 10
    refresher.request_refresh("BTCUSDT")  # e.g. the gateway after a -1013
    await trio.sleep(MIN_GAP_S + 1)
    assert refresher.refreshes == 3


async def test_resolve_applies_strict_mode_fallback_and_overrides(world, nursery,
                                                                  autojump_clock):
    clock, store, exchange = world
    cfg = default_config().precision
    lenient = msgspec.structs.replace(cfg, strict_mode=False, overrides={
        "paper:BTCUSDT": PrecisionOverride(tick_size=D("0.1"), step_size=D("0.001"),
                                           min_qty=D("0.001"), min_notional=D("10"))})
    refresher = actor(store, exchange, clock, cfg=lenient)
    await nursery.start(refresher.run)
    auto = refresher.resolve("BTCUSDT")
    assert isinstance(auto, ResolvedRules) and auto.source == "exchange"
    forced = refresher.resolve("BTCUSDT", mode="force")
    assert forced.source == "override" and forced.rules.tick_size == D("0.1")
    unknown = refresher.resolve("NOPEUSDT")
    assert unknown.source == "fallback" and unknown.rules.tick_size == D("0.00000001")
    assert unknown.warning and refresher._wake.is_set()
    strict = actor(store, exchange, clock, cfg=cfg)
    assert isinstance(strict.resolve("NOPEUSDT"), MetadataMissing)


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


async def test_a_refused_fetch_is_counted_logged_and_keeps_the_old_rules(
        tmp_path, nursery, emulator, caplog):
    """Binance (the loopback emulator through the ccxt adapter) answers 503 once."""
    emulator.reset()
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    port = binance_port(tmp_path, store, clock, emulator)
    try:
        refresher = actor(store, port, clock, exchange="binance")
        assert await refresher.refresh()
        synced = refresher.last_sync_ms
        assert refresher.rules("BTCUSDT").tick_size == D("0.01")
        emulator.fault("5xx", path="exchangeInfo")
        heard: list[PrecisionRefreshed] = []
        refresher.subscribe(heard.append)
        with caplog.at_level(logging.ERROR, logger="engine.precision"):
            assert not await refresher.refresh()
        assert refresher.failures == 1 and refresher.consecutive_failures == 1
        assert "Unavailable" in refresher.last_error
        # other tests' loggers may leave INFO records in the capture: count errors only
        assert [r.getMessage() for r in caplog.records
                if r.levelno >= logging.ERROR] == ["precision sync failure"]
        assert heard == [] and refresher.last_sync_ms == synced
        assert refresher.rules("BTCUSDT").tick_size == D("0.01")  # the old rules stay
        assert await refresher.refresh()
        assert refresher.consecutive_failures == 0 and refresher.failures == 1
        assert len(heard) == 1
        assert refresher.status()["symbols"] == len(refresher.all_rules())
    finally:
        await port.aclose()
