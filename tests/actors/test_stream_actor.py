"""The stream actor end to end: the paper exchange pushes prices and fills through the stream
actor into a real gateway (Store on tmp_path) and market data; symbol changes resubscribe; the
Binance emulator's user-data stream through the ccxt adapter; a refused stream backs off."""

import pytest
import trio
import trio.testing

from actors.runtime.clock import EngineClock
from actors.market.health import ExchangeHealth
from actors.orders.gateway import OrderGateway
from actors.market.prices import MarketData
from actors.market.streams import StreamActor
from engine.group.messages import OrderEnded, PlaceOrder, PriceChanged, TradeFilled
from engine.group.state import OrderRef
from tests.actors.runtime_kit import (
    START_MS, D, Deliveries, binance_port, insert_order, new_group, open_store, paper,
)
from tests.emulator.server import EmulatorThread

ENTRY = OrderRef(pyramid=0, leg=0, purpose="e", attempt=0)


class Engine:
    """The exchange-facing part of the engine: port -> stream actor -> gateway / market."""

    def __init__(self, store, port, clock, *, feed_clock=False):
        self.store, self.port, self.clock = store, port, clock
        self.deliveries = Deliveries()
        self.health = ExchangeHealth(clock.wall_ms)
        self.gateway = OrderGateway(port=port, store=store, instance=store.instance_id(),
                                    deliver=self.deliveries, clock_ms=clock.now_ms)
        self.market = MarketData(port=port, clock_ms=clock.now_ms)
        self.stream = StreamActor(port=port, on_order=self.gateway.on_update,
                                  on_price=self.market.on_price, clock_ms=clock.now_ms,
                                  health=self.health,
                                  on_feed_time=clock.on_feed_time if feed_clock else None)
        self.group = new_group(store)

    def command(self, *, qty="0.01", price="29000") -> PlaceOrder:
        insert_order(self.store, self.group, ENTRY, qty=D(qty), price=D(price))
        return PlaceOrder(group_id=self.group, ref=ENTRY, symbol="BTCUSDT", side="buy",
                          order_type="limit", qty=D(qty), price=D(price))


@pytest.fixture
async def engine(tmp_path, nursery):
    clock = EngineClock.following_trio(START_MS, mode="feed")
    store = await open_store(tmp_path, nursery, clock)
    exchange = paper(store, clock, partial_fill_ratio=D("0.5"))
    engine = Engine(store, exchange, clock, feed_clock=True)
    await nursery.start(engine.stream.run)
    return engine


async def test_paper_prices_and_fills_flow_into_market_and_gateway(engine, autojump_clock):
    inbox_send, inbox = trio.open_memory_channel[PriceChanged](1)
    sub = engine.market.subscribe("BTCUSDT", inbox_send.send_nowait)
    engine.stream.set_symbols({"BTCUSDT"})
    await trio.sleep(1)  # the subscription reopens for the new symbol set
    await engine.port.push_price("BTCUSDT", D("30000"), START_MS + 1000)
    await trio.testing.wait_all_tasks_blocked()
    assert engine.market.price("BTCUSDT") == (D("30000"), START_MS + 1000)
    assert engine.clock.now_ms() == START_MS + 1000  # feed clock follows the feed
    await engine.gateway.place(engine.command())
    for i, price in enumerate(("29500", "29000", "28900")):
        await engine.port.push_price("BTCUSDT", D(price), START_MS + 2000 + i)
        await trio.testing.wait_all_tasks_blocked()
    assert engine.deliveries.kinds(engine.group) == [
        "OrderAccepted", "TradeFilled", "TradeFilled", "OrderEnded"]
    fills = [m for m in engine.deliveries.by_group[engine.group] if isinstance(m, TradeFilled)]
    assert [f.qty for f in fills] == [D("0.005"), D("0.005")]
    assert engine.deliveries.by_group[engine.group][-1] == OrderEnded(ref=ENTRY, status="filled")
    # one message woke the subscriber; it reads the newest price
    assert inbox.receive_nowait() == PriceChanged(price=D("30000"))
    with pytest.raises(trio.WouldBlock):
        inbox.receive_nowait()
    assert sub.take() == D("28900")
    assert engine.health.status() == "connected" and engine.health.stream_up


