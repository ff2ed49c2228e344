"""The matching core (SPEC 12.6): Binance codes per check, fills, fees, locks, ids, restore."""

from decimal import Decimal as D
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.matching import (
    Book,
    Fees,
    Holding,
    NewOrder,
    Rejection,
    candle_prices,
    filter_failure,
)
from engine.types import MarketRules

DATA = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"
MARKETS = rules_from_binance_exchange_info(load_exchange_info(DATA.read_text()), fetched_at_ms=0)
FEES = Fees(maker_percent=D("0.1"), taker_percent=D("0.2"))


def book(ratio: str = "1", **balances: str) -> Book:
    start = {a: D(v) for a, v in (balances or {"USDT": "10000", "BTC": "1"}).items()}
    b = Book(MARKETS, fees=FEES, partial_fill_ratio=D(ratio), balances=start)
    b.price_event("BTCUSDT", D("60000"), 1)
    return b


def order(cid="c1", side="buy", type="limit", qty="0.01", price="59000", tif="GTC",
          symbol="BTCUSDT") -> NewOrder:
    return NewOrder(client_order_id=cid, symbol=symbol, side=side, type=type, quantity=D(qty),
                    price=None if price is None else D(price), time_in_force=tif)


# --- refusals: exact Binance codes and messages (SPEC 12.6 table) --------------------------
F = "Filter failure: "
INSUFFICIENT = "Account has insufficient balance for requested action."


@pytest.mark.parametrize("new,code,message,reason", [
    (order(symbol="FOOBAR"), -1121, "Invalid symbol.", "invalid_symbol"),
    (order(price=None), -1102,
     "Mandatory parameter 'price' was not sent, was empty/null, or malformed.", "bad_parameter"),
    (order(qty="0.000000001"), -1111, "Precision is over the maximum defined for this asset.",
     "precision"),
    (order(price="59000.000000001"), -1111,
     "Precision is over the maximum defined for this asset.", "precision"),
    (order(qty="NaN"), -1111, "Precision is over the maximum defined for this asset.",
     "precision"),
    (order(price="59000.001"), -1013, F + "PRICE_FILTER", "filter"),
    (order(price="0"), -1013, F + "PRICE_FILTER", "filter"),
    (order(price="1000000.01"), -1013, F + "PRICE_FILTER", "filter"),
    (order(qty="0.000001"), -1013, F + "LOT_SIZE", "filter"),
    (order(qty="0.000015"), -1013, F + "LOT_SIZE", "filter"),
    (order(qty="9000.00001"), -1013, F + "LOT_SIZE", "filter"),
    (order(type="market", price=None, qty="200"), -1013, F + "MARKET_LOT_SIZE", "filter"),
    (order(price="300000.01"), -1013, F + "PERCENT_PRICE_BY_SIDE", "filter"),
    (order(price="11999.99"), -1013, F + "PERCENT_PRICE_BY_SIDE", "filter"),
    (order(side="sell", price="11999.99"), -1013, F + "PERCENT_PRICE_BY_SIDE", "filter"),
    (order(qty="0.00008", price="59000"), -1013, F + "NOTIONAL", "filter"),
    (order(type="market", price=None, qty="0.00008"), -1013, F + "NOTIONAL", "filter"),
    (order(qty="0.2", price="59000"), -2010, INSUFFICIENT, "insufficient_balance"),
    (order(side="sell", qty="1.5", price="61000"), -2010, INSUFFICIENT, "insufficient_balance"),
    (order(type="market", price=None, qty="0.17"), -2010, INSUFFICIENT, "insufficient_balance"),
])
def test_refusals(new, code, message, reason):
    b = book()
    before = (dict(b.balances), dict(b.orders), b.next_order_id)
    with pytest.raises(Rejection) as err:
        b.place(new, 2)
    assert (err.value.code, err.value.message, err.value.reason) == (code, message, reason)
    assert (dict(b.balances), dict(b.orders), b.next_order_id) == before  # nothing changed
    if reason == "filter":
        assert err.value.filter == message.removeprefix(F)


def test_max_notional_applies_to_limit_orders_only():
    b = book(USDT="100000000", BTC="1000")
    with pytest.raises(Rejection, match="NOTIONAL"):
        b.place(order(qty="160", price="60000"), 2)  # 9.6M > 9M
    b.place(order(side="sell", type="market", price=None, qty="120"), 2)  # 7.2M at market


