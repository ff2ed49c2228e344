"""The sliding-window budget: no fixed window of the exchange ever sees more than the limit."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.exchange.limiter import Budget, SlidingWindow, WindowLimit, limits_from_binance


@settings(max_examples=200, deadline=None, derandomize=True)
@given(limit=st.integers(1, 20), window=st.sampled_from([1.0, 10.0, 60.0]),
       gaps=st.lists(st.floats(0, 3), min_size=1, max_size=120),
       costs=st.lists(st.integers(1, 5), min_size=120, max_size=120),
       offset=st.floats(0, 1))
def test_no_fixed_window_exceeds_the_limit(limit, window, gaps, costs, offset):
    bucket = SlidingWindow(limit, window)
    now, admitted = 0.0, []
    for gap, cost in zip(gaps, costs):
        cost = min(cost, limit)
        now += gap
        wait = bucket.delay(cost, now)
        now += wait  # the caller sleeps exactly as told
        assert bucket.delay(cost, now) == 0.0
        bucket.take(cost, now)
        admitted.append((now, cost))
    # every exchange-side window [k*T + offset, (k+1)*T + offset) stays within the limit
    counts: dict[int, int] = {}
    for t, cost in admitted:
        k = math.floor((t - offset * window) / window)
        counts[k] = counts.get(k, 0) + cost
    assert max(counts.values()) <= limit


def test_binance_rate_limits_and_conservative_halving():
    weights, orders = limits_from_binance([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ])
    assert weights == [WindowLimit(limit=6000, window_s=60.0)]
    assert orders == [WindowLimit(limit=100, window_s=10.0)]
    budget = Budget(weights, orders, conservative=True)
    assert budget.weights[0].limit == 3000 and budget.orders[0].limit == 50
    for i in range(50):
        assert budget.delay(1, 1, now=0.0) == 0.0
        budget.take(1, 1, now=0.0)
    assert budget.delay(1, 1, now=0.0) > 10.0  # the 51st order waits for the window to pass
    assert budget.delay(1, 0, now=0.0) == 0.0  # plain requests are not order-limited


def test_new_limits_inherit_recent_usage():
    old = Budget([WindowLimit(limit=10, window_s=1.0)], [])
    for _ in range(10):
        old.take(1, 0, now=5.0)
    new = Budget([WindowLimit(limit=20, window_s=1.0)], [])
    new.inherit(old, now=5.0)
    assert new.weights[0].used == 10
