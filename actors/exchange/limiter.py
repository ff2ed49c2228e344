"""The engine-side rate limiter shared by every ccxt client instance (SPEC 8.2).

Owns: the request-weight and order-count budgets of one exchange account.
Receives: ``await acquire(weight, orders)`` before every REST call and ``sent(...)`` when it
actually leaves (a call that waited for a free client counts from then); ``penalise(seconds)``
after a 429/418 so that nobody calls until the exchange's ``Retry-After`` has passed;
``observe(headers)`` after every response (Binance's ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*``: a count above
ours is adopted); from the gateway's order line ``admit_now`` (take the budget now, keeping a
reserve, or say how long to wait) and ``prepaid`` (the call it then makes does not pay twice).
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
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec
import trio

from engine.order_priority import FIRST_LEG, reserve

_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_UNIT_S = {"S": 1, "M": 60, "H": 3600, "D": 86400}
# Binance: X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S, X-MBX-ORDER-COUNT-1D
_COUNT_HEADER = re.compile(r"x-mbx-(used-weight|order-count)-(\d+)([smhd])$")
_PREPAID: ContextVar[list | None] = ContextVar("prepaid", default=None)


def _keep_for_protective(limit: int) -> int:
    return reserve(FIRST_LEG, limit)


class WindowLimit(msgspec.Struct, frozen=True, kw_only=True):
    limit: int  # units per window
    window_s: float


class SlidingWindow:
    """Pure budget: admission decisions for a given ``now`` (seconds, any monotonic origin)."""

    def __init__(self, limit: int, window_s: float, *, margin_s: float = 0.0):
        if limit <= 0 or window_s <= 0:
            raise ValueError(f"limit and window must be > 0, got {limit}/{window_s}")
        self.limit = limit
        self.nominal_s = window_s  # the exchange's window (its headers name it)
        # the margin absorbs the gap between our send time and the exchange's receive time
        self.window_s = window_s + margin_s
        self._slot_s = self.window_s / 60
        self._slots: deque[list[float]] = deque()  # [slot_start, used]
        self._used = 0.0

    def _expire(self, now: float) -> None:
        while self._slots and self._slots[0][0] + self._slot_s + self.window_s <= now:
            self._used -= self._slots.popleft()[1]

    def delay(self, cost: float, now: float, keep: float = 0.0) -> float:
        """Seconds to wait before ``cost`` units fit with ``keep`` units left unused; 0.0 =
        admissible now."""
        if cost > self.limit:
            raise ValueError(f"a request of {cost} can never fit a budget of {self.limit}")
        self._expire(now)
        excess = self._used + cost - (self.limit - min(keep, self.limit - cost))
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

    def move(self, cost: float, then: float, now: float) -> None:
        """Units taken at ``then`` left only at ``now`` (they waited for a connection): count
        them from ``now``, so the window follows when the exchange receives them."""
        start = math.floor(then / self._slot_s) * self._slot_s
        for slot in self._slots:
            if slot[0] == start:
                moved = min(cost, slot[1])
                slot[1] -= moved
                self._used -= moved
                self.take(moved, now)
                return

    def at_least(self, used: float, now: float) -> None:
        """The exchange counts ``used`` in its current window: never count less than that."""
        self._expire(now)
        if used > self._used:
            self.take(used - self._used, now)

    def used_at(self, now: float) -> float:
        self._expire(now)
        return self._used

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

    def delay(self, weight: float, orders: int, now: float,
              keep: Callable[[int], int] = lambda limit: 0) -> float:
        """``keep(limit)``: units of each window to leave unused (a reserve for others)."""
        # a call heavier than a whole window still has to run: it waits for an empty window
        waits = [w.delay(min(weight, w.limit), now, keep(w.limit)) for w in self.weights]
        if orders:
            waits += [o.delay(orders, now, keep(o.limit)) for o in self.orders]
        return max(waits, default=0.0)

    def observe(self, kind: str, window_s: float, used: float, now: float) -> None:
        """The exchange's own count of one window (``kind`` "weight" or "orders")."""
        for w in self.weights if kind == "weight" else self.orders:
            if w.nominal_s == window_s:
                w.at_least(used, now)

    def usage(self, now: float) -> list[dict]:
        """Every window: its kind, length, limit (after halving) and units used now."""
        return [{"kind": kind, "window_s": w.nominal_s, "limit": w.limit,
                 "used": w.used_at(now)}
                for kind, windows in (("weight", self.weights), ("orders", self.orders))
                for w in windows]

    def take(self, weight: float, orders: int, now: float) -> None:
        for w in self.weights:
            w.take(weight, now)
        if orders:
            for o in self.orders:
                o.take(orders, now)

    def move(self, weight: float, orders: int, then: float, now: float) -> None:
        for w in self.weights:
            w.move(weight, then, now)
        if orders:
            for o in self.orders:
                o.move(orders, then, now)

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

    def usage(self) -> list[dict]:
        """Each window's kind, length, limit and units used now (``Budget.usage``)."""
        return self._budget.usage(trio.current_time())

    def penalise(self, seconds: float) -> None:
        """No call at all until ``seconds`` from now (429 Retry-After, 418 ban)."""
        self._blocked_until = max(self._blocked_until, trio.current_time() + seconds)

    def admit_now(self, weight: float, orders: int, keep: Callable[[int], int]) -> float:
        """Take the budget now if it fits with ``keep(limit)`` units of each window left over
        (0.0), else the seconds to wait. Never waits, so the caller chooses who goes next."""
        now = trio.current_time()
        wait = max(self._blocked_until - now, self._budget.delay(weight, orders, now, keep))
        if wait <= 0:
            self._budget.take(weight, orders, now)
            return 0.0
        return wait

    @contextmanager
    def prepaid(self, weight: float, orders: int, taken_at: float) -> Iterator[None]:
        """Within this block (this task), the first ``acquire`` of at most ``weight`` with
        exactly ``orders`` is already paid for (``admit_now`` took it at ``taken_at``)."""
        token = _PREPAID.set([weight, orders, taken_at])
        try:
            yield
        finally:
            _PREPAID.reset(token)

    def count(self, kind: str, window_s: float, used: float) -> None:
        """The exchange's (or an earlier run's) count for one window: adopted if higher."""
        self._budget.observe(kind, window_s, used, trio.current_time())

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Adopt the exchange's counts from a response's headers when they exceed ours."""
        if not headers:
            return
        for name, value in headers.items():
            m = _COUNT_HEADER.match(name.lower())
            if m is None:
                continue
            try:
                used = float(value)
            except ValueError:
                continue
            kind = "weight" if m.group(1) == "used-weight" else "orders"
            self.count(kind, int(m.group(2)) * _UNIT_S[m.group(3).upper()], used)

    def sent(self, weight: float, orders: int, taken_at: float) -> None:
        """The call paid for at ``taken_at`` leaves now (after waiting for a client)."""
        now = trio.current_time()
        if now > taken_at:
            self._budget.move(weight, orders, taken_at, now)

    async def acquire(self, weight: float, orders: int = 0) -> float:
        """Wait until the budget admits the call and take it; returns when it was taken.
        Every call that did not come through the order line (reads, catch-ups, retries)
        leaves the reserve of each window to the line's protective orders."""
        ticket = _PREPAID.get()
        if ticket is not None and ticket[1] == orders and weight <= ticket[0]:
            ticket[1] = -1  # one call only: a retry pays its own way
            return ticket[2]
        async with self._lock:
            while True:
                now = trio.current_time()
                wait = max(self._blocked_until - now,
                           self._budget.delay(weight, orders, now, _keep_for_protective))
                if wait <= 0:
                    self._budget.take(weight, orders, now)
                    return now
                await trio.sleep(wait)
