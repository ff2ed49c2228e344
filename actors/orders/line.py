"""The order gateway's waiting line: orders wait here for the exchange's rate budget and leave
by purpose, then by age (the decision: ``engine/order_priority.py``).

Owns: the waiting commands (one ``engine.order_priority.Line``), the dispatcher task, the
in-flight cap, the line's counters (sent, dropped, withdrawn, longest wait per class) and
``history``, the last sends in order (what overtook what, for the storm checks).
Receives: ``put(cid, cmd)`` from the gateway (never blocks: the gateway inbox is the
backpressure), ``withdraw(key)``; the budget from the exchange port's ``TrioLimiter`` (None on
the paper exchange: every order is admitted at once); prices from ``price_of``.
Sends: each admitted command to ``send(cmd, waited_ms)`` in its own task, at most
``max_in_flight`` at a time, with its budget already taken (``TrioLimiter.prepaid``: the port
call does not pay twice); each entry leg the market has made stale to ``drop(cmd, price)``
without spending budget; an Order warning (an alert) when a protective order has waited longer
than ``alert_after_ms()``, at most once per ``ALERT_EVERY_S``.
Fails how: ``send``/``drop`` raising propagates out of ``run`` (the gateway's own errors are
outcomes, so only a storage failure or a bug gets here: crash-only). With ``priority`` off,
orders leave in arrival order with no reserve — the first-come behaviour, for comparison.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import trio

from engine.group.messages import CancelOrder, PlaceOrder
from engine.order_priority import (
    CLASS_NAMES, CLASSES, PROTECTIVE, Drop, Line, Send, Wait, Waiting, next_step, order_class,
    reserve, stale_items,
)

log = logging.getLogger("engine.order")

ALERT_EVERY_S = 60.0
SWEEP_S = 1.0  # stale legs further back in the line are looked for this often
HISTORY = 20_000  # the last sends kept in ``history``
Command = PlaceOrder | CancelOrder


class OrderLine:
    def __init__(self, *, limiter: Any | None, weight_of: Callable[[str], float],
                 price_of: Callable[[str], Decimal | None], clock_ms: Callable[[], int],
                 alert_after_ms: Callable[[], int] = lambda: 5_000, priority: bool = True,
                 max_in_flight: int = 32):
        self._limiter = limiter
        self._weight_of = weight_of
        self._price_of = price_of
        self._clock_ms = clock_ms
        self._alert_after_ms = alert_after_ms
        self.priority = priority
        self._slots = trio.CapacityLimiter(max_in_flight)
        self._line = Line()
        self._cmds: dict[str, Command] = {}
        self._arrivals = 0
        self._changed = trio.Event()
        self._retry_in = 0.0  # the budget's answer to the last refused admission
        self._alerted_at: float | None = None
        self._swept_at = float("-inf")
        self.sent = self.dropped = self.withdrawn = self.in_flight = 0
        self.longest_wait_ms = dict.fromkeys(CLASSES, 0)  # of what left, per class
        # the last sends, in order: (key, class, sends before it entered the line, its number,
        # ms it waited)
        self.history: deque[tuple[str, int, int, int, int]] = deque(maxlen=HISTORY)
        self._entered: dict[str, int] = {}

    # -- what the gateway puts in and takes back -------------------------------------------

    def put(self, key: str, cmd: Command) -> bool:
        """Queue a command under ``key`` (the client id; ``cancel:<cid>`` for a cancel).
        False when that key already waits."""
        if key in self._line:
            return False
        now = self._clock_ms()
        self._arrivals += 1
        cancel = isinstance(cmd, CancelOrder)
        cls = order_class(cmd.ref.purpose, cmd.ref.leg, cancel=cancel)
        stale = None if cancel else cmd.stale_at
        if self.priority:
            seq = now if cancel or not cmd.decided_ms else cmd.decided_ms
        else:
            cls, seq = PROTECTIVE, self._arrivals
        self._line.put(Waiting(
            cls=cls, seq=seq, cid=key, symbol=cmd.symbol, since_ms=now, stale_at=stale,
            entry_side=None if stale is None else cmd.side))
        self._cmds[key] = cmd
        self._entered[key] = self.sent
        self._changed.set()
        return True

    def withdraw(self, key: str) -> Command | None:
        """Take a waiting command out (it leaves without spending budget); None if it is not
        waiting (already sent, or never queued)."""
        if self._line.remove(key) is None:
            return None
        self.withdrawn += 1
        self._entered.pop(key, None)
        return self._cmds.pop(key)

    def seed(self, sent_since: Callable[[int], int]) -> None:
        """At start: count an earlier run's recent orders in the order windows (a restart
        inside an exchange window must not spend that window twice)."""
        if self._limiter is None:
            return
        now = self._clock_ms()
        for u in self._limiter.usage():
            if u["kind"] == "orders":
                self._limiter.count("orders", u["window_s"],
                                    sent_since(now - int(u["window_s"] * 1000)))

    def waiting(self) -> list[str]:
        """The keys in the order they would leave."""
        return [w.cid for w in self._line.in_order()]

    # -- the dispatcher -------------------------------------------------------------------

    async def run(self, send: Callable[[Command, int], Awaitable[None]],
                  drop: Callable[[PlaceOrder, Decimal], Awaitable[None]], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                token = object()  # a free in-flight slot before anything is chosen
                await self._slots.acquire_on_behalf_of(token)
                while True:
                    self._changed = trio.Event()
                    step = next_step(self._line, self._price_of, self._admits)
                    if isinstance(step, Send):
                        taken = self._take(step.item)
                        self.history.append((step.item.cid, taken[2],
                                             self._entered.pop(step.item.cid), self.sent,
                                             taken[1]))
                        self.sent += 1
                        nursery.start_soon(self._send, send, taken, token)
                        break
                    drops = [step] if isinstance(step, Drop) else self._sweep()
                    for found in drops:
                        self.dropped += 1
                        cmd = self._take(found.item)[0]
                        self._entered.pop(found.item.cid, None)
                        assert isinstance(cmd, PlaceOrder)
                        nursery.start_soon(drop, cmd, found.price)
                    if not drops:
                        await self._idle(step)

    def _sweep(self) -> list[Drop]:
        now = trio.current_time()
        if now < self._swept_at + SWEEP_S:
            return []
        self._swept_at = now
        return stale_items(self._line, self._price_of)

    def _admits(self, item: Waiting) -> bool:
        """Takes the budget when it says yes (``TrioLimiter.admit_now``)."""
        if self._limiter is None:
            return True
        placing = isinstance(self._cmds[item.cid], PlaceOrder)
        weight = self._weight_of("create_order" if placing else "cancel_order")
        self._retry_in = self._limiter.admit_now(weight, int(placing),
                                                 lambda limit: reserve(item.cls, limit))
        return self._retry_in <= 0

    def _take(self, item: Waiting) -> tuple[Command, int, int, float]:
        """Out of the line: (command, waited ms, class it counts in, when)."""
        self._line.remove(item.cid)
        cmd = self._cmds.pop(item.cid)
        waited = max(0, self._clock_ms() - item.since_ms)
        cls = self._class_of(cmd)
        self.longest_wait_ms[cls] = max(self.longest_wait_ms[cls], waited)
        return cmd, waited, cls, trio.current_time()

    async def _send(self, send: Callable[[Command, int], Awaitable[None]],
                    taken: tuple[Command, int, int, float], token: object) -> None:
        cmd, waited, cls, taken_at = taken
        self.in_flight += 1
        try:
            if cls == PROTECTIVE:
                self._alert_if_late(waited)
            if self._limiter is None:
                await send(cmd, waited)
                return
            placing = isinstance(cmd, PlaceOrder)
            weight = self._weight_of("create_order" if placing else "cancel_order")
            with self._limiter.prepaid(weight, int(placing), taken_at):
                await send(cmd, waited)
        finally:
            self.in_flight -= 1
            self._slots.release_on_behalf_of(token)

    async def _idle(self, step: Wait | None) -> None:
        """Until something is put, the budget frees up, or a protective order is overdue."""
        wake = float("inf") if step is None else min(max(self._retry_in, 1e-3), SWEEP_S)
        head = self._line.head(PROTECTIVE) if self.priority else None
        if head is not None:
            waited = self._clock_ms() - head.since_ms
            due = (self._alert_after_ms() - waited) / 1000
            if due <= 0:
                self._alert_if_late(waited)
            else:
                wake = min(wake, due)
        with trio.move_on_after(wake):
            await self._changed.wait()

    def _alert_if_late(self, waited_ms: int) -> None:
        bound = self._alert_after_ms()
        now = trio.current_time()
        if waited_ms <= bound or (self._alerted_at is not None
                                  and now - self._alerted_at < ALERT_EVERY_S):
            return
        self._alerted_at = now
        counts = {CLASS_NAMES[c]: n for c, n, _ in self._line.by_class()}
        log.warning(f"a protective order waited {waited_ms} ms for the exchange's rate budget "
                    f"(bound {bound} ms)", extra={"event": "protective_order_waited", "data": {
                        "waited_ms": waited_ms, "bound_ms": bound, "waiting": counts}})

    # -- what the dashboard shows -----------------------------------------------------------

    def _class_of(self, cmd: Command) -> int:
        return order_class(cmd.ref.purpose, cmd.ref.leg, cancel=isinstance(cmd, CancelOrder))

    def status(self) -> dict:
        now = self._clock_ms()
        counts = dict.fromkeys(CLASSES, 0)
        oldest = dict.fromkeys(CLASSES, now)
        for w in self._line.in_order():
            cls = self._class_of(self._cmds[w.cid])
            counts[cls] += 1
            oldest[cls] = min(oldest[cls], w.since_ms)
        budget = [] if self._limiter is None else [
            {"kind": u["kind"], "window_s": u["window_s"], "limit": u["limit"],
             "used": int(u["used"])} for u in self._limiter.usage()]
        return {
            "priority": self.priority,
            "classes": [{"class": c, "name": CLASS_NAMES[c], "count": counts[c],
                         "oldest_age_ms": now - oldest[c] if counts[c] else None,
                         "longest_wait_ms": self.longest_wait_ms[c]} for c in CLASSES],
            "waiting": len(self._line), "in_flight": self.in_flight,
            "sent": self.sent, "dropped": self.dropped, "withdrawn": self.withdrawn,
            "budget": budget, "alert_after_ms": self._alert_after_ms(),
        }
