"""The gateway across a restart: what it knows of an earlier run's orders is read once, when it
is built. Placing reads nothing from the database, a resend still queries first, and the stream's
replay of the open orders writes nothing that the rows already say."""

import json

import pytest
import trio.testing

from actors.clock import EngineClock
from actors.exchange.port import OrderUpdate
from actors.gateway import OrderGateway
from engine.group.state import OrderRef
from tests.actors.runtime_kit import (
    START_MS, D, direct_order, open_store, order_row, outcomes, paper,
)
from tests.actors.test_gateway import ENTRY, World

SECOND = OrderRef(pyramid=0, leg=1, purpose="e", attempt=0)


@pytest.fixture
async def world(tmp_path, nursery):
    clock = EngineClock.following_trio(START_MS)
    store = await open_store(tmp_path, nursery, clock)
    exchange = paper(store, clock)
    await exchange.push_price("BTCUSDT", D("30000"))
    return World(store, exchange, clock)


def restarted(world) -> OrderGateway:
    return OrderGateway(port=world.exchange, store=world.store,
                        instance=world.store.instance_id(), deliver=world.deliveries,
                        clock_ms=world.clock.now_ms)


def recorded_states(world, ref=ENTRY) -> list[str]:
    return [json.loads(body)["state"] for body in outcomes(world.store, world.cid(ref))]


def journal_rows(world) -> int:
    return world.store.query("SELECT count(*) AS n FROM journal")[0]["n"]


async def test_placing_reads_nothing_from_the_database(world, autojump_clock):
    first, second = world.order(), world.order(SECOND, price="28000")
    reads: list[str] = []
    query = world.store.query
    world.store.query = lambda sql, params=(): reads.append(sql) or query(sql, params)
    await world.gateway.place(first)
    await world.gateway.place(second)
    assert reads == []
    assert order_row(world.store, world.cid(SECOND))["state"] == "open"


async def test_the_replay_of_open_orders_after_a_restart_writes_nothing(
        world, autojump_clock):
    await world.gateway.place(world.order())
    await world.gateway.place(world.order(SECOND, price="28000"))
    gateway, before = restarted(world), journal_rows(world)
    replay = [OrderUpdate(order=o) for o in await world.exchange.fetch_open_orders()]
    for update in replay:
        await gateway.on_update(update)
    assert journal_rows(world) == before
    # the groups still hear of the acknowledgement (one lost before the restart is repeated)
    assert world.deliveries.kinds(world.group)[-2:] == ["OrderAccepted", "OrderAccepted"]
    # what moved is written, and its repeat is not
    for update in await world.exchange.push_price("BTCUSDT", D("28500"), START_MS + 5):
        await gateway.on_update(update)
    assert recorded_states(world) == ["open", "filled"]
    await gateway.on_update(replay[1])
    assert journal_rows(world) == before + 1


async def test_an_update_that_differs_from_the_row_is_written(world, autojump_clock):
    await world.gateway.place(world.order())
    world.store.write_now(lambda c: c.execute(  # e.g. the reconciler's older view
        "UPDATE orders SET state = 'unknown' WHERE client_order_id = ?", (world.cid(),)))
    gateway = restarted(world)
    (state,) = await world.exchange.fetch_open_orders()
    await gateway.on_update(OrderUpdate(order=state))
    assert order_row(world.store, world.cid())["state"] == "open"
    await gateway.on_update(OrderUpdate(order=state))
    assert recorded_states(world) == ["open", "open"]  # placed; then the update


async def test_an_order_known_only_from_the_stream_is_queried_before_a_resend(
        world, autojump_clock):
    """An earlier run sent it and stopped before recording the answer (no ``sent_at``); this
    run hears of it from the stream only, and it fills before the group resends it."""
    command = world.order(price="29000")
    await world.exchange.create_order(direct_order(world.cid(), qty="0.01", price="29000"))
    gateway = restarted(world)
    (state,) = await world.exchange.fetch_open_orders()
    await gateway.on_update(OrderUpdate(order=state))
    await world.exchange.push_price("BTCUSDT", D("28000"))  # its fill is not delivered
    await gateway.place(command)
    await trio.testing.wait_all_tasks_blocked()
    assert len(world.exchange.book.orders) == 1  # adopted, never placed twice
    assert order_row(world.store, world.cid())["state"] == "filled"
