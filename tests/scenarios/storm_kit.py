"""A signal storm against the Binance emulator with its rate limits on (a scaled-down budget).

The engine core runs in this process (real Store, ccxt adapter, Binance streams); the emulator
runs in its own process (``ops.bench.timed_emulator``: its own GIL, receipt times) serving 50
synthetic USDT markets with LTCUSDT's filters. 100 keys (50 symbols × 2 timeframes) each get
an entry and two pyramids — 300 signals within about a second — and every pyramid is a 2-leg
ladder at 100 and 99.5 while the market stands at 100.2, so nothing fills by itself.

The emulator admits 250 new orders per 5 s (Binance admits 100 per 10 s: five times the rate,
so the test takes seconds instead of minutes, in windows still long enough for the limiter's
margin); request weight five times Binance's 6,000 per minute too.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import trio

from actors.runtime.clock import EngineClock
from actors.runtime.core import run_core
from actors.pool.inbox import Inbox
from actors.store.writer import Store
from engine.messages import SignalAccepted
from engine.orders import decode_cid
from engine.types import Level
from ops.bench.bench_scale import symbols, write_markets
from ops.bench.daemon import TimedEmulator
from ops.bench.timed_emulator import INFO_ENV
from tests.actors.engine_kit import config, signal
from tests.actors.runtime_kit import binance_port

WINDOW_S = 5
LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 30000},
    # 600 entry orders need at least 20 s: deeper legs still wait when the first fills arrive,
    # even on a busy machine
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": WINDOW_S, "limit": 150},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000}]
SYMBOLS = symbols()[:50]
TIMEFRAMES = (60, 240)
KEYS = [(s, tf) for s in SYMBOLS for tf in TIMEFRAMES]
PYRAMIDS = 3
ENTRY, MARKET, LEG1 = "100", "100.2", "99.5"
STALE_PERCENT = D(1)  # cancel_dca_beyond_percent: a ladder at 100 is stale from 101


def storm_config():
    ladder = (Level(gap_percent=D(0), weight_percent=D(50), tp_percent=D(1)),
              Level(gap_percent=D("-0.5"), weight_percent=D(50), tp_percent=D(1)))
    return config(execution_pool={"max_open_groups": 100},
                  grid_strategy={"dca_levels": ladder, "cancel_dca_beyond_percent": STALE_PERCENT},
                  exchange={"name": "binance", "testnet": False})


def start_emulator(tmp: Path) -> TimedEmulator:
    os.environ[INFO_ENV] = str(write_markets(tmp))
    try:
        emu = TimedEmulator().start()
    finally:
        os.environ.pop(INFO_ENV, None)
    emu.reset(rate_limits=LIMITS)
    emu.prices([(s, MARKET) for s in SYMBOLS])
    return emu


async def ctl(fn, *args, **kw):
    """A blocking emulator control call, off the trio thread."""
    return await trio.to_thread.run_sync(lambda: fn(*args, **kw))


class Storm:
    def __init__(self, store: Store, core, clock: EngineClock):
        self.store, self.core, self.clock = store, core, clock
        self.inbox = Inbox(store)

    @property
    def line(self):
        return self.core.gateway.line

    async def send(self, intent: str, symbol: str, timeframe: int, ts_ms: int) -> None:
        sig = signal(intent, symbol=symbol, timeframe=timeframe, ts_ms=ts_ms,
                     entry_price=ENTRY, order_size="100")
        outcome, inbox_id = await self.inbox.accept(sig, "{}", "127.0.0.1", self.clock.now_ms())
        assert outcome == "accepted"
        await self.core.supervisor.inbox.send(SignalAccepted(
            inbox_id=inbox_id, received_ms=0, source_ip=None, signal=sig))

    async def storm(self) -> None:
        """300 entry signals within about a second: every key's entry, then its pyramids
        (each in a later candle of its timeframe), one round after the other."""
        now = self.clock.now_ms()
        gap = 1 / (PYRAMIDS * len(KEYS))
        for p in range(PYRAMIDS):
            async with trio.open_nursery() as nursery:
                for symbol, tf in KEYS:
                    nursery.start_soon(self.send, "signal", symbol, tf,
                                       now - (PYRAMIDS - p) * tf * 60_000)
                    await trio.sleep(gap)

    def group_of(self, symbol: str, timeframe: int) -> int:
        return self.store.query("SELECT id FROM position_groups WHERE symbol = ? AND"
                                " timeframe = ?", (symbol, timeframe))[0]["id"]

    def entry_rows(self) -> list[dict]:
        return self.store.query("SELECT * FROM orders WHERE purpose = 'e' ORDER BY id")

    async def until(self, what, timeout: float = 120, every: float = 0.1) -> None:
        """Poll ``what()`` (generous ceiling; the machine may be busy)."""
        with trio.fail_after(timeout):
            while not what():
                await trio.sleep(every)

    def signals_done(self) -> bool:
        return not self.store.query("SELECT 1 FROM inbox WHERE state IN ('accepted',"
                                    " 'processing') LIMIT 1")

    def settled(self) -> bool:
        status = self.line.status()
        pending = self.store.query("SELECT count(*) AS n FROM orders WHERE state IN"
                                   " ('pending', 'unknown')")[0]["n"]
        return status["waiting"] == 0 and status["in_flight"] == 0 and pending == 0


@asynccontextmanager
async def running(db: Path, emu: TimedEmulator, tmp: Path):
    """Store writer + the ccxt adapter to ``emu`` + the engine core; cancelled on exit (like
    a killed process: what was not committed is lost, resting orders stay)."""
    store = Store.open(db)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock()
            port = binance_port(tmp, store, clock, emu)
            core = await nursery.start(partial(run_core, config=storm_config(), store=store,
                                               handle=None, secrets=None, clock=clock,
                                               port=port))
            yield Storm(store, core, clock)
            nursery.cancel_scope.cancel()
    finally:
        store.close()


def placed_counts(emu: TimedEmulator) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in emu.orders():
        if o["_result"] == "placed":
            cid = o.get("newClientOrderId", "")
            out[cid] = out.get(cid, 0) + 1
    return out


def purpose(key: str) -> str | None:
    parts = decode_cid(key.removeprefix("cancel:"))
    return None if parts is None else parts.purpose


def overtaken(history, key: str) -> list[str]:
    """Orders of a lower class that left the line while ``key`` waited in it."""
    _, cls, entered, number, _ = next(h for h in history if h[0] == key)
    return [h[0] for h in history if entered <= h[3] < number and h[1] > cls]


