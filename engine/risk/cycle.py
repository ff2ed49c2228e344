"""One Risk Engine cycle, its status and the panel rows (SPEC 7.4-7.7, 3.2, 11.5 C, A58, A59).

``evaluate_cycle`` decides; the risk actor records the outcome and, for an ``OffsetPlan``, sends
the winner closes then the loser close to the group actors, step by step.
"""

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from engine.decimals import ZERO, cents
from engine.risk.model import (
    CycleOutcome,
    NoAction,
    OffsetPlan,
    RiskBlocked,
    RiskGroupView,
    RiskIdle,
    RiskSettings,
    RiskStatus,
)
from engine.risk.plan import plan_offsets
from engine.risk.selection import (
    Screen,
    age_filter_passed,
    first_loser,
    loser_failures,
    loser_rank_key,
    pyramids_reached,
    rank_winners,
    screen,
    sort_winners,
)
from engine.risk.timer import timer_remaining_ms

INSUFFICIENT_LOG_INTERVAL_MS = 60_000


def evaluate_cycle(
    groups: Sequence[RiskGroupView],
    settings: RiskSettings,
    now_ms: int,
    *,
    force: bool = False,
    engine_running: bool = True,
    taker_fee_rate: Decimal | None = None,
) -> CycleOutcome:
    """Eligibility, loser choice, winner ranking and the offset plan for one cycle."""
    return decide(screen(groups, settings, now_ms, force=force), settings,
                  engine_running=engine_running, taker_fee_rate=taker_fee_rate)


def decide(
    screened: Screen,
    settings: RiskSettings,
    *,
    engine_running: bool = True,
    taker_fee_rate: Decimal | None = None,
) -> CycleOutcome:
    """The cycle's outcome from its screened groups: the deepest eligible loser, offset by the
    winners in rank order; Blocked when the operator's flags or a pause hold every loser back."""
    if not screened.losers:
        if screened.excluded:
            first = first_loser(screened.excluded)
            return RiskBlocked(reason="losers_excluded", loser_id=first.id)
        return RiskIdle()
    loser = first_loser(screened.losers)
    if not engine_running:
        return RiskBlocked(reason="engine_paused", loser_id=loser.id)
    winners = [w for w in screened.winners if w.id != loser.id]
    sort_winners(winners)
    return plan_offsets(loser, winners, settings, taker_fee_rate=taker_fee_rate)


def risk_status(outcome: CycleOutcome) -> RiskStatus:
    """Active (a sufficient plan: executed or executable), Idle (no loser), Blocked (otherwise)."""
    if isinstance(outcome, OffsetPlan):
        return "active"
    if isinstance(outcome, RiskIdle):
        return "idle"
    return "blocked"


def should_log_insufficient(last_logged_ms: int | None, now_ms: int) -> bool:
    """"insufficient offsets" for the same loser at most once per minute (A59)."""
    return last_logged_ms is None or now_ms - last_logged_ms >= INSUFFICIENT_LOG_INTERVAL_MS


class RiskPanelRow(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Panel C / 7.7 fields of one group at or below the loss threshold."""

    group_id: int
    symbol: str
    side: str
    loss_percent: Decimal  # 0.01, HALF_UP
    loss_usd: Decimal  # 0.01, HALF_UP
    timer_remaining_ms: int | None  # None = "not started"
    pyramids_reached: bool
    age_filter_passed: bool
    eligible: bool
    failures: tuple[str, ...]
    offsets_count: int
    offsets_usd: Decimal
    projected: OffsetPlan | NoAction


def panel_rows(
    groups: Sequence[RiskGroupView],
    settings: RiskSettings,
    now_ms: int,
    *,
    taker_fee_rate: Decimal | None = None,
) -> list[RiskPanelRow]:
    """One row per open group at or below the threshold, deepest loss first."""
    losing = [
        g
        for g in groups
        if g.open_qty > 0
        and g.status not in ("closed", "failed")
        and g.unrealized_percent <= settings.loss_threshold_percent
    ]
    losing.sort(key=loser_rank_key)
    all_winners = rank_winners(groups, exclude_id=None)
    all_usd = sum((w.unrealized_usd for w in all_winners), ZERO)
    winner_ids = {w.id for w in all_winners}
    rows = []
    for g in losing:
        # a losing group is a winner too only under a threshold >= 0
        winners = [w for w in all_winners if w.id != g.id] if g.id in winner_ids else all_winners
        failures = loser_failures(g, settings, now_ms)
        rows.append(
            RiskPanelRow(
                group_id=g.id,
                symbol=g.symbol,
                side=g.side,
                loss_percent=cents(g.unrealized_percent),
                loss_usd=cents(g.unrealized_usd),
                timer_remaining_ms=timer_remaining_ms(settings, g.timer_started_at_ms, now_ms),
                pyramids_reached=pyramids_reached(g),
                age_filter_passed=age_filter_passed(g, settings, now_ms),
                eligible=not failures,
                failures=failures,
                offsets_count=len(winners),
                offsets_usd=all_usd if winners is all_winners else sum(
                    (w.unrealized_usd for w in winners), ZERO),
                projected=plan_offsets(g, winners, settings, taker_fee_rate=taker_fee_rate),
            )
        )
    return rows
