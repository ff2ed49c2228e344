"""Derived facts of a group: status (SPEC 3.2), leg labels, the risk timer (SPEC 7.3), pool
slots held (SPEC 6.1), and the end-of-life checks (Closed by its legs, Failed creation)."""

from typing import Literal

from engine.group.closing import fail_group, finish_closed
from engine.group.draft import Draft
from engine.group.messages import StatusChanged, TimerChanged
from engine.group.state import GroupState, GroupStatus, Leg, TimerCondition

LegLabel = Literal["Pending", "Open", "Hit TP", "Cancelled", "Closed"]
ACTIVE_ENTRY = ("pending", "open", "partially_filled")
STICKY = ("closing", "closed", "failed")


def leg_label(leg: Leg) -> LegLabel:
    if leg.tp_state == "hit" and leg.open_qty == 0:
        return "Hit TP"
    if leg.open_qty > 0:
        return "Open"  # a lot is held, even while the rest of its entry order rests
    if leg.entry_state in ACTIVE_ENTRY:
        return "Pending"
    if leg.filled_qty == 0:
        return "Cancelled"  # cancelled or failed with nothing filled
    return "Closed"  # closed by exit/aggregate/reduce/risk, or its lot went to dust


def derive_status(state: GroupState) -> GroupStatus:
    if state.status in STICKY:
        return state.status
    if not any(leg.filled_qty > 0 for leg in state.legs):
        return "live"
    entry_running = any(leg.entry_state in ACTIVE_ENTRY for leg in state.legs) or any(
        p.awaiting_anchor for p in state.pyramids)
    return "partially_filled" if entry_running else "active"


def counted_pyramids(state: GroupState) -> set[int]:
    filled = {leg.pyramid for leg in state.legs if leg.filled_qty > 0}
    return {p.index for p in state.pyramids if p.state == "active" or p.index in filled}


def timer_condition_met(state: GroupState, condition: TimerCondition) -> bool:
    """Whether the risk timer's start condition holds now (SPEC 7.3); failed legs and
    pyramids rolled back with nothing filled are ignored."""
    if condition == "after_5_pyramids":
        return state.pyramid_count >= state.config.max_pyramids
    counted = counted_pyramids(state)
    if not counted or any(p.awaiting_anchor for p in state.pyramids if p.index in counted):
        return False
    legs = [g for g in state.legs if g.pyramid in counted and g.entry_state != "failed"]
    done = ("open", "partially_filled", "filled", "cancelled") \
        if condition == "after_all_dca_submitted" else ("filled", "cancelled")
    return bool(legs) and all(g.entry_state in done for g in legs)


def update_timer(d: Draft) -> None:
    if d.s.status in ("closed", "failed"):
        return
    condition = d.ctx.timer_start_condition
    met = timer_condition_met(d.view(), condition)
    if met and d.s.timer_started_at_ms is None:
        d.set(timer_started_at_ms=d.now)
        d.event(TimerChanged(started_at_ms=d.now, why="started"))
    elif not met and d.s.timer_started_at_ms is not None and condition != "after_5_pyramids":
        d.set(timer_started_at_ms=None)
        d.event(TimerChanged(started_at_ms=None, why="cleared"))


def reset_timer_on_replacement(d: Draft) -> None:
    """A replacement pyramid restarts a running timer when configured (SPEC 7.3)."""
    if d.ctx.reset_timer_on_replacement and d.s.timer_started_at_ms is not None:
        d.set(timer_started_at_ms=d.now)
        d.event(TimerChanged(started_at_ms=d.now, why="reset_by_replacement"))


def slots_held(state: GroupState, *, count_pyramids: bool, count_dca: bool) -> int:
    """Pool slots this group holds (SPEC 6.1); rolled-back pyramids keep theirs until the end."""
    if state.status in ("closed", "failed"):
        return 0
    if count_dca:
        planned = {p.index: len(p.levels) for p in state.pyramids if p.awaiting_anchor}
        legs = sum(1 for leg in state.legs if leg.pyramid not in planned)
        return legs + sum(planned.values())
    if count_pyramids:
        return len(state.pyramids)
    return 1


def check_failed(d: Draft) -> None:
    """Pyramid 0 rolled back or abandoned with nothing filled: Failed, slot released."""
    p0 = d.pyramids.get(0)
    if d.closing or p0 is None or p0.state == "active":
        return
    if any(leg.filled_qty > 0 for leg in d.legs.values()):
        return
    for rec in list(d.orders.values()):
        d.cancel(rec)
    if not d.orders:
        fail_group(d)


def check_done(d: Draft) -> None:
    """Every leg is Hit TP, Closed or Cancelled, nothing held, nothing open (SPEC 4.2, 3.10)."""
    if d.closing or not d.legs or d.orders or d.open_qty > 0:
        return
    if any(p.awaiting_anchor for p in d.pyramids.values()):
        return
    if any(leg.entry_state in ACTIVE_ENTRY for leg in d.legs.values()):
        return
    ever_filled = any(leg.filled_qty > 0 for leg in d.legs.values())
    finish_closed(d, "all_legs_tp" if ever_filled else "ladder_cancelled")


def refresh_status(d: Draft, before: GroupStatus) -> None:
    new = derive_status(d.view())
    if new != d.s.status:
        d.set(status=new)
    if d.s.status != before:
        d.event(StatusChanged(old=before, new=d.s.status))
