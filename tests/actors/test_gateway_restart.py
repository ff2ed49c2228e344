"""The gateway across a restart: what it knows of an earlier run's orders is read once, when it
is built. Placing reads nothing from the database, a resend still queries first, and the stream's
replay of the open orders writes nothing that the rows already say."""

import json

import msgspec
import pytest
import trio.testing

from actors.runtime.clock import EngineClock
from actors.exchange.port import OrderUpdate
from actors.orders.gateway import OrderGateway
from actors.group.projection import decode_state, encode_state
from actors.store.writer import Store
from engine.group.state import OrderRef
from tests.actors.runtime_kit import (
    START_MS, D, direct_order, open_store, order_row, outcomes, paper,
)
from tests.actors.engine_kit import signal
from tests.actors.test_gateway import ENTRY, World
from tests.actors.test_reconciler import cid_counts, engine
from tests.actors.test_reconciler import state as reconciled_state

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
    delivered = world.deliveries.kinds(world.group)
    replay = [OrderUpdate(order=o) for o in await world.exchange.fetch_open_orders()]
    for update in replay:
        await gateway.on_update(update)
    # nothing new to the groups either: an acknowledgement a group lacks after a restart is
    # delivered by the start-up reconciliation (tests/actors/test_reconciler.py)
    assert (journal_rows(world), world.deliveries.kinds(world.group)) == (before, delivered)
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


async def test_an_acknowledgement_recorded_but_never_booked_reaches_the_group_after_a_restart(
        tmp_path, autojump_clock):
    """The gateway recorded the orders open, the engine stopped before the group booked the
    acknowledgements: the stream's replay carries nothing new, the start-up reconciliation
    delivers them."""
    db = tmp_path / "e.db"
    async with engine(db) as kit:
        await kit.send(signal())
        assert {r["state"] for r in kit.store.query("SELECT state FROM orders")} == {"open"}
    store = Store.open(db)
    try:
        row = store.query("SELECT state FROM position_groups WHERE id = 1")[0]
        before = decode_state(row["state"])
        lagging = msgspec.structs.replace(before, orders=tuple(
            msgspec.structs.replace(o, state="pending") for o in before.orders))
        store.write_now(lambda c: c.execute("UPDATE position_groups SET state = ? WHERE id = 1",
                                            (encode_state(lagging),)))
    finally:
        store.close()
    async with engine(db) as kit:
        assert {o.state for o in reconciled_state(kit).orders} == {"open"}
        assert max(cid_counts(kit).values()) == 1 and len(kit.open_orders()) == 5
