"""The price index of the matching core against the plain scan it replaces: every sequence of
orders, cancels, price events, restores and resets gives the same outcomes and the same state."""

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.matching import Book, NewOrder, Outcome, Rejection
from tests.engine.test_matching import FEES, MARKETS

SYMBOLS = {"BTCUSDT": 100, "ETHUSDT": 5}  # symbol -> price unit (ticks of the grid below)


class ScanBook(Book):
    """The reference: every price event looks at every open order of the symbol."""

    def price_event(self, symbol: str, price: D, ts_ms: int) -> Outcome:
        rules = self.markets.get(symbol)
        if rules is None or not price.is_finite() or price <= 0:
            return super().price_event(symbol, price, ts_ms)  # the same refusals
        self.prices[symbol] = price
        self.price_ts[symbol] = ts_ms
        changes = []
        for order in self.open_orders(symbol):
            if (price <= order.price) if order.side == "buy" else (price >= order.price):
                changes.append(self._execute(order, self._chunk(rules, order), order.price,
                                             True, ts_ms))
        return self._outcome(changes)


def _pair(ratio: str) -> tuple[Book, Book]:
    balances = {"USDT": D(400000), "BTC": D(2), "ETH": D(40)}
    return (Book(MARKETS, fees=FEES, partial_fill_ratio=D(ratio), balances=balances),
            ScanBook(MARKETS, fees=FEES, partial_fill_ratio=D(ratio), balances=balances))


def _restored(b: Book, cls: type[Book]) -> Book:
    return cls.restore(MARKETS, fees=b.fees, partial_fill_ratio=b.partial_fill_ratio,
                       balances=b.balances, orders=list(b.orders.values()), fills=b.fills,
                       prices={s: (p, b.price_ts[s]) for s, p in b.prices.items()})


def _run(b: Book, action: tuple, ts: int) -> Outcome | str:
    kind, symbol, side, n, level = action
    unit = SYMBOLS[symbol]
    price = D(level * unit)  # few levels: many orders share a price
    try:
        if kind == "price":
            return b.price_event(symbol, price, ts)
        if kind == "cancel":
            return b.cancel(symbol, f"o{n}", now_ms=ts)
        if kind == "reset":
            return b.reset({"USDT": D(400000), "BTC": D(2), "ETH": D(40)}, ts)
        qty = D(n) * (D("0.001") if symbol == "BTCUSDT" else D("0.01"))
        return b.place(NewOrder(client_order_id=f"o{ts}", symbol=symbol, side=side, type=kind,
                                quantity=qty, price=price if kind == "limit" else None), ts)
    except Rejection as e:
        return e.reason


def _state(b: Book) -> tuple:
    return (b.orders, b.fills, b.balances, b.prices, b.open_orders(), b.next_order_id,
            b.next_trade_id)


ACTION = st.tuples(
    st.sampled_from(["limit"] * 6 + ["price"] * 6 + ["market", "cancel", "restore", "reset"]),
    st.sampled_from(sorted(SYMBOLS)), st.sampled_from(["buy", "sell"]), st.integers(1, 40),
    st.integers(580, 620))


@settings(max_examples=300, deadline=None)
@given(actions=st.lists(ACTION, max_size=80), ratio=st.sampled_from(["1", "0.5", "0.3"]))
def test_the_index_matches_exactly_what_a_scan_of_every_open_order_matches(actions, ratio):
    indexed, scanned = _pair(ratio)
    for symbol, unit in SYMBOLS.items():
        indexed.price_event(symbol, D(600 * unit), 1)
        scanned.price_event(symbol, D(600 * unit), 1)
    for ts, action in enumerate(actions, start=2):
        if action[0] == "restore":  # the index is rebuilt from the rows alone
            indexed, scanned = _restored(indexed, Book), _restored(scanned, ScanBook)
            continue
        got, expected = _run(indexed, action, ts), _run(scanned, action, ts)
        assert msgspec.to_builtins(got) == msgspec.to_builtins(expected)
        assert _state(indexed) == _state(scanned)


def test_a_price_event_looks_only_at_the_orders_it_reaches():
    b, _ = _pair("1")
    b.price_event("BTCUSDT", D(60000), 1)
    for i in range(50):  # buys resting below the price, sells above it
        b.place(NewOrder(client_order_id=f"b{i}", symbol="BTCUSDT", side="buy", type="limit",
                         quantity=D("0.001"), price=D(59000 - i * 10)), 2)
        b.place(NewOrder(client_order_id=f"s{i}", symbol="BTCUSDT", side="sell",
                         type="limit", quantity=D("0.001"), price=D(61000 + i * 10)), 2)
    seen: list[int] = []

    class Watched(dict):
        def __getitem__(self, order_id):
            seen.append(order_id)
            return super().__getitem__(order_id)

    b.orders = Watched(b.orders)
    assert b.price_event("BTCUSDT", D(60500), 3) == Outcome()
    assert seen == []
    reached = b.price_event("BTCUSDT", D(58985), 4)
    assert [c.order.client_order_id for c in reached.changes] == ["b0", "b1"]
    assert sorted(seen) == [c.order.order_id for c in reached.changes]
