"""What every ExchangePort implementation must do (SPEC 9.2, 12.5, 12.6), run per venue.

The account starts with 10000 USDT and 1 BTC, fees 0.1 % maker and taker, partial-fill ratio
0.5 (conftest.CONTRACT_SETTINGS). Markets are the real Binance snapshot (BTCUSDT: tick 0.01,
step 0.00001, min notional 5, band x0.2..x5, at most 200 open orders).
"""

from decimal import Decimal as D

import pytest
import trio

from actors.exchange.port import (
    DuplicateOrder,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderUpdate,
    PriceUpdate,
    UnknownSymbol,
)

START_USDT, START_BTC = D(10000), D(1)


def req(cid: str, side: str = "buy", qty: str = "0.002", price: str | None = "59000",
        type: str = "limit", tif: str = "GTC", symbol: str = "BTCUSDT") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, type=type,
                        quantity=D(qty), price=None if price is None else D(price),
                        time_in_force=tif)


async def test_load_markets(exchange):
    markets = await exchange.load_markets()
    btc = markets["BTCUSDT"]
    assert (btc.ccxt_symbol, btc.base, btc.quote) == ("BTC/USDT", "BTC", "USDT")
    assert (btc.tick_size, btc.step_size, btc.min_qty, btc.min_notional) == (
        D("0.01"), D("0.00001"), D("0.00001"), D(5))
    assert btc.max_num_orders == 200 and btc.fetched_at_ms > 0