def test_duplicate_open_client_id_and_reuse_after_finish():
    b = book()
    b.place(order(cid="x"), 2)
    with pytest.raises(Rejection) as err:
        b.place(order(cid="x", price="58000"), 3)
    assert (err.value.code, err.value.message) == (-2010, "Duplicate order sent.")
    b.cancel("BTCUSDT", "x", now_ms=4)
    again = b.place(order(cid="x", price="58000"), 5).changes[0].order
    assert again.order_id == 2 and b.order("BTCUSDT", "x").order_id == 2
    assert b.order("BTCUSDT", order_id=1).status == "canceled"


def test_market_order_without_price_is_market_closed():
    b = Book(MARKETS, balances={"USDT": D(100)})
    with pytest.raises(Rejection) as err:
        b.place(order(type="market", price=None, qty="0.001"), 1)
    assert (err.value.code, err.value.message, err.value.reason) == (
        -2010, "Market is closed.", "market_closed")


def test_precision_comes_from_the_market():
    rules = msgspec.structs.replace(MARKETS["BTCUSDT"], base_precision=0, quote_precision=None,
                                    step_size=D(1), min_qty=D(1), tick_size=D("1E-8"),
                                    min_price=None)
    b = Book({"BTCUSDT": rules}, balances={"USDT": D(10**6)})
    with pytest.raises(Rejection, match="-1111"):
        b.place(order(qty="1.0001", price="59000"), 1)
    with pytest.raises(Rejection, match="-1111"):
        b.place(order(qty="1", price="59000.000000001"), 1)  # default: 8 decimals
    assert b.place(order(qty="1", price="59000.00000001"), 1).changes[0].order.status == "open"


def test_max_num_orders():
    rules = msgspec.structs.replace(MARKETS["BTCUSDT"], max_num_orders=2)
    b = Book({"BTCUSDT": rules}, balances={"USDT": D(10000)})
    b.price_event("BTCUSDT", D(60000), 1)
    b.place(order(cid="a", qty="0.001"), 2)
    b.place(order(cid="b", qty="0.001"), 2)
    with pytest.raises(Rejection, match="MAX_NUM_ORDERS"):
        b.place(order(cid="c", qty="0.001"), 2)


def test_market_lot_size_step_and_minimum():
    rules = msgspec.structs.replace(MARKETS["BTCUSDT"], market_step_size=D("0.001"),
                                    market_min_qty=D("0.002"), min_notional=D(0))
    cases = [("0.0015", "MARKET_LOT_SIZE"), ("0.00251", "MARKET_LOT_SIZE"), ("0.003", None)]
    for qty, expected in cases:
        new = order(type="market", price=None, qty=qty)
        assert filter_failure(rules, new, D(60000), 0) == expected


def test_notional_not_applied_to_market_when_binance_says_so():
    rules = msgspec.structs.replace(MARKETS["BTCUSDT"], min_notional_applies_to_market=False)
    assert filter_failure(rules, order(type="market", price=None, qty="0.00001"), D(60000),
                          0) is None


# --- fills -----------------------------------------------------------------------------------
def test_market_buy_fills_at_current_price_with_taker_fee():
    b = book()
    change = b.place(order(type="market", price=None, qty="0.01"), 2).changes[0]
    assert change.order.status == "filled" and change.order.price is None
    assert change.order.average_price == D(60000)
    fill = change.fill
    assert (fill.price, fill.quantity, fill.fee, fill.fee_asset, fill.is_maker) == (
        D(60000), D("0.01"), D("1.2"), "USDT", False)
    assert b.holding("USDT") == Holding(free=D("9398.8"), locked=D(0))
    assert b.holding("BTC") == Holding(free=D("1.01"), locked=D(0))


def test_market_sell():
    b = book()
    b.place(order(side="sell", type="market", price=None, qty="0.5"), 2)
    assert b.holding("BTC").free == D("0.5")
    assert b.holding("USDT").free == D(10000) + D(30000) - D(60)


