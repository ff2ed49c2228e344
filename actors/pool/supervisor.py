"""The pool supervisor: the group registry, the pool slots and the one-for-one supervision of the
group actors (SPEC 6, 8.2, 8.3).

Owns: the registry (group id → its actor, key, grid snapshot; key → live group id), the keys
refused after a group crash, the Paused flag, the running configuration's pool/queue/grid
sections (hot reloaded), the nursery of the group actors. Pool usage is derived from the
groups' states (``engine.group.slots_held``), so a slot check-and-reserve is one step of this
actor and cannot race.
Receives (its inbox, one message at a time): ``SignalAccepted`` (inbox worker, awaited),
``SlotReleased`` / ``GroupCrashed`` / ``GroupStopped`` (group actors, send_nowait),
``PrecisionRefreshed`` (precision actor), ``ConfigChanged`` (Apply), ``PromoteTick`` (its own
10 s ticker) and ``AdminRequest`` (close group, queue promote/remove/force-add, pause/resume —
answered through the request's reply).
Sends: ``AddPyramid`` / ``CloseGroup`` / ``Reduce`` to group actors (awaited), queue changes to the
queue actor, the inbox row's outcome (state + text) for every signal, the watched symbols to
the stream actor, the engine status ("paused"/"running") to the handle, "changed" touches to
the UI hub (groups, queue; coalesced there).
Fails how: a group actor raising is contained here — ``GroupFailed`` journaled, new entries for
its key refused, its resting orders left on the exchange, an Error logged — and is taken up
again at the next start. Anything else (a storage failure, a bug in this actor) propagates and
stops the engine (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import assert_never

import msgspec
import trio

from actors.pool import operator_actions as pool_actions
from actors.pool import router
from actors.pool.context import Precision
from actors.pool.directory import GroupDirectory, Slot
from actors.pool.operator_actions import PAUSED_KEY, AdminOp, AdminResult
from actors.group.actor import FreeBalance, GroupActor, SlotReleased
from actors.group.projection import load_live_states
from actors.pool.queue_actor import QueueActor
from actors.store.writer import StorageError, Store, WriterClosed
from engine.config import Config
from engine.grid_settings import GridSettings, effective_grid
from engine.group import GroupContext, GroupState
from engine.messages import ConfigChanged, SignalAccepted
from engine.precision import ResolvedRules
from engine.queue import Key, KeyState, PoolView

log = logging.getLogger("engine.system")

INBOX_SIZE = 10_000  # bound: one SlotReleased/GroupStopped per group + ticks + admin requests
PROMOTE_EVERY_S = 10.0  # SPEC 6.4


class GroupCrashed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    group_id: int
    error: str


class GroupStopped(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A Closed/Failed group's actor finished lingering; it leaves the registry."""

    group_id: int


