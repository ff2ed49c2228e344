"""Risk Engine core (SPEC 7): timer rules, eligibility, loser/winner ranking, offset plan, panel."""

from engine.risk.cycle import (
    INSUFFICIENT_LOG_INTERVAL_MS,
    RiskPanelRow,
    decide,
    evaluate_cycle,
    panel_rows,
    risk_status,
    should_log_insufficient,
)
from engine.risk.model import (
    DEFAULT_TAKER_FEE_RATE,
    CycleOutcome,
    NoAction,
    OffsetPlan,
    PlanStep,
    RiskBlocked,
    RiskGroupView,
    RiskIdle,
    RiskSettings,
    RiskStatus,
    SkippedWinner,
)
from engine.risk.plan import plan_offsets, unit_profit
from engine.risk.selection import (
    Screen,
    age_filter_passed,
    choose_loser,
    first_loser,
    is_winner,
    loser_failures,
    loser_rank_key,
    pyramids_reached,
    rank_winners,
    screen,
    sort_winners,
)
from engine.risk.timer import (
    TimerFacts,
    next_timer,
    start_condition_met,
    timer_elapsed,
    timer_remaining_ms,
)

__all__ = [
    "DEFAULT_TAKER_FEE_RATE", "INSUFFICIENT_LOG_INTERVAL_MS", "CycleOutcome", "NoAction",
    "OffsetPlan", "PlanStep", "RiskBlocked", "RiskGroupView", "RiskIdle", "RiskPanelRow",
    "RiskSettings", "RiskStatus", "Screen", "SkippedWinner", "TimerFacts", "age_filter_passed",
    "choose_loser", "decide", "evaluate_cycle", "first_loser", "is_winner", "loser_failures",
    "loser_rank_key", "next_timer", "panel_rows", "plan_offsets", "pyramids_reached",
    "rank_winners", "risk_status", "screen", "should_log_insufficient", "sort_winners",
    "start_condition_met", "timer_elapsed", "timer_remaining_ms", "unit_profit",
]