@pytest.mark.parametrize("side,price", [("buy", "61000"), ("sell", "59000")])
def test_marketable_limit_fills_completely_at_current_price_as_taker(side, price):
    b = book(ratio="0.5")
    change = b.place(order(side=side, price=price, qty="0.01"), 2).changes[0]
    assert change.order.status == "filled" and change.order.filled_quantity == D("0.01")
    assert change.fill.price == D(60000) and not change.fill.is_maker
    assert change.fill.fee == D("1.2")
    assert b.holding("USDT").locked == 0 and b.holding("BTC").locked == 0


def test_limit_without_a_price_yet_rests_and_fills_at_its_own_price():
    b = Book(MARKETS, fees=FEES, balances={"USDT": D(10000)})
    placed = b.place(order(price="59000"), 1).changes[0].order
    assert placed.status == "open"
    change = b.price_event("BTCUSDT", D("58000"), 2).changes[0]
    assert change.fill.price == D(59000) and change.fill.is_maker and change.fill.ts_ms == 2


def test_ioc_expires_or_fills():
    b = book()
    expired = b.place(order(cid="i1", price="59000", tif="IOC"), 2).changes[0]
    assert expired.order.status == "expired" and expired.fill is None
    assert b.holding("USDT") == Holding(free=D(10000), locked=D(0))
    filled = b.place(order(cid="i2", price="60500", tif="IOC"), 2).changes[0]
    assert filled.order.status == "filled" and filled.fill.price == D(60000)


def test_partial_fills_of_a_resting_buy_with_exact_locks():
    b = book(ratio="0.5")
    placed = b.place(order(qty="0.01", price="59000"), 2)
    # lock = 590 x (1 + max(0.1, 0.2)/100)
    assert placed.changes[0].order.locked == D("591.18") and placed.assets == ("USDT",)
    assert b.holding("USDT") == Holding(free=D("9408.82"), locked=D("591.18"))
    assert b.price_event("BTCUSDT", D("59000.01"), 3).changes == ()  # not reached
    first = b.price_event("BTCUSDT", D("59000"), 4)
    assert first.assets == ("BTC", "USDT")
    c = first.changes[0]
    assert (c.order.status, c.order.filled_quantity, c.fill.quantity) == (
        "partially_filled", D("0.005"), D("0.005"))
    assert (c.fill.price, c.fill.fee, c.fill.is_maker, c.fill.trade_id) == (
        D(59000), D("0.295"), True, 1)
    # the fill's share of the lock is released; the unused fee headroom goes back to free
    assert b.holding("USDT") == Holding(free=D("9409.115"), locked=D("295.59"))
    second = b.price_event("BTCUSDT", D("50000"), 5).changes[0]
    assert second.order.status == "filled" and second.fill.price == D(59000)
    assert b.holding("USDT") == Holding(free=D("9409.41"), locked=D(0))
    assert b.holding("BTC") == Holding(free=D("1.01"), locked=D(0))
    assert b.open_orders() == [] and second.order.average_price == D(59000)


def test_partial_chunk_is_at_least_one_step_and_at_most_the_remainder():
    b = book(ratio="0.3")
    b.place(order(side="sell", qty="0.00004", price="200000", cid="s"), 2)
    sizes = []
    for ts in range(3, 10):
        for c in b.price_event("BTCUSDT", D("200000"), ts).changes:
            sizes.append(c.fill.quantity)
    # 0.00004 x 0.3 = 0.000012 -> 0.00001 per event, the last one whatever is left
    assert sizes == [D("0.00001")] * 4
    assert b.order("BTCUSDT", "s").status == "filled"
    assert b.holding("BTC") == Holding(free=D("0.99996"), locked=D(0))


def test_chunk_without_a_step():
    rules = msgspec.structs.replace(MARKETS["BTCUSDT"], step_size=D(0), min_qty=D(0))
    b = Book({"BTCUSDT": rules}, partial_fill_ratio=D("0.4"), balances={"USDT": D(10000)})
    b.place(order(qty="0.01", price="59000"), 1)
    sizes = [c.fill.quantity for ts in (2, 3, 4)
             for c in b.price_event("BTCUSDT", D(59000), ts).changes]
    assert sizes == [D("0.004"), D("0.004"), D("0.002")]


