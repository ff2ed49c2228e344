"""Exchange connection health (SPEC 9.2) for ``/api/status`` and the engine status banner.

Owns: when the exchange last answered, since when it has been failing, the rate-limit / ban
state, whether the credentials were refused, whether the push stream is up.
Receives: the outcome of every port call (``MonitoredPort`` wraps the port the factory built,
so the gateway, precision refresher, market data and reconciler all report without knowing it)
and stream events / stream failures from the stream actor.
Sends: nothing; readers call ``status()``, ``engine_error()`` and ``snapshot()``.
Fails how: never raises; the wrapped port's exceptions pass through unchanged.

Reachability: an answer of any kind (including a refusal such as ``InvalidOrder`` or
``OrderNotFound``, or a 429) proves the exchange is reachable. Only ``Unavailable`` and
``OutcomeUnknown`` count as failures. After 60 s of failures with no success the engine is in
Error ("exchange unreachable") until a call succeeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from actors.exchange.port import (
    AuthFailed, ExchangeError, ExchangePort, OutcomeUnknown, RateLimited, StreamEvent, Unavailable,
)

UNREACHABLE_AFTER_MS = 60_000  # SPEC 9.2
# waiting_for_prices: nothing failed, but the price stream has not delivered its first event
# yet (a paper exchange before its first price) — no reason to alarm anyone
ConnectionStatus = Literal["connected", "waiting_for_prices", "degraded", "disconnected"]


class ExchangeHealth:
    def __init__(self, clock_ms: Callable[[], int], *, stream_expected: bool = True):
        self._clock_ms = clock_ms
        self.last_success_ms: int | None = None
        self.failing_since_ms: int | None = None  # first failure after the last success
        self.last_error: str | None = None
        self.rate_limited_until_ms: int | None = None
        self.banned_until_ms: int | None = None
        self.auth_error: str | None = None
        self.stream_up = not stream_expected
        self.stream_failed = False  # the stream broke once: down now means degraded
        self.errors: dict[str, int] = {}  # failed calls by exception class (for /metrics)

    # -- reports --------------------------------------------------------------------------

    def success(self) -> None:
        self.last_success_ms = self._clock_ms()
        self.failing_since_ms = None

    def failure(self, error: BaseException) -> None:
        """Record one failed call (any exception the port raised)."""
        now = self._clock_ms()
        self.errors[type(error).__name__] = self.errors.get(type(error).__name__, 0) + 1
        if isinstance(error, RateLimited):  # it answered: reachable, but throttled
            until = now + int(error.retry_after_s * 1000)
            if error.banned:
                self.banned_until_ms = until
            else:
                self.rate_limited_until_ms = until
            self.success()
            return
        if isinstance(error, AuthFailed):
            self.auth_error = str(error)
            self.success()
            return
        if isinstance(error, (Unavailable, OutcomeUnknown)) or not isinstance(error, ExchangeError):
            if self.failing_since_ms is None:
                self.failing_since_ms = now
            self.last_error = f"{type(error).__name__}: {error}"
            return
        self.success()  # a business refusal is an answer

    def credentials_changed(self) -> None:
        """New credentials were applied (or Reconnect): let orders be tried again."""
        self.auth_error = None

    def stream_state(self, up: bool, error: str | None = None) -> None:
        self.stream_up = up
        if not up:
            self.stream_failed = True
        if error is not None:
            self.last_error = error

    # -- readings -------------------------------------------------------------------------

    def unreachable(self) -> bool:
        since = self.failing_since_ms
        return since is not None and self._clock_ms() - since >= UNREACHABLE_AFTER_MS

    def status(self) -> ConnectionStatus:
        if self.unreachable():
            return "disconnected"
        now = self._clock_ms()
        throttled = any(t is not None and t > now
                        for t in (self.rate_limited_until_ms, self.banned_until_ms))
        if self.failing_since_ms is not None or throttled:
            return "degraded"
        if not self.stream_up:
            return "degraded" if self.stream_failed else "waiting_for_prices"
        return "connected"

    def engine_error(self) -> str | None:
        """Why the engine status must be Error because of the exchange, or None."""
        now = self._clock_ms()
        if self.auth_error is not None:
            return "Invalid API credentials"
        if self.banned_until_ms is not None and self.banned_until_ms > now:
            return f"IP banned by the exchange until {self.banned_until_ms}"
        if self.unreachable():
            return "exchange unreachable"
        return None

    def snapshot(self) -> dict[str, Any]:
        now = self._clock_ms()
        limited = self.rate_limited_until_ms is not None and self.rate_limited_until_ms > now
        return {
            "status": self.status(), "error": self.engine_error(),
            "last_success_ms": self.last_success_ms, "failing_since_ms": self.failing_since_ms,
            "last_error": self.last_error, "stream_up": self.stream_up,
            "rate_limited": limited,
            "rate_limited_until_ms": self.rate_limited_until_ms if limited else None,
            "banned_until_ms": self.banned_until_ms,
        }


class MonitoredPort:
    """The port, with every call's outcome reported to an ``ExchangeHealth``.

    Attributes the port does not declare (adapter extras) are passed through unchanged.
    ``observer`` (the metrics, actors/runtime/metrics.py) hears every placement and sees the
    stream's events go by.
    """

    def __init__(self, port: ExchangePort, health: ExchangeHealth, observer: Any = None):
        self.inner = port
        self.health = health
        self.name = port.name
        self.observer = observer

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    async def _watch(self, method: str, *args: Any) -> Any:
        try:
            result = await getattr(self.inner, method)(*args)
        except BaseException as e:
            if isinstance(e, Exception):
                self.health.failure(e)
            raise
        self.health.success()
        return result

    async def load_markets(self):
        return await self._watch("load_markets")

    async def fetch_prices(self, symbols=None):
        return await self._watch("fetch_prices", symbols)

    async def create_order(self, request):
        if self.observer is not None:
            self.observer.order_sent(request)
        return await self._watch("create_order", request)

    async def cancel_order(self, symbol, client_order_id):
        return await self._watch("cancel_order", symbol, client_order_id)

    async def fetch_order(self, symbol, client_order_id):
        return await self._watch("fetch_order", symbol, client_order_id)

    async def fetch_open_orders(self, symbol=None):
        return await self._watch("fetch_open_orders", symbol)

    async def fetch_my_trades(self, symbol, since_ms=None):
        return await self._watch("fetch_my_trades", symbol, since_ms)

    async def fetch_balances(self):
        return await self._watch("fetch_balances")

    def stream(self, symbols: list[str]) -> AsyncIterator[StreamEvent]:
        events = self.inner.stream(symbols)
        return events if self.observer is None else self.observer.watch_stream(events)

    async def aclose(self) -> None:
        await self.inner.aclose()
