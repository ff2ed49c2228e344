"""Benchmark: what the Prometheus instrumentation adds to each webhook, against its floor.

The webhook lane (web/webhook.py) does three things for the metrics: reads ``perf_counter`` when
a request arrives, reads ``handle.last_webhook`` after the answer, and calls
``EngineMetrics.webhook(outcome, started, facts)`` (a labelled counter, the ack histogram and,
for an accepted signal, a timestamp kept for the signal → first order histogram). This measures
that sequence per webhook in a tight loop (``instrumented_us``) and the same loop without it
(``floor_us``: the loop and the stand-in answer alone); the difference is the cost
(``cost_us_per_webhook``, target ≤ 20 µs). ``order_sent_us`` and ``stream_event_us`` are the
per-order and per-stream-event costs of the port observer (not on the webhook path).

``python -m ops.bench metrics`` prints the flat figures; ``python -m ops.bench.bench_metrics``
prints them as JSON.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from types import SimpleNamespace

import trio

from actors.exchange.port import PriceUpdate
from actors.runtime.metrics import EngineMetrics
from engine.orders import encode_cid

N = 200_000
TARGET_US = 20.0


def _metrics() -> EngineMetrics:
    return EngineMetrics(store=None, core=lambda: None, config=lambda: None, secrets={})


def _best_of(fn, repeat: int = 5) -> float:
    """Microseconds per iteration, the fastest of ``repeat`` runs (the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best / N * 1e6


def measure_webhook() -> dict[str, float]:
    metrics = _metrics()
    handle = SimpleNamespace(metrics=metrics, last_webhook={"symbol": "BTCUSDT", "outcome":
                                                            "accepted"})
    body = {"status": "accepted", "id": 1}
    clock = time.perf_counter

    def floor() -> None:
        for _ in range(N):
            body.get("status", "error")

    def instrumented() -> None:
        for _ in range(N):
            started = clock()
            facts = handle.last_webhook
            handle.metrics.webhook(body.get("status", "error"), started, facts)

    floor_us, with_us = _best_of(floor), _best_of(instrumented)
    rejected = dict(body, status="rejected")

    def instrumented_rejected() -> None:
        for _ in range(N):
            started = clock()
            facts = handle.last_webhook
            handle.metrics.webhook(rejected.get("status", "error"), started, facts)

    return {"floor_us": round(floor_us, 3), "instrumented_us": round(with_us, 3),
            "cost_us_per_webhook": round(with_us - floor_us, 3),
            "cost_us_per_rejected_webhook": round(_best_of(instrumented_rejected) - floor_us, 3),
            "target_us": TARGET_US, "meets_target": float(with_us - floor_us <= TARGET_US)}


def measure_port_observer() -> dict[str, float]:
    metrics = _metrics()
    entry = SimpleNamespace(client_order_id=encode_cid("ab12", 7, 0, 0, "e", 0),
                            symbol="BTCUSDT")

    def orders() -> None:
        for _ in range(N):
            metrics.order_sent(entry)

    order_us = _best_of(orders, repeat=3)
    events = [PriceUpdate(symbol="BTCUSDT", price=Decimal(1), ts_ms=0)] * N

    async def consume() -> float:
        async def source():
            for event in events:
                yield event

        started = time.perf_counter()
        async for _ in metrics.watch_stream(source()):
            pass
        watched = time.perf_counter() - started
        started = time.perf_counter()
        async for _ in source():
            pass
        return (watched - (time.perf_counter() - started)) / N * 1e6

    stream_us = trio.run(consume)
    return {"order_sent_us": round(order_us, 3), "stream_event_us": round(stream_us, 3)}


def run() -> dict[str, float]:
    return {**measure_webhook(), **measure_port_observer()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