def test_resting_sell_locks_base_and_fills_when_price_rises():
    b = book(ratio="0.5")
    b.place(order(side="sell", qty="0.4", price="61000"), 2)
    assert b.holding("BTC") == Holding(free=D("0.6"), locked=D("0.4"))
    assert b.price_event("BTCUSDT", D("60999.99"), 3).changes == ()
    b.price_event("BTCUSDT", D("61000"), 4)
    assert b.holding("BTC") == Holding(free=D("0.6"), locked=D("0.2"))
    assert b.holding("USDT").free == D(10000) + D(12200) - D("12.2")


def test_several_resting_orders_fill_oldest_first_on_one_event():
    b = book()
    b.place(order(cid="a", price="59000"), 2)
    b.place(order(cid="b", price="59500"), 3)
    b.place(order(cid="c", price="58000"), 4)
    changes = b.price_event("BTCUSDT", D("59000"), 5).changes
    assert [c.order.client_order_id for c in changes] == ["a", "b"]
    assert [c.fill.trade_id for c in changes] == [1, 2]
    assert [o.client_order_id for o in b.open_orders("BTCUSDT")] == ["c"]


def test_cancel_releases_the_lock_and_refuses_finished_or_unknown():
    b = book(ratio="0.5")
    b.place(order(qty="0.01", price="59000"), 2)
    b.price_event("BTCUSDT", D("59000"), 3)
    out = b.cancel("BTCUSDT", "c1", now_ms=4)
    assert out.changes[0].order.status == "canceled" and out.assets == ("USDT",)
    assert out.changes[0].order.updated_at_ms == 4
    assert b.holding("USDT") == Holding(free=D("10000") - D("295") - D("0.295"), locked=D(0))
    for cid in ("c1", "never"):
        with pytest.raises(Rejection) as err:
            b.cancel("BTCUSDT", cid, now_ms=5)
        assert (err.value.code, err.value.message, err.value.reason) == (
            -2011, "Unknown order sent.", "unknown_order")


def test_order_queries():
    b = book()
    b.place(order(cid="q"), 2)
    assert b.order("BTCUSDT", "q").order_id == 1
    assert b.order("BTCUSDT", order_id=1).client_order_id == "q"
    for args, kwargs in [(("BTCUSDT", "nope"), {}), (("ETHUSDT", "q"), {}),
                         (("BTCUSDT", "other"), {"order_id": 1}), (("BTCUSDT",), {"order_id": 9})]:
        with pytest.raises(Rejection) as err:
            b.order(*args, **kwargs)
        assert (err.value.code, err.value.message) == (-2013, "Order does not exist.")


def test_fills_since_and_ids_increase():
    b = book()
    for ts, cid in ((10, "a"), (20, "b"), (30, "c")):
        b.place(order(cid=cid, type="market", price=None, qty="0.001"), ts)
    assert [f.trade_id for f in b.fills_since("BTCUSDT")] == [1, 2, 3]
    assert [f.ts_ms for f in b.fills_since("BTCUSDT", 20)] == [20, 30]
    assert b.fills_since("ETHUSDT") == [] and b.next_order_id == 4 and b.next_trade_id == 4


def test_price_event_checks():
    b = book()
    with pytest.raises(Rejection) as err:
        b.price_event("FOOBAR", D(1), 1)
    assert err.value.code == -1121
    for bad in (D(0), D(-1), D("NaN")):
        with pytest.raises(InvalidInput):
            b.price_event("BTCUSDT", bad, 1)


def test_reset_cancels_open_orders_and_sets_balances():
    b = book()
    b.place(order(cid="a"), 2)
    b.place(order(cid="s", side="sell", qty="0.1", price="65000"), 2)
    b.place(order(cid="m", type="market", price=None, qty="0.001"), 2)
    out = b.reset({"USDT": D(500)}, 9)
    assert [c.order.client_order_id for c in out.changes] == ["a", "s"]
    assert all(c.order.status == "canceled" for c in out.changes)
    assert b.balances == {"USDT": Holding(free=D(500), locked=D(0)),
                          "BTC": Holding(free=D(0), locked=D(0))}
    assert b.open_orders() == [] and len(b.orders) == 3  # history kept
    with pytest.raises(InvalidInput):
        b.reset({"USDT": D(-1)}, 9)


