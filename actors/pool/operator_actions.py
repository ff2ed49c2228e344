"""Queue promotion and the operator actions of the supervisor (SPEC 6.4, 6.5, 11.4, 11.6).

Owns: nothing — these functions run inside the supervisor's loop on its registry and queue.
Receives: ``promote(sup)`` on every slot release, precision refresh, resume, configuration
apply and every 10 s; ``promote_entry`` for a reverse's reserved entry; ``admin(sup, op, ...)``
for close group, queue promote / remove / force-add, pause / resume.
Sends: promoted entries through ``signal_router.execute_entry`` (exactly like a fresh signal,
the same-candle duplicate check excepted), ``CloseGroup(manual)`` to a group actor, the queue
changes to the queue actor, journal rows for pause/resume; answers as ``AdminResult``.
Fails how: refusals are answers (``not_found`` / ``conflict`` with the blocking reason);
storage failures propagate (the engine stops).
"""

from __future__ import annotations

import logging
from typing import Literal, assert_never

import msgspec

from actors.pool import outcomes
from actors.pool.context import PoolContext
from actors.pool import router
from actors.pool.queue_actor import Staged, decode_payload
from engine.group.messages import CloseGroup
from engine.queue import EntryRemoved, QueueEntry, QueueReason, plan_promotion

PAUSED_KEY = "paused"  # meta key: an operator pause survives a restart


log = logging.getLogger("engine.system")


class AdminResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an operator action; ``code`` maps to HTTP 200 / 404 / 409 / 503."""

    ok: bool
    code: Literal["ok", "not_found", "conflict", "not_running"] = "ok"
    message: str = ""


async def promote(sup: PoolContext) -> None:
    """Walk the ranked queue in strict order; promote what fits, one entry at a time (each
    promotion changes the pool and the live keys, so the walk is re-planned after it)."""
    for _ in range(len(sup.queue.entries) + 1):
        entries = sup.queue.entries
        if not entries:
            return
        fresh = await sup.market.fresh_prices({e.symbol for e in entries})
        prices = {symbol: price for symbol, (price, _) in fresh.items()}
        plan = plan_promotion(entries, prices=prices, pool=sup.pool_view(),
                              priority=sup.config.waiting_rule.selection_priority)
        for skipped in plan.skipped:
            log.debug("queued entry skipped", extra={"event": "promotion_skipped", "data": {
                "entry_id": skipped.entry_id, "reason": skipped.reason}})
            await hold(sup, skipped.entry_id, skipped.reason)
        if plan.stopped is not None:
            log.debug("promotion stopped: pool full", extra={"event": "promotion_stopped",
                      "data": {"entry_id": plan.stopped.entry_id, "needed": plan.stopped.needed,
                               "free": plan.stopped.free}})
            await hold(sup, plan.stopped.entry_id, "pool_full")
        if not plan.promote:
            return
        first = plan.promote[0]
        await execute(sup, first.entry, forced=False, taken=sup.queue.plan_take(first))


async def hold(sup: PoolContext, entry_id: int, reason: QueueReason) -> None:
    """The entry waits on for ``reason``: the queue row and its signal's inbox outcome change
    together (after a resume the inbox said "queued: engine_paused" while the queue said
    pool_full)."""
    entry = sup.queue.find(entry_id)
    inbox_id = None if entry is None else decode_payload(entry.payload).inbox_id

    def marks(_step: object) -> list[outcomes.Mark]:
        return [(inbox_id, "queued", f"queued: {reason}", logging.INFO)]

    if await sup.queue.set_reason(entry_id, reason, also=outcomes.marking(sup, marks)):
        outcomes.log_marks(marks(None), None)


async def execute(sup: PoolContext, entry: QueueEntry, *, forced: bool, taken: Staged) -> None:
    """Run a promoted entry; its removal from the queue (``taken``) is written with whatever
    the entry did, never before it (a crash in between would lose the accepted signal)."""
    payload = decode_payload(entry.payload)
    log.info(f"queued entry {entry.id} promoted: {entry.symbol} {entry.timeframe} {entry.side}",
             extra={"event": "entry_promoted", "symbol": entry.symbol,
                    "timeframe": entry.timeframe,
                    "data": {"entry_id": entry.id, "forced": forced}})
    await router.execute_entry(sup, payload.signal, payload.inbox_id, promoted=True,
                               forced=forced, taken=taken)


async def promote_entry(sup: PoolContext, entry_id: int, *, forced: bool,
                        user: str | None) -> AdminResult:
    """UI Promote / Force Add (SPEC 6.5), and the reverse's entry taking its freed slot."""
    step, taken, promotion = await sup.queue.plan_promote_one(entry_id, pool=sup.pool_view(),
                                                              forced=forced)
    if promotion is None or taken is None:
        reason = getattr(step.events[0], "reason", "refused") if step.events else "refused"
        code = "not_found" if reason == "not_found" else "conflict"
        return AdminResult(ok=False, code=code, message=reason)
    await execute(sup, promotion.entry, forced=forced, taken=taken)
    return AdminResult(ok=True, message=f"entry {entry_id} promoted"
                       + (f" by {user}" if user else ""))


