"""Benchmark: webhook → first order of its ladder received by the exchange (targets: engine
time p50 ≤ 2 ms, p99 ≤ 10 ms).

``python -m ops.bench.bench_signal_to_order`` runs the full daemon (``engine run``, a temporary
data directory) on ``exchange.name = "binance"`` pointed at the loopback Binance emulator in its
own process (``ops.bench.timed_emulator``, through ``ENGINE_EXCHANGE_REST_URLS`` /
``ENGINE_EXCHANGE_WS_URL``, as a real deployment's ccxt adapter would talk to Binance). Entry
signals for distinct keys (and later pyramids of the same keys) are sent one at a time, 120 ms
apart, each opening a 5-leg ladder that rests below the price. For each signal:

- ``total`` = the emulator's receipt of the first order of that ladder − the moment the
  webhook's first byte was written (one CLOCK_MONOTONIC for both processes);
- ``ack`` = the webhook's 200 answer − the same moment (durable inbox write, SPEC 2.1);
- ``engine`` = ``total`` − the adapter's fixed send cost, measured in this process by calling
  the same ccxt adapter's ``create_order`` against the same emulator (call → receipt: trio →
  worker thread hop, ccxt signing and request building, HTTP send; its p50 is subtracted).

``BENCH_DATA_DIR`` chooses where the engine's data directory lives (default: the system temp
directory, i.e. this machine's disk; ``/dev/shm`` shows the figure without fsync latency).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import trio

from engine.orders import decode_cid
from ops.bench.daemon import BIG_LIMITS, Daemon, TimedEmulator, pct, webhook_body

PRICES = {"BTCUSDT": "60000", "ETHUSDT": "3000", "LTCUSDT": "100", "ADAUSDT": "0.5",
          "XRPUSDT": "0.6", "DOGEUSDT": "0.1", "TRXUSDT": "0.1"}
TIMEFRAMES = (1, 3, 5, 15, 30, 60, 120, 240, 360, 720, 1440)
PYRAMIDS = 3  # per key: 7 × 11 × 3 = 231 signals, under MAX_NUM_ORDERS (200) per symbol
WARMUP = 5
GAP_S = 0.12
ADAPTER_ORDERS = 300


def _data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-s2o-", dir=os.environ.get("BENCH_DATA_DIR")))


def _below(price: str) -> str:
    return str(Decimal(price) * Decimal("0.95"))


def _signals() -> list[tuple[str, int, int]]:
    """(symbol, timeframe, pyramid) in sending order: every key's entry first."""
    return [(s, tf, p) for p in range(PYRAMIDS) for tf in TIMEFRAMES for s in PRICES]


def _adapter_send_cost(emu: TimedEmulator) -> list[float]:
    """ms from ``create_order`` to the emulator's receipt, in this process."""
    from actors.exchange.ccxt_adapter import CcxtExchange
    from actors.exchange.port import OrderRequest
    from engine.config import ExchangeConfig
    from tests.emulator.server import API_KEY, API_SECRET

    async def main() -> list[tuple[str, int]]:
        ex = CcxtExchange(ExchangeConfig(name="binance", testnet=False), api_key=API_KEY,
                          api_secret=API_SECRET, rest_urls=emu.rest_urls, ws_url=emu.ws_url)
        await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
        await trio.to_thread.run_sync(emu.price, "BTCUSDT", PRICES["BTCUSDT"])
        await ex.load_markets()
        sent = []
        for i in range(ADAPTER_ORDERS):
            cid = f"eebenchad{i:06d}"
            t0 = time.monotonic_ns()
            await ex.create_order(OrderRequest(
                client_order_id=cid, symbol="BTCUSDT", side="buy", type="limit",
                quantity=Decimal("0.001"), price=Decimal("50000")))
            sent.append((cid, t0))
            if i % 150 == 149:  # under MAX_NUM_ORDERS: a fresh book, untimed
                await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
                await trio.to_thread.run_sync(emu.price, "BTCUSDT", PRICES["BTCUSDT"])
        await ex.aclose()
        return sent

    sent = trio.run(main)
    received = emu.times()["orders"]
    return [(received[cid] - t0) / 1e6 for cid, t0 in sent if cid in received]


