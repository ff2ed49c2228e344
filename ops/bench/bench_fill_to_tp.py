"""Benchmark: an entry fill → its take-profit order received by the exchange (target: p99 ≤
20 ms with the user-data stream).

``python -m ops.bench.bench_fill_to_tp`` runs the full daemon on ``exchange.name = "binance"``
against the loopback emulator in its own process (``ops.bench.timed_emulator``). Ladders are
opened below the price on several keys of four symbols (reference prices staggered so that
legs rarely share a price). Then, per symbol, the price is walked down through every distinct
resting entry price, one ``/_emulator/price`` move at a time, ``STEP_S`` apart: each move fills
exactly the entries at that price (the emulator pushes the fills on the user-data stream) and
the engine must place one TP per filled leg. Latency = the emulator's receipt of the TP order −
the start of the price move that filled its leg (one CLOCK_MONOTONIC across the processes).

``BENCH_DATA_DIR`` chooses where the engine's data directory lives (default: the system temp
directory, this machine's disk).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from engine.orders import decode_cid
from ops.bench.daemon import BIG_LIMITS, Daemon, TimedEmulator, pct, webhook_body

PRICES = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000"),
          "LTCUSDT": Decimal("100"), "XRPUSDT": Decimal("0.6")}
GROUPS_PER_SYMBOL = 18  # 18 × (5 entries + 5 TPs) = 180 < MAX_NUM_ORDERS (200)
STEP_S = 0.08


def _reference(symbol: str, k: int) -> str:
    """Staggered 0.13 % apart below the price, so legs of different groups rarely coincide."""
    return str(PRICES[symbol] * (Decimal("0.97") - Decimal("0.0013") * k))


def run() -> dict[str, float]:
    emu = TimedEmulator().start()
    directory = Path(tempfile.mkdtemp(prefix="bench-f2t-",
                                      dir=os.environ.get("BENCH_DATA_DIR")))
    daemon = Daemon(directory, {"execution_pool.max_open_groups": 1000}, emulator=emu)
    try:
        emu.reset(rate_limits=BIG_LIMITS)
        for symbol, price in PRICES.items():
            emu.price(symbol, str(price))
        daemon.start()
        daemon.wait_reconciled()
        client = daemon.connect()
        ts = datetime.now(UTC) - timedelta(minutes=1)
        for k in range(GROUPS_PER_SYMBOL):
            for symbol in PRICES:
                status, answer = client.send(client.request(webhook_body(
                    symbol, k + 1, price=_reference(symbol, k), ts=ts,
                    trade_id=f"{symbol}-{k}")))
                if status != 200 or answer.get("status") != "accepted":
                    raise RuntimeError(f"webhook refused: {status} {answer}")
        client.close()
        expected = 5 * GROUPS_PER_SYMBOL * len(PRICES)
        entries = _wait_entries(emu, daemon, expected)
        # every distinct entry price, highest first, per symbol
        levels = sorted({(o["symbol"], Decimal(o["price"])) for o in entries.values()},
                        key=lambda sp: (sp[0], -sp[1]))
        for symbol, price in levels:
            emu.price(symbol, str(price))
            time.sleep(STEP_S)
        time.sleep(1.0)
        daemon.alive()
        times = emu.times()
        assert daemon.stop() == 0, daemon.tail()
    finally:
        daemon.kill()
        emu.stop()
    # the move that filled each entry: the first one at or below its price, after it rested
    moves: dict[tuple[str, Decimal], int] = {}
    for symbol, price, ns in times["prices"]:
        moves.setdefault((symbol, Decimal(price)), ns)
    latencies, unmatched = [], 0
    for cid, ns in times["orders"].items():
        parts = decode_cid(cid)
        if parts is None or parts.purpose != "t":
            continue
        entry = entries.get((parts.group_id, parts.pyramid, parts.leg))
        if entry is None:
            unmatched += 1
            continue
        start = moves.get((entry["symbol"], Decimal(entry["price"])))
        if start is None or ns < start:
            unmatched += 1
            continue
        latencies.append((ns - start) / 1e6)
    shutil.rmtree(directory, ignore_errors=True)
    return {
        "entries": len(entries), "price_moves": len(levels), "tps": len(latencies),
        "tps_unmatched": unmatched,
        "fill_to_tp_p50_ms": round(statistics.median(latencies), 3),
        "fill_to_tp_p90_ms": round(pct(latencies, 0.90), 3),
        "fill_to_tp_p99_ms": round(pct(latencies, 0.99), 3),
        "fill_to_tp_max_ms": round(max(latencies), 3),
    }


def _wait_entries(emu: TimedEmulator, daemon: Daemon, expected: int,
                  timeout: float = 60) -> dict[tuple[int, int, int], dict]:
    """Every entry order placed: (group, pyramid, leg) → its request parameters."""
    deadline = time.monotonic() + timeout
    while True:
        daemon.alive()
        placed = {}
        for o in emu.orders():
            parts = decode_cid(o.get("newClientOrderId", ""))
            if o["_result"] == "placed" and parts is not None and parts.purpose == "e":
                placed[(parts.group_id, parts.pyramid, parts.leg)] = o
        if len(placed) >= expected:
            time.sleep(0.5)  # let the acknowledgements settle before the fills start
            return placed
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(placed)} of {expected} entries placed")
        time.sleep(0.2)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} {value}")
