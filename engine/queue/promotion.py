"""Promotion decisions (SPEC 6.4, 6.5, A47, A90): which queued entries may run now.

The walk follows the rank strictly: entries held for a non-slot reason are skipped (left queued),
and the walk stops at the first entry that needs more slots than are free, so a lower-ranked entry
never overtakes a higher-ranked one waiting for capacity.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

import msgspec

from engine.pool import fits, slots_needed
from engine.queue.entries import (
    ActionRefused,
    EntryPromoted,
    Key,
    QueueEntry,
    QueueReason,
    QueueState,
    QueueStep,
    find,
    without,
)
from engine.queue.ranking import KeyState, is_continuation, rank

Action = Literal["promote", "force_add"]


class PoolView(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Everything promotion needs to know besides the queue itself."""

    used: int
    max_open_groups: int
    count_pyramids_toward_pool: bool = False
    count_dca_toward_pool: bool = False
    paused: bool = False  # engine Paused or in Error
    live_groups: dict[Key, KeyState] = {}
    symbols_with_rules: frozenset[str] = frozenset()  # precision metadata available


class Promotion(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry: QueueEntry
    slots: int
    continuation: bool


class Skipped(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    reason: QueueReason


class Stopped(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    needed: int
    free: int


class PromotionPlan(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    promote: tuple[Promotion, ...]
    skipped: tuple[Skipped, ...]
    stopped: Stopped | None


def blocking_reason(
    entry: QueueEntry, pool: PoolView, live_groups: Mapping[Key, KeyState] | None = None
) -> QueueReason | None:
    """The non-slot reason that still holds for ``entry`` now, or None (only slots may block)."""
    if pool.paused:
        return "engine_paused"
    if entry.symbol not in pool.symbols_with_rules:
        return "precision_missing"
    live = (pool.live_groups if live_groups is None else live_groups).get(entry.key)
    if live is not None:
        if live.side != entry.side:
            return "opposite_side"
        if live.closing:
            return "group_closing"
    return None


def slots_for(entry: QueueEntry, pool: PoolView, continuation: bool) -> int:
    return slots_needed(
        new_group=not continuation,
        entry_legs=entry.entry_legs,
        count_pyramids_toward_pool=pool.count_pyramids_toward_pool,
        count_dca_toward_pool=pool.count_dca_toward_pool,
    )


def plan_promotion(
    entries: Sequence[QueueEntry],
    *,
    prices: Mapping[str, Decimal],
    priority: Sequence[str],
    pool: PoolView,
) -> PromotionPlan:
    """Walk the ranked queue and choose the entries to promote with the free slots.

    After each promotion the key's new group is taken into account for the remaining entries (an
    opposite-side entry of the same key is then held). Re-ranking within one walk changes nothing:
    there is one entry per key and side, so no remaining entry becomes a continuation.
    """
    live = dict(pool.live_groups)
    used = pool.used
    promote: list[Promotion] = []
    skipped: list[Skipped] = []
    for ranked in rank(entries, prices=prices, live_groups=live, priority=priority):
        e = ranked.entry
        reason = blocking_reason(e, pool, live)
        if reason is not None:
            skipped.append(Skipped(entry_id=e.id, reason=reason))
            continue
        cont = is_continuation(e, live)
        k = slots_for(e, pool, cont)
        if not fits(used, k, pool.max_open_groups):
            stop = Stopped(entry_id=e.id, needed=k, free=max(0, pool.max_open_groups - used))
            return PromotionPlan(promote=tuple(promote), skipped=tuple(skipped), stopped=stop)
        used += k
        promote.append(Promotion(entry=e, slots=k, continuation=cont))
        live[e.key] = KeyState(side=e.side)
    return PromotionPlan(promote=tuple(promote), skipped=tuple(skipped), stopped=None)


def promote_one(
    state: QueueState, entry_id: int, *, pool: PoolView, forced: bool = False
) -> tuple[QueueStep, Promotion | None]:
    """UI Promote (``forced=False``) or Force Add to Pool (``forced=True``), SPEC 6.5.

    Promote runs the entry now if it fits, otherwise answers "pool_full" or the blocking reason.
    Force Add overrides the pool limit and nothing else: any other blocking reason refuses it.
    """
    action: Action = "force_add" if forced else "promote"
    entry = find(state, entry_id)
    if entry is None:
        return _refused(state, entry_id, action, "not_found"), None
    reason = blocking_reason(entry, pool)
    if reason is not None:
        return _refused(state, entry_id, action, reason), None
    cont = is_continuation(entry, pool.live_groups)
    k = slots_for(entry, pool, cont)
    if not forced and not fits(pool.used, k, pool.max_open_groups):
        return _refused(state, entry_id, action, "pool_full"), None
    step = QueueStep(
        state=without(state, entry_id),
        events=(EntryPromoted(entry_id=entry_id, slots=k, forced=forced),),
    )
    return step, Promotion(entry=entry, slots=k, continuation=cont)


def _refused(state: QueueState, entry_id: int, action: Action, reason: str) -> QueueStep:
    refused = ActionRefused(entry_id=entry_id, action=action, reason=reason)
    return QueueStep(state=state, events=(refused,))


def apply_plan(state: QueueState, plan: PromotionPlan) -> QueueStep:
    """Remove the promoted entries from the queue and emit one event per promotion."""
    ids = {p.entry.id for p in plan.promote}
    kept = tuple(e for e in state.entries if e.id not in ids)
    events = tuple(
        EntryPromoted(entry_id=p.entry.id, slots=p.slots, forced=False) for p in plan.promote
    )
    return QueueStep(state=QueueState(entries=kept, next_id=state.next_id), events=events)
