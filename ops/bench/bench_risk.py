"""Benchmark of the Risk Engine cycle and the queue ranking on 1,000 items.

``python -m ops.bench.bench_risk`` prints the figures; ``run()`` returns them (milliseconds, median
and worst of the timed repetitions). Targets: one risk evaluation over 1,000 open groups <= 5 ms.
The data are generated deterministically (no randomness) so runs are comparable.
"""

import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from engine.decimals import HUNDRED
from engine.queue import PRIORITY_NAMES, KeyState, QueueEntry, rank
from engine.risk import RiskGroupView, RiskSettings, evaluate_cycle

D = Decimal
N = 1_000
REPEATS = 50
NOW_MS = 1_750_000_000_000


def _groups(n: int) -> list[RiskGroupView]:
    """A third deep losers (eligible), half winners, the rest small losers; several symbols."""
    out = []
    for i in range(n):
        avg = D(100 + i % 37)
        kind = i % 6
        move = {0: -7, 1: -6, 2: 5, 3: 8, 4: 3, 5: -2}[kind] + D(i % 10) / 10
        price = avg * (HUNDRED + move) / HUNDRED
        qty = D(1 + i % 13) + D(i % 7) / 1000
        usd = (price - avg) * qty
        out.append(
            RiskGroupView(
                id=i + 1,
                symbol=f"S{i % 50}USDT",
                side="long",
                status="active" if i % 4 else "partially_filled",
                created_at_ms=NOW_MS - (i + 1) * 60_000,
                pyramid_count=5,
                max_pyramids=5,
                timer_started_at_ms=NOW_MS - 2 * 3_600_000,
                avg_entry=avg,
                open_qty=qty,
                price=price,
                unrealized_usd=usd,
                unrealized_percent=usd / (avg * qty) * HUNDRED,
                step_size=D("0.001"),
                min_qty=D("0.001"),
                min_notional=D(5),
            )
        )
    return out


def _entries(n: int) -> tuple[list[QueueEntry], dict[str, Decimal], dict]:
    entries = [
        QueueEntry(
            id=i + 1,
            exchange="binance",
            symbol=f"S{i % 200}USDT",
            timeframe=(15, 60, 240)[i % 3],
            side="long" if i % 5 else "short",
            intent="signal",
            payload="{}",
            reference_price=D(100 + i % 41),
            order_size=D(1000),
            size_type="quote",
            signal_timestamp_ms=NOW_MS - i * 1000,
            expected_profit=D(i % 17),
            entry_legs=5,
            reason="pool_full",
            queued_at_ms=NOW_MS - (i % 300) * 1000,
            updated_at_ms=NOW_MS,
            replacement_count=i % 4,
        )
        for i in range(n)
    ]
    prices = {f"S{j}USDT": D(95 + j % 13) for j in range(200)}
    live = {("binance", f"S{j}USDT", 15): KeyState(side="long") for j in range(0, 200, 7)}
    return entries, prices, live


def _time_ms(fn: Callable[[], object]) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples), max(samples)


def run() -> dict[str, float]:
    groups = _groups(N)
    settings = RiskSettings()
    outcome = evaluate_cycle(groups, settings, NOW_MS)
    assert type(outcome).__name__ == "OffsetPlan", outcome  # the benchmark must plan for real
    risk_p50, risk_max = _time_ms(lambda: evaluate_cycle(groups, settings, NOW_MS))

    entries, prices, live = _entries(N)
    priority = list(PRIORITY_NAMES)
    rank_p50, rank_max = _time_ms(
        lambda: rank(entries, prices=prices, live_groups=live, priority=priority)
    )
    return {
        "risk_cycle_1000_groups_p50_ms": round(risk_p50, 3),
        "risk_cycle_1000_groups_max_ms": round(risk_max, 3),
        "queue_rank_1000_entries_p50_ms": round(rank_p50, 3),
        "queue_rank_1000_entries_max_ms": round(rank_max, 3),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:34s} {value:9.3f}")
