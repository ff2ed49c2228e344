"""Pure matching core of a simulated Binance spot exchange (SPEC 12.6).

Shared by the paper exchange (``actors/exchange/paper.py``) and the loopback Binance emulator
(``tests/emulator``). No I/O, no clock: every call that changes the state takes the time.

API
---
``Book(markets, *, fees=Fees(), partial_fill_ratio=Decimal(1), balances={})``
    ``place(NewOrder, now_ms) -> Outcome``              raises ``Rejection``
    ``cancel(symbol, client_order_id=None, *, order_id=None, now_ms) -> Outcome``   (-2011)
    ``price_event(symbol, price, ts_ms) -> Outcome``    (-1121 for an unknown symbol)
    ``reset(balances, now_ms) -> Outcome``              cancels every open order, sets balances
    ``order(symbol, client_order_id=None, *, order_id=None) -> BookOrder``          (-2013)
    ``open_orders(symbol=None) -> list[BookOrder]``     oldest first
    ``fills_since(symbol, since_ms=None) -> list[Fill]`` oldest first, ``ts_ms >= since_ms``
    ``Book.restore(markets, *, fees, partial_fill_ratio, balances, orders, fills, prices)``
    Read-only state: ``markets``, ``balances: dict[str, Holding]``, ``orders: dict[int,
    BookOrder]`` (every order seen, by id), ``fills: list[Fill]``, ``prices: dict[str,
    Decimal]``, ``price_ts: dict[str, int]``, ``next_order_id``, ``next_trade_id``.
``candle_prices(open, high, low, close)`` -> the four price events of one candle.

A state-changing call either raises ``Rejection`` having changed nothing, or applies the whole
change and returns an ``Outcome``: the changed orders, each with the fill that changed it
(one ``Change`` per fill, in execution order), and the assets whose balance moved.

Rules
-----
* Ids are increasing integers from 1 (orders and trades separately), never reused.
* Checks, in order: -1121 symbol, -1102 missing limit price, -1111 decimals, -2010 duplicate
  client id (among the symbol's open orders), -2010 market order without a price, -1013
  filters (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, PERCENT_PRICE_BY_SIDE, NOTIONAL,
  MAX_NUM_ORDERS, as Binance computes them: ``engine/matching_filters.py``), -2010
  insufficient balance.
* MARKET fills completely at the current price (taker). A LIMIT marketable at placement (buy
  price >= current, sell price <= current) fills completely at the current price (taker); a
  non-marketable IOC expires; otherwise it rests and each price event reaching it (buy: price
  <= limit, sell: price >= limit) fills ``round_step(quantity x partial_fill_ratio)`` (at
  least one step, at most the remainder) at the order's own price (maker). The reached
  orders fill oldest first; an index of each symbol's resting buys and sells by price finds
  them without looking at the others.
* Fees are ``maker/taker_percent`` of the notional, charged in the quote asset.
* Locks: a resting sell locks its base quantity. A resting buy locks ``price x qty x (1 +
  max(maker, taker)/100)`` of quote, so the fee of every later fill is already covered; each
  fill releases its share and the last fill (or the cancel) releases the rest. An immediate
  fill locks nothing: its cost plus fee leaves the free balance at once. The balance check
  asks for the same amount a lock would take (market buys: current price x qty x (1+taker)).
"""

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping
from decimal import Decimal
from operator import itemgetter
from typing import Literal

import msgspec

from engine.decimals import HUNDRED, ONE, ZERO, round_down
from engine.errors import InvalidInput
from engine.matching_filters import filter_failure
from engine.types import MarketRules

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
Status = Literal["open", "partially_filled", "filled", "canceled", "expired"]
DEFAULT_PRECISION = 8  # Binance spot assets carry 8 decimals
MSG_INSUFFICIENT = "Account has insufficient balance for requested action."
MSG_DUPLICATE = "Duplicate order sent."
MSG_CLOSED = "Market is closed."


