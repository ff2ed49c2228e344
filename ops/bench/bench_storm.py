"""Benchmark: a storm at the bar close under Binance's real rate limits, with the order line's
priority and — in the same run — with the first-come order (``exchange.order_priority =
false``) for comparison.

``python -m ops.bench.bench_storm``: ``engine run`` (``exchange.name = "binance"``, pool 100,
the default 5-leg ladder) against the loopback emulator in its own process
(``ops.bench.timed_emulator``) enforcing Binance spot's published limits (100 orders per 10 s,
6,000 request weight per minute). 50 synthetic USDT markets with LTCUSDT's filters at 100.2;
100 keys (50 symbols × 2 timeframes), each an entry and two pyramids in later candles: 300
webhooks sent back to back on one keep-alive connection (about 2 s here), 300 ladders of 5
legs at 100 and below (1,500 orders).
``FILLED_AT_S`` after the first webhook the market comes down to 100 on ``FILLED`` symbols:
every first leg resting there fills (and every later one fills as it arrives), so take-profits
are due while the storm's entries still wait.

Figures, per mode: the time until every webhook was answered; the time until every ladder's
first leg was received by the exchange, next to its floor (300 first legs ÷ the exchange's
order rate: 30 s); the take-profit latency of those fills (the exchange's receipt of the TP −
the later of the price move and the entry's receipt) p50 / p99 / max; 429 answers. A mode ends
when every first leg is out and every fill has its TP (``TIMEOUT_S`` at most).
``BENCH_DATA_DIR`` chooses where the engine's data directory lives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.orders import decode_cid
from ops.bench.bench_scale import symbols, write_markets
from ops.bench.daemon import Daemon, TimedEmulator, pct, webhook_body
from ops.bench.timed_emulator import INFO_ENV

BINANCE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000}]
SYMBOLS = symbols()[:50]
TIMEFRAMES = (60, 240)
PYRAMIDS = 3
FILLED = SYMBOLS[:8]
FILLED_AT_S = 3.0
ENTRY, MARKET = "100", "100.2"
FLOOR_S = PYRAMIDS * len(SYMBOLS) * len(TIMEFRAMES) / (100 / 10)
TIMEOUT_S = 400


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-storm-", dir=os.environ.get("BENCH_DATA_DIR")))
    os.environ[INFO_ENV] = str(write_markets(work))
    emu = TimedEmulator().start()
    try:
        out: dict[str, float] = {"first_legs_floor_s": FLOOR_S}
        for mode, priority in (("priority", True), ("first_come", False)):
            figures = _storm(emu, work / mode, priority)
            out.update({f"{mode}_{k}": v for k, v in figures.items()})
        return out
    finally:
        emu.stop()
        os.environ.pop(INFO_ENV, None)
        shutil.rmtree(work, ignore_errors=True)


def _storm(emu: TimedEmulator, directory: Path, priority: bool) -> dict[str, float]:
    directory.mkdir(parents=True)
    emu.reset(rate_limits=BINANCE_LIMITS)
    emu.prices([(s, MARKET) for s in SYMBOLS])
    daemon = Daemon(directory, {"execution_pool.max_open_groups": 100,
                                "exchange.order_priority": priority}, emulator=emu)
    try:
        daemon.start()
        daemon.wait_reconciled()
        client = daemon.connect()
        bodies = _webhooks()
        emu.clear_times()
        started = time.monotonic_ns()
        for body in bodies:
            status, answer = client.send(client.request(body))
            if status != 200 or answer.get("status") != "accepted":
                raise RuntimeError(f"webhook refused: {status} {answer}")
        acked_s = (time.monotonic_ns() - started) / 1e9
        client.close()
        time.sleep(max(0.0, FILLED_AT_S - acked_s))
        for symbol in FILLED:  # one move each: the emulator notes when each was made
            emu.price(symbol, ENTRY)
        times, entries = _wait(emu, daemon, started)
        stats = emu.stats()
        symbol_of = dict(daemon.query("SELECT id, symbol FROM position_groups"))
        assert daemon.stop() == 0, daemon.tail()
    finally:
        daemon.kill()
    firsts = [ns for key, ns in entries.items() if key[2] == 0]
    latencies = _tp_latencies(times, entries, symbol_of)
    return {
        "webhooks_acked_s": round(acked_s, 3),
        "first_legs_out_s": round((max(firsts) - started) / 1e9, 1),
        "first_legs_out": len(firsts),
        "tp_count": len(latencies),
        "tp_latency_p50_ms": round(pct(latencies, 0.50), 1),
        "tp_latency_p99_ms": round(pct(latencies, 0.99), 1),
        "tp_latency_max_ms": round(max(latencies, default=float("nan")), 1),
        "answers_429": stats["rejected_429"],
        "weight_peak_1m": max(w["peak"] for w in stats["weights"]),
    }


def _webhooks() -> list[bytes]:
    """Every key's entry, then its pyramids, each in a later candle of its timeframe."""
    now = datetime.now(UTC)
    return [webhook_body(symbol, tf, price=ENTRY, ts=now - timedelta(minutes=(PYRAMIDS - p) * tf),
                         trade_id=f"{symbol}-{tf}-{p}")
            for p in range(PYRAMIDS) for symbol in SYMBOLS for tf in TIMEFRAMES]


def _wait(emu: TimedEmulator, daemon: Daemon, started: int
          ) -> tuple[dict, dict[tuple[int, int, int], int]]:
    """Until every first leg is out and every entry filled on ``FILLED`` has its TP."""
    expected = PYRAMIDS * len(SYMBOLS) * len(TIMEFRAMES)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        daemon.alive()
        times = emu.times()
        entries, tps = {}, set()
        for cid, ns in times["orders"].items():
            parts = decode_cid(cid)
            if parts is None or ns < started:
                continue
            if parts.purpose == "e":
                entries[(parts.group_id, parts.pyramid, parts.leg)] = ns
            elif parts.purpose == "t":
                tps.add((parts.group_id, parts.pyramid, parts.leg))
        filled = _filled(daemon)
        firsts = sum(1 for key in entries if key[2] == 0)
        if (firsts >= expected and filled <= tps) or time.monotonic() > deadline:
            return times, entries
        time.sleep(1.0)


def _filled(daemon: Daemon) -> set[tuple[int, int, int]]:
    rows = daemon.query("SELECT group_id, pyramid, leg FROM orders WHERE purpose = 'e'"
                        " AND filled_qty != '0' AND CAST(filled_qty AS REAL) > 0")
    return {tuple(r) for r in rows}


def _tp_latencies(times: dict, entries: dict[tuple[int, int, int], int],
                  symbol_of: dict[int, str]) -> list[float]:
    """Each TP's receipt − when its entry filled: the later of the move to 100 on its symbol
    and the entry's own receipt (an entry sent after the move fills on arrival)."""
    moved = {symbol: ns for symbol, price, ns in times["prices"] if price == ENTRY}
    out = []
    for cid, ns in times["orders"].items():
        parts = decode_cid(cid)
        if parts is None or parts.purpose != "t":
            continue
        entry = entries.get((parts.group_id, parts.pyramid, parts.leg))
        move = moved.get(symbol_of.get(parts.group_id, ""))
        if entry is not None and move is not None:
            out.append((ns - max(entry, move)) / 1e6)
    return out


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<32} {value}")
