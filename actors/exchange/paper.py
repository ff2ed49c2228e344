"""The paper exchange (SPEC 12.6): an in-process simulated Binance spot account.

Owns: the matching-core ``Book`` (balances, every order and trade, last prices) and its
``paper_*`` rows; the stream subscribers.
Receives: the ``ExchangePort`` calls; ``push_price`` (``POST /api/paper/price``, the CSV
feed, the live feed); ``reset`` (``POST /api/paper/reset``); ``state()`` (``GET
/api/paper/state``); with ``price_source`` set, it asks it for the price of a symbol it has
none for before pricing or placing on it.
Sends: ``OrderUpdate`` / ``PriceUpdate`` to every ``stream()`` subscriber, never blocking.
Fails how: refusals are the port's errors with Binance's code and message (SPEC 12.6 table):
-1013/-1111/-1102 ``InvalidOrder``, -1121 ``UnknownSymbol``, -2010 ``InsufficientFunds`` /
``DuplicateOrder`` / ``OrderRejected`` (market closed), -2011/-2013 ``OrderNotFound``. A failed
database write raises (``StorageError`` from the Store): the in-memory book is then ahead of
the database, so the engine must stop (crash-only) and reload the rows on restart.

Every state change is written in ONE transaction (``db.write_now``) before any event is
pushed or the call returns. Prices that moved no order are coalesced: they are written with
the next state change, at most ``PRICE_FLUSH_S`` after the last price write, and on
``aclose`` (a replay at full speed would otherwise spend its time in fsync).
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path

import msgspec
import trio

from actors.exchange.paper_store import PaperDb, load_state, save_outcome, seed_balances
from actors.exchange.paper_stream import PaperSubscription
from actors.exchange.port import (
    Balance, DuplicateOrder, ExchangeError, InsufficientFunds, InvalidOrder, OrderNotFound,
    OrderRejected, OrderRequest, OrderState, OrderUpdate, PriceUpdate, Trade, UnknownSymbol,
)
from engine.config import PaperConfig
from engine.errors import InvalidInput
from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.matching import Book, BookOrder, Fees, Fill, NewOrder, Outcome, Rejection
from engine.types import MarketRules

log = logging.getLogger("engine.order")
PRICE_FLUSH_S = 1.0
STREAM_LIMIT = 10_000
_ERRORS: dict[str, type[ExchangeError]] = {
    "invalid_symbol": UnknownSymbol, "bad_parameter": InvalidOrder, "precision": InvalidOrder,
    "filter": InvalidOrder, "insufficient_balance": InsufficientFunds,
    "duplicate_order": DuplicateOrder, "market_closed": OrderRejected,
    "unknown_order": OrderNotFound, "no_such_order": OrderNotFound,
}


def bundled_markets_text() -> str:
    return (resources.files("actors.exchange") / "markets" / "binance_spot_exchangeinfo.json"
            ).read_text(encoding="utf-8")


def load_markets_file(path: Path | None, *, fetched_at_ms: int) -> dict[str, MarketRules]:
    """Rules from a Binance exchange-info file; ``None`` = the snapshot bundled with us."""
    text = bundled_markets_text() if path is None else path.read_text(encoding="utf-8")
    return rules_from_binance_exchange_info(load_exchange_info(text), fetched_at_ms=fetched_at_ms)


def port_error(rejection: Rejection) -> ExchangeError:
    return _ERRORS[rejection.reason](rejection.message, code=rejection.code)


def order_state(order: BookOrder) -> OrderState:
    return OrderState(
        client_order_id=order.client_order_id, exchange_order_id=str(order.order_id),
        symbol=order.symbol, side=order.side, type=order.type, status=order.status,
        price=order.price, quantity=order.quantity, filled_quantity=order.filled_quantity,
        average_price=order.average_price, created_at_ms=order.created_at_ms,
        updated_at_ms=order.updated_at_ms)


def trade(fill: Fill) -> Trade:
    return Trade(trade_id=str(fill.trade_id), client_order_id=fill.client_order_id,
                 exchange_order_id=str(fill.order_id), symbol=fill.symbol, side=fill.side,
                 price=fill.price, quantity=fill.quantity, fee=fill.fee,
                 fee_asset=fill.fee_asset, is_maker=fill.is_maker, ts_ms=fill.ts_ms)


def text(value: Decimal | None) -> str | None:
    """A decimal for JSON: exact, without exponent or trailing zeros (``0E-8`` -> ``0``)."""
    if value is None:
        return None
    out = format(value.normalize(), "f")
    return "0" if out in ("-0", "") else out


class PaperExchange:
    """``ExchangePort`` implementation; construct at start-up (reads the markets and rows)."""

    name = "paper"

    def __init__(self, *, db: PaperDb, config: PaperConfig, clock_ms: Callable[[], int],
                 markets_path: Path | None = None, stream_limit: int = STREAM_LIMIT):
        self._db = db
        self._config = config
        self._clock_ms = clock_ms
        self._stream_limit = stream_limit
        if markets_path is None and config.markets_file:
            markets_path = Path(config.markets_file)
        self.markets = load_markets_file(markets_path, fetched_at_ms=clock_ms())
        rows = db.write_now(load_state)
        if rows.empty:
            db.write_now(lambda conn: seed_balances(conn, config.start_balances))
            rows = db.write_now(load_state)
        lost = sorted({o.symbol for o in rows.orders if o.status in ("open", "partially_filled")
                       and o.symbol not in self.markets})
        if lost:  # a markets file fetched afresh may lack a symbol we still have orders on
            raise InvalidInput("exchange.paper.markets_file", (
                f"{markets_path or 'the bundled snapshot'} lacks {', '.join(lost)}, which has "
                "resting paper orders: use a markets file listing it"))
        self.book = Book.restore(
            self.markets, fees=Fees(maker_percent=config.maker_fee_percent,
                                    taker_percent=config.taker_fee_percent),
            partial_fill_ratio=config.partial_fill_ratio, balances=rows.balances,
            orders=rows.orders, fills=rows.fills, prices=rows.prices)
        self._subscribers: set[PaperSubscription] = set()
        self._dirty_prices: set[str] = set()
        self._prices_written_at = float("-inf")  # trio time of the last price write
        self._closed = False
        # feed = "live": asked for the price of a symbol that has none yet (the real
        # exchange's public data, actors/market/live_feed.py); answers {symbol: price}
        self.price_source: Callable[[list[str]], Awaitable[dict[str, Decimal]]] | None = None
        self.price_flush_s = PRICE_FLUSH_S  # the live feed writes prices less often

    # --- the port ------------------------------------------------------------------------
    async def load_markets(self) -> dict[str, MarketRules]:
        await trio.lowlevel.checkpoint()
        # the file is the source (SPEC 5.1): every load counts as a fresh fetch
        now = self._clock_ms()
        return {s: msgspec.structs.replace(r, fetched_at_ms=now) for s, r in self.markets.items()}

    async def fetch_prices(self, symbols: list[str] | None = None) -> dict[str, Decimal]:
        await trio.lowlevel.checkpoint()
        if symbols is None:
            return dict(self.book.prices)
        for symbol in symbols:
            self._rules(symbol)
        await self._ensure_prices(symbols)
        return {s: self.book.prices[s] for s in symbols if s in self.book.prices}

    async def create_order(self, request: OrderRequest) -> OrderState:
        await trio.lowlevel.checkpoint()
        if request.position_side is not None:
            raise InvalidOrder("Parameter 'positionSide' sent when not required.", code=-1106)
        await self._ensure_prices([request.symbol])
        new = NewOrder(client_order_id=request.client_order_id, symbol=request.symbol,
                       side=request.side, type=request.type, quantity=request.quantity,
                       price=request.price, time_in_force=request.time_in_force)
        outcome = self._apply(lambda now: self.book.place(new, now))
        return order_state(self.book.orders[outcome.changes[0].order.order_id])

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        await trio.lowlevel.checkpoint()
        self._rules(symbol)
        outcome = self._apply(lambda now: self.book.cancel(symbol, client_order_id, now_ms=now))
        return order_state(outcome.changes[0].order)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState:
        await trio.lowlevel.checkpoint()
        self._rules(symbol)
        try:
            return order_state(self.book.order(symbol, client_order_id))
        except Rejection as exc:
            raise port_error(exc) from None

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        await trio.lowlevel.checkpoint()
        if symbol is not None:
            self._rules(symbol)
        return [order_state(o) for o in self.book.open_orders(symbol)]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Trade]:
        await trio.lowlevel.checkpoint()
        self._rules(symbol)
        return [trade(f) for f in self.book.fills_since(symbol, since_ms)]

    async def fetch_balances(self) -> dict[str, Balance]:
        await trio.lowlevel.checkpoint()
        return {a: Balance(asset=a, free=h.free, locked=h.locked)
                for a, h in sorted(self.book.balances.items())}

    def stream(self, symbols: list[str]) -> PaperSubscription:
        """Order updates of every symbol and prices of ``symbols`` (empty = all), starting with
        a catch-up: the open orders' states, then the last known prices."""
        resting = self.book.open_orders()
        # the catch-up does not count against the backlog limit: with more open orders than
        # the limit, every new subscription would be cut off at once, resubscribe, and again
        sub = PaperSubscription(symbols, limit=self._stream_limit + len(resting),
                                on_close=self._subscribers.discard)
        for order in resting:
            sub.offer_order(OrderUpdate(order=order_state(order)))
        for symbol, price in sorted(self.book.prices.items()):
            sub.offer_price(PriceUpdate(symbol=symbol, price=price,
                                        ts_ms=self.book.price_ts[symbol]))
        if self._closed:
            sub.close()
        else:
            self._subscribers.add(sub)
        return sub

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
        self._flush_prices()
        self._closed = True
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()

    # --- paper-only controls -------------------------------------------------------------
    async def push_price(self, symbol: str, price: Decimal,
                         ts_ms: int | None = None) -> list[OrderUpdate]:
        """Set the current price and match every resting order it reaches (SPEC 12.6)."""
        await trio.lowlevel.checkpoint()
        return self.apply_price(symbol, price, ts_ms)

    def apply_price(self, symbol: str, price: Decimal,
                    ts_ms: int | None = None) -> list[OrderUpdate]:
        """``push_price`` without its checkpoint, for a feed that yields on its own reads (the
        live feed: a checkpoint per price was most of its cost at 2,000 prices a second)."""
        stamp = self._clock_ms() if ts_ms is None else ts_ms
        try:
            outcome = self.book.price_event(symbol, price, stamp)
        except Rejection as exc:
            raise port_error(exc) from None
        self._dirty_prices.add(symbol)
        if outcome.changes or trio.current_time() - self._prices_written_at >= \
                self.price_flush_s:
            self._persist(outcome)
        update = PriceUpdate(symbol=symbol, price=price, ts_ms=stamp)
        for sub in self._subscribers:
            sub.offer_price(update)
        return self._publish(outcome)

    def forget_prices(self, before_ms: int) -> list[str]:
        """Drop the prices stamped before ``before_ms`` (the live feed at start: a price
        restored from the database may be hours old; a fresh one is asked for instead)."""
        old = sorted(s for s, ts in self.book.price_ts.items() if ts < before_ms)
        for symbol in old:
            del self.book.prices[symbol], self.book.price_ts[symbol]
        return old

    async def reset(self, start_balances: Mapping[str, Decimal] | None = None) -> None:
        """Cancel every open order and restore the start balances (history is kept)."""
        await trio.lowlevel.checkpoint()
        balances = self._config.start_balances if start_balances is None else start_balances
        self._apply(lambda now: self.book.reset(balances, now))
        log.info("paper exchange reset", extra={"event": "paper_reset", "exchange": self.name,
                                                "data": {k: str(v) for k, v in balances.items()}})

    def state(self) -> dict:
        """``GET /api/paper/state`` (SPEC 11.6), decimals as strings."""
        book = self.book
        return {
            "balances": {a: {"free": text(h.free), "locked": text(h.locked)}
                         for a, h in sorted(book.balances.items())},
            "prices": {s: text(p) for s, p in sorted(book.prices.items())},
            "orders": [{
                "client_order_id": o.client_order_id, "exchange_order_id": str(o.order_id),
                "symbol": o.symbol, "side": o.side, "type": o.type, "price": text(o.price),
                "quantity": text(o.quantity), "filled_quantity": text(o.filled_quantity),
                "average_price": text(o.average_price), "status": o.status,
                "created_at": o.created_at_ms, "updated_at": o.updated_at_ms,
            } for o in book.orders.values()],
            "trades": [{
                "trade_id": str(f.trade_id), "order_id": str(f.order_id),
                "client_order_id": f.client_order_id, "symbol": f.symbol, "side": f.side,
                "price": text(f.price), "quantity": text(f.quantity), "fee": text(f.fee),
                "fee_asset": f.fee_asset, "is_maker": f.is_maker, "ts": f.ts_ms,
            } for f in book.fills],
        }

    # --- internals -----------------------------------------------------------------------
    async def _ensure_prices(self, symbols: list[str]) -> None:
        """With a ``price_source``, a known symbol without a price gets one before it is used
        (a market order or a marketable limit would otherwise meet "Market is closed")."""
        missing = [s for s in symbols if s in self.markets and s not in self.book.prices]
        if self.price_source is None or not missing:
            return
        for symbol, price in sorted((await self.price_source(missing)).items()):
            if symbol not in self.book.prices:
                await self.push_price(symbol, price)

    def _rules(self, symbol: str) -> MarketRules:
        rules = self.markets.get(symbol)
        if rules is None:
            raise UnknownSymbol("Invalid symbol.", code=-1121)
        return rules

    def _apply(self, step: Callable[[int], Outcome]) -> Outcome:
        """Run one matching step, record it, then publish it."""
        try:
            outcome = step(self._clock_ms())
        except Rejection as exc:
            raise port_error(exc) from None
        self._persist(outcome)
        self._publish(outcome)
        return outcome

    def _persist(self, outcome: Outcome) -> None:
        prices = sorted(self._dirty_prices)
        self._db.write_now(lambda conn: save_outcome(conn, self.book, outcome, prices))
        if prices:
            self._dirty_prices.clear()
            self._prices_written_at = trio.current_time()

    def _flush_prices(self) -> None:
        if self._dirty_prices:
            self._persist(Outcome())

    def _publish(self, outcome: Outcome) -> list[OrderUpdate]:
        updates = [OrderUpdate(order=order_state(c.order),
                               trade=None if c.fill is None else trade(c.fill))
                   for c in outcome.changes]
        for sub in list(self._subscribers):
            for update in updates:
                if not sub.offer_order(update):
                    self._subscribers.discard(sub)
                    log.warning("paper stream subscriber cut off (too far behind)",
                                extra={"event": "paper_stream_overflow",
                                       "exchange": self.name})
                    break
        return updates