class Rejection(Exception):
    """A refusal with Binance's code and message; ``reason`` says which one without parsing.

    reason: invalid_symbol (-1121), bad_parameter (-1102), precision (-1111), filter (-1013,
    ``filter`` names it), insufficient_balance / duplicate_order / market_closed (-2010),
    unknown_order (-2011, cancel), no_such_order (-2013, query).
    """

    def __init__(self, code: int, message: str, reason: str, filter: str | None = None):
        super().__init__(f"{code} {message}")
        self.code, self.message, self.reason, self.filter = code, message, reason, filter


def _filter_failure(name: str) -> Rejection:
    return Rejection(-1013, f"Filter failure: {name}", "filter", name)


class Fees(msgspec.Struct, frozen=True, kw_only=True):
    maker_percent: Decimal = Decimal("0.1")
    taker_percent: Decimal = Decimal("0.1")


class NewOrder(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None  # limit orders only
    time_in_force: Literal["GTC", "IOC"] = "GTC"


class BookOrder(msgspec.Struct, frozen=True, kw_only=True):
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: Literal["GTC", "IOC"]
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    cumulative_quote: Decimal  # sum of price x qty over its fills
    status: Status
    locked: Decimal  # still locked for it: quote for a buy, base for a sell
    created_at_ms: int
    updated_at_ms: int

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "partially_filled")

    @property
    def average_price(self) -> Decimal | None:
        return self.cumulative_quote / self.filled_quantity if self.filled_quantity else None


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts_ms: int


class Holding(msgspec.Struct, frozen=True, kw_only=True):
    free: Decimal
    locked: Decimal


class Change(msgspec.Struct, frozen=True, kw_only=True):
    order: BookOrder
    fill: Fill | None = None


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    changes: tuple[Change, ...] = ()
    assets: tuple[str, ...] = ()  # balances that moved, sorted


