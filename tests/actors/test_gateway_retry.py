"""Gateway retry paths over the network: the ccxt adapter against the loopback Binance emulator
with injected faults. The emulator records every order request, so we can assert that a retry
reuses the same client id and that nothing is ever placed twice. Real threads: no MockClock."""

import pytest
import trio

from actors.runtime.clock import EngineClock
from actors.orders.gateway import OrderGateway
from engine.group.messages import OrderAccepted, OrderRejected, PlaceOrder
from engine.group.state import OrderRef
from tests.actors.runtime_kit import (
    D, Deliveries, binance_port, insert_order, new_group, open_store, order_row,
)
from tests.emulator.server import EmulatorThread

ENTRY = OrderRef(pyramid=0, leg=0, purpose="e", attempt=0)


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


@pytest.fixture
async def world(tmp_path, nursery, emulator):
    emulator.reset()
    emulator.price("BTCUSDT", "30000")
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    port = binance_port(tmp_path, store, clock, emulator)
    await port.load_markets()
    deliveries = Deliveries()
    gateway = OrderGateway(port=port, store=store, instance=store.instance_id(),
                           deliver=deliveries, clock_ms=clock.now_ms)
    group = new_group(store)
    insert_order(store, group, ENTRY, qty=D("0.01"), price=D("29000"))
    command = PlaceOrder(group_id=group, ref=ENTRY, symbol="BTCUSDT", side="buy",
                         order_type="limit", qty=D("0.01"), price=D("29000"))
    try:
        yield gateway, command, deliveries, store
    finally:
        await port.aclose()


def placements(emulator) -> list[tuple[str, str]]:
    return [(r["newClientOrderId"], r["_result"]) for r in emulator.orders()]


async def test_a_lost_answer_is_resolved_by_query_and_adopted(world, emulator):
    gateway, command, deliveries, store = world
    cid = gateway.cid(command.group_id, ENTRY)
    emulator.fault("5xx_after", path="/api/v3/order", method="POST")  # placed, answer lost
    started = trio.current_time()
    await gateway.place(command)
    assert placements(emulator) == [(cid, "placed")]  # never sent twice
    (accepted,) = deliveries.by_group[command.group_id]
    assert isinstance(accepted, OrderAccepted) and accepted.exchange_order_id
    assert order_row(store, cid)["response"] == "adopted open"
    assert trio.current_time() - started >= 1.0  # the first back-off step


async def test_a_failure_before_the_effect_is_resent_with_the_same_id(world, emulator):
    gateway, command, deliveries, store = world
    cid = gateway.cid(command.group_id, ENTRY)
    emulator.fault("5xx", path="/api/v3/order", method="POST")
    await gateway.place(command)
    assert placements(emulator) == [(cid, "fault 5xx"), (cid, "placed")]
    assert [type(m) for m in deliveries.by_group[command.group_id]] == [OrderAccepted]
    assert order_row(store, cid)["state"] == "open"


async def test_a_rate_limit_waits_its_retry_after_then_places_once(world, emulator):
    gateway, command, deliveries, store = world
    cid = gateway.cid(command.group_id, ENTRY)
    emulator.fault("429", path="/api/v3/order", method="POST", retry_after_s=1)
    started = trio.current_time()
    await gateway.place(command)
    assert trio.current_time() - started >= 1.0
    assert placements(emulator) == [(cid, "fault 429"), (cid, "placed")]
    assert [type(m) for m in deliveries.by_group[command.group_id]] == [OrderAccepted]


async def test_still_failing_after_three_retries_tells_the_group_to_retry_later(world, emulator):
    gateway, command, deliveries, store = world
    cid = gateway.cid(command.group_id, ENTRY)
    emulator.fault("5xx", path="/api/v3/order", method="POST", count=10)
    await gateway.place(command)
    assert placements(emulator) == [(cid, "fault 5xx")] * 4  # 1 + 3 retries, one id
    (rejected,) = deliveries.by_group[command.group_id]
    assert isinstance(rejected, OrderRejected) and rejected.retryable
    row = order_row(store, cid)
    assert row["state"] == "unknown" and row["sent_at"] is not None
