"""The ccxt client pool: worker threads, the shared budget and error translation.

Owns: ``size`` synchronous ccxt client instances (one worker thread each at a time, handed
out through a trio memory channel), the shared ``TrioLimiter`` and the market table every
instance must know before a call.
Receives: ``call(method, *args, cost=..., orders=..., mutating=...)`` from the adapter.
Sends: HTTP requests through ccxt.
Fails how: every ccxt exception becomes a port error (``ccxt_errors.translate``), masked and
not chained (the ccxt text is unmasked); a 429/418 also stops every caller for Retry-After.
Every response's rate headers (Binance's used weight and order counts) correct the limiter.
A thread cannot be cancelled: a cancelled caller waits for its call to end (trio's default),
so no answer is ever dropped half-way.
"""

import logging
from decimal import localcontext
from typing import Any, Callable

import ccxt
import trio

from actors.exchange.ccxt_errors import translate
from actors.exchange.ccxt_markets import Venue, ccxt_options
from actors.exchange.limiter import (
    DEFAULT_ORDER_LIMITS,
    Budget,
    TrioLimiter,
    limits_from_binance,
    limits_from_spacing,
)
from actors.exchange.port import RateLimited
from engine.masking import Masker

log = logging.getLogger("engine.order")

# Binance request weights of the calls the port makes (api/v3 docs); other exchanges: 1 unit.
BINANCE_WEIGHTS = {
    "load_markets": 20, "fetch_last_prices": 4, "create_order": 1, "cancel_order": 1,
    "fetch_order": 4, "fetch_open_orders": 6, "fetch_open_orders_all": 80,
    "fetch_my_trades": 20, "fetch_balance": 20, "listen_key": 2,
}


class ExchangeSetupError(Exception):
    """Configuration that cannot work (missing secret, no sandbox): ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


# Binance spot's published rateLimits (exchangeInfo, 2025), used until the first markets load
BINANCE_SPOT_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
]


class _Failed:
    def __init__(self, exc: Exception, status: int | None, headers: dict | None,
                 body: str | None):
        self.exc, self.status, self.headers, self.body = exc, status, headers, body


def _client_class(ccxt_id: str) -> type:
    base = getattr(ccxt, ccxt_id)

    class Recording(base):  # type: ignore[misc, valid-type]
        """Keeps the HTTP status and headers of its last response (Retry-After, 418)."""

        last_status: int | None = None
        last_headers: dict | None = None
        last_body: str | None = None

        def on_rest_response(self, code, reason, url, method, headers, body, rq_h, rq_b):
            self.last_status, self.last_headers = code, dict(headers or {})
            self.last_body = body
            return super().on_rest_response(code, reason, url, method, headers, body, rq_h, rq_b)

    return Recording


def _invoke(client: Any, sync_markets: Callable[[Any], None], method: str, args: tuple,
            kwargs: dict) -> Any:
    """Runs in the client's worker thread."""
    sync_markets(client)
    client.last_status, client.last_headers, client.last_body = None, None, None
    try:
        return getattr(client, method)(*args, **kwargs)
    except ccxt.BaseError as exc:
        return _Failed(exc, client.last_status, client.last_headers, client.last_body)


