"""One position group as a trio actor: decide → record → act, one message at a time (SPEC 8.3).

Owns: that group's ``GroupState`` (nobody else reads or writes it; others see published
snapshots) and its price subscription.
Receives (its inbox, ``deliver`` = send_nowait): the inputs of ``engine.group.messages`` —
``AddPyramid`` / ``CloseGroup`` / ``Reduce`` from the supervisor (awaited by the sender),
``OrderAccepted`` / ``OrderRejected`` / ``TradeFilled`` / ``OrderEnded`` from the gateway,
``PriceChanged`` from market data (at most one pending, and only for prices outside the quiet
band it sets after every step — ``engine.group.price_watch``; the newest price is read with
``take()``), ``RiskClose`` from the risk actor; and a ``Tick`` every second of engine time.
Asks the exchange (``free_balance``) for the free base balance when a step would send a full
close's selling order on spot: that order is capped at it (SPEC 4.7 step 3), so the balance is
read after the close's own cancellations ended, never from a stale copy.
Sends: ``PlaceOrder`` / ``CancelOrder`` / ``WithdrawOrder`` into the gateway inbox (awaited:
backpressure); ``SlotReleased`` to the supervisor inbox (send_nowait, never blocks) when the
group is Closed or Failed; every new state to ``on_state`` (the coalesced snapshot for the UI/API).
Fails how: ``decide`` raising (a bug or impossible input) propagates out of ``run``: the
supervisor contains it (journals GroupFailed, refuses new entries for the key, leaves the
orders resting). A storage failure propagates too and the supervisor re-raises it: the daemon
stops rather than act on a state it could not record (crash-only).

Per step: ``decide`` → ONE ``store.write`` journaling every event and writing the projections
(``actors/group/projection.py``: orders rows in state ``pending`` before they are sent) → the new
state becomes current → commands are performed → the snapshot is published.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

import msgspec
import trio

from actors.group import projection
from actors.store.writer import Store
from engine.group import GroupContext, GroupState, decide, next_pyramid_index
from engine.group.messages import (
    AddPyramid,
    CancelOrder,
    GroupInput,
    PlaceOrder,
    PriceChanged,
    ReleaseSlot,
    Step,
    Tick,
    TradeFilled,
    WithdrawOrder,
)
from engine.group.price_watch import Band, quiet_band
from engine.routing import GroupFacts
from engine.types import MarketRules

log = logging.getLogger("engine.order")

TICK_S = 1.0
LINGER_S = 60.0  # a Closed/Failed group still books late trades for this long, then stops
# Written bound of a group inbox: per order at most accept/reject + end + its trades, at most
# ~110 orders in flight (10 pyramids × 10 legs + TPs + closes) and one pending price.
INBOX_SIZE = 4096


class SlotReleased(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Group → supervisor: the group is Closed or Failed; its slots are free."""

    group_id: int
    status: str


class _Command:
    """A supervisor's message whose step it waits for: ``also`` (its own rows: the signal's
    outcome, the queue entry it came from) is written in the step's transaction; ``ok`` tells
    whether that transaction committed (False: the actor stopped before recording it)."""

    __slots__ = ("msg", "also", "ok", "done")

    def __init__(self, msg: GroupInput, also: Callable[[sqlite3.Connection], None] | None):
        self.msg = msg
        self.also = also
        self.ok = False
        self.done = trio.Event()


class Subscription(Protocol):
    received_ms: int | None  # when the price ``take`` returned reached market data

    def take(self) -> Decimal | None: ...
    def quiet_between(self, band: Band | None) -> None: ...
    def close(self) -> None: ...


ContextFor = Callable[[GroupState], GroupContext]
FreeBalance = Callable[[str], Awaitable[Decimal | None]]  # asset -> free quantity (None: unknown)