class PromoteTick(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: str = "timer"


class AdminRequest:
    """An operator action and its answer (not a journal body: it carries a reply event)."""

    def __init__(self, op: AdminOp):
        self.op = op
        self.done = trio.Event()
        # what the caller hears when the engine stops before the action finishes: not a
        # refusal — part of it may have taken effect (HTTP 503, look again after the start)
        self.result = AdminResult(ok=False, code="not_running", message=(
            "the engine stopped before the action finished; it may have taken effect"))


# Everything that reaches the supervisor's inbox; ``_dispatch`` matches it exhaustively.
SupervisorInput = (SignalAccepted | SlotReleased | PromoteTick | GroupCrashed | GroupStopped
                   | ConfigChanged | AdminRequest)


class Supervisor:
    def __init__(self, *, config: Config, store: Store, instance: str,
                 gateway: trio.MemorySendChannel, market: object, precision: Precision,
                 queue: QueueActor, clock_ms: Callable[[], int],
                 on_status: Callable[[str], None] = lambda status: None,
                 on_symbols: Callable[[set[str]], None] = lambda symbols: None,
                 on_change: Callable[[str], None] = lambda topic: None,
                 free_balance: FreeBalance | None = None,
                 directory: GroupDirectory | None = None,
                 on_group_events: Callable[[GroupState, tuple], None] = lambda s, e: None):
        self.config = config
        self.store = store
        self.instance = instance
        self.gateway = gateway
        self.market = market
        self.precision = precision
        self.queue = queue
        self.clock_ms = clock_ms
        self._on_status = on_status
        self._on_symbols = on_symbols
        self._on_change = on_change  # the UI hub's touch(topic): coalesced, never blocks
        self._free_balance = free_balance  # the groups' spot close cap (SPEC 4.7 step 3)
        self.inbox, self._receive = trio.open_memory_channel[SupervisorInput](INBOX_SIZE)
        self.directory = directory if directory is not None else GroupDirectory()
        self.paused = False
        self.trading = False  # signals and promotions wait for start-up reconciliation
        self._tick_pending = False
        self._nursery: trio.Nursery | None = None
        self.on_group_events = on_group_events  # the risk actor hears every step (never blocks)

    @property
    def exchange(self) -> str:
        return self.config.exchange.name

    # -- the loop -------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Restores the groups of the previous run (their actors start at once, so the
        reconciler can book missed fills through them), then serves its inbox."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for state in load_live_states(self.store):
                self._start(state, self._snapshot_grid(state.group_id), initial=None)
            self._publish_symbols()
            nursery.start_soon(self._ticker)
            task_status.started()
            async for msg in self._receive:
                await self._handle(msg)

    def begin_trading(self) -> None:
        """After start-up reconciliation (SPEC 8.5 step 7): signals and promotions may run —
        unless an operator paused the engine before it stopped (the pause is kept)."""
        if self.store.meta_get(PAUSED_KEY) == "1":
            self.set_paused(True)
        self.trading = True
        self.poke("start")

    def poke(self, reason: str) -> None:
        """Ask for a promotion pass (never blocks; at most one pending)."""
        if not self._tick_pending:
            self._tick_pending = True
            self.inbox.send_nowait(PromoteTick(reason=reason))

    def on_precision(self, _msg: object) -> None:
        self.poke("precision_refreshed")

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(PROMOTE_EVERY_S)
            self.poke("timer")

    async def _handle(self, msg: SupervisorInput) -> None:
        await self._dispatch(msg)
        self._on_change("queue")  # the hub coalesces: one touch per message is cheap

    async def _dispatch(self, msg: SupervisorInput) -> None:
        match msg:
            case SignalAccepted():
                await router.route_signal(self, msg.inbox_id, msg.signal)
            case SlotReleased():
                await self._released(msg)
            case PromoteTick():
                self._tick_pending = False
                await self.promote()
            case GroupCrashed():
                await self._crashed(msg)
            case GroupStopped():
                self.directory.unregister(msg.group_id)
            case ConfigChanged():
                self.reconfigure(msg.config)
                await self.promote()
            case AdminRequest():
                try:
                    msg.result = await pool_actions.admin(self, msg.op)
                finally:
                    msg.done.set()
            case _:
                assert_never(msg)

    async def request(self, op: AdminOp) -> AdminResult:
        req = AdminRequest(op)
        await self.inbox.send(req)
        await req.done.wait()
        return req.result

    # -- configuration --------------------------------------------------------------------
    def reconfigure(self, config: Config) -> None:
        """Hot reload: pool and queue settings at once; grid settings for new groups only
        (open groups keep their snapshot, SPEC 3.11)."""
        self.config = config
        log.info("supervisor configuration applied", extra={"event": "config_applied_pool",
                 "data": {"max_open_groups": config.execution_pool.max_open_groups}})

    def grid_for(self, key: Key) -> GridSettings:
        cfg = self.config.grid_strategy
        return effective_grid(GridSettings.from_config(cfg), cfg.overrides, exchange=key[0],
                              symbol=key[1], timeframe=key[2])

    def _snapshot_grid(self, group_id: int) -> GridSettings:
        row = self.store.query("SELECT config_snapshot FROM position_groups WHERE id = ?",
                               (group_id,))
        text = row[0]["config_snapshot"] if row else None
        return msgspec.json.decode(text, type=GridSettings) if text else GridSettings()

    def context(self, state: GroupState) -> GroupContext:
        return router.group_context(self, state.symbol)

    # -- pool -----------------------------------------------------------------------------
    def used(self) -> int:
        pool = self.config.execution_pool
        return self.directory.used(count_pyramids=pool.count_pyramids_toward_pool,
                                   count_dca=pool.count_dca_toward_pool)

    def pool_view(self) -> PoolView:
        pool = self.config.execution_pool
        groups, by_key = self.directory.groups, self.directory.by_key
        live = {key: KeyState(side=groups[gid].state.side,
                              closing=groups[gid].state.status == "closing")
                for key, gid in by_key.items() if gid in groups}
        symbols = {e.symbol for e in self.queue.entries}
        with_rules = frozenset(s for s in symbols if isinstance(
            self.precision.resolve(s), ResolvedRules))
        return PoolView(used=self.used(), max_open_groups=pool.max_open_groups,
                        count_pyramids_toward_pool=pool.count_pyramids_toward_pool,
                        count_dca_toward_pool=pool.count_dca_toward_pool, paused=self.paused,
                        live_groups=live, symbols_with_rules=with_rules)

    async def promote(self) -> None:
        if self.trading:
            await pool_actions.promote(self)
        self._publish_symbols()

    # -- group lifecycle ------------------------------------------------------------------
    def _start(self, state: GroupState, grid: GridSettings, initial) -> Slot:
        actor = GroupActor(state, store=self.store, instance=self.instance, gateway=self.gateway,
                           supervisor=self.inbox, context=self.context, clock_ms=self.clock_ms,
                           subscribe=getattr(self.market, "subscribe", None),
                           on_state=lambda state: self._on_change("groups"),
                           on_events=lambda state, events: self.on_group_events(state, events),
                           free_balance=self._free_balance)
        slot = Slot(actor, grid)
        self.directory.register(slot, live=not actor.ended)
        assert self._nursery is not None
        self._nursery.start_soon(self._run_group, slot, initial)
        return slot

    def start_group(self, state: GroupState, grid: GridSettings, initial) -> Slot:
        slot = self._start(state, grid, initial)
        self._publish_symbols()
        return slot

    async def _run_group(self, slot: Slot, initial) -> None:
        try:
            await slot.actor.run(initial=initial)
        except (StorageError, trio.Cancelled):
            raise
        except WriterClosed:
            return  # shutting down: nothing was recorded, nothing was acted on
        except Exception as exc:  # one-for-one: contained here, reported to the loop
            log.error(f"group {slot.group_id} actor crashed: new entries for "
                      f"{slot.key[1]} {slot.key[2]} refused", exc_info=exc, extra={
                          "event": "group_crashed", "group_id": slot.group_id,
                          "symbol": slot.key[1], "timeframe": slot.key[2]})
            self.inbox.send_nowait(GroupCrashed(group_id=slot.group_id,
                                                error=f"{type(exc).__name__}: {exc}"))
            return
        self.inbox.send_nowait(GroupStopped(group_id=slot.group_id))

    async def _crashed(self, msg: GroupCrashed) -> None:
        slot = self.directory.get(msg.group_id)
        if slot is None:
            return
        self.directory.fail(slot)

        def write(conn):
            self.store.journal(conn, actor="supervisor", kind="GroupFailed",
                               key=f"group:{msg.group_id}", body={"group_id": msg.group_id,
                                                                  "error": msg.error})

        await self.store.write(write)

    async def _released(self, msg: SlotReleased) -> None:
        self.directory.release_key(msg.group_id)
        log.info(f"group {msg.group_id} {msg.status}: slot released", extra={
            "event": "slot_released", "group_id": msg.group_id,
            "data": {"used": self.used(), "max": self.config.execution_pool.max_open_groups}})
        entry_id = self.directory.reserved.pop(msg.group_id, None)
        if entry_id is not None and self.trading:
            await pool_actions.promote_entry(self, entry_id, forced=False, user=None)
        await self.promote()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._on_status("paused" if paused else "running")

    def _publish_symbols(self) -> None:
        symbols = {s.key[1] for s in self.directory.slots() if not s.actor.ended}
        symbols |= {e.symbol for e in self.queue.entries}
        self._on_symbols(symbols)
