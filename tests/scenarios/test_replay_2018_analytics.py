"""The analytics over a real-market replay: four days of January 2018 5-minute candles with the
scripted signals of ``test_replay_2018.py`` under ``clock = "feed"``, every group exited at the
end. The realized PnL the analytics report equals the sum of ``closed_trades``, which equals the
paper exchange's change of quote (BTC) balance — to the last satoshi fraction; the equity curve
has a point every 5 minutes of feed time, the day boundaries among them.

``replayed_database`` is shared with the browser test of the Performance page (it renders
every block for this replay)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing

from actors.exchange.paper import PaperExchange
from actors.exchange.paper_feed import load_candles, schedule
from actors.read.analytics import AnalyticsService
from actors.runtime.clock import EngineClock
from actors.runtime.core import run_core
from actors.store.writer import Store
from engine.analytics.definitions import Filters
from engine.analytics.rollup import Bucket
from engine.display import for_quote
from tests.actors.engine_kit import config, paper_config
from tests.scenarios.test_replay_2018 import (
    CANDLE_MS,
    KEYS,
    POOL,
    CandleGate,
    Observed,
    Replay,
    candle_files,
    database_dir,
    scripted,
)

pytestmark = pytest.mark.slow

CANDLES = 4 * 288  # four days of 5-minute candles
START_BTC = D(10)
EXIT_SETTLE_S = 120  # virtual seconds for the exits (close retries run every 10 s)


def replay_config(files: dict[str, str]):
    paper_cfg = paper_config(
        feed="csv", csv_files=files, replay_interval_ms=0, clock="feed",
        start_balances={"BTC": START_BTC}, maker_fee_percent=D("0.1"),
        taker_fee_percent=D("0.1"), partial_fill_ratio=D("0.5"))
    cfg = config(app={"quote_currencies": ("BTC",)}, execution_pool={"max_open_groups": POOL},
                 exchange={"paper": paper_cfg})
    return cfg, paper_cfg


async def replay_into(db_path: Path, work: Path) -> dict:
    """Run the replay into ``db_path``; what the exchange and the service said at the end."""
    files = candle_files(work, CANDLES)
    candles = {s: load_candles(Path(p)) for s, p in files.items()}
    steps = schedule(candles)
    cfg, paper_cfg = replay_config(files)
    store = Store.open(db_path)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock.following_trio(steps[0][0][0], mode="feed")
            paper = PaperExchange(db=store, config=paper_cfg, clock_ms=clock.now_ms)
            gate = CandleGate(paper, sum(len(step) for step in steps))
            port = Observed(paper, gate)
            replay = Replay(store, paper, port, cfg, scripted(len(steps)), work)
            gate.on_candle = replay.on_candle
            replay.core = await nursery.start(partial(
                run_core, config=cfg, store=store, handle=None, secrets=None, clock=clock,
                port=port))
            replay.core_ready.set()
            await gate.done.wait()
            await replay.settle()
            last = gate.candle_ts + CANDLE_MS - 1
            for symbol, tf in KEYS:  # exit whatever is still open
                await replay.send(symbol, tf, "exit", None, last)
            await trio.sleep(EXIT_SETTLE_S)
            service = AnalyticsService(db_path=db_path, config=lambda: cfg,
                                       now_ms=clock.now_ms, prices=replay.core.prices)
            summary = await service.summary("all", Filters())
            service.close()
            balances = paper.state()["balances"]
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    return {"summary": summary, "balances": balances, "first_ts": steps[0][0][0],
            "last_ts": last}


@pytest.fixture(scope="session")
def replayed_database(tmp_path_factory) -> Iterator[tuple[Path, dict]]:
    work = tmp_path_factory.mktemp("replay-analytics")
    db_dir = database_dir(work)  # tmpfs when there is one: fsync is not this test's subject
    db = db_dir / "engine.db"
    result = trio.run(replay_into, db, work, clock=trio.testing.MockClock(autojump_threshold=0))
    yield db, result
    if db_dir != work:
        shutil.rmtree(db_dir)


def test_realized_pnl_equals_closed_trades_equals_the_paper_balance_change(replayed_database):
    db, result = replayed_database
    store = Store.open(db)
    try:
        groups = store.query("SELECT status FROM position_groups")
        assert len(groups) > 10 and {g["status"] for g in groups} <= {"closed", "failed"}
        closed = sum((D(r["realized_pnl"]) for r in store.query(
            "SELECT realized_pnl FROM closed_trades")), D(0))
        every = store.query("SELECT metrics FROM trade_analytics WHERE period = 'all' AND"
                            " dimension = 'all'")[0]["metrics"]
        rolled = msgspec.json.decode(every, type=Bucket)
        btc = result["balances"]["BTC"]
        change = D(btc["free"]) + D(btc["locked"]) - START_BTC
        assert rolled.realized == rolled.trade_pnl == closed == change != 0
        shown = result["summary"]["pnl"]["realized_usd"]
        assert shown == for_quote("BTC").usd(closed)  # the API's figure, by the display rule
        assert result["summary"]["win_loss"]["trades"] == len(
            store.query("SELECT 1 FROM closed_trades"))
    finally:
        store.close()


def test_the_equity_curve_has_a_point_every_five_minutes_of_feed_time(replayed_database):
    db, result = replayed_database
    store = Store.open(db)
    try:
        snaps = store.query("SELECT ts, day_boundary, total_equity FROM equity_snapshots"
                            " ORDER BY ts")
    finally:
        store.close()
    times = [s["ts"] for s in snaps]
    assert times[0] == result["first_ts"] - result["first_ts"] % 300_000
    assert all(b - a == 300_000 for a, b in zip(times, times[1:]))
    assert times[-1] >= result["last_ts"] - 300_000
    days = [t for t, s in zip(times, snaps) if s["day_boundary"]]
    assert len(days) >= 3 and all(t % 86_400_000 == 0 for t in days)  # UTC midnights
