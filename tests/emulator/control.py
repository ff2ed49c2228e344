"""Fault injection, Binance-style fixed-window rate counters and the request record.

Pure bookkeeping (time is passed in); the ASGI app consults it on every request. The counters
work as Binance's do: request weight per IP and new orders per account, each in fixed windows
(the served ``rateLimits``), a request counted even when it is refused; every answer carries
``X-MBX-USED-WEIGHT-<interval>`` and an order placement also ``X-MBX-ORDER-COUNT-<interval>``;
past a limit the answer is 429 with code -1003 (weight) or -1015 (orders) and ``Retry-After``
(seconds until the window ends). ``enforce = False`` (``reset {"enforce_limits": false}``)
keeps counting and reporting but refuses nothing.
"""

import math
from dataclasses import dataclass, field

INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}

# Binance spot request weights (api/v3 docs) of the endpoints the emulator serves
WEIGHTS = {
    ("GET", "/api/v3/ping"): 1, ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20, ("GET", "/api/v3/ticker/price"): 4,
    ("GET", "/api/v3/ticker/24hr"): 80,
    ("POST", "/api/v3/order"): 1, ("DELETE", "/api/v3/order"): 1, ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/openOrders"): 6, ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2, ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
}

DEFAULT_MESSAGES = {
    -2010: "Account has insufficient balance for requested action.",
    -1013: "Filter failure: LOT_SIZE",
    -1111: "Precision is over the maximum defined for this asset.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
}


def weight_of(method: str, path: str, params: dict[str, str]) -> int:
    if path == "/api/v3/openOrders" and "symbol" not in params:
        return 80
    if path == "/api/v3/ticker/price" and "symbol" in params:
        return 2
    return WEIGHTS.get((method, path), 1)


@dataclass
class Fault:
    """``kind``: "5xx" (503 before any effect), "5xx_after" (500 after the effect), "timeout"
    (answer held back ``delay_s`` after the effect), "429", "418", a Binance code such as
    "-2010"/"-1013" (refusal before any effect), or "drop_ws" (immediate, not per request)."""

    kind: str
    count: int = 1
    path: str = ""  # substring of the request path; "" = any
    method: str = ""  # "" = any
    msg: str = ""
    delay_s: float = 3.0
    retry_after_s: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.count > 0 and self.path in path
                and (not self.method or self.method.upper() == method))


@dataclass
class FixedWindow:
    limit: int
    seconds: int
    label: str
    window_start: int = -1
    used: int = 0
    peak: int = 0  # the highest count ever reached in one window

    def _roll(self, now_s: float) -> None:
        start = math.floor(now_s / self.seconds) * self.seconds
        if start != self.window_start:
            self.window_start, self.used = start, 0

    def try_add(self, cost: int, now_s: float) -> bool:
        self._roll(now_s)
        if self.used + cost > self.limit:
            return False
        self.add(cost, now_s)
        return True

    def add(self, cost: int, now_s: float) -> None:
        """Count without checking the limit."""
        self._roll(now_s)
        self.used += cost
        self.peak = max(self.peak, self.used)

    def retry_after(self, now_s: float) -> int:
        return max(1, math.ceil(self.window_start + self.seconds - now_s))


@dataclass
class Counters:
    weights: list[FixedWindow] = field(default_factory=list)
    orders: list[FixedWindow] = field(default_factory=list)
    rejected_429: int = 0
    enforce: bool = True

    @classmethod
    def from_rate_limits(cls, rate_limits: list[dict]) -> "Counters":
        out = cls()
        for e in rate_limits:
            seconds = INTERVAL_S[e["interval"]] * int(e.get("intervalNum", 1))
            label = f"{e['intervalNum']}{e['interval'][0]}"
            w = FixedWindow(limit=int(e["limit"]), seconds=seconds, label=label)
            if e["rateLimitType"] == "REQUEST_WEIGHT":
                out.weights.append(w)
            elif e["rateLimitType"] == "ORDERS":
                out.orders.append(w)
        return out

    def admit_weight(self, cost: int, now_s: float) -> FixedWindow | None:
        """The window that refused, or None when admitted (counted even if refused, as
        Binance does)."""
        refused = None
        for w in self.weights:
            if not self.enforce:
                w.add(cost, now_s)
            elif not w.try_add(cost, now_s) and refused is None:
                refused = w
        if refused is not None:
            self.rejected_429 += 1
        return refused

    def admit_order(self, now_s: float) -> FixedWindow | None:
        for w in self.orders:
            if not self.enforce:
                w.add(1, now_s)
            elif not w.try_add(1, now_s):
                self.rejected_429 += 1
                return w
        return None

    def headers(self, orders: bool) -> dict[str, int]:
        """Binance's usage headers: weight always, order counts on order placements."""
        out = {f"x-mbx-used-weight-{w.label.lower()}": w.used for w in self.weights}
        if orders:
            out.update((f"x-mbx-order-count-{w.label.lower()}", w.used) for w in self.orders)
        return out

    def snapshot(self) -> dict:
        return {
            "weights": [{"label": w.label, "limit": w.limit, "used": w.used, "peak": w.peak}
                        for w in self.weights],
            "orders": [{"label": w.label, "limit": w.limit, "used": w.used, "peak": w.peak}
                       for w in self.orders],
            "rejected_429": self.rejected_429,
        }
