"""Benchmark: place + acknowledge one order through the ccxt adapter against the emulator.

``python -m ops.bench.bench_adapter`` starts the loopback Binance emulator in a child process
(``python -m tests.emulator``, its own interpreter like a remote exchange), points the real
``CcxtExchange`` at it and places resting limit orders one after another, each timed from
the ``create_order`` call to its ``OrderState``. The emulator records how long its app spent
on each placement (auth, matching, JSON), so the adapter's own share is the difference per
order: ccxt (signing, request building, parsing), the worker-thread hop, the limiter and the
HTTP transport. A plain ``requests`` round trip to the emulator's ``/api/v3/time`` is measured
as the transport baseline. Last, three callers place concurrently (the pool's three threads)
for the sustained order rate.
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

import requests
import trio

from actors.exchange.ccxt_adapter import CcxtExchange
from actors.exchange.port import OrderRequest
from engine.config import ExchangeConfig
from tests.emulator.server import API_KEY, API_SECRET, EmulatorProcess

ORDERS = 1500
BATCH = 150  # under MAX_NUM_ORDERS (200): reset the book between batches, untimed
CONCURRENT = 180  # one book, under MAX_NUM_ORDERS
BIG_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 10**7},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 10**6}]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _order(i: int) -> OrderRequest:
    return OrderRequest(client_order_id=f"eebench{i:07d}", symbol="BTCUSDT", side="buy",
                        type="limit", quantity=Decimal("0.001"), price=Decimal("50000"))


async def _measure(emu: EmulatorProcess) -> dict[str, float]:
    ex = CcxtExchange(ExchangeConfig(name="binance", testnet=False), api_key=API_KEY,
                      api_secret=API_SECRET, rest_urls=emu.rest_urls, ws_url=emu.ws_url)
    await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
    await ex.load_markets()  # adopts the served limits: the bench measures latency, not budget
    totals: list[float] = []
    service: list[float] = []
    for start in range(0, ORDERS, BATCH):
        await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
        await trio.to_thread.run_sync(emu.price, "BTCUSDT", "60000")
        for i in range(start, min(start + BATCH, ORDERS)):
            t0 = time.perf_counter()
            await ex.create_order(_order(i))
            totals.append((time.perf_counter() - t0) * 1000)
        stats = await trio.to_thread.run_sync(emu.stats)
        service += [ns / 1e6 for ns in stats["service_ns"]]
    overhead = [t - s for t, s in zip(totals, service)]

    await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
    await trio.to_thread.run_sync(emu.price, "BTCUSDT", "60000")
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        async def worker(k: int) -> None:
            for i in range(k, CONCURRENT, 3):
                await ex.create_order(_order(10**6 + i))

        for k in range(3):
            nursery.start_soon(worker, k)
    rate = CONCURRENT / (time.perf_counter() - t0)
    await ex.aclose()
    return {
        "place_ack_p50_ms": round(statistics.median(totals), 3),
        "place_ack_p99_ms": round(_pct(totals, 0.99), 3),
        "emulator_service_p50_ms": round(statistics.median(service), 3),
        "adapter_overhead_p50_ms": round(statistics.median(overhead), 3),
        "adapter_overhead_p99_ms": round(_pct(overhead, 0.99), 3),
        "concurrent3_orders_per_s": round(rate, 1),
    }


def _http_baseline(emu: EmulatorProcess) -> float:
    session = requests.Session()
    times = []
    for _ in range(500):
        t0 = time.perf_counter()
        session.get(f"{emu.base}/api/v3/time").raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    session.close()
    return round(statistics.median(times), 3)


def run() -> dict[str, float]:
    emu = EmulatorProcess().start()
    try:
        figures = trio.run(_measure, emu)
        figures["http_roundtrip_p50_ms"] = _http_baseline(emu)
    finally:
        emu.stop()
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} {value}")
