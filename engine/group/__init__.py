"""One position group as a pure reducer (SPEC 3, 4): ``decide(state, msg, now_ms, ctx) -> Step``.

Modules: ``state`` value types, ``messages`` inputs/commands/events, ``reducer`` the decide
function, ``entries`` legs and pyramids, ``tp`` per-leg take-profits, ``partial`` reduce and
risk partial closes, ``closing`` the full close procedure, ``lots`` lot accounting and PnL,
``status`` derived status/labels/timer/slots, ``rules`` market-rule arithmetic.
"""

from engine.group.lots import (
    average_entry, filled_notional, lot_cost, open_cost, pnl_at, progress_to_tp, unrealized,
)
from engine.group.reducer import decide, next_pyramid_index, open_group, wants_order
from engine.group.rules import aggregate_target, leg_tp_price
from engine.group.state import GridSnapshot, GroupContext, GroupState, OrderRef
from engine.group.status import (
    derive_status,
    leg_label,
    slots_held,
    timer_condition_met,
)

__all__ = [
    "GridSnapshot", "GroupContext", "GroupState", "OrderRef", "aggregate_target",
    "average_entry", "decide", "derive_status", "filled_notional", "leg_label", "leg_tp_price",
    "lot_cost", "next_pyramid_index", "open_cost", "open_group", "pnl_at", "progress_to_tp",
    "slots_held", "timer_condition_met",
    "unrealized", "wants_order",
]
