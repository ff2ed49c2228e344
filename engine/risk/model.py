"""Inputs and outcomes of the Risk Engine core (SPEC 7): plain values, no behaviour.

``RiskSettings`` is the config model's ``risk_engine`` section itself (the keys of SPEC 10.2
under their TOML names, with their defaults).
"""

from decimal import Decimal
from typing import Literal

import msgspec

from engine.config.model import RiskEngineConfig
from engine.types import Side

D = Decimal
GroupStatus = Literal["live", "partially_filled", "active", "closing", "closed", "failed"]
DEFAULT_TAKER_FEE_RATE = D("0.001")  # 0.1 % when the exchange's rate is unknown (SPEC 7.5)


RiskSettings = RiskEngineConfig


class RiskGroupView(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """One group as the Risk Engine sees it at evaluation time (current price ``price``).

    ``unrealized_usd``/``unrealized_percent`` follow SPEC 3.5 (fees excluded). ``closing`` = a
    close is in progress. Market rules are those of a market close of the symbol: ``step_size``,
    ``min_qty`` and ``min_notional`` (0 = none). The core reads views by attribute only, so an
    object with these fields serves as well (the risk actor's views, re-priced in place).
    """

    id: int
    symbol: str
    side: Side
    status: GroupStatus
    created_at_ms: int
    pyramid_count: int
    max_pyramids: int
    timer_started_at_ms: int | None
    avg_entry: Decimal
    open_qty: Decimal
    price: Decimal
    unrealized_usd: Decimal
    unrealized_percent: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal = D(0)
    blocked: bool = False
    skip_once: bool = False
    closing: bool = False


class PlanStep(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """One winner close of an offset plan (full when ``qty`` is the winner's open quantity)."""

    group_id: int
    symbol: str
    qty: Decimal
    price: Decimal
    notional: Decimal
    estimated_usd: Decimal
    full: bool
    raised: bool  # raised to min_close_notional / exchange minimum (logged)


class SkippedWinner(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    group_id: int
    reason: Literal["below_minimum"]  # the minimum raise would exceed its open quantity
    needed_qty: Decimal
    open_qty: Decimal


class OffsetPlan(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A sufficient plan: the winners' estimated USD covers ``required_usd``."""

    loser_id: int
    loss_percent: Decimal  # rounded to 0.01
    loss_usd: Decimal  # the loser's unrealized USD (negative), exact
    loser_qty: Decimal
    loser_notional: Decimal
    required_usd: Decimal
    fees_est: Decimal
    slippage_est: Decimal
    steps: tuple[PlanStep, ...]
    skipped: tuple[SkippedWinner, ...]
    covered_usd: Decimal  # Σ estimated_usd >= required_usd
    passes: int  # re-plans after the first (fees/slippage iteration), at most 3


class NoAction(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """"insufficient offsets": not enough winners; nothing is closed, the next cycle retries."""

    loser_id: int
    reason: Literal["insufficient_offsets"]
    required_usd: Decimal
    available_usd: Decimal
    steps: tuple[PlanStep, ...]  # what could be gathered, for the panel and the audit
    skipped: tuple[SkippedWinner, ...]


class RiskIdle(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """No eligible loser this cycle."""


class RiskBlocked(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A loser would qualify but no action is possible for a reason other than the winners."""

    reason: Literal["losers_excluded", "engine_paused"]
    loser_id: int


CycleOutcome = OffsetPlan | NoAction | RiskIdle | RiskBlocked
RiskStatus = Literal["active", "idle", "blocked"]