class ClientPool:
    def __init__(self, name: str, venue: Venue, cfg: Any, *, api_key: str | None,
                 api_secret: str | None, passphrase: str | None,
                 rest_urls: dict[str, str] | None, size: int, timeout_ms: int, masker: Masker):
        self.name, self.venue, self.cfg, self.masker = name, venue, cfg, masker
        cls = _client_class(venue.ccxt_id)
        self.clients = [self._make_client(cls, api_key, api_secret, passphrase, rest_urls,
                                          timeout_ms) for _ in range(size)]
        self._send, self._recv = trio.open_memory_channel[Any](size)
        for c in self.clients:
            self._send.send_nowait(c)
        self._threads = trio.CapacityLimiter(size)
        self.conservative = cfg.rate_limit_mode == "conservative"
        if name == "binance":  # weights are Binance units: its published limits until
            weights, orders = limits_from_binance(BINANCE_SPOT_LIMITS)  # exchangeInfo says
        else:
            weights, orders = limits_from_spacing(self.clients[0].rateLimit), DEFAULT_ORDER_LIMITS
        self.limiter = TrioLimiter(Budget(weights, orders, conservative=self.conservative))
        self.markets: dict | None = None
        self._markets_gen = 0

    def set_markets(self, markets: dict) -> None:
        """Every instance adopts ``markets`` in its own thread before its next call."""
        self.markets = markets
        self._markets_gen += 1

    def _make_client(self, cls: type, key: str | None, secret: str | None, passphrase: str | None,
                     rest_urls: dict[str, str] | None, timeout_ms: int) -> Any:
        client = cls({
            "apiKey": key, "secret": secret, "password": passphrase or None,
            "enableRateLimit": False,  # its limiter is per instance and not thread-safe
            "timeout": timeout_ms,
            "enableLastJsonResponse": True,
            "options": ccxt_options(self.name, self.cfg.market_type),
        })
        client.number = str  # exact decimal text, never floats
        if self.cfg.testnet:
            if not client.urls.get("test"):
                raise ExchangeSetupError("exchange.testnet",
                                         f"ccxt has no sandbox for {self.name}; set testnet = false")
            client.set_sandbox_mode(True)
        if rest_urls:
            client.urls["api"] = {**client.urls["api"], **rest_urls}
        client.markets_gen = -1
        return client

    # -- plumbing ---------------------------------------------------------------------------

    def _sync_markets(self, client: Any) -> None:
        if self.markets is not None and client.markets_gen != self._markets_gen:
            client.set_markets(self.markets)
            client.markets_gen = self._markets_gen

    def weight(self, call: str) -> float:
        """The request weight of one port call (``BINANCE_WEIGHTS`` keys) on this exchange."""
        return BINANCE_WEIGHTS.get(call, 1) if self.name == "binance" else 1

    async def call(self, method: str, *args: Any, cost: str, orders: int = 0,
                    mutating: bool = False, after: Callable[[Any, Any], Any] | None = None,
                    **kwargs: Any) -> Any:
        """One ccxt call: budget, a free client, its thread; ``after(client, result)`` runs
        in the same thread (to read per-instance state such as the last raw response)."""
        weight = self.weight(cost)
        taken_at = await self.limiter.acquire(weight, orders)
        client = await self._recv.receive()
        self.limiter.sent(weight, orders, taken_at)
        try:
            def run() -> Any:
                # The thread inherits the trio task's Decimal context object (contextvars), and
                # ccxt rewrites it in place (HALF_UP, Underflow trap): give ccxt its own copy.
                with localcontext():
                    return _run()

            def _run() -> tuple[Any, dict | None]:
                result = _invoke(client, self._sync_markets, method, args, kwargs)
                if after is not None and not isinstance(result, _Failed):
                    return after(client, result), client.last_headers
                return result, client.last_headers

            result, headers = await trio.to_thread.run_sync(run, limiter=self._threads)
        finally:
            self._send.send_nowait(client)
        self.limiter.observe(headers)
        if isinstance(result, _Failed):
            err = translate(result.exc, exchange_id=self.name, mutating=mutating,
                            status=result.status, headers=result.headers,
                            body=result.body, masker=self.masker)
            if isinstance(err, RateLimited):
                self.limiter.penalise(err.retry_after_s)
            if mutating:
                log.warning("exchange refused %s: %s", method, err,
                            extra={"event": "exchange_error", "exchange": self.name,
                                   "data": {"method": method, "code": err.code,
                                            "error": type(err).__name__}})
            raise err from None  # the ccxt exception text is unmasked: do not chain it
        return result

