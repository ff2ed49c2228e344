"""The gateway's waiting line (actors/orders/line.py) with the real limiter under trio's MockClock:
by purpose then age, within the budget, a reserve for protective orders, withdrawals and stale
legs that never spend budget, the alert, and first-come order when priority is off."""

import logging
from decimal import Decimal as D

import trio

from actors.exchange.limiter import Budget, TrioLimiter, WindowLimit
from actors.orders.line import OrderLine
from engine.group.messages import CancelOrder, PlaceOrder
from engine.group.state import OrderRef

LIMIT = 10  # new orders per second; the classes 2 and 3 leave 1 of them to class 1


def now_ms() -> int:
    return int(trio.current_time() * 1000)


def order(group: int, purpose: str, leg: int | None, *, decided: int | None = None,
          stale_at: str | None = None) -> PlaceOrder:
    return PlaceOrder(group_id=group, ref=OrderRef(pyramid=0 if leg is not None else None,
                                                   leg=leg, purpose=purpose, attempt=0),
                      symbol="LTCUSDT", side="buy" if purpose == "e" else "sell",
                      order_type="limit", qty=D("1"), price=D("100"),
                      decided_ms=now_ms() if decided is None else decided,
                      stale_at=None if stale_at is None else D(stale_at))


def key(cmd) -> str:
    prefix = "cancel:" if isinstance(cmd, CancelOrder) else ""
    return f"{prefix}{cmd.group_id}-{cmd.ref.purpose}{cmd.ref.leg}"


class Rig:
    def __init__(self, *, priority: bool = True, alert_ms: int = 5_000):
        self.limiter = TrioLimiter(Budget([WindowLimit(limit=1_000, window_s=60.0)],
                                          [WindowLimit(limit=LIMIT, window_s=1.0)]))
        self.prices: dict[str, D] = {}
        self.line = OrderLine(limiter=self.limiter, weight_of=lambda call: 1.0,
                              price_of=self.prices.get, clock_ms=now_ms, priority=priority,
                              alert_after_ms=lambda: alert_ms, max_in_flight=4)
        self.sent: list[tuple[float, str, int]] = []  # (time, key, waited ms)
        self.dropped: list[tuple[str, D]] = []

    async def send(self, cmd, waited_ms: int) -> None:
        # the port call acquires as usual: the line already paid for it (prepaid)
        await self.limiter.acquire(1.0, 0 if isinstance(cmd, CancelOrder) else 1)
        self.sent.append((trio.current_time(), key(cmd), waited_ms))
        await trio.sleep(0.002)

    async def drop(self, cmd, price) -> None:
        self.dropped.append((key(cmd), price))

    def put(self, *cmds) -> None:
        for cmd in cmds:
            assert self.line.put(key(cmd), cmd)

    def order_of_sends(self) -> list[str]:
        return [k for _, k, _ in self.sent]


async def test_take_profits_overtake_every_waiting_entry_within_the_budget(
        nursery, autojump_clock):
    rig = Rig()
    await nursery.start(rig.line.run, rig.send, rig.drop)
    # 30 ladders, three windows' worth of first legs; group g decided at g ms
    rig.put(*(order(g, "e", leg, decided=g) for leg in (2, 1, 0) for g in range(1, 31)))
    await trio.sleep(1.5)
    before = len(rig.sent)
    rig.put(*(order(g, "t", 0) for g in (1, 2, 3)))
    await trio.sleep(3)
    # the reserve takes the first at once; each next one takes the next unit the budget frees
    assert rig.order_of_sends()[before:before + 3] == ["1-t0", "2-t0", "3-t0"]
    waits = [w for _, k, w in rig.sent if k.endswith("-t0")]
    assert waits[0] == 0 and waits[1] <= 1_100 and waits[2] <= 1_100
    await trio.sleep(30)
    sends = rig.order_of_sends()
    assert len(sends) == 93 and len(set(sends)) == 93  # all sent, each once
    entries = [k for k in sends if "-e" in k]
    # first legs before deeper ones, each class oldest first (the group id here)
    assert entries[:30] == [f"{g}-e0" for g in range(1, 31)]
    assert entries[30:] == [f"{g}-e{leg}" for g in range(1, 31) for leg in (1, 2)]
    times = [t for t, _, _ in rig.sent]
    for i, t in enumerate(times):  # never more than the limit in any second
        assert sum(1 for u in times[i:] if u < t + 1.0) <= LIMIT
    assert rig.limiter.usage()[1]["used"] <= LIMIT  # prepaid: each order counted once


