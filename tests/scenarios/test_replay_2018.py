"""Replay of real market data (January 2018, 5-minute candles of ETH/LTC/ADA/XMR against BTC)
through the running trading side, with a scripted signal sequence, checked after EVERY candle.

The engine core runs exactly as configured for a paper replay (``feed = "csv"``,
``replay_interval_ms = 0``, ``clock = "feed"``): ``run_core`` starts ``run_csv_feed`` itself.
The port it is given is the real paper exchange behind two observers that change nothing:
``Observed`` (the port) records every order request with the price current when it arrived and
every refusal; ``CandleGate`` (what the feed pushes prices into) holds the feed at each candle
boundary while the test lets every actor settle, checks the invariants and sends that candle's
signals. Keys: the four pairs on 5 minutes plus ETHBTC on 15 minutes, with a pool of 3, so
signals also wait in the queue and are promoted.

Invariants after every candle: pool used ≤ max_open_groups and at most one live group (one
side) per key; every order the exchange received passes ``engine.precision.check_order`` at
the price current when it arrived and none was refused with -1013/-1111; per group, the
engine's bought/sold quantities equal the exchange's trades for that group's client ids and
the open quantity (+ dust) equals fills − closes; every open lot of a live, not closing group
has exactly one resting TP for its quantity (leg mode).

``REPLAY_CANDLES`` (environment) sets how many 5-minute candles are replayed: default 2,000
(about seven days, ~15 s, part of ``make test``); ``all`` replays the whole month (5,760
candles, ~40 s on the 2-core box).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.runtime.clock import EngineClock
from actors.runtime.core import run_core
from actors.exchange.paper import PaperExchange
from actors.exchange.paper_feed import load_candles, schedule
from actors.exchange.port import InvalidOrder
from actors.group.projection import decode_state
from actors.pool.inbox import Inbox
from actors.store.writer import Store
from engine.messages import SignalAccepted
from engine.orders import decode_cid, encode_cid
from engine.precision import check_order
from tests.actors.engine_kit import config, paper_config, signal

pytestmark = pytest.mark.slow

CANDLES_DIR = Path(__file__).resolve().parents[1] / "data" / "candles"
FILES = {"ETHBTC": "ETH_BTC_5m.csv", "LTCBTC": "LTC_BTC_5m.csv", "ADABTC": "ADA_BTC_5m.csv",
         "XMRBTC": "XMR_BTC_5m.csv"}
CANDLE_MS = 300_000
KEYS = [("ETHBTC", 5), ("LTCBTC", 5), ("ADABTC", 5), ("XMRBTC", 5), ("ETHBTC", 15)]
POOL = 3
CYCLE = 144  # candles (12 hours): each key's script repeats with this period
# (offset in the cycle, intent, order size in BTC); entries are pyramids when a group lives
SCRIPT = [(0, "signal", "0.01"), (6, "signal", "0.01"), (18, "signal", "0.012"),
          (30, "reduce", "0.003"), (45, "signal", "0.01"), (70, "signal", "0.01"),
          (80, "signal", "0.01"), (100, "exit", None), (120, "signal", "0.02")]
EXITING_KEYS = {0, 2, 4}  # the others skip their exits: TPs and the next cycle close them
SETTLE_S = 0.2  # virtual seconds per candle: the actors' 1 s ticks still run


def replay_candles() -> int | None:
    value = os.environ.get("REPLAY_CANDLES", "2000")
    return None if value == "all" else int(value)


def database_dir(tmp_path: Path) -> Path:
    """The replay commits thousands of times: on tmpfs when there is one, since fsync on this
    machine's disk would dominate the run (durability is the crash tests' subject)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return tmp_path
    return Path(tempfile.mkdtemp(prefix="replay2018-", dir=shm))