def _stages(daemon: Daemon) -> dict:
    """inbox id -> its receive time; (group, pyramid) -> when its first entry was journaled as
    intended (both wall ms, the engine's clock)."""
    out: dict = dict(daemon.query("SELECT id, received_at FROM inbox"))
    for ts, body in daemon.query("SELECT ts, body FROM journal WHERE kind = 'OrderIntended'"):
        order = json.loads(body)["order"]
        if order["ref"]["purpose"] == "e":
            key = (order["group_id"], order["ref"]["pyramid"])
            out[key] = min(ts, out.get(key, ts))
    return out


def run() -> dict[str, float]:
    emu = TimedEmulator().start()
    directory = _data_dir()
    daemon = Daemon(directory, {"execution_pool.max_open_groups": 1000}, emulator=emu)
    try:
        emu.reset(rate_limits=BIG_LIMITS)
        for symbol, price in PRICES.items():
            emu.price(symbol, price)
        emu.clear_times()
        daemon.start()
        daemon.wait_reconciled()
        client = daemon.connect()
        base = datetime.now(UTC) - timedelta(days=PYRAMIDS + 1)
        sent: list[tuple[str, int, int, int, int, int]] = []  # symbol, tf, pyramid, t0, ack, wall
        for symbol, tf, pyramid in _signals():
            raw = client.request(webhook_body(
                symbol, tf, price=_below(PRICES[symbol]), ts=base + timedelta(days=pyramid),
                trade_id=f"{symbol}-{tf}-{pyramid}"))
            wall, t0 = time.time_ns(), time.monotonic_ns()
            status, answer = client.send(raw)
            ack = time.monotonic_ns()
            if status != 200 or answer.get("status") != "accepted":
                raise RuntimeError(f"webhook refused: {status} {answer}")
            sent.append((symbol, tf, pyramid, t0, ack, wall))
            time.sleep(GAP_S)
        time.sleep(1.0)
        floor = []  # the same idle-then-request pattern on a route that does nothing
        for _ in range(100):
            raw = client.request(b"", method="GET", path="/healthz")
            t0 = time.monotonic_ns()
            client.send(raw)
            floor.append((time.monotonic_ns() - t0) / 1e6)
            time.sleep(GAP_S / 4)
        client.close()
        daemon.alive()
        received = emu.times()["orders"]
        groups = {(s, tf): gid for gid, s, tf in daemon.query(
            "SELECT id, symbol, timeframe FROM position_groups")}
        first: dict[tuple[int, int], int] = {}
        for cid, ns in received.items():
            parts = decode_cid(cid)
            if parts is not None and parts.purpose == "e":
                key = (parts.group_id, parts.pyramid)
                first[key] = min(ns, first.get(key, ns))
        stages = _stages(daemon)
        total, acks, missing = [], [], 0
        to_inbox, to_intent = [], []
        for i, (symbol, tf, pyramid, t0, ack, wall) in enumerate(sent):
            gid = groups.get((symbol, tf), -1)
            at = first.get((gid, pyramid))
            if at is None:
                missing += 1
                continue
            if i >= WARMUP:
                total.append((at - t0) / 1e6)
                acks.append((ack - t0) / 1e6)
                received_ms, intended_ms = stages[i + 1], stages.get((gid, pyramid))
                to_inbox.append(received_ms - wall / 1e6)
                if intended_ms is not None:
                    to_intent.append(intended_ms - received_ms)
        assert daemon.stop() == 0, daemon.tail()
        emu.clear_times()
        adapter = _adapter_send_cost(emu)
    finally:
        daemon.kill()
        emu.stop()
    shutil.rmtree(directory, ignore_errors=True)  # kept when the run failed, for its log
    fixed = statistics.median(adapter)
    engine = [t - fixed for t in total]
    return {
        "signals": len(total), "signals_without_orders": missing,
        "total_p50_ms": round(statistics.median(total), 3),
        "total_p99_ms": round(pct(total, 0.99), 3),
        "webhook_ack_p50_ms": round(statistics.median(acks), 3),
        "healthz_roundtrip_p50_ms": round(statistics.median(floor), 3),
        "webhook_ack_p99_ms": round(pct(acks, 0.99), 3),
        "adapter_send_p50_ms": round(fixed, 3),
        "adapter_send_p99_ms": round(pct(adapter, 0.99), 3),
        "engine_p50_ms": round(statistics.median(engine), 3),
        # stage means from the engine's own millisecond stamps (wall clock)
        "stage_send_to_inbox_mean_ms": round(statistics.mean(to_inbox), 2),
        "stage_inbox_to_order_intended_mean_ms": round(statistics.mean(to_intent), 2),
        "engine_p99_ms": round(pct(engine, 0.99), 3),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} {value}")
