"""Signal routing of the supervisor (SPEC 2.6, 2.7, 3.9, 6.2, 8.1): what one accepted signal does.

Owns: nothing — these functions run inside the supervisor's loop on its registry, one message
at a time (the supervisor is the only caller), so a check-and-reserve of a slot cannot race.
Receives: ``route_signal(sup, inbox_id, signal)`` for every accepted webhook (and, through
``execute_entry``, every promoted queue entry).
Sends: a new group's row + pyramid 0 (one write: the group id, the ``pending`` orders, the inbox
outcome), ``AddPyramid`` / ``CloseGroup`` / ``Reduce`` to group actors (awaited until the group
recorded them; a pyramid's or a reduce's outcome and promoted queue entry are written in the
group's own transaction), queue changes, and the inbox row's final state + outcome text for
every signal — nothing is dropped silently.
Fails how: impossible input from the pure core (``InvalidInput``) and storage failures propagate
to the supervisor (the engine stops); a refused ladder, a missing size or precision metadata are
outcomes, never exceptions.
"""

from __future__ import annotations

import logging
import sqlite3

import msgspec

from actors.pool.context import PoolContext
from actors.pool.directory import Slot
from actors.group import projection
from actors.pool.queue_actor import Staged, encode_payload
from actors.market.feed_status import stale_limit_ms
from actors.pool.outcomes import (
    Mark, entry_mark, log_marks, mark, marking, outcome, told,
)
from engine.group import GridSnapshot, GroupContext, open_group
from engine.group.messages import (
    AddPyramid, CloseGroup, PlannedLeg, PyramidPlan, Reduce,
)
from engine.grid_settings import GridSettings, ladder_for_pyramid
from engine.ladder import NO_SIZE, expected_profit
from engine.ladder import PyramidPlan as LadderPlan
from engine.precision import MetadataMissing, ResolvedRules
from engine.queue import EntryQueued, EntryReplaced, QueuedSignal, QueueReason
from engine.routing import (
    Duplicate, EntryFacts, Enqueue, Ignore, Open, PoolFacts, Pyramid, Refuse, entry_notional,
    group_plan, route_entry,
)
from engine.signals import Signal
from engine.types import MarketRules


log = logging.getLogger("engine.webhook")
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_json = msgspec.json.Encoder(enc_hook=str)


def key_of(sup: PoolContext, sig: Signal) -> tuple[str, str, int]:
    return (sup.exchange, sig.symbol, sig.timeframe)


def spot(sup: PoolContext) -> bool:
    return sup.config.exchange.market_type == "spot"


# -- entry point -------------------------------------------------------------------------------
async def route_signal(sup: PoolContext, inbox_id: int | None, sig: Signal) -> None:
    if not sup.trading:
        raise RuntimeError("signals are processed only after start-up reconciliation")
    match sig.intent:
        case "signal":
            if sig.side == "short" and spot(sup):
                await outcome(sup, inbox_id, "processed", "ignored: short signals need a "
                              "futures market type", logging.WARNING, sig)
                return
            await execute_entry(sup, sig, inbox_id)
        case "exit":
            await _exit(sup, sig, inbox_id, reason="exit_signal")
        case "reduce":
            await _reduce(sup, sig, inbox_id)
        case "reverse":
            await _reverse(sup, sig, inbox_id)
        case _:
            raise ValueError(f"unknown intent {sig.intent!r}")