def test_constructor_checks():
    with pytest.raises(InvalidInput):
        Book(MARKETS, partial_fill_ratio=D(0))
    with pytest.raises(InvalidInput):
        Book(MARKETS, partial_fill_ratio=D("1.5"))
    with pytest.raises(InvalidInput):
        Book(MARKETS, fees=Fees(maker_percent=D(-1)))
    with pytest.raises(InvalidInput):
        Book(MARKETS, balances={"USDT": 5})  # type: ignore[dict-item]


@pytest.mark.parametrize("o,h,l,c,expected", [
    ("100", "110", "90", "105", ("100", "90", "110", "105")),   # close >= open: low first
    ("100", "110", "90", "100", ("100", "90", "110", "100")),
    ("100", "110", "90", "95", ("100", "110", "90", "95")),     # close < open: high first
])
def test_candle_prices(o, h, l, c, expected):
    assert candle_prices(D(o), D(h), D(l), D(c)) == tuple(D(x) for x in expected)


def test_restore_continues_exactly():
    b = book(ratio="0.5")
    b.place(order(cid="a", qty="0.01", price="59000"), 2)
    b.place(order(cid="m", type="market", price=None, qty="0.001"), 3)
    b.price_event("BTCUSDT", D("59000"), 4)
    copy = Book.restore(MARKETS, fees=FEES, partial_fill_ratio=D("0.5"),
                        balances=b.balances, orders=list(b.orders.values()), fills=b.fills,
                        prices={s: (p, b.price_ts[s]) for s, p in b.prices.items()})
    assert (copy.next_order_id, copy.next_trade_id) == (b.next_order_id, b.next_trade_id)
    assert copy.open_orders() == b.open_orders() and copy.prices == b.prices
    assert copy.price_event("BTCUSDT", D(59000), 5) == b.price_event("BTCUSDT", D(59000), 5)
    assert copy.balances == b.balances


# --- properties --------------------------------------------------------------------------
ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(["buy", "sell"]),
              st.integers(1, 400), st.integers(55000, 65000)),
    st.tuples(st.just("market"), st.sampled_from(["buy", "sell"]), st.integers(1, 400),
              st.just(0)),
    st.tuples(st.just("price"), st.just(""), st.just(0), st.integers(55000, 65000)),
    st.tuples(st.just("cancel"), st.just(""), st.integers(1, 30), st.just(0)),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(actions=ACTIONS, ratio=st.sampled_from(["1", "0.5", "0.3"]))
def test_balances_are_conserved_and_locks_match_open_orders(actions, ratio):
    b = book(ratio=ratio, USDT="20000", BTC="0.2")
    for ts, (kind, side, n, price) in enumerate(actions, start=2):
        try:
            if kind == "price":
                b.price_event("BTCUSDT", D(price), ts)
            elif kind == "cancel":
                b.cancel("BTCUSDT", f"o{n}", now_ms=ts)
            else:
                qty = D(n) * D("0.0001")
                b.place(order(cid=f"o{ts}", side=side, type=kind, qty=str(qty),
                              price=str(price) if kind == "limit" else None), ts)
        except Rejection:
            pass
        usdt, btc = b.holding("USDT"), b.holding("BTC")
        assert min(usdt.free, usdt.locked, btc.free, btc.locked) >= 0
        open_orders = b.open_orders()
        assert usdt.locked == sum((o.locked for o in open_orders if o.side == "buy"), D(0))
        assert btc.locked == sum((o.locked for o in open_orders if o.side == "sell"), D(0))
        bought = sum((f.quantity for f in b.fills if f.side == "buy"), D(0))
        sold = sum((f.quantity for f in b.fills if f.side == "sell"), D(0))
        spent = sum((f.quote_quantity for f in b.fills if f.side == "buy"), D(0))
        earned = sum((f.quote_quantity for f in b.fills if f.side == "sell"), D(0))
        fees = sum((f.fee for f in b.fills), D(0))
        assert btc.free + btc.locked == D("0.2") + bought - sold
        assert usdt.free + usdt.locked == D(20000) - spent + earned - fees
        for o in b.orders.values():
            assert o.filled_quantity <= o.quantity
            assert (o.status == "filled") == (o.filled_quantity == o.quantity)
