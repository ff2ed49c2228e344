"""One cycle (7.4-7.7), risk status (3.2), panel rows (11.5 C) and the settings' key names."""

from decimal import Decimal as D

import msgspec
import pytest

from engine.risk import (
    NoAction,
    OffsetPlan,
    RiskBlocked,
    RiskIdle,
    RiskSettings,
    evaluate_cycle,
    panel_rows,
    risk_status,
    should_log_insufficient,
)
from tests.engine.risk_views import MIN, view

S = RiskSettings()
NOW = 600 * MIN


def d4_groups(**loser_flags):
    return [
        view(1, "100", "94", "20", **loser_flags),
        view(2, "100", "110", "8", created=1),
        view(3, "50", "55", "10", created=2),
    ]


def test_cycle_plans_d4():
    out = evaluate_cycle(d4_groups(), S, NOW, taker_fee_rate=D(0))
    assert isinstance(out, OffsetPlan) and out.loser_id == 1
    assert [(s.group_id, s.qty) for s in out.steps] == [(2, D(8)), (3, D("8.000"))]
    assert risk_status(out) == "active"


def test_cycle_idle_without_eligible_loser():
    out = evaluate_cycle(d4_groups(pyramids=4), S, NOW)
    assert out == RiskIdle() and risk_status(out) == "idle"
    assert evaluate_cycle([], S, NOW) == RiskIdle()


@pytest.mark.parametrize("flag", ["blocked", "skip_once"])
def test_cycle_blocked_when_every_loser_is_excluded(flag):
    out = evaluate_cycle(d4_groups(**{flag: True}), S, NOW)
    assert out == RiskBlocked(reason="losers_excluded", loser_id=1)
    assert risk_status(out) == "blocked"


def test_cycle_blocked_while_paused():
    out = evaluate_cycle(d4_groups(), S, NOW, engine_running=False)
    assert out == RiskBlocked(reason="engine_paused", loser_id=1)


def test_cycle_insufficient_is_blocked():
    out = evaluate_cycle(d4_groups(), RiskSettings(max_winners_to_combine=1), NOW,
                         taker_fee_rate=D(0))
    assert isinstance(out, NoAction) and risk_status(out) == "blocked"


def test_run_now_forced_skips_timer_only():
    groups = d4_groups(timer=None)
    assert evaluate_cycle(groups, S, NOW) == RiskIdle()
    assert isinstance(evaluate_cycle(groups, S, NOW, force=True, taker_fee_rate=D(0)), OffsetPlan)


def test_insufficient_log_throttle():
    assert should_log_insufficient(None, 0)
    assert not should_log_insufficient(1000, 60_999)
    assert should_log_insufficient(1000, 61_000)


def test_panel_rows():
    groups = d4_groups(timer=NOW - 20 * MIN) + [
        view(4, "100", "95", "10", pyramids=3, timer=None, created=NOW - 10 * MIN),  # -5 %
        view(5, "100", "96", "10"),  # -4 %: above the threshold, no row
        view(6, "100", "90", "10", status="closed"),
    ]
    s = RiskSettings(use_trade_age_filter=True)
    rows = panel_rows(groups, s, NOW, taker_fee_rate=D(0))
    assert [r.group_id for r in rows] == [1, 4]
    r1, r4 = rows
    assert (r1.loss_percent, r1.loss_usd) == (D("-6.00"), D("-120.00"))
    assert r1.timer_remaining_ms == 40 * MIN and r1.pyramids_reached and r1.age_filter_passed
    assert not r1.eligible and r1.failures == ("timer_waiting",)
    assert (r1.offsets_count, r1.offsets_usd) == (2, D(130))
    assert isinstance(r1.projected, OffsetPlan) and r1.projected.covered_usd == D(120)
    assert r4.timer_remaining_ms is None and not r4.pyramids_reached
    assert not r4.age_filter_passed
    assert r4.failures == ("pyramids_not_full", "timer_not_started", "too_young")
    assert isinstance(r4.projected, OffsetPlan) and r4.projected.required_usd == D(50)


def test_settings_names_match_the_config_model():
    model = pytest.importorskip("engine.config.model")
    cfg = model.RiskEngineConfig()
    assert set(cfg.__struct_fields__) == set(RiskSettings.__struct_fields__)
    mine = RiskSettings()
    for name in RiskSettings.__struct_fields__:
        assert getattr(cfg, name) == getattr(mine, name), name
    # the config section itself is accepted wherever RiskSettings is
    assert isinstance(evaluate_cycle(d4_groups(), cfg, NOW, taker_fee_rate=D(0)), OffsetPlan)
    assert msgspec.structs.replace(mine, max_winners_to_combine=2).max_winners_to_combine == 2