# -- entries (signal, the entry half of reverse, promoted queue entries) ----------------------
async def execute_entry(sup: PoolContext, sig: Signal, inbox_id: int | None, *,
                        promoted: bool = False, forced: bool = False,
                        taken: Staged | None = None) -> int | None:
    """Open a group, add a pyramid, or queue: gather the facts, let ``route_entry`` decide,
    perform its answer. Returns the queue entry id when queued.

    ``taken``: the staged removal of the queue entry being promoted; every way out writes it
    together with the signal's outcome (one transaction), so a crash keeps the entry queued."""
    slot = sup.directory.live(key_of(sup, sig))
    facts = entry_facts(sup, sig, promoted=promoted, forced=forced)
    resolved = facts.rules
    route = route_entry(facts)
    if route.rules_used and resolved.warning:
        logging.getLogger("engine.precision").warning(resolved.warning, extra={
            "event": "precision_fallback", "symbol": sig.symbol})
    match route:
        case Enqueue(reason=reason, grid=grid):
            return await enqueue(sup, sig, inbox_id, reason, grid, taken)
        case Duplicate(text=text):
            await outcome(sup, inbox_id, "duplicate", text, sig=sig, taken=taken)
        case Refuse(text=text, severity=severity, problems=problems,
                    minimum_order_size=minimum):
            if problems:  # the pinned alert: which leg fails which filter, the size that passes
                logging.getLogger("engine.precision").error(f"signal {text}", extra={
                    "event": "ladder_rejected", "symbol": sig.symbol, "timeframe": sig.timeframe,
                    "data": {"inbox_id": inbox_id,
                             "problems": msgspec.to_builtins(problems, enc_hook=str),
                             "minimum_order_size": None if minimum is None else str(minimum)}})
            await outcome(sup, inbox_id, "rejected", text, LEVELS[severity], sig, taken=taken,
                          alerted=bool(problems))
        case Ignore(text=text, severity=severity):
            await told(sup, slot, AddPyramid(plan=_replacement(slot)), inbox_id, "processed",
                       text, LEVELS[severity], sig, taken)
        case Pyramid(plan=plan, group_id=group_id):
            await told(sup, slot, AddPyramid(plan=plan), inbox_id, "processed",
                       f"pyramid {plan.index} sent to group {group_id}", sig=sig, taken=taken)
        case Open(plan=plan, grid=grid):
            await create_group(sup, sig, inbox_id, plan, grid, resolved.rules, taken)
    return None


def entry_facts(sup: PoolContext, sig: Signal, *, promoted: bool = False,
                forced: bool = False) -> EntryFacts:
    """Everything ``route_entry`` decides an entry from, read from the pool as it is now
    (also the dry-run of POST /api/signals/check: it must see what the real path sees)."""
    key = key_of(sup, sig)
    slot = sup.directory.live(key)
    resolved = sup.precision.resolve(sig.symbol, mode=sig.precision_mode)
    known = sup.precision.all_rules() if isinstance(resolved, MetadataMissing) else None
    pool = sup.config.execution_pool
    return EntryFacts(
        signal=sig, grid=slot.grid if slot is not None else sup.grid_for(key),
        group=slot.actor.entry_facts() if slot is not None else None,
        pool=PoolFacts(used=sup.used(), max_open_groups=pool.max_open_groups,
                       count_pyramids_toward_pool=pool.count_pyramids_toward_pool,
                       count_dca_toward_pool=pool.count_dca_toward_pool),
        rules=resolved, symbol_unknown=bool(known) and sig.symbol not in known,
        exchange=sup.exchange, current_price=current_price(sup, sig.symbol),
        key_failed=key in sup.directory.failed_keys, paused=sup.paused, promoted=promoted,
        forced=forced)


def _replacement(slot: Slot) -> PyramidPlan:
    """A plan for a full group: the reducer ignores it (a replacement pyramid, SPEC 3.3)."""
    last = slot.state.pyramids[-1]
    legs = tuple(PlannedLeg(index=g.index, gap_percent=g.gap_percent,
                            weight_percent=g.weight_percent, tp_percent=g.tp_percent,
                            price=g.planned_price, qty=g.planned_qty)
                 for g in slot.state.legs if g.pyramid == last.index)
    return PyramidPlan(index=slot.actor.next_pyramid_index(), reference_price=last.reference_price,
                       notional=last.notional, signal_ts_ms=last.signal_ts_ms, legs=legs)


def current_price(sup: PoolContext, symbol: str):
    latest = sup.market.price(symbol)
    return None if latest is None else latest[0]


def snapshot_of(grid: GridSettings) -> GridSnapshot:
    return GridSnapshot(tp_mode=grid.tp_mode, tp_percent=grid.tp_percent,
                        entry_order_type=grid.entry_order_type,
                        max_pyramids=grid.max_pyramids_per_group,
                        cancel_dca_beyond_percent=grid.cancel_dca_beyond_percent,
                        dca_levels=grid.dca_levels,
                        pyramid_specific_levels=dict(grid.pyramid_specific_levels))


