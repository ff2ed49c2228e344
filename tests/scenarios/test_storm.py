"""A storm at the bar close against the Binance emulator with its limits on (tests/scenarios/
storm_kit.py): protective orders first, the budget never exceeded, stale and withdrawn legs
recorded, nothing lost or sent twice — and after a crash mid-storm, the line rebuilt from the
recorded orders in the same order."""

import pytest
import trio

from tests.scenarios.storm_kit import (
    KEYS, PYRAMIDS, SYMBOLS, WINDOW_S, ctl, overtaken, placed_counts, purpose, running,
    start_emulator,
)

FILLED = SYMBOLS[:10]  # the market comes down to 100 here: their first legs fill
STALE = SYMBOLS[40:45]  # and runs away to 101.5 here: their waiting legs go stale
EXIT = (SYMBOLS[0], 60)  # an exit for this key while its deeper legs still wait


@pytest.fixture
def emu(tmp_path):
    emu = start_emulator(tmp_path)
    yield emu
    emu.stop()


def first_legs_on_exchange(emu, symbols) -> int:
    return sum(1 for o in emu.orders() if o["_result"] == "placed"
               and o["symbol"] in symbols and o.get("price", "").startswith("100"))


def assert_nothing_lost_or_doubled(kit, placed: dict[str, int]) -> list[dict]:
    """Every signal processed, three pyramids per group, each order on the exchange at most
    once; returns the entry rows."""
    assert all(n == 1 for n in placed.values()), "an order was sent twice"
    states = {r["state"] for r in kit.store.query("SELECT state FROM inbox")}
    assert not states & {"accepted", "processing"}
    groups = kit.store.query("SELECT pyramid_count FROM position_groups")
    assert len(groups) == len(KEYS)
    assert sum(g["pyramid_count"] for g in groups) == len(KEYS) * PYRAMIDS
    rows = kit.entry_rows()
    assert len(rows) == len(KEYS) * PYRAMIDS * 2
    return rows


async def test_a_storm_sends_protective_orders_first_and_loses_nothing(tmp_path, emu):
    async with running(tmp_path / "engine.db", emu, tmp_path) as kit:
        await kit.storm()
        # the first legs of the first keys are out, deeper legs still wait
        await kit.until(lambda: first_legs_on_exchange(emu, FILLED) >= 2 * len(FILLED))
        assert [k for k in kit.line.waiting() if purpose(k) == "e"]
        await ctl(emu.prices, [(s, "100") for s in FILLED])  # their first legs fill
        await kit.until(lambda: any(purpose(h[0]) == "t" for h in kit.line.history))
        await kit.send("exit", *EXIT, kit.clock.now_ms())
        await ctl(emu.prices, [(s, "101.5") for s in STALE])
        await kit.until(kit.settled, timeout=180)
        history = list(kit.line.history)
        exit_group = kit.group_of(*EXIT)
        placed = await ctl(placed_counts, emu)
        rows = assert_nothing_lost_or_doubled(kit, placed)
    assert (await ctl(emu.stats))["rejected_429"] == 0  # the budget was never exceeded
    # every take-profit, and the exit's close, left before any entry that waited with it,
    # within one budget window of entering the line
    protective = [h for h in history if purpose(h[0]) in ("t", "x")]
    assert sum(purpose(h[0]) == "t" for h in protective) >= 2 * len(FILLED)
    assert sum(purpose(h[0]) == "x" for h in protective) == 1
    for key, *_, waited in protective:
        assert overtaken(history, key) == [], key
        assert waited <= 2 * WINDOW_S * 1000, (key, waited)
    # every ladder is complete on the exchange, or its legs left the line recorded, unsent
    unsent = [r for r in rows if r["client_order_id"] not in placed]
    for r in unsent:
        why = r["error"] or ""
        assert r["state"] == "canceled" and why.startswith(("dropped", "withdrawn")), r
        assert ("exit_signal" in why) if r["group_id"] == exit_group else (
            r["symbol"] in STALE and "stale" in why), r
    assert any(r["group_id"] == exit_group for r in unsent)
    assert any(r["symbol"] in STALE for r in unsent)
    assert not [r for r in rows if r["client_order_id"] in placed and r["error"]]


async def test_after_a_crash_mid_storm_the_line_is_rebuilt_in_the_same_order(tmp_path, emu):
    db = tmp_path / "engine.db"
    async with running(db, emu, tmp_path) as kit:
        await kit.storm()
        await kit.until(kit.signals_done)  # (this kit's restart does not replay the inbox)
        await trio.sleep(0.5)
        before = [k for k in kit.line.waiting() if purpose(k) == "e"]
        # killed: the nursery is cancelled at once, nothing more is committed or sent
    assert len(before) > 100, "the crash should leave a long line behind"
    async with running(db, emu, tmp_path) as kit:
        await kit.until(kit.settled, timeout=180)
        after = [h[0] for h in kit.line.history if h[0] in set(before)]
        placed = await ctl(placed_counts, emu)
        rows = assert_nothing_lost_or_doubled(kit, placed)
    assert after == before  # rebuilt from the orders rows, it left in the same order
    assert (await ctl(emu.stats))["rejected_429"] == 0  # the restart counted the window's use
    assert {r["client_order_id"] for r in rows} <= set(placed)  # every ladder complete
