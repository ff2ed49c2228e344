"""Benchmark of ladder planning: one group of 5 pyramids × 7 legs on BTCUSDT's real filters.

``python -m ops.bench.bench_ladder`` prints one line per metric; ``run()`` returns them
(microseconds, median of the timed repetitions). Target: planning one 7-leg ladder — legs,
rounding and whole-ladder validation — in <= 50 µs. Also times the webhook parse that precedes it.
"""

import json
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from engine.ladder import GridSettings, PyramidPlan, plan_pyramid, pyramid_notional
from actors.exchange.factory import BUNDLED_MARKETS
from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.signals import parse_webhook
from engine.types import Level

D = Decimal
PYRAMIDS = 5
REPEATS = 200

# BTCUSDT's real filters, read from the Binance exchange info bundled with the paper exchange
BTCUSDT = rules_from_binance_exchange_info(
    load_exchange_info(BUNDLED_MARKETS.read_bytes()), fetched_at_ms=0)["BTCUSDT"]

SEVEN_LEGS = tuple(
    Level(gap_percent=D(g), weight_percent=D(w), tp_percent=D(t))
    for g, w, t in [
        ("0", "10", "1"),
        ("-0.5", "10", "0.5"),
        ("-1", "15", "2"),
        ("-1.5", "15", "1.5"),
        ("-2", "15", "1"),
        ("-3", "15", "1"),
        ("-4", "20", "1.5"),
    ]
)
SETTINGS = GridSettings(max_dca_per_pyramid=7, dca_levels=SEVEN_LEGS)

WEBHOOK = json.dumps(
    {
        "secret": "bench-secret-0123456789",
        "source": "tradingview",
        "timestamp": "2025-11-10T12:00:00Z",
        "tv": {
            "exchange": "BINANCE", "symbol": "BTCUSDT", "timeframe": "15", "action": "buy",
            "market_position": "long", "market_position_size": 2.5,
            "prev_market_position": "flat", "prev_market_position_size": 0,
            "entry_price": 60000.0, "close_price": 60010.0, "order_size": 1000,
        },
        "strategy_info": {"trade_id": "1", "alert_name": "bench", "alert_message": ""},
        "execution_intent": {"type": "signal", "side": "buy", "position_size_type": "quote"},
        "risk": {"max_slippage_percent": 0.2},
    }
).encode()


def _plan_group() -> None:
    for p in range(PYRAMIDS):
        reference = D(60000 - 300 * p)
        notional = pyramid_notional(order_size=D(1000), size_type="quote", reference=reference)
        assert notional is not None
        plan = plan_pyramid(
            SETTINGS,
            pyramid=p,
            side="long",
            reference=reference,
            notional=notional,
            rules=BTCUSDT,
            current_price=reference,
        )
        assert isinstance(plan, PyramidPlan) and len(plan.legs) == 7


def _parse() -> None:
    parse_webhook(
        WEBHOOK, markets={"BTCUSDT": BTCUSDT}, quote_currencies=("USDT",), secret_required=True
    )


def _median_us(fn: Callable[[], None], inner: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter_ns() - start) / inner / 1000)
    return statistics.median(samples)


def run() -> dict[str, float]:
    group_us = _median_us(_plan_group, 5)
    return {
        "ladder_plan_group_5x7_us": round(group_us, 2),
        "ladder_plan_per_ladder_us": round(group_us / PYRAMIDS, 2),
        "webhook_parse_us": round(_median_us(_parse, 20), 2),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} {value}")