def group_context(sup: PoolContext, symbol: str, rules: MarketRules | None = None) -> GroupContext:
    cfg = sup.config
    if rules is None:
        resolved = sup.precision.resolve(symbol)
        rules = resolved.rules if isinstance(resolved, ResolvedRules) else _fallback(sup, symbol)
    risk = cfg.risk_engine
    return GroupContext(
        rules=rules, price=current_price(sup, symbol),
        market_type="spot" if cfg.exchange.market_type == "spot" else "futures",
        evaluate_interval_ms=risk.evaluate_interval_sec * 1000,
        engine_max_slippage_percent=risk.max_slippage_percent,
        slippage_action=risk.slippage_action, timer_start_condition=risk.timer_start_condition,
        reset_timer_on_replacement=risk.reset_timer_on_replacement,
        price_max_age_ms=stale_limit_ms(cfg))


def _fallback(sup: PoolContext, symbol: str) -> MarketRules:
    """A running group whose metadata vanished keeps trading on the configured fallback
    rules (its ladder was validated when it was placed)."""
    fb = sup.config.precision.fallback_rules
    return MarketRules(symbol=symbol, ccxt_symbol=symbol, base="", quote="",
                       tick_size=fb.tick_size, step_size=fb.step_size, min_qty=fb.min_qty,
                       min_notional=fb.min_notional)


async def create_group(sup: PoolContext, sig: Signal, inbox_id: int | None, plan: LadderPlan,
                       grid: GridSettings, rules: MarketRules,
                       taken: Staged | None = None) -> None:
    """One transaction: the group row (its id), pyramid 0 recorded with every leg ``pending``,
    the inbox outcome, the promoted queue entry's removal. Then the actor starts and sends
    the ladder."""
    now = sup.clock_ms()
    key = key_of(sup, sig)
    ctx = group_context(sup, sig.symbol, rules)
    gplan = group_plan(plan, sig, grid)

    def write(conn: sqlite3.Connection):
        gid = projection.insert_group(
            conn, exchange=key[0], symbol=key[1], timeframe=key[2], side=sig.side, now_ms=now,
            config_snapshot=_json.encode(grid).decode(), first_signal=_json.encode(sig).decode())
        step = open_group(group_id=gid, exchange=key[0], symbol=key[1], timeframe=key[2],
                          side=sig.side, config=snapshot_of(grid), plan=gplan, now_ms=now, ctx=ctx)
        projection.record_step(conn, sup.store, instance=sup.instance, before=None,
                               after=step.state, events=step.events, trade=None, now_ms=now)
        conn.execute("UPDATE pyramids SET signal = ?, inbox_id = ? WHERE group_id = ? AND idx = 0",
                     (_json.encode(sig).decode(), inbox_id, gid))
        if inbox_id is not None:
            mark(conn, sup, inbox_id, "processed", f"group {gid} opened", now)
        if taken is not None:
            taken.write(conn)
        return step

    step = await sup.store.write(write)
    if taken is not None:
        taken.adopt()
    gid = step.state.group_id
    log.info(f"group {gid} opened: {sig.symbol} {sig.timeframe} {sig.side}", extra={
        "event": "group_opened", "group_id": gid, "symbol": sig.symbol,
        "timeframe": sig.timeframe, "data": {"inbox_id": inbox_id, "legs": len(gplan.legs),
                                             "used": sup.used() + 1}})
    sup.start_group(step.state, grid, initial=step)


