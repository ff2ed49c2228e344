"""Panel D and pool read models (SPEC 6.1, 6.3, 11.5 D, 11.6 ``GET /api/queue``).

Owns: nothing; the queue is read from ``queue_entries`` (written by the queue actor) and ranked
with ``engine.queue.rank`` — the function the queue actor promotes by — over the latest prices
and the keys' non-closed groups; pool usage is ``engine.group.slots_held`` summed over the
non-closed groups (``engine.pool.slots_held`` for a group whose state is not written yet).
Receives: a ``ReadContext``.
Sends: ``{"pool": {"used", "max"}, "entries": [...]}`` with the SPEC 11.6 field names.
Fails how: a queue row the queue actor could not have written (unknown reason, no reference
price, a payload that is not a ``QueuedPayload``) raises; that is a bug, not a user error.
"""

from __future__ import annotations

from decimal import Decimal

from actors.pool.queue_actor import decode_payload
from actors.read.common import OPEN_STATUSES, ReadContext
from engine.display import Display
from engine.group import slots_held as group_slots_held
from engine.pool import GroupSlots, slots_held
from engine.queue import QUEUE_REASONS, KeyState, QueueEntry, RankedEntry, rank
from engine.queue.entries import Key


def pool_usage(ctx: ReadContext) -> dict:
    pool = ctx.cfg.execution_pool
    marks = ", ".join("?" * len(OPEN_STATUSES))
    used = 0
    for row in ctx.query(f"SELECT id, status, pyramid_count, legs_total FROM"
                         f" position_groups WHERE status IN ({marks})", OPEN_STATUSES):
        state = ctx.state(row)
        if state is not None:
            used += group_slots_held(state,
                                     count_pyramids=pool.count_pyramids_toward_pool,
                                     count_dca=pool.count_dca_toward_pool)
        else:
            used += slots_held(GroupSlots(group_id=row["id"], status=row["status"],
                                          pyramid_count=row["pyramid_count"],
                                          entry_leg_count=row["legs_total"]),
                               count_pyramids_toward_pool=pool.count_pyramids_toward_pool,
                               count_dca_toward_pool=pool.count_dca_toward_pool)
    return {"used": used, "max": pool.max_open_groups}


def live_keys(ctx: ReadContext) -> dict[Key, KeyState]:
    marks = ", ".join("?" * len(OPEN_STATUSES))
    rows = ctx.query(f"SELECT exchange, symbol, timeframe, side, status FROM position_groups"
                     f" WHERE status IN ({marks})", OPEN_STATUSES)
    return {(r["exchange"], r["symbol"], r["timeframe"]):
            KeyState(side=r["side"], closing=r["status"] == "closing") for r in rows}


def entry_from_row(q: dict) -> QueueEntry:
    return QueueEntry(
        id=q["id"], exchange=q["exchange"], symbol=q["symbol"], timeframe=q["timeframe"],
        side=q["side"], intent=q["intent"], payload=q["payload"],
        reference_price=Decimal(q["reference_price"]),
        order_size=None if q["order_size"] is None else Decimal(q["order_size"]),
        size_type=q["size_type"] or "quote", signal_timestamp_ms=q["signal_ts"],
        expected_profit=Decimal(q["expected_profit_usd"] or 0),
        entry_legs=decode_payload(q["payload"]).entry_legs,
        reason=q["reason"], queued_at_ms=q["queued_at"], updated_at_ms=q["updated_at"],
        replacement_count=q["replacement_count"])


def queue_view(ctx: ReadContext) -> dict:
    entries = [entry_from_row(q) for q in ctx.query("SELECT * FROM queue_entries")]
    ranked = rank(entries, prices=ctx.prices, live_groups=live_keys(ctx),
                  priority=ctx.cfg.waiting_rule.selection_priority)
    return {"pool": pool_usage(ctx), "entries": [
        _entry_row(ctx, r, ctx.display(r.entry.exchange, r.entry.symbol)) for r in ranked]}


def _entry_row(ctx: ReadContext, r: RankedEntry, show: Display) -> dict:
    e = r.entry
    return {
        "id": e.id, "exchange": e.exchange, "symbol": e.symbol,
        "timeframe": e.timeframe, "side": e.side, "intent": e.intent,
        "entry_price": show.price(e.reference_price),
        "order_size": show.size(e.order_size, e.size_type),
        "size_type": e.size_type, "replacement_count": e.replacement_count,
        "queued_at": e.queued_at_ms, "updated_at": e.updated_at_ms,
        "current_price": show.price(ctx.price(e.symbol)),
        "current_loss_percent": show.percent(r.loss_percent),
        "expected_profit_usd": show.usd(r.expected_profit),
        "continuation": r.continuation, "rank": r.rank, "reason": e.reason,
    }


def queued_by_reason(ctx: ReadContext) -> dict:
    rows = ctx.query("SELECT reason, COUNT(*) AS n FROM queue_entries GROUP BY reason")
    by_reason = {reason: 0 for reason in QUEUE_REASONS}
    for r in rows:
        by_reason[r["reason"]] = r["n"]
    return {"total": sum(by_reason.values()), "by_reason": by_reason}