def candle_prices(open: Decimal, high: Decimal, low: Decimal,
                  close: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Open, then low then high when close >= open (else high then low), then close."""
    return (open, low, high, close) if close >= open else (open, high, low, close)


def _decimals(x: Decimal) -> int:
    exponent = x.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 10**6  # NaN/Inf: too precise


class Book:
    """The whole exchange state of one account. See the module docstring for the API."""

    def __init__(self, markets: Mapping[str, MarketRules], *, fees: Fees = Fees(),
                 partial_fill_ratio: Decimal = ONE, balances: Mapping[str, Decimal] = {}):
        if not ZERO < partial_fill_ratio <= ONE:
            raise InvalidInput("partial_fill_ratio", f"must be in (0, 1], got {partial_fill_ratio}")
        if fees.maker_percent < 0 or fees.taker_percent < 0:
            raise InvalidInput("fees", f"must be >= 0, got {fees}")
        self.markets = dict(markets)
        self.fees = fees
        self.partial_fill_ratio = partial_fill_ratio
        self.balances: dict[str, Holding] = {}
        for asset, amount in balances.items():
            self.balances[asset] = Holding(free=_amount(amount, asset), locked=ZERO)
        self.orders: dict[int, BookOrder] = {}
        self.fills: list[Fill] = []
        self.prices: dict[str, Decimal] = {}
        self.price_ts: dict[str, int] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self._open: dict[str, dict[int, None]] = {}  # symbol -> open order ids, oldest first
        self._by_cid: dict[tuple[str, str], int] = {}  # latest order with that client id
        # symbol -> (buys, sells), each ``(price, order_id)`` ascending: a price event finds
        # the orders it reaches by bisection instead of scanning every open order
        self._resting: dict[str, tuple[list[tuple[Decimal, int]],
                                       list[tuple[Decimal, int]]]] = {}
        self._lock_rate = max(fees.maker_percent, fees.taker_percent) / HUNDRED

    @classmethod
    def restore(cls, markets: Mapping[str, MarketRules], *, fees: Fees,
                partial_fill_ratio: Decimal, balances: Mapping[str, Holding],
                orders: Iterable[BookOrder], fills: Iterable[Fill],
                prices: Mapping[str, tuple[Decimal, int]]) -> "Book":
        """A book holding persisted state exactly as it was (ids continue after the largest)."""
        book = cls(markets, fees=fees, partial_fill_ratio=partial_fill_ratio)
        book.balances = dict(balances)
        for order in sorted(orders, key=lambda o: o.order_id):
            book._store(order)
        book.fills = sorted(fills, key=lambda f: f.trade_id)
        book.prices = {s: p for s, (p, _) in prices.items()}
        book.price_ts = {s: ts for s, (_, ts) in prices.items()}
        book.next_order_id = max(book.orders, default=0) + 1
        book.next_trade_id = max((f.trade_id for f in book.fills), default=0) + 1
        return book

    # --- queries -------------------------------------------------------------------------
    def holding(self, asset: str) -> Holding:
        return self.balances.get(asset) or Holding(free=ZERO, locked=ZERO)

    def order(self, symbol: str, client_order_id: str | None = None, *,
              order_id: int | None = None) -> BookOrder:
        found = self._find(symbol, client_order_id, order_id)
        if found is None:
            raise Rejection(-2013, "Order does not exist.", "no_such_order")
        return found

    def open_orders(self, symbol: str | None = None) -> list[BookOrder]:
        symbols = [symbol] if symbol is not None else list(self._open)
        ids = sorted(i for s in symbols for i in self._open.get(s, ()))
        return [self.orders[i] for i in ids]

    def fills_since(self, symbol: str, since_ms: int | None = None) -> list[Fill]:
        return [f for f in self.fills
                if f.symbol == symbol and (since_ms is None or f.ts_ms >= since_ms)]

    # --- commands ------------------------------------------------------------------------
    def place(self, new: NewOrder, now_ms: int) -> Outcome:
        rules = self._check(new)
        current = self.prices.get(new.symbol)
        marketable = current is not None and (
            new.type == "market" or (new.side == "buy" and new.price >= current)  # type: ignore
            or (new.side == "sell" and new.price <= current))  # type: ignore[operator]
        order = BookOrder(
            order_id=self.next_order_id, client_order_id=new.client_order_id,
            symbol=new.symbol, side=new.side, type=new.type, time_in_force=new.time_in_force,
            price=new.price if new.type == "limit" else None, quantity=new.quantity,
            filled_quantity=ZERO, cumulative_quote=ZERO, status="open", locked=ZERO,
            created_at_ms=now_ms, updated_at_ms=now_ms)
        self.next_order_id += 1
        if marketable:
            assert current is not None
            return self._outcome([self._execute(order, new.quantity, current, False, now_ms)])
        if new.time_in_force == "IOC":
            self._store(msgspec.structs.replace(order, status="expired"))
            return self._outcome([Change(order=self.orders[order.order_id])])
        asset, amount = self._need(rules, new, current)
        held = self.holding(asset)
        self.balances[asset] = Holding(free=held.free - amount, locked=held.locked + amount)
        self._store(msgspec.structs.replace(order, locked=amount))
        return self._outcome([Change(order=self.orders[order.order_id])], [asset])

    def cancel(self, symbol: str, client_order_id: str | None = None, *,
               order_id: int | None = None, now_ms: int) -> Outcome:
        order = self._find(symbol, client_order_id, order_id)
        if order is None or not order.is_open:
            raise Rejection(-2011, "Unknown order sent.", "unknown_order")
        return self._outcome([self._close(order, "canceled", now_ms)], [self._lock_asset(order)])

    def price_event(self, symbol: str, price: Decimal, ts_ms: int) -> Outcome:
        rules = self.markets.get(symbol)
        if rules is None:
            raise Rejection(-1121, "Invalid symbol.", "invalid_symbol")
        if not price.is_finite() or price <= 0:
            raise InvalidInput("price", f"must be > 0, got {price}")
        self.prices[symbol] = price
        self.price_ts[symbol] = ts_ms
        buys, sells = self._resting.get(symbol, ((), ()))
        # buys priced at or above the price, sells at or below it; executed oldest first
        reached = [i for _, i in buys[bisect_left(buys, price, key=_PRICE):]]
        reached += [i for _, i in sells[:bisect_right(sells, price, key=_PRICE)]]
        changes = []
        for order_id in sorted(reached):
            order = self.orders[order_id]
            assert order.price is not None  # only limit orders rest
            changes.append(self._execute(order, self._chunk(rules, order), order.price,
                                         True, ts_ms))
        return self._outcome(changes)

    def reset(self, balances: Mapping[str, Decimal], now_ms: int) -> Outcome:
        """Cancel every open order and set the balances to exactly ``balances`` (others 0)."""
        amounts = {asset: _amount(value, asset) for asset, value in balances.items()}
        changes = [self._close(o, "canceled", now_ms) for o in self.open_orders()]
        for asset in self.balances.keys() | amounts.keys():
            self.balances[asset] = Holding(free=amounts.get(asset, ZERO), locked=ZERO)
        return Outcome(changes=tuple(changes), assets=tuple(sorted(self.balances)))

    # --- internals -----------------------------------------------------------------------
    def _check(self, new: NewOrder) -> MarketRules:
        rules = self.markets.get(new.symbol)
        if rules is None:
            raise Rejection(-1121, "Invalid symbol.", "invalid_symbol")
        if new.type == "limit" and new.price is None:
            raise Rejection(-1102, "Mandatory parameter 'price' was not sent, was empty/null, "
                            "or malformed.", "bad_parameter")
        if (_decimals(new.quantity) > _or_default(rules.base_precision)
                or (new.type == "limit" and _decimals(new.price)  # type: ignore[arg-type]
                    > _or_default(rules.quote_precision))):
            raise Rejection(-1111, "Precision is over the maximum defined for this asset.",
                            "precision")
        existing = self._by_cid.get((new.symbol, new.client_order_id))
        if existing is not None and self.orders[existing].is_open:
            raise Rejection(-2010, MSG_DUPLICATE, "duplicate_order")
        current = self.prices.get(new.symbol)
        if new.type == "market" and current is None:
            raise Rejection(-2010, MSG_CLOSED, "market_closed")
        failed = filter_failure(rules, new, current, len(self._open.get(new.symbol, ())))
        if failed is not None:
            raise _filter_failure(failed)
        asset, amount = self._need(rules, new, current)
        if self.holding(asset).free < amount:
            raise Rejection(-2010, MSG_INSUFFICIENT, "insufficient_balance")
        return rules

    def _need(self, rules: MarketRules, new: NewOrder,
              current: Decimal | None) -> tuple[str, Decimal]:
        """The asset and amount a new order must have free (and would lock when resting)."""
        if new.side == "sell":
            return rules.base, new.quantity
        if new.type == "market":
            assert current is not None
            return rules.quote, current * new.quantity * (ONE + self.fees.taker_percent / HUNDRED)
        return rules.quote, new.price * new.quantity * (ONE + self._lock_rate)  # type: ignore

    def _lock_asset(self, order: BookOrder) -> str:
        rules = self.markets[order.symbol]
        return rules.quote if order.side == "buy" else rules.base

    def _chunk(self, rules: MarketRules, order: BookOrder) -> Decimal:
        remaining = order.quantity - order.filled_quantity
        share = order.quantity * self.partial_fill_ratio
        step = rules.step_size
        if step > 0:
            share = max(round_down(share, step), step)
        return min(share, remaining)

    def _execute(self, order: BookOrder, qty: Decimal, price: Decimal, is_maker: bool,
                 ts_ms: int) -> Change:
        rules = self.markets[order.symbol]
        quote_qty = price * qty
        rate = self.fees.maker_percent if is_maker else self.fees.taker_percent
        fee = quote_qty * rate / HUNDRED
        filled = order.filled_quantity + qty
        done = filled == order.quantity
        base, quote = self.holding(rules.base), self.holding(rules.quote)
        locked = order.locked
        if order.side == "buy":
            # a resting buy pays out of its lock; the part of the lock not spent goes back
            release = locked if done else min(locked, qty * order.price * (ONE + self._lock_rate)
                                              if order.price is not None else ZERO)
            locked -= release
            quote = Holding(free=quote.free + release - quote_qty - fee,
                            locked=quote.locked - release)
            base = Holding(free=base.free + qty, locked=base.locked)
        else:
            from_lock = min(locked, qty)
            locked -= from_lock
            base = Holding(free=base.free - (qty - from_lock), locked=base.locked - from_lock)
            quote = Holding(free=quote.free + quote_qty - fee, locked=quote.locked)
        self.balances[rules.base], self.balances[rules.quote] = base, quote
        fill = Fill(trade_id=self.next_trade_id, order_id=order.order_id,
                    client_order_id=order.client_order_id, symbol=order.symbol,
                    side=order.side, price=price, quantity=qty, quote_quantity=quote_qty,
                    fee=fee, fee_asset=rules.quote, is_maker=is_maker, ts_ms=ts_ms)
        self.next_trade_id += 1
        self.fills.append(fill)
        updated = msgspec.structs.replace(
            order, filled_quantity=filled, cumulative_quote=order.cumulative_quote + quote_qty,
            status="filled" if done else "partially_filled", locked=locked, updated_at_ms=ts_ms)
        self._store(updated)
        return Change(order=updated, fill=fill)

    def _close(self, order: BookOrder, status: Status, now_ms: int) -> Change:
        asset = self._lock_asset(order)
        held = self.holding(asset)
        self.balances[asset] = Holding(free=held.free + order.locked,
                                       locked=held.locked - order.locked)
        closed = msgspec.structs.replace(order, status=status, locked=ZERO, updated_at_ms=now_ms)
        self._store(closed)
        return Change(order=closed)

    def _store(self, order: BookOrder) -> None:
        self.orders[order.order_id] = order
        self._by_cid[(order.symbol, order.client_order_id)] = order.order_id
        open_ids = self._open.setdefault(order.symbol, {})
        was_open = order.order_id in open_ids
        if order.is_open == was_open:
            return  # a partial fill: still resting at the same price
        buys, sells = self._resting.setdefault(order.symbol, ([], []))
        side = buys if order.side == "buy" else sells
        key = (order.price, order.order_id)
        if order.is_open:
            assert order.price is not None  # only limit orders rest
            open_ids[order.order_id] = None
            insort(side, key)  # type: ignore[arg-type]
        else:
            del open_ids[order.order_id]
            del side[bisect_left(side, key)]  # type: ignore[arg-type]

    def _find(self, symbol: str, client_order_id: str | None,
              order_id: int | None) -> BookOrder | None:
        if order_id is None:
            order_id = self._by_cid.get((symbol, client_order_id or ""))
        order = self.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol:
            return None
        if client_order_id is not None and order.client_order_id != client_order_id:
            return None
        return order

    def _outcome(self, changes: list[Change], assets: Iterable[str] = ()) -> Outcome:
        moved = set(assets)
        for change in changes:
            if change.fill is not None:
                rules = self.markets[change.order.symbol]
                moved.update((rules.base, rules.quote))
        return Outcome(changes=tuple(changes), assets=tuple(sorted(moved)))


_PRICE = itemgetter(0)


def _or_default(precision: int | None) -> int:
    return DEFAULT_PRECISION if precision is None else precision


def _amount(value: Decimal, asset: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidInput(f"balances.{asset}", f"must be a Decimal >= 0, got {value!r}")
    return value
