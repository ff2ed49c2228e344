"""The engine-side rate limiter shared by every ccxt client instance (SPEC 8.2).

Owns: the request-weight and order-count budgets of one exchange account.
Receives: ``await acquire(weight, orders)`` before every REST call; ``penalise(seconds)`` after a
429/418 so that nobody calls until the exchange's ``Retry-After`` has passed.
Sends: nothing; it only delays callers.
Fails how: never raises for budget reasons; a request bigger than a whole window is refused
with ``ValueError`` (it could never pass).

Exchanges count in *fixed* windows (Binance: per calendar minute / 10 s). A token bucket of
capacity L refilled at L/T can admit 2L inside one fixed window, so the budget here is a
sliding window: a request is admitted only when the requests of the last ``T`` seconds plus
this one stay within ``L``. Every fixed window of length T lies inside some sliding window
that ended at an admission, hence the exchange's counter can never exceed L. Usage is kept in
coarse time slots (1/60 of the window) and a slot is forgotten only once its *end* is older
than the window, which over-counts a little and never under-counts.
"""

import math
from collections import deque

import msgspec
import trio

_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


class WindowLimit(msgspec.Struct, frozen=True, kw_only=True):
    limit: int  # units per window
    window_s: float


class SlidingWindow:
    """Pure budget: admission decisions for a given ``now`` (seconds, any monotonic origin)."""

    def __init__(self, limit: int, window_s: float, *, margin_s: float = 0.0):
        if limit <= 0 or window_s <= 0:
            raise ValueError(f"limit and window must be > 0, got {limit}/{window_s}")
        self.limit = limit
        # the margin absorbs the gap between our send time and the exchange's receive time
        self.window_s = window_s + margin_s
        self._slot_s = self.window_s / 60
        self._slots: deque[list[float]] = deque()  # [slot_start, used]
        self._used = 0.0

    def _expire(self, now: float) -> None:
        while self._slots and self._slots[0][0] + self._slot_s + self.window_s <= now:
            self._used -= self._slots.popleft()[1]

    def delay(self, cost: float, now: float) -> float:
        """Seconds to wait before ``cost`` units fit; 0.0 = admissible now."""
        if cost > self.limit:
            raise ValueError(f"a request of {cost} can never fit a budget of {self.limit}")
        self._expire(now)
        excess = self._used + cost - self.limit
        if excess <= 0:
            return 0.0
        freed = 0.0
        for start, used in self._slots:
            freed += used
            if freed >= excess:
                return max(start + self._slot_s + self.window_s - now, 1e-3)
        raise AssertionError("used units exceed the recorded slots")

    def take(self, cost: float, now: float) -> None:
        self._expire(now)
        slot_start = math.floor(now / self._slot_s) * self._slot_s
        if self._slots and self._slots[-1][0] == slot_start:
            self._slots[-1][1] += cost
        else:
            self._slots.append([slot_start, cost])
        self._used += cost

    @property
    def used(self) -> float:
        return self._used


def limits_from_binance(rate_limits: list[dict]) -> tuple[list[WindowLimit], list[WindowLimit]]:
    """(request-weight limits, order limits) from exchangeInfo ``rateLimits``."""
    weights: list[WindowLimit] = []
    orders: list[WindowLimit] = []
    for entry in rate_limits:
        seconds = _INTERVAL_S.get(entry.get("interval", ""), 0) * int(entry.get("intervalNum", 1))
        if seconds <= 0:
            continue
        item = WindowLimit(limit=int(entry["limit"]), window_s=float(seconds))
        if entry.get("rateLimitType") == "REQUEST_WEIGHT":
            weights.append(item)
        elif entry.get("rateLimitType") == "ORDERS":
            orders.append(item)
    return weights, orders


def limits_from_spacing(rate_limit_ms: float) -> list[WindowLimit]:
    """ccxt's ``rateLimit`` (ms between unit-cost calls) as a one-second window."""
    per_second = max(1, math.floor(1000 / max(rate_limit_ms, 1)))
    return [WindowLimit(limit=per_second, window_s=1.0)]


DEFAULT_ORDER_LIMITS = [WindowLimit(limit=10, window_s=1.0)]


class Budget:
    """All windows of one account; ``conservative`` halves every limit (SPEC 8.2)."""

    def __init__(self, weights: list[WindowLimit], orders: list[WindowLimit], *,
                 conservative: bool = False):
        self.limits = (tuple(weights), tuple(orders), conservative)

        def build(items: list[WindowLimit]) -> list[SlidingWindow]:
            out = []
            for item in items:
                limit = max(1, item.limit // 2) if conservative else item.limit
                out.append(SlidingWindow(limit, item.window_s,
                                         margin_s=min(1.0, item.window_s * 0.1)))
            return out

        self.weights = build(weights)
        self.orders = build(orders)

    def delay(self, weight: float, orders: int, now: float) -> float:
        # a call heavier than a whole window still has to run: it waits for an empty window
        waits = [w.delay(min(weight, w.limit), now) for w in self.weights]
        if orders:
            waits += [o.delay(orders, now) for o in self.orders]
        return max(waits, default=0.0)

    def take(self, weight: float, orders: int, now: float) -> None:
        for w in self.weights:
            w.take(weight, now)
        if orders:
            for o in self.orders:
                o.take(orders, now)

    def inherit(self, old: "Budget", now: float) -> None:
        """Count what ``old`` saw in its windows as used now, so a change of limits can never
        let a burst through (over-counts for one window, never under-counts)."""
        used_w = max((w.used for w in old.weights), default=0.0)
        used_o = max((o.used for o in old.orders), default=0.0)
        for w in self.weights:
            w.take(min(used_w, w.limit), now)
        for o in self.orders:
            o.take(min(used_o, o.limit), now)


class TrioLimiter:
    """The trio shell: callers queue fairly (FIFO lock) and sleep until the budget admits them."""

    def __init__(self, budget: Budget):
        self._budget = budget
        self._lock = trio.Lock()  # trio.Lock is fair: first come, first served
        self._blocked_until = 0.0

    @property
    def budget(self) -> Budget:
        return self._budget

    def replace(self, budget: Budget) -> None:
        """Adopt new limits (after a markets refresh) unless they are the same ones."""
        if budget.limits == self._budget.limits:
            return
        budget.inherit(self._budget, trio.current_time())
        self._budget = budget

    def penalise(self, seconds: float) -> None:
        """No call at all until ``seconds`` from now (429 Retry-After, 418 ban)."""
        self._blocked_until = max(self._blocked_until, trio.current_time() + seconds)

    async def acquire(self, weight: float, orders: int = 0) -> None:
        async with self._lock:
            while True:
                now = trio.current_time()
                wait = max(self._blocked_until - now, self._budget.delay(weight, orders, now))
                if wait <= 0:
                    self._budget.take(weight, orders, now)
                    return
                await trio.sleep(wait)