async def test_fetch_prices(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    await driver.set_price("ETHUSDT", "3000.5")
    assert await exchange.fetch_prices(["BTCUSDT"]) == {"BTCUSDT": D(60000)}
    everything = await exchange.fetch_prices(None)
    assert everything["BTCUSDT"] == D(60000) and everything["ETHUSDT"] == D("3000.5")
    with pytest.raises(UnknownSymbol) as err:
        await exchange.fetch_prices(["FOOBAR"])
    assert err.value.code == -1121


async def test_resting_limit_locks_quote_and_cancel_unlocks(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    state = await exchange.create_order(req("rest-1"))
    assert (state.client_order_id, state.status, state.filled_quantity) == ("rest-1", "open", 0)
    assert state.exchange_order_id and state.price == D(59000) and state.quantity == D("0.002")
    usdt = (await exchange.fetch_balances())["USDT"]
    assert usdt.locked >= D(118) and usdt.free + usdt.locked == START_USDT
    assert [o.client_order_id for o in await exchange.fetch_open_orders("BTCUSDT")] == ["rest-1"]
    assert [o.client_order_id for o in await exchange.fetch_open_orders()] == ["rest-1"]
    cancelled = await exchange.cancel_order("BTCUSDT", "rest-1")
    assert cancelled.status == "canceled"
    usdt = (await exchange.fetch_balances())["USDT"]
    assert (usdt.free, usdt.locked) == (START_USDT, 0)
    assert await exchange.fetch_open_orders("BTCUSDT") == []
    assert (await exchange.fetch_order("BTCUSDT", "rest-1")).status == "canceled"


async def test_resting_sell_locks_base(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    await exchange.create_order(req("sell-1", side="sell", qty="0.3", price="61000"))
    btc = (await exchange.fetch_balances())["BTC"]
    assert (btc.free, btc.locked) == (D("0.7"), D("0.3"))


async def test_partial_fills_at_the_limit_price_with_maker_fee(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    await exchange.create_order(req("part-1", qty="0.002", price="59000"))
    await driver.set_price("BTCUSDT", "58900")
    first = await exchange.fetch_order("BTCUSDT", "part-1")
    assert (first.status, first.filled_quantity) == ("partially_filled", D("0.001"))
    await driver.set_price("BTCUSDT", "58800")
    done = await exchange.fetch_order("BTCUSDT", "part-1")
    assert (done.status, done.filled_quantity, done.average_price) == (
        "filled", D("0.002"), D(59000))
    trades = await exchange.fetch_my_trades("BTCUSDT")
    assert [(t.price, t.quantity, t.fee, t.fee_asset, t.is_maker) for t in trades] == [
        (D(59000), D("0.001"), D("0.059"), "USDT", True)] * 2
    assert len({t.trade_id for t in trades}) == 2
    assert all(t.client_order_id == "part-1" for t in trades)
    balances = await exchange.fetch_balances()
    assert (balances["BTC"].free, balances["BTC"].locked) == (D("1.002"), 0)
    assert (balances["USDT"].free, balances["USDT"].locked) == (START_USDT - D("118.118"), 0)


async def test_the_listing_of_every_open_order_matches_each_orders_own_state(exchange, driver):
    """``fetch_open_orders()`` (a restart reads every open order from it; the ccxt adapter reads
    Binance's raw listing there) says exactly what the per-symbol listing and each query say —
    a partial fill's quantity and average price included."""
    await driver.set_price("BTCUSDT", "60000")
    await driver.set_price("ETHUSDT", "3000")
    await exchange.create_order(req("list-1", qty="0.002", price="59000"))
    await exchange.create_order(req("list-2", qty="0.001", price="58000"))
    await exchange.create_order(req("list-3", symbol="ETHUSDT", qty="0.01", price="2900"))
    await driver.set_price("BTCUSDT", "58900")  # half of list-1 fills
    every = {o.client_order_id: o for o in await exchange.fetch_open_orders()}
    assert sorted(every) == ["list-1", "list-2", "list-3"]
    assert (every["list-1"].status, every["list-1"].filled_quantity,
            every["list-1"].average_price) == ("partially_filled", D("0.001"), D(59000))
    by_symbol = {o.client_order_id: o for s in ("BTCUSDT", "ETHUSDT")
                 for o in await exchange.fetch_open_orders(s)}
    assert every == by_symbol
    for cid, state in every.items():
        assert await exchange.fetch_order(state.symbol, cid) == state


async def test_market_orders_fill_completely_at_the_current_price(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    bought = await exchange.create_order(req("mkt-b", type="market", price=None, qty="0.01"))
    assert (bought.status, bought.filled_quantity, bought.average_price) == (
        "filled", D("0.01"), D(60000))
    sold = await exchange.create_order(req("mkt-s", side="sell", type="market", price=None,
                                           qty="0.5"))
    assert sold.status == "filled"
    trades = await exchange.fetch_my_trades("BTCUSDT")
    assert [(t.quantity, t.fee, t.is_maker) for t in trades] == [
        (D("0.01"), D("0.6"), False), (D("0.5"), D(30), False)]
    balances = await exchange.fetch_balances()
    assert balances["BTC"].free == D("0.51")
    assert balances["USDT"].free == START_USDT - D(600) - D("0.6") + D(30000) - D(30)


async def test_marketable_limit_fills_at_once_as_taker(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    state = await exchange.create_order(req("take-1", qty="0.002", price="61000"))
    assert (state.status, state.filled_quantity, state.average_price) == (
        "filled", D("0.002"), D(60000))
    (t,) = await exchange.fetch_my_trades("BTCUSDT")
    assert (t.price, t.is_maker, t.fee) == (D(60000), False, D("0.12"))


async def test_ioc_fills_when_marketable_else_expires(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    expired = await exchange.create_order(req("ioc-1", price="59000", tif="IOC"))
    assert (expired.status, expired.filled_quantity) == ("expired", 0)
    filled = await exchange.create_order(req("ioc-2", price="60100", tif="IOC"))
    assert (filled.status, filled.average_price) == ("filled", D(60000))
    assert (await exchange.fetch_balances())["USDT"].locked == 0


async def test_cancel_of_filled_or_unknown_order_is_order_not_found(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    await exchange.create_order(req("done-1", type="market", price=None))
    for cid in ("done-1", "never-seen"):
        with pytest.raises(OrderNotFound) as err:
            await exchange.cancel_order("BTCUSDT", cid)
        assert err.value.code == -2011


async def test_query_of_unknown_order(exchange):
    with pytest.raises(OrderNotFound) as err:
        await exchange.fetch_order("BTCUSDT", "never-seen")
    assert err.value.code == -2013


async def test_duplicate_client_order_id_of_an_open_order(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    await exchange.create_order(req("dup-1"))
    with pytest.raises(DuplicateOrder) as err:
        await exchange.create_order(req("dup-1", price="58000"))
    assert err.value.code == -2010 and "Duplicate order sent." in str(err.value)
    assert len(await exchange.fetch_open_orders("BTCUSDT")) == 1


@pytest.mark.parametrize("request_,filter_name", [
    (req("f1", price="59000.001"), "PRICE_FILTER"),
    (req("f2", qty="0.000015"), "LOT_SIZE"),
    (req("f3", type="market", price=None, qty="200", side="sell"), "MARKET_LOT_SIZE"),
    (req("f4", price="300000.01"), "PERCENT_PRICE_BY_SIDE"),
    (req("f5", qty="0.00008"), "NOTIONAL"),
])
async def test_filter_failures(exchange, driver, request_, filter_name):
    await driver.set_price("BTCUSDT", "60000")
    with pytest.raises(InvalidOrder) as err:
        await exchange.create_order(request_)
    assert err.value.code == -1013 and f"Filter failure: {filter_name}" in str(err.value)


async def test_max_num_orders_filter(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    for i in range(200):
        await exchange.create_order(req(f"many-{i}", qty="0.0001", price="50000"))
    with pytest.raises(InvalidOrder) as err:
        await exchange.create_order(req("many-200", qty="0.0001", price="50000"))
    assert err.value.code == -1013 and "Filter failure: MAX_NUM_ORDERS" in str(err.value)


async def test_too_many_decimals(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    with pytest.raises(InvalidOrder) as err:
        await exchange.create_order(req("p1", qty="0.000000001"))
    assert err.value.code == -1111
    assert "Precision is over the maximum defined for this asset." in str(err.value)


async def test_unknown_symbol(exchange):
    with pytest.raises(UnknownSymbol) as err:
        await exchange.create_order(req("u1", symbol="FOOBAR"))
    assert err.value.code == -1121 and "Invalid symbol." in str(err.value)


@pytest.mark.parametrize("request_", [
    req("i1", qty="0.2", price="59000"),                      # 11,800 USDT > 10,000
    req("i2", side="sell", qty="1.5", price="61000"),         # 1.5 BTC > 1
    req("i3", type="market", price=None, qty="0.17"),         # 10,200 USDT at market
])
async def test_insufficient_balance(exchange, driver, request_):
    await driver.set_price("BTCUSDT", "60000")
    with pytest.raises(InsufficientFunds) as err:
        await exchange.create_order(request_)
    assert err.value.code == -2010
    assert "Account has insufficient balance for requested action." in str(err.value)


async def test_market_order_before_any_price_is_refused(exchange):
    with pytest.raises(OrderRejected) as err:
        await exchange.create_order(req("closed-1", symbol="LTCUSDT", type="market",
                                        price=None, qty="0.1"))
    assert err.value.code == -2010 and "Market is closed." in str(err.value)
    assert not isinstance(err.value, (InsufficientFunds, InvalidOrder))


async def test_trades_since_ms(exchange, driver):
    await driver.set_price("BTCUSDT", "60000")
    for i in range(3):
        await exchange.create_order(req(f"t{i}", type="market", price=None, qty="0.001"))
    trades = await exchange.fetch_my_trades("BTCUSDT")
    assert len(trades) == 3 and [t.ts_ms for t in trades] == sorted(t.ts_ms for t in trades)
    assert await exchange.fetch_my_trades("BTCUSDT", since_ms=trades[0].ts_ms) == trades
    later = await exchange.fetch_my_trades("BTCUSDT", since_ms=trades[-1].ts_ms)
    assert later and later[-1] == trades[-1]
    assert later == [t for t in trades if t.ts_ms >= trades[-1].ts_ms]  # inclusive bound
    assert await exchange.fetch_my_trades("BTCUSDT", since_ms=trades[-1].ts_ms + 1) == []
    assert await exchange.fetch_my_trades("ETHUSDT") == []


async def test_stream_pushes_prices_and_fills(exchange, driver):
    seen: list = []
    got_price, got_fill = trio.Event(), trio.Event()

    async def consume():
        traded = D(0)
        async for event in exchange.stream(["BTCUSDT"]):
            seen.append(event)
            if isinstance(event, PriceUpdate) and event.symbol == "BTCUSDT":
                got_price.set()
            if isinstance(event, OrderUpdate) and event.trade is not None:
                traded += event.trade.quantity
                if traded >= D("0.002"):
                    got_fill.set()
                    return

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await driver.set_price("BTCUSDT", "60000")
            await got_price.wait()
            await exchange.create_order(req("s-1", qty="0.002", price="59000"))
            await driver.set_price("BTCUSDT", "59000")
            await driver.set_price("BTCUSDT", "59000")
            await got_fill.wait()
    # Every trade exactly once, the order ending filled. Live events carry the status of the
    # moment (partially filled, then filled); when the user-data socket connects after the
    # fills, the REST catch-up reports both trades with the order's current status instead.
    fills = [e for e in seen if isinstance(e, OrderUpdate) and e.trade is not None]
    assert [(f.trade.quantity, f.trade.price) for f in fills] == [
        (D("0.001"), D(59000)), (D("0.001"), D(59000))]
    assert fills[-1].order.status == "filled"
    assert fills[0].order.status in ("partially_filled", "filled")
    assert fills[0].trade.trade_id != fills[1].trade.trade_id
    assert all(f.order.client_order_id == "s-1" for f in fills)


async def test_state_survives_a_restart(venue):
    if venue.restart is None:
        pytest.skip(f"{venue.kind} keeps its state elsewhere")
    await venue.driver.set_price("BTCUSDT", "60000")
    await venue.exchange.create_order(req("keep-1", qty="0.002", price="59000"))
    await venue.driver.set_price("BTCUSDT", "59000")
    await venue.exchange.create_order(req("keep-m", type="market", price=None, qty="0.001"))
    before = (await venue.exchange.fetch_balances(),
              await venue.exchange.fetch_open_orders(),
              await venue.exchange.fetch_my_trades("BTCUSDT"),
              await venue.exchange.fetch_prices())
    exchange = await venue.restart()
    after = (await exchange.fetch_balances(), await exchange.fetch_open_orders(),
             await exchange.fetch_my_trades("BTCUSDT"), await exchange.fetch_prices())
    assert after == before
    await venue.driver.set_price("BTCUSDT", "58000")  # the rest of keep-1 fills after restart
    assert (await exchange.fetch_order("BTCUSDT", "keep-1")).status == "filled"
    trade_ids = [t.trade_id for t in await exchange.fetch_my_trades("BTCUSDT")]
    assert len(trade_ids) == len(set(trade_ids)) == 3