async def test_a_changed_symbol_set_resubscribes_and_gets_the_new_prices(engine,
                                                                         autojump_clock):
    engine.stream.set_symbols({"BTCUSDT"})
    await trio.sleep(1)
    await engine.port.push_price("ETHUSDT", D("2000"))
    await trio.testing.wait_all_tasks_blocked()
    assert engine.market.price("ETHUSDT") is None  # not watched
    assert engine.stream.subscribed == ("BTCUSDT",)
    restarts = engine.stream.restarts
    engine.stream.set_symbols({"BTCUSDT", "ETHUSDT"})
    engine.stream.set_symbols({"BTCUSDT", "ETHUSDT"})  # unchanged: no second restart
    await trio.sleep(1)
    assert engine.stream.restarts == restarts + 1
    assert engine.stream.subscribed == ("BTCUSDT", "ETHUSDT")
    assert engine.market.price("ETHUSDT")[0] == D("2000")  # the catch-up's last price


async def test_an_order_filled_during_a_restart_is_delivered_once(engine, autojump_clock):
    engine.stream.set_symbols({"BTCUSDT"})
    await engine.port.push_price("BTCUSDT", D("30000"))
    await engine.gateway.place(engine.command(price="29000"))
    await trio.testing.wait_all_tasks_blocked()
    engine.stream.set_symbols({"BTCUSDT", "ETHUSDT"})
    await engine.port.push_price("BTCUSDT", D("28000"))  # while no subscription is open
    await engine.port.push_price("BTCUSDT", D("28000"))
    await trio.sleep(1)
    # nobody streamed the fill: the restart's catch-up found it, the gateway passed it once
    assert engine.deliveries.kinds(engine.group) == [
        "OrderAccepted", "TradeFilled", "TradeFilled", "OrderEnded"]


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


async def test_binance_user_data_stream_drives_the_gateway(tmp_path, nursery, emulator):
    emulator.reset()
    emulator.price("BTCUSDT", "30000")
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    port = binance_port(tmp_path, store, clock, emulator)
    try:
        await port.load_markets()
        engine = Engine(store, port, clock)
        engine.stream.set_symbols({"BTCUSDT"})
        await nursery.start(engine.stream.run)
        await engine.gateway.place(engine.command(price="29000"))
        emulator.price("BTCUSDT", "28900")  # fills the resting buy on the emulator
        await engine.deliveries.wait_for(engine.group, 3)
        with trio.fail_after(10):  # the ticker websocket brings the new price
            while engine.market.price("BTCUSDT") is None:
                await trio.sleep(0.05)
        assert engine.market.price("BTCUSDT")[0] == D("28900")
        await trio.sleep(0.3)  # a duplicate (stream + catch-up) would arrive by now
        assert engine.deliveries.kinds(engine.group) == [
            "OrderAccepted", "TradeFilled", "OrderEnded"]
        assert engine.health.snapshot()["stream_up"]
    finally:
        await port.aclose()


async def test_refused_credentials_end_the_stream_which_backs_off_and_reports(
        tmp_path, nursery, emulator):
    emulator.reset()
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    port = binance_port(tmp_path, store, clock, emulator)
    emulator.fault("-2015", path="userDataStream", count=100)
    try:
        await port.load_markets()
        engine = Engine(store, port, clock)
        engine.stream.set_symbols({"BTCUSDT"})
        await nursery.start(engine.stream.run)
        with trio.fail_after(10):
            while engine.health.auth_error is None:
                await trio.sleep(0.05)
        assert engine.health.engine_error() == "Invalid API credentials"
        assert not engine.health.stream_up
        assert engine.health.status() == "degraded"
    finally:
        await port.aclose()
