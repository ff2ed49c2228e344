"""Benchmark: the paper exchange on live public prices (``exchange.paper.feed = "live"``) —
200 symbols streaming 10 updates/s each with 200 open groups: the engine's CPU (target ≤ 25 %
of one core) and RSS; and the time from a price event at the exchange to the leg fill booked
by the engine (p50 / p99).

``python -m ops.bench.bench_paper_live``:

1. The emulator (``ops.bench.timed_emulator``, its own process) serves ``SYMBOLS`` + 11
   markets with Binance's real filters (``tests/emulator/many_markets.py``); ``engine markets
   fetch`` (in process) downloads them into the engine's data directory.
2. ``engine run`` (paper, ``feed = "live"`` on the emulator's REST and ``/ws`` socket)
   starts; floor 1: its CPU while idle, no group, for ``FLOOR_S``.
3. One webhook per symbol opens a 5-leg ladder at 100 … 98 while every price is 100.5;
   floor 2: the engine's CPU with the 200 groups (1,000 resting legs) and no price moving.
4. A feed thread moves every symbol 10 times a second within 100.2–100.9 (``POST
   /_emulator/prices``, one request of 200 moves every 0.1 s: the emulator pushes one
   ``bookTicker`` frame per move to each subscribed socket). Window A (``WINDOW_S``), prices
   only — the target's scenario: the engine's CPU and RSS (/proc), the emulator's own CPU
   (floor 3: the exchange's share of the machine), the frames written to the engine's socket.
5. Window B (``WINDOW_S``), the same plus one probe every ``PROBE_EVERY_S`` moving one symbol
   to 99.95 or 99.45 (``POST /_emulator/price``, its receipt time noted by the emulator), which
   fills the leg resting at 100 or 99.50 (then its TP is placed, and fills when the price
   comes back): the engine's CPU with those fills, and per probe the time from the move's
   receipt to the paper exchange's trade (``fills.ts``) and to the fill booked by the engine
   (``fills.recorded_at``) — one wall clock: CLOCK_MONOTONIC mapped to CLOCK_REALTIME in this
   process; 1 ms resolution. Floor 4: a bare reader of the same socket streams in its own
   process (``ops/bench/live_floor_reader.py``, the engine's websocket client), its receipt of
   each probe frame − the move's receipt.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import trio

from ops.bench.daemon import (
    BIG_LIMITS, ROOT, Daemon, TimedEmulator, pct, proc_figures, webhook_body,
)
from ops.bench.timed_emulator import INFO_ENV

SYMBOLS = 200
STEP_S = 0.1
WINDOW_S = float(os.environ.get("BENCH_LIVE_WINDOW_S", 30))
FLOOR_S = float(os.environ.get("BENCH_LIVE_FLOOR_S", 8))
SETTLE_S = 5.0
PROBE_EVERY_S = 0.1
LEVELS = ("99.95", "99.45")  # fill the leg at 100, then the one at 99.50


def _wall_offset_ns() -> int:
    """CLOCK_REALTIME − CLOCK_MONOTONIC, read tightly (the smallest bracketing gap)."""
    best = None
    for _ in range(50):
        a = time.monotonic_ns()
        w = time.time_ns()
        b = time.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) // 2)
    assert best is not None
    return best[1]


def _cpu_over(pid: int, seconds: float) -> tuple[float, int]:
    _, before = proc_figures(pid)
    time.sleep(seconds)
    rss, after = proc_figures(pid)
    return 100 * (after - before) / seconds, rss


def _symbols(info: dict) -> list[str]:
    return [s["symbol"] for s in info["symbols"] if s["quoteAsset"] == "USDT"][:SYMBOLS]


class Feed(threading.Thread):
    """Background moves (10/s per symbol) and the fill probes, from this process."""

    def __init__(self, emu: TimedEmulator, symbols: list[str]):
        super().__init__(daemon=True)
        self.emu, self.symbols = emu, symbols
        self.stop = threading.Event()
        self.probing = threading.Event()  # set: one fill probe every PROBE_EVERY_S as well
        self.probes: list[tuple[str, str]] = []
        self.moves = 0

    def run(self) -> None:
        rng = random.Random(7)
        probe_at = next_at = time.monotonic()
        round_of = {s: 0 for s in self.symbols}
        order = list(self.symbols)
        rng.shuffle(order)
        i = 0
        while not self.stop.is_set():
            moves = [[s, f"{100.2 + rng.randrange(70) / 100:.2f}"] for s in self.symbols]
            self.moves += self.emu.prices(moves)
            if not self.probing.is_set():
                probe_at = time.monotonic()
            elif time.monotonic() >= probe_at and i < len(order) * len(LEVELS):
                symbol = order[i % len(order)]
                level = LEVELS[round_of[symbol]]
                round_of[symbol] += 1
                i += 1
                self.emu.price(symbol, level)
                self.probes.append((symbol, level))
                probe_at += PROBE_EVERY_S
            next_at += STEP_S
            time.sleep(max(0.0, next_at - time.monotonic()))


def run() -> dict[str, float]:
    from actors.market.markets_fetch import fetch_markets
    from tests.emulator.many_markets import many_symbols_info

    directory = Path(tempfile.mkdtemp(prefix="bench-live-", dir=os.environ.get("BENCH_DATA_DIR")))
    info = many_symbols_info(SYMBOLS + 11)
    info_file = directory / "exchange_info.json"
    info_file.write_text(json.dumps(info))
    previous = os.environ.get(INFO_ENV)
    os.environ[INFO_ENV] = str(info_file)
    emu = TimedEmulator().start()
    symbols = _symbols(info)
    daemon = None
    try:
        emu.reset(rate_limits=BIG_LIMITS)
        emu.prices([[s, "100.5"] for s in symbols])
        markets = directory / "engine_data" / "markets" / "binance_spot.json"
        trio.run(partial(fetch_markets, "binance", markets, rest_url=emu.base,
                         now_ms=int(time.time() * 1000)))
        daemon = Daemon(directory, {
            "execution_pool.max_open_groups": 1000,
            "exchange.paper.start_balances.USDT": 10**7,
            "exchange.paper.feed": "live",
            "exchange.paper.markets_file": "engine_data/markets/binance_spot.json",
            "exchange.paper.live.rest_url": emu.base, "exchange.paper.live.ws_url": emu.ws_url})
        daemon.start()
        daemon.wait_reconciled()
        idle_cpu, _ = _cpu_over(daemon.proc.pid, FLOOR_S)
        client = daemon.connect()
        ts = datetime.now(UTC) - timedelta(minutes=1)
        for k, symbol in enumerate(symbols):
            status, answer = client.send(client.request(webhook_body(
                symbol, 60, price="100", order_size="1000", ts=ts, trade_id=f"live-{k}")))
            if status != 200 or answer.get("status") != "accepted":
                raise RuntimeError(f"webhook refused: {status} {answer}")
        client.close()
        _wait(daemon, "SELECT count(*) FROM orders WHERE purpose = 'e' AND state = 'open'",
              5 * len(symbols))
        time.sleep(SETTLE_S)  # the symbols' subscriptions, REST catch-ups and chart backfills
        quiet_cpu, _ = _cpu_over(daemon.proc.pid, FLOOR_S)
        emu.clear_times()
        offset = _wall_offset_ns()
        floor = subprocess.Popen(
            [sys.executable, "-m", "ops.bench.live_floor_reader", emu.ws_url,
             str(2 * WINDOW_S + 5), *symbols], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        time.sleep(1.0)  # subscribed before the first move
        feed = Feed(emu, symbols)
        feed.start()
        time.sleep(2.0)  # the first moves' catch-up
        prices_only = _window(daemon, emu, feed)
        feed.probing.set()
        with_fills = _window(daemon, emu, feed)
        feed.stop.set()
        feed.join(5)
        time.sleep(2.0)
        moves = emu.times()["prices"]
        matched, latencies = _latencies(daemon, moves, offset)
        read = json.loads(floor.communicate(timeout=30)[0])
        received = {(s, p): ns for s, p, ns in read["probes"]}
        bare = [(received[(s, p)] - ns) / 1e6 for s, p, ns in moves if (s, p) in received]
        assert daemon.stop() == 0, daemon.tail()
    finally:
        if daemon is not None:
            daemon.kill()
        emu.stop()
        if previous is None:
            os.environ.pop(INFO_ENV, None)
        else:
            os.environ[INFO_ENV] = previous
    shutil.rmtree(directory, ignore_errors=True)
    a, b = prices_only, with_fills
    return {
        "engine_cpu_pct": a["cpu"], "engine_rss_mb": a["rss"], "engine_peak_rss_mb": a["peak"],
        # two sockets subscribed to the same streams: the engine's and the floor reader's
        "frames_per_s_to_engine": a["frames"] / 2,
        "moves_per_s_asked": a["moves"],
        "floor_engine_idle_cpu_pct": idle_cpu, "floor_engine_200_groups_quiet_cpu_pct": quiet_cpu,
        "floor_emulator_cpu_pct": a["emulator_cpu"],
        "with_fills_engine_cpu_pct": b["cpu"], "with_fills_fills_per_s": b["fills"],
        "floor_bare_reader_p50_ms": pct(bare, 0.5), "floor_bare_reader_p99_ms": pct(bare, 0.99),
        "price_to_match_p50_ms": pct(matched, 0.5), "price_to_match_p99_ms": pct(matched, 0.99),
        "price_to_fill_p50_ms": pct(latencies, 0.5), "price_to_fill_p99_ms": pct(latencies, 0.99),
        "price_to_fill_samples": len(latencies), "probes": len(feed.probes),
    }


def _window(daemon: Daemon, emu: TimedEmulator, feed: Feed) -> dict[str, float]:
    """The engine's CPU and RSS, the emulator's CPU, the moves asked, the frames written to
    the /ws sockets and the fills booked, over ``WINDOW_S``."""
    frames0, moves0 = emu.control("public")["frames_sent"], feed.moves
    fills0 = daemon.query("SELECT count(*) FROM fills")[0][0]
    _, cpu0 = proc_figures(daemon.proc.pid)
    _, emu0 = proc_figures(emu._proc.pid)
    started, peak = time.monotonic(), 0
    while time.monotonic() - started < WINDOW_S:
        time.sleep(1.0)
        daemon.alive()
        peak = max(peak, proc_figures(daemon.proc.pid)[0])
    rss, cpu1 = proc_figures(daemon.proc.pid)
    _, emu1 = proc_figures(emu._proc.pid)
    elapsed = time.monotonic() - started
    return {"cpu": 100 * (cpu1 - cpu0) / elapsed, "rss": rss / 2**20, "peak": peak / 2**20,
            "emulator_cpu": 100 * (emu1 - emu0) / elapsed,
            "moves": (feed.moves - moves0) / elapsed,
            "frames": (emu.control("public")["frames_sent"] - frames0) / elapsed,
            "fills": (daemon.query("SELECT count(*) FROM fills")[0][0] - fills0) / elapsed}


def _wait(daemon: Daemon, sql: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while daemon.query(sql)[0][0] < at_least:
        daemon.alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {at_least}: {sql}\n{daemon.tail()}")
        time.sleep(0.2)


def _latencies(daemon: Daemon, moves: list, offset_ns: int) -> tuple[list, list]:
    """Each probe's entry fill: matched by the paper exchange (``fills.ts``, the trade's time)
    and booked by the engine (``fills.recorded_at``), each − the move's receipt."""
    fills = daemon.query(
        "SELECT f.symbol, o.price, f.ts, f.recorded_at FROM fills f JOIN orders o ON"
        " o.client_order_id = f.client_order_id WHERE o.purpose = 'e'")
    booked = {(s, Decimal(p)): (ts, at) for s, p, ts, at in fills}
    matched, recorded = [], []
    for symbol, price, ns in moves:
        leg = Decimal("100") if price == LEVELS[0] else Decimal("99.5")
        found = booked.get((symbol, leg))
        if found is not None:
            matched.append(found[0] - (ns + offset_ns) / 1e6)
            recorded.append(found[1] - (ns + offset_ns) / 1e6)
    return matched, recorded


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<40} {value:>12.4g}")