async def test_lower_classes_leave_the_reserve_for_protective_orders(nursery, autojump_clock):
    rig = Rig()
    await nursery.start(rig.line.run, rig.send, rig.drop)
    rig.put(*(order(g, "e", 1) for g in range(1, 21)))
    await trio.sleep(0.5)
    assert len(rig.sent) == LIMIT - 1  # one unit kept
    rig.put(order(99, "x", None))
    await trio.sleep(0.01)
    assert rig.sent[-1][1:] == ("99-xNone", 0)


async def test_withdrawn_and_stale_orders_leave_without_spending_budget(nursery, autojump_clock):
    rig = Rig()
    await nursery.start(rig.line.run, rig.send, rig.drop)
    rig.limiter.penalise(5.0)  # a Retry-After: nothing may go out for now
    rig.prices["LTCUSDT"] = D("100")
    rig.put(order(1, "e", 0), order(1, "e", 1, stale_at="103"), order(2, "e", 1))
    assert rig.line.withdraw("1-e0") is not None
    assert rig.line.withdraw("1-e0") is None  # once
    rig.prices["LTCUSDT"] = D("103")
    await trio.sleep(6)
    assert rig.order_of_sends() == ["2-e1"]
    assert rig.dropped == [("1-e1", D("103"))]
    status = rig.line.status()
    assert (status["sent"], status["dropped"], status["withdrawn"]) == (1, 1, 1)
    assert rig.limiter.usage()[1]["used"] == 1


async def test_status_shows_each_class_with_its_oldest_and_the_budget(nursery, autojump_clock):
    rig = Rig()
    rig.limiter.penalise(10.0)
    await nursery.start(rig.line.run, rig.send, rig.drop)
    rig.put(order(1, "e", 1))
    await trio.sleep(2)
    rig.put(order(2, "t", 0), CancelOrder(group_id=3, ref=OrderRef(
        pyramid=0, leg=0, purpose="e", attempt=0), symbol="LTCUSDT"))
    await trio.sleep(1)
    status = rig.line.status()
    classes = {c["name"]: (c["count"], c["oldest_age_ms"]) for c in status["classes"]}
    assert classes == {"protective": (2, 1000), "first_leg": (0, None),
                       "deeper_leg": (1, 3000)}
    assert status["budget"] == [
        {"kind": "weight", "window_s": 60.0, "limit": 1000, "used": 0},
        {"kind": "orders", "window_s": 1.0, "limit": LIMIT, "used": 0}]
    assert status["waiting"] == 3 and status["priority"] is True


async def test_a_protective_order_waiting_past_the_bound_raises_one_alert(
        nursery, autojump_clock, caplog):
    rig = Rig(alert_ms=500)
    await nursery.start(rig.line.run, rig.send, rig.drop)
    with caplog.at_level(logging.WARNING, logger="engine.order"):
        rig.put(*(order(g, "t", 0) for g in range(1, 31)))  # three seconds of budget
        await trio.sleep(5)
    alerts = [r for r in caplog.records if getattr(r, "event", "") == "protective_order_waited"]
    assert len(alerts) == 1 and alerts[0].data["bound_ms"] == 500
    assert alerts[0].data["waited_ms"] > 500
    assert len(rig.sent) == 30
    assert max(w for _, _, w in rig.sent) > 1_000


async def test_without_priority_orders_leave_in_arrival_order(nursery, autojump_clock):
    rig = Rig(priority=False)
    await nursery.start(rig.line.run, rig.send, rig.drop)
    cmds = [order(1, "e", 2), order(1, "e", 0), order(2, "t", 0), order(3, "e", 1)] * 1
    cmds += [order(g, "e", 1) for g in range(10, 30)]
    rig.put(*cmds)
    await trio.sleep(5)
    assert rig.order_of_sends() == [key(c) for c in cmds]
