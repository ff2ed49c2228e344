"""Benchmark of the risk actor inside the running engine (not a timed test).

``python -m ops.bench.bench_risk_actor`` starts the engine core on a temporary SQLite file with
the in-process paper exchange (wall clock), opens 1,000 groups through the supervisor (one-leg
ladders; 499 ETHUSDT winners at +5 %, 500 BTCUSDT losers at −6 %, all eligible: wait disabled),
then measures:

- ``evaluate_*_ms``: one full evaluation (fresh prices, 1,000 group views, eligibility, loser
  choice, offset plan). ``repriced``: every symbol's price moved since the previous cycle, the
  groups did not (a live market: the steady state, target ≤ 5 ms); ``unchanged``: nothing
  moved; ``cold``: no view cached (the first cycle after a start). Median and worst of 30 in
  wall time, and the median CPU time of the engine thread (``_cpu``: the same work without
  the other processes of a busy machine).
- ``panel_ms``: ``GET /api/risk``'s payload (a projected plan per losing group).
- ``fill_to_close_ms``: from the price push that fills the last entry of a loser already deep in
  loss (``after_all_dca_filled``, wait disabled: its timer has run out the moment it starts) to
  the first risk close order reaching the exchange (on-fill trigger →
  cycle → record → RiskClose → winner's record → gateway → port). Target ≤ 50 ms. Median and
  worst of 5 probes.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import msgspec
import trio

N_GROUPS = 1_000
REPEATS = 30
PROBES = 5
PROBE_TF = 1000
START_MS = 1_762_776_000_000


def _config():
    from engine.config import GridOverride, PaperConfig, default_config
    from engine.types import Level

    cfg = default_config()
    # the probes' ladder: 90 % at the signal price, 10 % 8 % lower — the second fill completes
    # the ladder (timer starts) when the position is already deep in loss
    probe = GridOverride(dca_levels=(
        Level(gap_percent=D(0), weight_percent=D(90), tp_percent=D(50)),
        Level(gap_percent=D(-8), weight_percent=D(10), tp_percent=D(50))))
    changes = {
        "grid_strategy": {"dca_levels": (Level(gap_percent=D(0), weight_percent=D(100),
                                               tp_percent=D(50)),),
                          "tp_mode": "aggregate", "tp_percent": D(50),
                          "overrides": {f"paper:LTCUSDT:{PROBE_TF + i}": probe
                                        for i in range(PROBES)}},
        "execution_pool": {"max_open_groups": N_GROUPS + PROBES + 10},
        "risk_engine": {"require_full_pyramids": False, "enable_post_full_wait": False,
                        "timer_start_condition": "after_all_dca_filled",
                        # no cycle of its own while the evaluation is timed (on-fill is switched
                        # on by a hot reload for the latency probes)
                        "evaluate_interval_sec": 86_400, "evaluate_on_fill": False},
        "exchange": {"paper": PaperConfig(start_balances={"USDT": D(10_000_000)},
                                          maker_fee_percent=D(0), taker_fee_percent=D(0))},
    }
    for name, values in changes.items():
        cfg = msgspec.structs.replace(cfg, **{name: msgspec.structs.replace(
            getattr(cfg, name), **values)})
    return cfg


def _signal(symbol: str, timeframe: int, price: str):
    from engine.signals import Signal

    key = hashlib.sha256(f"{symbol}{timeframe}".encode()).hexdigest()
    return Signal(
        intent="signal", side="long", symbol=symbol, ccxt_symbol=None, timeframe=timeframe,
        timestamp_ms=START_MS, source="bench", tv_exchange="BINANCE", action="buy",
        market_position="long", market_position_size=D(0), prev_market_position="flat",
        prev_market_position_size=D(0), entry_price=D(price), close_price=D(price),
        order_size=D(400), position_size_type="quote", precision_mode="auto",
        max_slippage_percent=None, stop_loss=None, take_profit=None, trade_id="b",
        alert_name="bench", alert_message="", idempotency_key=key)


class _ProbedPort:
    """The paper exchange, noting when each closing (sell) order reaches it."""

    def __init__(self, inner):
        self.inner = inner
        self.sells: list[float] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def create_order(self, request):
        if request.side == "sell":
            self.sells.append(time.perf_counter())
        return await self.inner.create_order(request)


async def _open(core, inbox, specs) -> None:
    from engine.messages import SignalAccepted

    for symbol, timeframe, price in specs:
        sig = _signal(symbol, timeframe, price)
        _, inbox_id = await inbox.accept(sig, "{}", None, START_MS)
        await core.supervisor.inbox.send(SignalAccepted(inbox_id=inbox_id, received_ms=0,
                                                        source_ip=None, signal=sig))
    while True:  # every signal routed (its group created)
        rows = core.store.query("SELECT COUNT(*) AS n FROM inbox WHERE state IN"
                                " ('accepted', 'processing')")
        if rows[0]["n"] == 0:
            return
        await trio.sleep(0.05)


def _ms(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, max(samples) * 1000


async def _bench(db: Path) -> dict[str, float]:
    from actors.runtime.clock import EngineClock
    from actors.runtime.core import run_core
    from actors.exchange.paper import PaperExchange
    from actors.pool.inbox import Inbox
    from actors.store.writer import Store

    cfg = _config()
    store = Store.open(db)
    out: dict[str, float] = {}
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock("wall")
            paper = PaperExchange(db=store, config=cfg.exchange.paper, clock_ms=clock.now_ms)
            for symbol, price in (("ETHUSDT", "100"), ("BTCUSDT", "50"), ("LTCUSDT", "101")):
                await paper.push_price(symbol, D(price))
            port = _ProbedPort(paper)
            core = await nursery.start(partial(run_core, config=cfg, store=store, handle=None,
                                               secrets=None, clock=clock, port=port))
            inbox = Inbox(store)
            half = N_GROUPS // 2
            specs = [("ETHUSDT", tf, "100") for tf in range(1, half)]
            specs += [("BTCUSDT", tf, "50") for tf in range(1, half + 1)]
            started = time.perf_counter()
            await _open(core, inbox, specs)
            out["setup_s"] = time.perf_counter() - started
            await paper.push_price("ETHUSDT", D(105))
            await paper.push_price("BTCUSDT", D(47))
            await trio.sleep(0.5)
            risk = core.risk
            while len(risk.latest_views()) < N_GROUPS - 1:  # the last entries still filling
                await trio.sleep(0.05)
            for name in ("evaluate_cold", "evaluate_repriced", "evaluate_unchanged"):
                samples, cpu = [], []
                for i in range(REPEATS):
                    if name == "evaluate_cold":
                        risk._views.clear()
                    # every symbol moves between two cycles (``repriced``) or is re-quoted at
                    # the same price: always fresh, so the evaluation fetches nothing
                    step = D(i % 2) / 10 if name == "evaluate_repriced" else D(0)
                    for symbol, price in (("ETHUSDT", 105), ("BTCUSDT", 47), ("LTCUSDT", 101)):
                        await paper.push_price(symbol, D(price) + step)
                    await trio.sleep(0.05)
                    t, c = time.perf_counter(), time.thread_time()
                    decision = await risk.evaluate("interval")
                    samples.append(time.perf_counter() - t)
                    cpu.append(time.thread_time() - c)
                assert type(decision.outcome).__name__ == "OffsetPlan", decision.outcome
                out[f"{name}_median_ms"], out[f"{name}_max_ms"] = _ms(samples)
                out[f"{name}_cpu_median_ms"] = _ms(cpu)[0]
            t = time.perf_counter()
            risk.panel()
            out["panel_ms"] = (time.perf_counter() - t) * 1000

            await paper.push_price("BTCUSDT", D(50))  # no loser left among the 1,000
            risk_on_fill = msgspec.structs.replace(cfg.risk_engine, evaluate_on_fill=True)
            core.supervisor.reconfigure(msgspec.structs.replace(cfg, risk_engine=risk_on_fill))
            latencies = []
            for probe in range(PROBES):
                await paper.push_price("LTCUSDT", D(101))
                await _open(core, inbox, [("LTCUSDT", PROBE_TF + probe, "100")])
                await paper.push_price("LTCUSDT", D(100))  # the first leg fills
                await paper.push_price("LTCUSDT", D("92.5"))  # −7.5 %, the timer not started
                await trio.sleep(0.3)
                port.sells.clear()
                t = time.perf_counter()
                await paper.push_price("LTCUSDT", D("91.9"))  # the last leg fills: eligible
                with trio.move_on_after(10):
                    while not port.sells:
                        await trio.sleep(0.0005)
                if not port.sells:
                    raise RuntimeError(f"no risk close within 10 s: {risk.last_cycle}")
                latencies.append(port.sells[0] - t)
                await trio.sleep(1.0)  # let the action finish before the next probe
            out["fill_to_close_median_ms"], out["fill_to_close_max_ms"] = _ms(latencies)
            out["actions_executed"] = float(len(store.query(
                "SELECT id FROM risk_actions WHERE outcome = 'executed'")))
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    return out


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        return trio.run(_bench, Path(tmp) / "engine.db")


if __name__ == "__main__":
    for metric, value in run().items():
        print(f"{metric:<28} {value:10.3f}")
