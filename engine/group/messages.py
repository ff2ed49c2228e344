"""Messages of the group reducer: what it receives, the commands it emits, the events it records.

Inputs come from the supervisor (pyramids, closes), the risk actor (risk closes), the order
gateway (acknowledgements, rejections, trades, order ends) and the market/tick feeds. Commands go
down to the gateway and the supervisor; events are journaled by the actor before any command is
performed (decide -> record -> act).
"""

from decimal import Decimal
from typing import Literal

import msgspec

from engine.group.state import (
    ClosePurpose,
    CloseReason,
    GroupState,
    GroupStatus,
    OrderRef,
    OrderSide,
    OrderType,
    TimeInForce,
)
from engine.types import Level, Side

# --- inputs -----------------------------------------------------------------------------------


class PlannedLeg(msgspec.Struct, frozen=True, kw_only=True):
    """One leg already computed and validated by the ladder planner (SPEC 3.5, 3.9 step 2)."""

    index: int
    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal
    price: Decimal
    qty: Decimal


class PyramidPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A pyramid ready to place. With a market DCA0 only leg 0 is given; the others are
    computed by the reducer from DCA0's fill (SPEC 3.9 step 6) using ``levels``."""

    index: int
    reference_price: Decimal
    notional: Decimal
    signal_ts_ms: int
    legs: tuple[PlannedLeg, ...]
    levels: tuple[Level, ...] = ()
    max_slippage_percent: Decimal | None = None  # the webhook's limit (market DCA0)


