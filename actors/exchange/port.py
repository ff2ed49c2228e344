"""The one exchange port: what the engine may ask of any exchange, and the errors it may get.

Owns: nothing (a contract). Implemented by the paper exchange (``paper.py``), the ccxt adapter
(``ccxt_adapter.py``) and, through the adapter, the loopback Binance emulator in tests.
Fails how: every failure is one of the ``ExchangeError`` classes below, chosen by what the caller
must do next (SPEC 9.2) — never a raw ccxt/httpx exception.

Symbols are exchange market ids without separators (``BTCUSDT``). Quantities and prices are
Decimal, already rounded by ``engine/precision.py``; an implementation never re-rounds them.
"""

from decimal import Decimal
from typing import AsyncIterator, Literal, Protocol

import msgspec

from engine.types import MarketRules

OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["GTC", "IOC"]
OrderStatus = Literal["open", "partially_filled", "filled", "canceled", "rejected", "expired"]


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None  # required for limit orders
    time_in_force: TimeInForce = "GTC"
    reduce_only: bool = False
    position_side: Literal["long", "short"] | None = None  # futures hedge mode only


class OrderState(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange's view of one order."""

    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    created_at_ms: int
    updated_at_ms: int


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One execution. ``trade_id`` is unique per exchange: fills are de-duplicated by it."""

    trade_id: str
    client_order_id: str
    exchange_order_id: str
    symbol: str
    side: OrderSide
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    free: Decimal
    locked: Decimal


class PriceUpdate(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    price: Decimal
    ts_ms: int


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A pushed change of one order, with the trade that caused it (if any)."""

    order: OrderState
    trade: Trade | None = None


StreamEvent = PriceUpdate | OrderUpdate


# -- error taxonomy: classified by what the caller must do (SPEC 9.2) -----------------------


class ExchangeError(Exception):
    """Base class. ``code`` is the exchange's own code when it gave one (Binance: -2010, ...)."""

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.code = code


class OrderRejected(ExchangeError):
    """The exchange refused this order for good; resending the same order cannot succeed."""


class InvalidOrder(OrderRejected):
    """Filter / precision failure (Binance -1013, -1111): refresh precision, do not retry."""


class InsufficientFunds(OrderRejected):
    """Not enough free balance (Binance -2010 insufficient balance)."""


class DuplicateOrder(ExchangeError):
    """The client order id is already in use: the order exists — fetch and adopt it."""


class OrderNotFound(ExchangeError):
    """Unknown order on cancel or query (Binance -2011, -2013)."""


class UnknownSymbol(OrderRejected):
    """No such market (Binance -1121)."""


class OutcomeUnknown(ExchangeError):
    """Timeout / network failure after the request may have reached the exchange.

    The caller must resolve it by client order id (``fetch_order``) before any resend, and a
    resend reuses the same client order id.
    """


class Unavailable(ExchangeError):
    """The exchange could not be reached or answered 5xx/maintenance; nothing happened."""


class RateLimited(ExchangeError):
    """429 / -1003 / -1015 (or 418 with ``banned=True``): wait ``retry_after_s`` first."""

    def __init__(self, message: str, *, code: int | None = None, retry_after_s: float = 10.0,
                 banned: bool = False):
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
        self.banned = banned


class AuthFailed(ExchangeError):
    """Credentials rejected or missing permission: stop sending orders (engine status Error)."""


class ExchangePort(Protocol):
    """What every exchange implementation offers. All methods may raise ``ExchangeError``."""

    name: str

    async def load_markets(self) -> dict[str, MarketRules]:
        """All markets' rules in one bulk call (SPEC 5.1), keyed by symbol."""

    async def fetch_prices(self, symbols: list[str] | None = None) -> dict[str, Decimal]:
        """Last prices; ``None`` = every symbol the exchange quotes."""

    async def create_order(self, request: OrderRequest) -> OrderState:
        """Place one order carrying ``request.client_order_id``."""

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel; raises ``OrderNotFound`` when unknown or already finished."""

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Query by client order id; raises ``OrderNotFound`` when the exchange never saw it."""

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        ...

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Trade]:
        """Own trades of ``symbol`` from ``since_ms`` (inclusive), oldest first."""

    async def fetch_balances(self) -> dict[str, Balance]:
        ...

    def stream(self, symbols: list[str]) -> AsyncIterator[StreamEvent]:
        """Order updates and prices as they happen, for as long as the caller iterates.

        Implementations reconnect by themselves and, after every (re)connect, first yield what a
        REST catch-up found (open orders' states and trades since the last one seen), so that a
        consumer de-duplicating by trade id misses nothing.
        """

    async def aclose(self) -> None:
        ...