class GroupActor:
    def __init__(self, state: GroupState, *, store: Store, instance: str,
                 gateway: trio.MemorySendChannel, supervisor: trio.MemorySendChannel,
                 context: ContextFor, clock_ms: Callable[[], int],
                 subscribe: Callable[[str, Callable[[PriceChanged], None]], Subscription] | None
                 = None, on_state: Callable[[GroupState], None] = lambda s: None,
                 on_events: Callable[[GroupState, tuple], None] = lambda s, e: None,
                 free_balance: FreeBalance | None = None):
        self.state = state
        self.group_id = state.group_id
        self._store = store
        self._instance = instance
        self._gateway = gateway
        self._supervisor = supervisor
        self._context = context
        self._clock_ms = clock_ms
        self._subscribe = subscribe
        self._on_state = on_state
        self._on_events = on_events  # R5: the risk actor hears every recorded step (never blocks)
        self._free_balance = free_balance
        self._send, self._receive = trio.open_memory_channel[GroupInput | _Command](INBOX_SIZE)
        self._sub: Subscription | None = None
        # AddPyramid sent but not yet decided: while any waits, ``state`` lags the plans sent
        self._adds_waiting = 0
        self._last_sent: AddPyramid | None = None

    # -- the door -----------------------------------------------------------------------
    def deliver(self, msg: GroupInput) -> None:
        """Events up never block: a full inbox is a bug (trio.WouldBlock propagates). An actor
        that has stopped hears nothing more (a crashed group is taken up at the next start,
        where reconciliation books what it missed)."""
        try:
            self._send.send_nowait(msg)
        except trio.BrokenResourceError:
            pass

    async def send(self, msg: GroupInput) -> bool:
        """Commands down are awaited (supervisor, risk actor): a full inbox is backpressure.
        False: the actor has stopped (crashed, or ended and gone), nothing will handle it."""
        return await self._enqueue(msg, msg)

    async def command(self, msg: GroupInput,
                      also: Callable[[sqlite3.Connection], None] | None = None) -> bool:
        """``send``, then wait until the step ``msg`` causes is durable, with ``also`` written
        in that same transaction. False: the actor stopped first (nothing of it recorded)."""
        cmd = _Command(msg, also)
        if not await self._enqueue(msg, cmd):
            return False
        await cmd.done.wait()
        return cmd.ok

    async def _enqueue(self, msg: GroupInput, item: GroupInput | _Command) -> bool:
        adding = isinstance(msg, AddPyramid)
        if adding:  # counted before the send: the actor may decide it before send returns
            self._adds_waiting += 1
            self._last_sent = msg
        try:
            await self._send.send(item)
        except trio.BrokenResourceError:
            if adding:
                self._adds_waiting -= 1
            return False
        return True

    def next_pyramid_index(self) -> int:
        """The index the sender's next pyramid plan must carry. The state's next index once
        every AddPyramid sent was decided; while one still waits in the inbox, the one after
        it (planning from the lagging state would send the same index twice). The reducer
        still checks it."""
        index = next_pyramid_index(self.state)
        if self._adds_waiting and self._last_sent is not None:
            index = max(index, self._last_sent.plan.index + 1)
        return index

    def entry_facts(self) -> GroupFacts:
        """What the pool's routing decision needs to know about this group."""
        s = self.state
        return GroupFacts(group_id=self.group_id, side=s.side, closing=s.status == "closing",
                          pyramid_count=s.pyramid_count, max_pyramids=s.config.max_pyramids,
                          next_index=self.next_pyramid_index(),
                          latest_signal_ts=self.latest_signal_ts(), open_orders=len(s.orders))

    def latest_signal_ts(self) -> int | None:
        """The newest accepted entry's signal time, counting a pyramid sent but not decided
        yet (the same-candle duplicate check of SPEC 2.6)."""
        times = [p.signal_ts_ms for p in self.state.pyramids if p.state == "active"]
        if self._adds_waiting and self._last_sent is not None:
            times.append(self._last_sent.plan.signal_ts_ms)
        return max(times, default=None)

    @property
    def ended(self) -> bool:
        return self.state.status in ("closed", "failed")

    # -- the loop -----------------------------------------------------------------------
    async def run(self, *, initial: Step | None = None,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """``initial``: a step already recorded by the creator (the new group's pyramid 0),
        whose commands this actor performs first."""
        if self._subscribe is not None:
            self._sub = self._subscribe(self.state.symbol, self.deliver)
            self._watch()
        task_status.started()
        try:
            if initial is not None:
                await self._act(initial)
            await self._loop()
        finally:
            if self._sub is not None:
                self._sub.close()
            self._release_waiters()

    def _release_waiters(self) -> None:
        """Commands still queued when the actor stops were not recorded: their senders are
        told so (``ok`` False) instead of waiting forever; later sends find the door closed."""
        while True:
            try:
                item = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            if isinstance(item, _Command):
                item.done.set()
        self._receive.close()

    async def _loop(self) -> None:
        next_tick = trio.current_time() + TICK_S
        ended_at: float | None = None
        while True:
            if self.ended and ended_at is None:
                ended_at = trio.current_time()
            if ended_at is not None and trio.current_time() >= ended_at + LINGER_S:
                return
            msg = None
            with trio.move_on_at(next_tick):
                msg = await self._receive.receive()
            if msg is not None:
                # outside the tick's deadline: a step cut short after its write would leave
                # this state behind the database (a pyramid index reused) and commands unsent
                if isinstance(msg, _Command):
                    await self.handle(msg.msg, msg)
                else:
                    await self.handle(msg)
                continue
            next_tick = trio.current_time() + TICK_S
            await self.handle(Tick())
            self._watch()  # the market rules behind the aggregate target may have changed

    async def handle(self, msg: GroupInput, cmd: _Command | None = None) -> Step:
        """One step. ``cmd``: the sender waiting for it, told once the step is durable."""
        try:
            step, recorded = await self._decide_and_record(msg, cmd and cmd.also)
            if cmd is not None:
                cmd.ok = True  # the sender may go on while the commands are performed
        finally:
            if cmd is not None:
                cmd.done.set()
        if isinstance(msg, AddPyramid):
            self._adds_waiting -= 1  # decided and current: the state no longer lags it
        if recorded:
            await self._act(step)
        return step

    async def _decide_and_record(
            self, msg: GroupInput, also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> tuple[Step, bool]:
        if self.ended and isinstance(msg, (Tick, PriceChanged)):
            return Step(state=self.state), False  # an ended group only books late trades
        if isinstance(msg, PriceChanged) and self._sub is not None:
            newest = self._sub.take()  # coalesced: act on the newest price, clear the flag
            if newest is None:
                return Step(state=self.state), False
            msg = PriceChanged(price=newest, received_ms=self._sub.received_ms)
        now = self._clock_ms()
        ctx = self._context(self.state)
        step = decide(self.state, msg, now, ctx)
        if self._free_balance is not None and _sells_to_close(step, ctx):
            free = await self._free_balance(ctx.rules.base)
            if free is not None:  # unknown: sell the lots; the exchange refuses an oversell
                ctx = msgspec.structs.replace(ctx, free_base=free)
                step = decide(self.state, msg, now, ctx)
        if step.state == self.state and not step.events and not step.commands:
            if also is not None:  # the sender's rows are recorded all the same
                await self._store.write(also)
            return step, False  # nothing to record (an idle tick, a price that changed nothing)
        before = self.state
        trade = msg if isinstance(msg, TradeFilled) else None

        def write(conn):
            projection.record_step(conn, self._store, instance=self._instance, before=before,
                                   after=step.state, events=step.events, trade=trade, now_ms=now)
            if also is not None:
                also(conn)

        await self._store.write(write)
        self.state = step.state
        self._watch(ctx.rules)  # the step moves no market rules
        _log_events(step)
        self._on_events(self.state, step.events)  # R5: RiskCloseOutcome, closes, fills
        return step, True

    def _watch(self, rules: MarketRules | None = None) -> None:
        """Tell market data which prices can change this group's decision."""
        if self._sub is not None:
            rules = rules if rules is not None else self._context(self.state).rules
            self._sub.quiet_between(quiet_band(self.state, rules))

    async def _act(self, step: Step) -> None:
        for cmd in step.commands:
            match cmd:
                case PlaceOrder() | CancelOrder() | WithdrawOrder():
                    await self._gateway.send(cmd)
                case ReleaseSlot():
                    self._supervisor.send_nowait(
                        SlotReleased(group_id=cmd.group_id, status=cmd.status))
                case _:
                    raise TypeError(f"unknown group command {cmd!r}")
        self._on_state(self.state)


def _sells_to_close(step: Step, ctx: GroupContext) -> bool:
    """The step sends a full close's order on spot, where the base asset is what is sold."""
    return (ctx.market_type == "spot" and bool(ctx.rules.base) and step.state.close is not None
            and any(isinstance(c, PlaceOrder) and c.ref.purpose == step.state.close.purpose
                    for c in step.commands))


_WARN = {"TpProblem", "CloseShortfall", "CloseRetry", "PyramidRolledBack", "PyramidAbandoned",
         "LegSkipped", "FeeUnconverted", "LotWrittenOff", "GroupFailed"}
_ERROR = {"AttemptsExhausted"}
_QUIET = {"OrderIntended", "StatusChanged", "TimerChanged"}
_DEBUG = {"Ignored"}  # no-ops such as a second exit while closing (SPEC 4.6: Debug)


def _log_events(step: Step) -> None:
    s = step.state
    for ev in step.events:
        kind = type(ev).__name__
        if kind in _QUIET:
            continue
        level = logging.ERROR if kind in _ERROR else logging.WARNING if kind in _WARN \
            else logging.DEBUG if kind in _DEBUG else logging.INFO
        if kind == "EntryEnded" and getattr(ev, "external", False):
            level = logging.WARNING
        log.log(level, f"{s.symbol} {s.timeframe}: {_words(kind)}", extra={
            "event": _snake(kind), "symbol": s.symbol, "timeframe": s.timeframe,
            "group_id": s.group_id, "exchange": s.exchange,
            "data": msgspec.to_builtins(ev, enc_hook=str)})


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _words(name: str) -> str:
    return _snake(name).replace("_", " ")
