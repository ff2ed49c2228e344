"""Market data: newest price per symbol, one pending notification per subscriber, fresh prices
fetched from the real paper exchange when the known ones are too old."""

import pytest
import trio

from actors.runtime.clock import EngineClock
from actors.exchange.port import PriceUpdate
from actors.market.prices import MarketData
from engine.group.messages import PriceChanged
from tests.actors.runtime_kit import START_MS, D, open_store, paper


@pytest.fixture
async def world(tmp_path, nursery):
    clock = EngineClock.following_trio(START_MS)
    store = await open_store(tmp_path, nursery, clock)
    exchange = paper(store, clock)
    return clock, exchange, MarketData(port=exchange, clock_ms=clock.now_ms)


def update(symbol: str, price: str, ts: int = START_MS) -> PriceUpdate:
    return PriceUpdate(symbol=symbol, price=D(price), ts_ms=ts)


async def test_newest_price_wins_and_is_stamped_with_its_arrival(world, autojump_clock):
    clock, _, market = world
    assert market.price("BTCUSDT") is None
    market.on_price(update("BTCUSDT", "100"))
    await trio.sleep(2)
    # a replayed feed carries an old candle time: age counts from arrival, order by arrival
    market.on_price(update("BTCUSDT", "101", ts=START_MS - 3_600_000))
    assert market.price("BTCUSDT") == (D("101"), START_MS + 2000)
    assert market.prices() == {"BTCUSDT": (D("101"), START_MS + 2000)}


async def test_a_burst_leaves_one_message_in_a_tiny_inbox_and_take_reads_the_newest(world, autojump_clock):
    _, _, market = world
    send, receive = trio.open_memory_channel[PriceChanged](1)
    sub = market.subscribe("BTCUSDT", send.send_nowait)
    for i in range(1000):  # would be a WouldBlock on the second message without coalescing
        market.on_price(update("BTCUSDT", str(100 + i)))
    market.on_price(update("ETHUSDT", "5"))  # other symbols do not wake this subscriber
    first = receive.receive_nowait()
    assert first == PriceChanged(price=D("100"))
    with pytest.raises(trio.WouldBlock):
        receive.receive_nowait()
    assert sub.pending
    assert sub.take() == D("1099")  # newer than the message that woke it
    assert not sub.pending
    market.on_price(update("BTCUSDT", "2000"))
    assert receive.receive_nowait() == PriceChanged(price=D("2000"))


async def test_subscribing_to_a_known_price_notifies_at_once_and_close_stops_it(world, autojump_clock):
    _, _, market = world
    market.on_price(update("BTCUSDT", "100"))
    seen: list[PriceChanged] = []
    sub = market.subscribe("BTCUSDT", seen.append)
    other = market.subscribe("BTCUSDT", lambda m: None)
    assert seen == [PriceChanged(price=D("100"))]
    assert market.symbols() == {"BTCUSDT"}
    sub.take()
    sub.close()
    market.on_price(update("BTCUSDT", "101"))
    assert seen == [PriceChanged(price=D("100"))]
    assert market.symbols() == {"BTCUSDT"}
    other.close()
    assert market.symbols() == set()


async def test_a_subscriber_whose_inbox_is_full_is_a_bug_that_raises(world, autojump_clock):
    _, _, market = world
    send, _receive = trio.open_memory_channel[PriceChanged](1)
    send.send_nowait(PriceChanged(price=D("1")))  # filled by somebody else: a wrong bound
    market.subscribe("BTCUSDT", send.send_nowait)
    with pytest.raises(trio.WouldBlock):
        market.on_price(update("BTCUSDT", "100"))


async def test_fresh_prices_fetch_only_stale_or_unknown_symbols(world, autojump_clock):
    _, exchange, market = world
    await exchange.push_price("BTCUSDT", D("30000"))
    await exchange.push_price("ETHUSDT", D("2000"))
    market.on_price(update("BTCUSDT", "29999"))  # fresh: used as it is
    got = await market.fresh_prices(["BTCUSDT", "ETHUSDT"])
    assert got == {"BTCUSDT": (D("29999"), START_MS), "ETHUSDT": (D("2000"), START_MS)}
    await trio.sleep(11)  # both older than 10 s now
    await exchange.push_price("BTCUSDT", D("30100"))
    got = await market.fresh_prices(["BTCUSDT"])
    assert got == {"BTCUSDT": (D("30100"), START_MS + 11_000)}
    assert market.price("ETHUSDT") == (D("2000"), START_MS)  # not asked for: not fetched


async def test_fresh_prices_leave_out_what_the_exchange_cannot_price(world, autojump_clock):
    _, exchange, market = world
    await exchange.push_price("BTCUSDT", D("30000"))
    # ETHUSDT has no price yet on the exchange; an unknown symbol makes the fetch fail
    assert await market.fresh_prices(["BTCUSDT", "ETHUSDT"]) == {
        "BTCUSDT": (D("30000"), START_MS)}
    assert await market.fresh_prices(["NOPEUSDT"]) == {}


async def test_a_fetched_price_never_overwrites_one_that_arrived_meanwhile(world, autojump_clock):
    """The REST answer is older knowledge than a stream price that came in while it ran."""
    _, exchange, _ = world

    class SlowPrices:  # the paper exchange, answering after a stream update arrived
        name = "paper"

        async def fetch_prices(self, symbols=None):
            prices = await exchange.fetch_prices(symbols)
            market.on_price(update("BTCUSDT", "30500"))
            return prices

    await exchange.push_price("BTCUSDT", D("30000"))
    market = MarketData(port=SlowPrices(), clock_ms=lambda: START_MS)
    assert await market.fresh_prices(["BTCUSDT"]) == {"BTCUSDT": (D("30500"), START_MS)}


async def test_prices_inside_the_quiet_band_are_not_offered(world, autojump_clock):
    """``quiet_between``: a subscriber is woken only by prices that can change its decision,
    and at once when a new band leaves the newest price outside it."""
    _, _, market = world
    seen: list[PriceChanged] = []
    sub = market.subscribe("BTCUSDT", seen.append)
    sub.quiet_between((None, D("110")))  # a long group: acts at 110 and above
    for price in ("100", "105", "109.99"):
        market.on_price(update("BTCUSDT", price))
    assert seen == [] and not sub.pending
    market.on_price(update("BTCUSDT", "110"))  # the bound itself is outside: it may act
    assert seen == [PriceChanged(price=D("110"))]
    sub.take()
    sub.quiet_between((D("90"), None))  # a short group: 110 is inside, nothing offered
    market.on_price(update("BTCUSDT", "108"))
    assert len(seen) == 1
    sub.quiet_between((None, D("107")))  # the trigger moved below the newest price (108)
    assert seen[-1] == PriceChanged(price=D("108"))
    sub.take()
    sub.quiet_between(None)  # every price matters (a close in progress)
    assert seen[-1] == PriceChanged(price=D("108")) and len(seen) == 3