class CloseGroupOp(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    group_id: int
    user: str | None


class PromoteOp(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Promote a queue entry; ``forced``: the operator's force-add, past the pool limit."""

    entry_id: int
    forced: bool
    user: str | None


class RemoveOp(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    user: str | None


class PauseOp(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Pause (``paused=True``) or resume the engine."""

    paused: bool
    user: str | None


AdminOp = CloseGroupOp | PromoteOp | RemoveOp | PauseOp


async def admin(sup: PoolContext, op: AdminOp) -> AdminResult:
    user = op.user
    match op:
        case CloseGroupOp(group_id=group_id):
            return await _close_group(sup, group_id, user)
        case PromoteOp(entry_id=entry_id, forced=forced):
            return await promote_entry(sup, entry_id, forced=forced, user=user)
        case RemoveOp(entry_id=entry_id):
            entry = sup.queue.find(entry_id)
            text = f"removed from the queue by {user}"

            def marks(step) -> list[outcomes.Mark]:
                removed = [ev for ev in step.events if isinstance(ev, EntryRemoved)]
                return [outcomes.entry_mark(entry, text)] if removed and entry else []

            step = await sup.queue.remove(entry_id, user=user or "",
                                          also=outcomes.marking(sup, marks))
            if entry is None or not step.events or not isinstance(step.events[0], EntryRemoved):
                return AdminResult(ok=False, code="not_found", message="not_found")
            outcomes.log_marks(marks(step), None)
            sup.poke("queue_removed")
            return AdminResult(ok=True, message=f"entry {entry.id} removed")
        case PauseOp(paused=paused):
            if sup.paused == paused:
                return AdminResult(ok=True, message=f"already {'paused' if paused else 'running'}")
            def record(conn) -> None:
                sup.store.journal(conn, actor="supervisor",
                                  kind="EnginePaused" if paused else "EngineResumed",
                                  key=None, body={"user": user})
                # an operator's pause survives a restart: a crash must not resume trading
                sup.store.meta_set(PAUSED_KEY, "1" if paused else "0", conn=conn)

            await sup.store.write(record)
            sup.set_paused(paused)
            log.info(f"engine {'paused' if paused else 'resumed'} by {user}", extra={
                "event": "engine_paused" if paused else "engine_resumed", "data": {"user": user}})
            if not paused:
                await sup.promote()
            return AdminResult(ok=True, message="paused" if paused else "running")
        case _:
            assert_never(op)


async def _close_group(sup: PoolContext, group_id: int, user: str | None) -> AdminResult:
    slot = sup.directory.get(group_id)
    if slot is None:
        known = sup.store.query("SELECT status FROM position_groups WHERE id = ?", (group_id,))
        if not known:
            return AdminResult(ok=False, code="not_found", message="no such group")
        return AdminResult(ok=False, code="conflict", message=f"group is {known[0]['status']}")
    if slot.crashed:
        return AdminResult(ok=False, code="conflict", message="group actor failed; "
                           "it is taken up again at the next start")
    status = slot.state.status
    if status in ("closing", "closed", "failed"):
        return AdminResult(ok=False, code="conflict", message=f"group is {status}")
    if not await slot.actor.command(CloseGroup(reason="manual")):  # answered once recorded
        return AdminResult(ok=False, code="conflict", message="group actor stopped; "
                           "it is taken up again at the next start")
    log.info(f"manual close of group {group_id} by {user}", extra={
        "event": "manual_close", "group_id": group_id, "symbol": slot.key[1],
        "timeframe": slot.key[2], "data": {"user": user}})
    return AdminResult(ok=True, message=f"closing group {group_id}")
