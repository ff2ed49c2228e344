"""Value types of one position group: the immutable state the reducer folds messages into.

Everything here is a frozen msgspec Struct so that a state can be journaled, compared and
replayed. The reducer never mutates them; it builds the next state through ``draft.Draft``.
"""

from decimal import Decimal
from typing import Literal

import msgspec

from engine.decimals import ZERO
from engine.orders import Purpose
from engine.types import Level, MarketRules, Side, TpMode

GroupStatus = Literal["live", "partially_filled", "active", "closing", "closed", "failed"]
CloseReason = Literal[
    "exit_signal", "aggregate_tp", "all_legs_tp", "risk_loser", "risk_winner_full",
    "reduce_full", "reverse", "manual", "ladder_cancelled", "creation_failed",
]
# the letters of the full-close purposes (engine.orders.Purpose)
ClosePurpose = Literal["a", "x", "r", "d", "m"]
EntryState = Literal["pending", "open", "partially_filled", "filled", "cancelled", "failed"]
TpState = Literal["none", "placed", "hit", "cancelled", "external_cancel"]
PyramidState = Literal["active", "rolled_back", "abandoned"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["GTC", "IOC"]
TimerCondition = Literal["after_5_pyramids", "after_all_dca_submitted", "after_all_dca_filled"]

# purpose letter of each full-close reason (SPEC 8.4)
CLOSE_PURPOSE: dict[str, ClosePurpose] = {
    "exit_signal": Purpose.EXIT, "reverse": Purpose.EXIT, "aggregate_tp": Purpose.AGGREGATE_TP,
    "risk_loser": Purpose.RISK, "risk_winner_full": Purpose.RISK, "reduce_full": Purpose.REDUCE,
    "manual": Purpose.MANUAL,
}


class OrderRef(msgspec.Struct, frozen=True, kw_only=True):
    """Identifies an order inside its group; with the instance and group id it is the cid.

    ``pyramid``/``leg`` are None for group-level orders (closes), encoded ``z``.
    """

    pyramid: int | None
    leg: int | None
    purpose: Purpose
    attempt: int


class GridSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The effective grid settings stored with the group at creation (SPEC 3.11)."""

    tp_mode: TpMode = "leg"
    tp_percent: Decimal = Decimal(1)
    entry_order_type: Literal["limit", "market"] = "limit"
    max_pyramids: int = 5
    cancel_dca_beyond_percent: Decimal = ZERO
    dca_levels: tuple[Level, ...] = ()
    pyramid_specific_levels: dict[str, tuple[Level, ...]] = msgspec.field(default_factory=dict)


class Pyramid(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    reference_price: Decimal
    notional: Decimal
    signal_ts_ms: int
    received_at_ms: int
    state: PyramidState = "active"
    levels: tuple[Level, ...] = ()  # the ladder it was planned from (market DCA0 re-anchoring)
    awaiting_anchor: bool = False  # market DCA0 sent, other legs not yet computed (SPEC 3.9.6)
    ladder_cancelled: bool = False  # SPEC 3.10 already applied
    max_slippage_percent: Decimal | None = None  # the webhook's limit for its market DCA0


class Leg(msgspec.Struct, frozen=True, kw_only=True):
    """One DCA leg and its lot. Holdings: filled − base fees = open + dust + sold."""

    pyramid: int
    index: int
    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal
    planned_price: Decimal
    planned_qty: Decimal
    entry_type: OrderType = "limit"
    entry_state: EntryState = "pending"
    entry_attempt: int = 0  # attempt of the current/last entry order
    filled_qty: Decimal = ZERO  # gross entry quantity traded
    fill_vwap: Decimal = ZERO
    fill_cost: Decimal = ZERO  # Σ price × qty, exact: the VWAP does not depend on the split
    base_fee_qty: Decimal = ZERO
    open_qty: Decimal = ZERO  # the lot (on the step)
    dust_qty: Decimal = ZERO  # this leg's share of the group's dust (SPEC 4.8)
    sold_qty: Decimal = ZERO
    written_off_qty: Decimal = ZERO  # removed by a balance shortfall (SPEC 8.5)
    tp_price: Decimal | None = None
    tp_state: TpState = "none"
    tp_attempt: int = 0  # next attempt number of this leg's TP order
    tp_blocked: bool = False  # last TP placement was refused: wait for the next fill
    closed_otherwise: bool = False  # lot closed by exit/aggregate/reduce/risk/dust (label Closed)
    last_fill_ms: int | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.pyramid, self.index)


class OrderRec(msgspec.Struct, frozen=True, kw_only=True):
    """An order of this group that has not ended yet."""

    ref: OrderRef
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    qty: Decimal
    price: Decimal | None
    state: Literal["pending", "open", "retry"] = "pending"  # retry: resend same id on Tick
    cancel: Literal["none", "wanted", "requested"] = "none"  # wanted: cancel once acknowledged
    filled_qty: Decimal = ZERO
    placed_at_ms: int = 0


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    """Part of a partial close attributed to one lot (SPEC 4.5 rule 1)."""

    pyramid: int
    leg: int
    qty: Decimal
    whole: bool  # the lot is taken whole (its TP is not re-placed)


class FullClose(msgspec.Struct, frozen=True, kw_only=True):
    """Progress of the full close procedure (SPEC 4.7)."""

    reason: CloseReason
    purpose: ClosePurpose
    max_slippage_percent: Decimal | None  # None = the engine's limit (risk_engine)
    phase: Literal["cancelling", "selling", "retry_wait"] = "cancelling"
    next_try_ms: int = 0
    retries: int = 0


class PartialClose(msgspec.Struct, frozen=True, kw_only=True):
    """Progress of a partial close (reduce or a Risk Engine winner, SPEC 4.5)."""

    purpose: Literal["d", "r"]
    requested_qty: Decimal  # Q after rounding and capping, before dust absorption
    allocations: tuple[Allocation, ...]
    max_slippage_percent: Decimal | None
    request_id: str | None = None
    phase: Literal["cancelling", "selling"] = "cancelling"
    sold_qty: Decimal = ZERO
    realized_before: Decimal = ZERO


class Attempts(msgspec.Struct, frozen=True, kw_only=True):
    """Next attempt number per group-level close purpose."""

    a: int = 0
    x: int = 0
    r: int = 0
    d: int = 0
    m: int = 0


class GroupState(msgspec.Struct, frozen=True, kw_only=True):
    group_id: int
    exchange: str
    symbol: str
    timeframe: int
    side: Side
    created_at_ms: int
    config: GridSnapshot
    status: GroupStatus = "live"
    close_reason: CloseReason | None = None
    closed_at_ms: int | None = None
    pyramids: tuple[Pyramid, ...] = ()
    legs: tuple[Leg, ...] = ()
    orders: tuple[OrderRec, ...] = ()
    attempts: Attempts = Attempts()
    realized_pnl: Decimal = ZERO  # net of every fee (SPEC 3.5)
    fees_paid: Decimal = ZERO  # in the quote currency
    entry_cost: Decimal = ZERO
    exit_proceeds: Decimal = ZERO
    timer_started_at_ms: int | None = None
    close: FullClose | None = None
    partial: PartialClose | None = None
    seen_trade_ids: frozenset[str] = frozenset()

    @property
    def open_qty(self) -> Decimal:
        return sum((leg.open_qty for leg in self.legs), ZERO)

    @property
    def dust_qty(self) -> Decimal:
        return sum((leg.dust_qty for leg in self.legs), ZERO)

    @property
    def pyramid_count(self) -> int:
        """Pyramids received (SPEC 3.3); one rolled back with nothing filled does not count."""
        filled = {leg.pyramid for leg in self.legs if leg.filled_qty > 0}
        return sum(1 for p in self.pyramids if p.state == "active" or p.index in filled)

    def leg(self, pyramid: int, index: int) -> Leg:
        for leg in self.legs:
            if leg.pyramid == pyramid and leg.index == index:
                return leg
        raise KeyError((pyramid, index))


class GroupContext(msgspec.Struct, frozen=True, kw_only=True):
    """What the actor knows besides the state: rules, price, balances and current settings.

    ``price`` is the current price (last on spot, mark on futures); ``free_base`` the free base
    balance after cancellations (spot closes are capped at it; None = unknown, no cap);
    ``asset_prices`` converts fees charged in a third asset into the quote currency.
    """

    rules: MarketRules
    price: Decimal | None = None
    market_type: Literal["spot", "futures"] = "spot"
    free_base: Decimal | None = None
    asset_prices: dict[str, Decimal] = msgspec.field(default_factory=dict)
    evaluate_interval_ms: int = 10_000
    engine_max_slippage_percent: Decimal = Decimal(1)
    slippage_action: Literal["warn", "reject"] = "warn"
    timer_start_condition: TimerCondition = "after_5_pyramids"
    reset_timer_on_replacement: bool = False
    price_max_age_ms: int | None = None  # older prices fire no aggregate TP (None: no limit)