async def enqueue(sup: PoolContext, sig: Signal, inbox_id: int | None, reason: QueueReason,
                  grid: GridSettings, taken: Staged | None = None) -> int | None:
    """Queue the signal; a promoted entry that cannot run goes back as a new entry in the same
    commit as its removal (``taken``)."""
    key = key_of(sup, sig)
    ref, notional = entry_notional(sig, grid, current_price(sup, sig.symbol))
    if notional is None:
        await outcome(sup, inbox_id, "rejected", f"rejected: {NO_SIZE}", logging.WARNING, sig,
                      taken=taken)
        return None
    levels = ladder_for_pyramid(grid, 0)
    queued = QueuedSignal(
        exchange=key[0], symbol=key[1], timeframe=key[2], side=sig.side,
        intent="reverse" if sig.intent == "reverse" else "signal",
        payload=encode_payload(sig, inbox_id, len(levels)), reference_price=ref,
        order_size=sig.order_size, size_type=sig.position_size_type,
        signal_timestamp_ms=sig.timestamp_ms, expected_profit=expected_profit(notional, levels),
        entry_legs=len(levels))
    before = {e.id: e for e in sup.queue.for_key(key)}
    live = sup.directory.live(key)

    def marks(step) -> list[Mark]:
        """Every signal this queue step decides: the new one and those it replaces."""
        out: list[Mark] = []
        for ev in step.events:
            match type(ev).__name__:
                case "EntryQueued":
                    out.append((inbox_id, "queued", f"queued: {reason}", logging.INFO))
                case "EntryReplaced":
                    out.append(entry_mark(before.get(ev.entry.id), "replaced by a newer signal"))
                    out.append((inbox_id, "queued", f"queued: {reason} (replaced entry "
                                f"{ev.entry.id}, count {ev.entry.replacement_count})",
                                logging.INFO))
                case "EntrySuperseded":
                    out.append(entry_mark(before.get(ev.entry_id),
                                           "superseded by an opposite signal"))
                case "DuplicateIgnored":
                    out.append((inbox_id, "duplicate", "duplicate entry signal", logging.INFO))
                case "QueueFullRejected":
                    out.append((inbox_id, "rejected", "queue full", logging.WARNING))
        return out

    step = await sup.queue.enqueue(
        queued, reason=reason, live_side=None if live is None else live.state.side,
        replace=sup.config.waiting_rule.queue_replace_same_symbol,
        limit=sup.config.execution_pool.queue_limit, after=taken,
        also=marking(sup, marks))
    log_marks(marks(step), sig)
    entry_id = next((ev.entry.id for ev in step.events
                     if isinstance(ev, (EntryQueued, EntryReplaced))), None)
    sup.poke("queued")  # the watched symbols include queued ones
    return entry_id


# -- exit, reduce, reverse -------------------------------------------------------------------
async def _exit(sup: PoolContext, sig: Signal, inbox_id: int | None, *, reason: str) -> bool:
    """Close the key's live group and drop its queued entries; True when a group was told."""
    key = key_of(sup, sig)
    slot = sup.directory.live(key)
    if slot is not None and not slot.crashed:
        # recorded before the outcome below: a crash in between re-runs the exit (idempotent)
        await slot.actor.command(CloseGroup(reason=reason,
                                            max_slippage_percent=sig.max_slippage_percent))
    queued = {e.id: e for e in sup.queue.for_key(key)}

    def marks(step) -> list[Mark]:
        return [entry_mark(queued.get(entry_id), "queued entry dropped by exit")
                for ev in step.events for entry_id in getattr(ev, "entry_ids", ())]

    dropped = await sup.queue.drop_on_exit(key, enabled=sup.config.waiting_rule.drop_on_exit,
                                           also=marking(sup, marks))
    log_marks(marks(dropped), None)
    if slot is None and not dropped.events:
        if reason == "exit_signal":
            await outcome(sup, inbox_id, "processed", "exit ignored: nothing live or queued",
                          sig=sig)
        return False
    if reason == "exit_signal":
        text = f"exit sent to group {slot.group_id}" if slot is not None else \
            "queued entries dropped by exit"
        await outcome(sup, inbox_id, "processed", text, sig=sig)
    return slot is not None


async def _reduce(sup: PoolContext, sig: Signal, inbox_id: int | None) -> None:
    slot = sup.directory.live(key_of(sup, sig))
    if slot is None or slot.crashed:
        await outcome(sup, inbox_id, "processed", "reduce ignored: no live group", sig=sig)
        return
    await told(sup, slot, Reduce(
        order_size=sig.order_size, position_size_type=sig.position_size_type,
        market_position_size=sig.market_position_size,
        prev_market_position_size=sig.prev_market_position_size,
        max_slippage_percent=sig.max_slippage_percent), inbox_id, "processed",
        f"reduce sent to group {slot.group_id}", sig=sig)


async def _reverse(sup: PoolContext, sig: Signal, inbox_id: int | None) -> None:
    """Exit, then the entry takes the freed slot before anything queued (SPEC 2.7, 6.4)."""
    slot = sup.directory.live(key_of(sup, sig))
    told = await _exit(sup, sig, inbox_id, reason="reverse")
    if sig.side == "short" and spot(sup):
        await outcome(sup, inbox_id, "processed", "exit part of reverse done; short entry "
                      "ignored: short signals need a futures market type", logging.WARNING, sig)
        return
    if not told or slot is None:
        await execute_entry(sup, sig, inbox_id)
        return
    reason: QueueReason = "opposite_side" if slot.state.side != sig.side else "group_closing"
    entry_id = await enqueue(sup, sig, inbox_id, reason, sup.grid_for(slot.key))
    if entry_id is not None:
        sup.directory.reserved[slot.group_id] = entry_id
