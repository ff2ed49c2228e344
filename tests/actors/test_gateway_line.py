"""The gateway's waiting line end to end on the real paper exchange and a real Store: a withdrawn
or stale entry leg leaves the line recorded and ended without an exchange call; the order log
says how long each order waited."""

import logging

import trio

from actors.exchange.limiter import Budget, TrioLimiter, WindowLimit
from actors.orders.gateway import OrderGateway
from engine.group.messages import OrderAccepted, OrderEnded, PlaceOrder, WithdrawOrder
from engine.group.state import OrderRef
from tests.actors.runtime_kit import D, Wrapped, order_row
from tests.actors.test_gateway import World, world  # noqa: F401 - the fixture

LEG1 = OrderRef(pyramid=0, leg=1, purpose="e", attempt=0)
LEG2 = OrderRef(pyramid=0, leg=2, purpose="e", attempt=0)
TP = OrderRef(pyramid=0, leg=0, purpose="t", attempt=0)


class Budgeted(Wrapped):
    """The paper exchange behind a rate budget, as the ccxt adapter has one."""

    def __init__(self, inner):
        super().__init__(inner)
        self.limiter = TrioLimiter(Budget([WindowLimit(limit=100, window_s=60.0)],
                                          [WindowLimit(limit=10, window_s=1.0)]))


def entry(world: World, ref: OrderRef, price: str, stale_at: str | None) -> PlaceOrder:
    cmd = world.order(ref, price=price)
    return PlaceOrder(**{**{f: getattr(cmd, f) for f in cmd.__struct_fields__},
                         "decided_ms": world.clock.now_ms(),
                         "stale_at": None if stale_at is None else D(stale_at)})


async def test_withdrawn_and_stale_legs_end_unsent_and_recorded(world, nursery, autojump_clock,
                                                                 caplog):
    port = Budgeted(world.exchange)
    prices = {"BTCUSDT": D("30000")}
    gateway = OrderGateway(port=port, store=world.store, instance=world.store.instance_id(),
                           deliver=world.deliveries, clock_ms=world.clock.now_ms,
                           price_of=prices.get)
    send, inbox = trio.open_memory_channel(10)
    await nursery.start(gateway.run, inbox)
    port.limiter.penalise(30.0)  # a Retry-After: everything waits in the line
    stale = entry(world, LEG1, "29000", stale_at="30300")
    waiting = entry(world, LEG2, "28500", stale_at="30300")
    tp = world.order(TP, side="sell", price="31000")
    with caplog.at_level(logging.INFO, logger="engine.order"):
        for cmd in (stale, waiting, tp):
            await send.send(cmd)
        await send.send(WithdrawOrder(group_id=world.group, ref=LEG2, symbol="BTCUSDT"))
        await world.deliveries.wait_for(world.group, 1)
        prices["BTCUSDT"] = D("30300")  # the ladder is stale: the waiting leg 1 is dropped
        await world.deliveries.wait_for(world.group, 2)
        assert gateway.line.waiting() == [world.cid(TP)]
        await trio.sleep(31)
        await world.deliveries.wait_for(world.group, 3)
    assert world.got()[:2] == [OrderEnded(ref=LEG2, status="canceled", dropped=True),
                               OrderEnded(ref=LEG1, status="canceled", dropped=True)]
    assert isinstance(world.got()[2], OrderAccepted) and world.got()[2].ref == TP
    withdrawn, dropped = order_row(world.store, world.cid(LEG2)), order_row(
        world.store, world.cid(LEG1))
    assert (withdrawn["state"], withdrawn["error"]) == ("canceled", "withdrawn before sending")
    assert dropped["state"] == "canceled" and dropped["error"].startswith(
        "dropped before sending: price 30300 reached the stale-ladder price 30300")
    on_exchange = {o.client_order_id for o in await world.exchange.fetch_open_orders()}
    assert on_exchange == {world.cid(TP)}  # neither leg ever reached the exchange
    events = {getattr(r, "event", ""): r for r in caplog.records}
    assert events["order_dropped"].order_id in (world.cid(LEG1), world.cid(LEG2))
    waited = events["order_outcome"].data["waited_ms"]
    assert 30_000 <= waited <= 31_000  # the TP's wait, in the order log
    status = gateway.line.status()
    assert (status["sent"], status["dropped"], status["withdrawn"]) == (1, 1, 1)