class AddPyramid(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A same-side, non-duplicate entry for this group. At the maximum it is a replacement
    pyramid (ignored, may reset the risk timer)."""

    plan: PyramidPlan


class OrderAccepted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    ref: OrderRef
    exchange_order_id: str = ""


class OrderRejected(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Placement failed. ``retryable``: nothing happened (exchange unreachable after the
    gateway's retries) and the same order may be resent with the same id."""

    ref: OrderRef
    retryable: bool = False
    reason: str = ""
    code: int | None = None


class TradeFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    ref: OrderRef
    trade_id: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int


class OrderEnded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An order reached a final state. Its trades are delivered (TradeFilled) before this."""

    ref: OrderRef
    status: Literal["filled", "canceled", "expired", "rejected"]
    dropped: bool = False  # never sent: the gateway dropped it from its line (not external)


class PriceChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    price: Decimal
    received_ms: int | None = None  # when market data got it (None: unknown, taken as fresh)


class Tick(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Periodic wake-up (every evaluate interval): close retries, transient resends."""


class CloseGroup(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Full close (SPEC 4.7): exit, reverse, manual, or a Risk Engine full close."""

    reason: CloseReason
    max_slippage_percent: Decimal | None = None  # the webhook's; None = engine limit


class Reduce(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A ``reduce`` webhook (SPEC 4.5)."""

    order_size: Decimal | None
    position_size_type: Literal["quote", "base", "contracts"]
    market_position_size: Decimal
    prev_market_position_size: Decimal
    max_slippage_percent: Decimal | None = None


class RiskClose(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A Risk Engine step for this group. ``qty`` None = close fully. The group validates it
    against its current lots and answers with ``RiskCloseOutcome``."""

    request_id: str
    role: Literal["loser", "winner"]
    qty: Decimal | None = None


class WriteOffLot(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Reconciliation found less base asset than the lots (SPEC 8.5): shrink this lot."""

    pyramid: int
    leg: int
    qty: Decimal


GroupInput = (
    AddPyramid | OrderAccepted | OrderRejected | TradeFilled | OrderEnded | PriceChanged | Tick
    | CloseGroup | Reduce | RiskClose | WriteOffLot
)

# --- commands ---------------------------------------------------------------------------------


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Send one order; the actor encodes the cid from (instance, group_id, ref)."""

    group_id: int
    ref: OrderRef
    symbol: str
    side: OrderSide
    order_type: OrderType
    qty: Decimal
    price: Decimal | None = None
    time_in_force: TimeInForce = "GTC"
    reduce_only: bool = False
    position_side: Side | None = None  # futures hedge mode only
    # when it was decided: the gateway's line sends the oldest first within a class
    decided_ms: int = 0
    # an entry leg: the price at which its ladder is stale (SPEC 3.10); the line drops it
    # instead of sending it once the market has reached that price
    stale_at: Decimal | None = None


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    group_id: int
    ref: OrderRef
    symbol: str


class WithdrawOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A cancel asked for before the acknowledgement: the gateway takes the order out of its
    waiting line if it is still there (ended ``canceled``, no exchange call); once sent, it
    does nothing and the cancel follows the acknowledgement."""

    group_id: int
    ref: OrderRef
    symbol: str
    why: str = ""  # for the order log: "stale ladder", "exit_signal", …


class ReleaseSlot(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The group is Closed or Failed: free its pool slots and promote the queue."""

    group_id: int
    status: Literal["closed", "failed"]


GroupCommand = PlaceOrder | CancelOrder | WithdrawOrder | ReleaseSlot

# --- events -----------------------------------------------------------------------------------


class OrderIntended(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Recorded before the order is sent (an orders row with its cid)."""

    order: PlaceOrder


class PyramidAdded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    index: int
    reference_price: Decimal
    notional: Decimal
    legs: int


class PyramidIgnored(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: str  # "max_pyramids" (a replacement pyramid), "group_closing", "index_exhausted"


class PyramidRolledBack(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    index: int
    failed_leg: int
    reason: str


class PyramidAbandoned(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    index: int
    reason: str


class LegSkipped(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A re-anchored leg failed validation after a market DCA0 (SPEC 3.9 step 6)."""

    pyramid: int
    leg: int
    reason: str


class LegFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    leg: int
    trade_id: str
    qty: Decimal
    price: Decimal
    fee_quote: Decimal
    fill_vwap: Decimal
    open_qty: Decimal
    dust_qty: Decimal


class EntryEnded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    leg: int
    state: Literal["filled", "cancelled"]
    external: bool = False  # cancelled outside the engine: Warning alert (SPEC 9.1)


class TpFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    leg: int
    trade_id: str
    qty: Decimal
    price: Decimal
    realized: Decimal
    hit: bool  # the lot is closed by its TP (final)


class TpProblem(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Warning: TP cancelled outside the engine (not re-placed) or refused by the exchange."""

    pyramid: int
    leg: int
    problem: Literal["external_cancel", "rejected", "expired"]
    reason: str = ""


class LotToDust(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    leg: int
    qty: Decimal


class CloseFilled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A trade of a closing order (full or partial close)."""

    purpose: ClosePurpose
    trade_id: str
    qty: Decimal
    price: Decimal
    realized: Decimal


class AggregateTargetHit(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    target: Decimal
    price: Decimal


class LadderCancelled(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    price: Decimal
    percent: Decimal


class CloseStarted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: CloseReason


class CloseShortfall(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Warning: the free base balance is below the lots; the missing part is written off."""

    wanted: Decimal
    available: Decimal


class CloseRetry(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The closing order failed or filled partly; the remainder is retried (SPEC 4.7 step 6)."""

    remaining: Decimal
    next_try_ms: int
    reason: str


class PartialCloseDone(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    purpose: Literal["d", "r"]
    request_id: str | None
    planned_qty: Decimal
    sold_qty: Decimal
    realized: Decimal


class RiskCloseOutcome(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The group's answer to a RiskClose: refused, or accepted as a full or partial close."""

    request_id: str
    accepted: bool
    full: bool = False
    qty: Decimal = Decimal(0)
    reason: str = ""


class Ignored(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An input that had no effect (logged): exit while closing, reduce without size, ..."""

    what: str
    reason: str


class StatusChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    old: GroupStatus
    new: GroupStatus


class TimerChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    started_at_ms: int | None
    why: Literal["started", "cleared", "reset_by_replacement"]


class FeeUnconverted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    asset: str
    fee: Decimal


class AttemptsExhausted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Error alert: an order needs an attempt beyond 46,655 and is not sent (SPEC 8.4)."""

    pyramid: int | None
    leg: int | None
    purpose: str


class LotWrittenOff(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    pyramid: int
    leg: int
    qty: Decimal


class ClosedTrade(msgspec.Struct, frozen=True, kw_only=True):
    """The closed_trades row (SPEC 12.3)."""

    group_id: int
    exchange: str
    symbol: str
    timeframe: int
    side: Side
    opened_at_ms: int
    closed_at_ms: int
    pyramids: int
    legs_filled: int
    entry_cost: Decimal
    exit_proceeds: Decimal
    fees: Decimal
    realized_pnl: Decimal
    return_percent: Decimal
    dust_qty: Decimal
    close_reason: CloseReason


class GroupClosed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: CloseReason
    realized: Decimal
    record: ClosedTrade


class GroupFailed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    reason: str


GroupEvent = (
    OrderIntended | PyramidAdded | PyramidIgnored | PyramidRolledBack | PyramidAbandoned
    | LegSkipped | LegFilled | EntryEnded | TpFilled | TpProblem | LotToDust | CloseFilled
    | AggregateTargetHit | LadderCancelled | CloseStarted | CloseShortfall | CloseRetry
    | PartialCloseDone | RiskCloseOutcome | Ignored | StatusChanged | TimerChanged
    | FeeUnconverted | AttemptsExhausted | LotWrittenOff | GroupClosed | GroupFailed
)


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one decision: the next state, commands to perform, events to record."""

    state: GroupState
    commands: tuple[GroupCommand, ...] = ()
    events: tuple[GroupEvent, ...] = ()