def candle_files(directory: Path, limit: int | None) -> dict[str, str]:
    """The real files, or their first ``limit`` candles' time span (same start for all)."""
    if limit is None:
        return {s: str(CANDLES_DIR / name) for s, name in FILES.items()}
    start = min(load_candles(CANDLES_DIR / n)[0].ts_ms for n in FILES.values())
    out = {}
    for symbol, name in FILES.items():
        lines = (CANDLES_DIR / name).read_text().splitlines()
        kept = [lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[0])
                             < start + limit * CANDLE_MS]
        path = directory / name
        path.write_text("\n".join(kept) + "\n")
        out[symbol] = str(path)
    return out


def scripted(n_candles: int) -> dict[int, list[tuple[str, int, str, str | None]]]:
    """candle number → [(symbol, timeframe, intent, size)]."""
    plan: dict[int, list] = {}
    for k, (symbol, tf) in enumerate(KEYS):
        for start in range(1 + 5 * k, n_candles, CYCLE):
            for offset, intent, size in SCRIPT:
                if intent == "exit" and k not in EXITING_KEYS:
                    continue
                # a 15-minute key's signals must fall into later 15-minute candles
                at = start + offset * (tf // 5)
                if at < n_candles:
                    plan.setdefault(at, []).append((symbol, tf, intent, size))
    return plan


@dataclass
class Received:
    cid: str
    symbol: str
    side: str
    type: str
    price: D | None
    qty: D
    current: D | None
    problem: object


class Observed:
    """The paper exchange as the engine's port, recording what reaches it (changes nothing)."""

    name = "paper"

    def __init__(self, paper: PaperExchange, gate: CandleGate):
        self.paper = paper
        self.inner = gate  # what ``run_core`` hands the CSV replay
        self.received: list[Received] = []
        self.refused: list[tuple[str, int | None, str]] = []

    def __getattr__(self, attr: str):
        return getattr(self.paper, attr)

    async def create_order(self, request):
        current = self.paper.book.prices.get(request.symbol)
        rules = self.paper.markets[request.symbol]
        self.received.append(Received(
            cid=request.client_order_id, symbol=request.symbol, side=request.side,
            type=request.type, price=request.price, qty=request.quantity, current=current,
            problem=check_order(rules, side=request.side, type=request.type,
                                price=request.price, qty=request.quantity,
                                current_price=current)))
        try:
            return await self.paper.create_order(request)
        except InvalidOrder as e:
            self.refused.append((request.client_order_id, e.code, str(e)))
            raise

    def stream(self, symbols):
        return self.paper.stream(symbols)


class CandleGate:
    """Where the replay pushes prices: at each new candle it waits for ``on_candle``."""

    def __init__(self, paper: PaperExchange, total_events: int):
        self.paper = paper
        self.total = total_events
        self.pushed = 0
        self.candle_ts: int | None = None
        self.on_candle = None  # async (previous candle ts or None, new candle ts) -> None
        self.done = trio.Event()

    async def fetch_prices(self, symbols=None):
        return await self.paper.fetch_prices(symbols)

    async def push_price(self, symbol, price, ts_ms=None):
        ts = ts_ms - ts_ms % CANDLE_MS
        if ts != self.candle_ts:
            previous, self.candle_ts = self.candle_ts, ts
            await self.on_candle(previous, ts)
        updates = await self.paper.push_price(symbol, price, ts_ms)
        self.pushed += 1
        if self.pushed == self.total:
            self.done.set()
        return updates


class Replay:
    def __init__(self, store: Store, paper: PaperExchange, port: Observed, cfg, plan,
                 tmp_path: Path):
        self.tmp_path = tmp_path
        self.store = store
        self.paper = paper
        self.port = port
        self.cfg = cfg
        self.plan = plan
        self.inbox = Inbox(store)
        self.core = None
        self.core_ready = trio.Event()
        self.first_ts: int | None = None
        self.candles = 0
        self.inbox_ids: list[int] = []
        self.fills_seen = 0
        self.orders_seen = 0
        self.bought: Counter = Counter()
        self.sold: Counter = Counter()
        self.max_used = 0
        self.final: dict[int, tuple] = {}
        self.max_resting = 0

    async def settle(self) -> None:
        await trio.sleep(SETTLE_S)
        await trio.testing.wait_all_tasks_blocked()

    async def on_candle(self, previous: int | None, ts: int) -> None:
        await self.core_ready.wait()
        if previous is not None:
            await self.settle()
            self.check()
            self.candles += 1
        if self.first_ts is None:
            self.first_ts = ts
        number = (ts - self.first_ts) // CANDLE_MS
        sent = False
        for symbol, tf, intent, size in self.plan.get(number, ()):
            await self.send(symbol, tf, intent, size, ts)
            sent = True
        if sent:
            await self.settle()

    async def send(self, symbol: str, tf: int, intent: str, size: str | None, ts: int) -> None:
        price = str(self.paper.book.prices[symbol])  # the previous candle's close
        sig = signal(intent, symbol=symbol, timeframe=tf, ts_ms=ts, entry_price=price,
                     order_size=size, size_type="quote")
        outcome, inbox_id = await self.inbox.accept(sig, "{}", None, ts)
        assert outcome == "accepted"
        self.inbox_ids.append(inbox_id)
        await self.core.supervisor.inbox.send(SignalAccepted(
            inbox_id=inbox_id, received_ms=ts, source_ip=None, signal=sig))

    def dump(self, s) -> Path:
        """Everything about one group, for the failure message: state, journal, orders."""
        path = self.tmp_path / f"group-{s.group_id}.txt"
        prefix = encode_cid(self.core.instance, s.group_id, 0, 0, "e", 0)[:13]
        lines = [repr(s), ""]
        lines += [repr(r) for r in self.store.query(
            "SELECT seq, actor, kind, key, body FROM journal WHERE key = ? OR key LIKE ?"
            " ORDER BY seq", (f"group:{s.group_id}", prefix + "%"))]
        lines += [repr(o) for o in self.paper.book.orders.values()
                  if o.client_order_id.startswith(prefix)]
        lines += [repr(r) for r in self.port.received if r.cid.startswith(prefix)]
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- the invariants ---------------------------------------------------------------------
    def check(self) -> None:
        where = f"after candle {self.candles}"
        instance = self.core.instance
        # no order below the filters (new ones since the last check), none refused
        bad = [r for r in self.port.received[self.orders_seen:] if r.problem is not None]
        assert not bad, (where, bad[:3])
        self.orders_seen = len(self.port.received)
        assert not self.port.refused, (where, self.port.refused[:3])
        # the pool and one side per key
        sup = self.core.supervisor
        used = sup.used()
        self.max_used = max(self.max_used, used)
        assert used <= self.cfg.execution_pool.max_open_groups, (where, used)
        rows = self.store.query("SELECT id, symbol, timeframe, side, status, state"
                                " FROM position_groups ORDER BY id")
        live = [r for r in rows if r["status"] not in ("closed", "failed")]
        per_key = Counter((r["symbol"], r["timeframe"]) for r in live)
        assert max(per_key.values(), default=0) <= 1, (where, per_key)
        assert len(live) <= self.cfg.execution_pool.max_open_groups, (where, live)
        # the exchange's trades per group (new ones only: the list only grows)
        fills = self.paper.book.fills
        for f in fills[self.fills_seen:]:
            parts = decode_cid(f.client_order_id)
            assert parts is not None and parts.instance == instance, f
            (self.bought if f.side == "buy" else self.sold)[parts.group_id] += f.quantity
        self.fills_seen = len(fills)
        # resting TPs by (group, pyramid, leg): remaining quantity
        tps: dict[tuple, list[D]] = {}
        resting = 0
        for o in self.paper.book.open_orders():
            resting += 1
            parts = decode_cid(o.client_order_id)
            assert parts is not None and parts.group_id in {r["id"] for r in live}, \
                (where, "orphan", o.client_order_id)
            if parts.purpose == "t":
                tps.setdefault((parts.group_id, parts.pyramid, parts.leg), []).append(
                    o.quantity - o.filled_quantity)
        self.max_resting = max(self.max_resting, resting)
        for r in rows:
            seen = (r["state"], self.bought[r["id"]], self.sold[r["id"]])
            if r["status"] in ("closed", "failed") and self.final.get(r["id"]) == seen:
                continue  # an ended group that nothing touched since its last check
            self.final[r["id"]] = seen
            s = decode_state(r["state"])
            assert s.status == r["status"], (where, s.group_id)
            filled = sum((leg.filled_qty for leg in s.legs), D(0))
            sold = sum((leg.sold_qty for leg in s.legs), D(0))
            held = sum((leg.open_qty + leg.dust_qty + leg.written_off_qty + leg.base_fee_qty
                        for leg in s.legs), D(0))
            assert filled == self.bought[s.group_id], (where, s.group_id, filled)
            assert sold == self.sold[s.group_id], (where, s.group_id, sold)
            assert held == filled - sold, (where, s.group_id, held, filled, sold)
            if s.status in ("closed", "failed"):
                assert s.open_qty == 0, (where, s.group_id)
                continue
            if s.status == "closing" or s.partial is not None:
                continue
            for leg in s.legs:
                if leg.open_qty > 0 and tps.get(
                        (s.group_id, leg.pyramid, leg.index)) != [leg.open_qty]:
                    raise AssertionError(f"{where}: lot without its TP in group {s.group_id}:"
                                         f" {leg}; details in {self.dump(s)}")
            assert s.config.tp_mode == "leg"


async def test_january_2018_replay_keeps_every_invariant_after_every_candle(
        tmp_path, autojump_clock):
    files = candle_files(tmp_path, replay_candles())
    candles = {s: load_candles(Path(p)) for s, p in files.items()}
    steps = schedule(candles)
    paper_cfg = paper_config(
        feed="csv", csv_files=files, replay_interval_ms=0, clock="feed",
        start_balances={"BTC": D(10)}, maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"),
        partial_fill_ratio=D("0.5"))
    cfg = config(app={"quote_currencies": ("BTC",)}, execution_pool={"max_open_groups": POOL},
                 exchange={"paper": paper_cfg})
    db_dir = database_dir(tmp_path)
    store = Store.open(db_dir / "engine.db")
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock.following_trio(steps[0][0][0], mode="feed")
            paper = PaperExchange(db=store, config=paper_cfg, clock_ms=clock.now_ms)
            gate = CandleGate(paper, sum(len(step) for step in steps))
            port = Observed(paper, gate)
            replay = Replay(store, paper, port, cfg, scripted(len(steps)), tmp_path)
            gate.on_candle = replay.on_candle
            # run_core starts the replay itself (feed = "csv"); the gate holds it at the first
            # candle until the core is known here
            replay.core = await nursery.start(partial(
                run_core, config=cfg, store=store, handle=None, secrets=None, clock=clock,
                port=port))
            replay.core_ready.set()
            await gate.done.wait()
            await replay.settle()
            replay.check()
            replay.candles += 1
            outcomes = Counter(re.sub(r"[0-9]+", "N", r["outcome"] or "-").split(" (")[0]
                               for r in store.query("SELECT outcome FROM inbox"))
            nursery.cancel_scope.cancel()
    finally:
        store.close()
        if db_dir != tmp_path:
            shutil.rmtree(db_dir)
    assert replay.candles == len(steps)
    print(f"replayed {replay.candles} candles; max pool used {replay.max_used}; max resting "
          f"{replay.max_resting}; orders {len(port.received)}; trades {replay.fills_seen}; "
          f"signals {len(replay.inbox_ids)} {dict(outcomes)}")
