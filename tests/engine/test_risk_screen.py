"""The fast paths of a cycle and of the panel against the rules stated one by one: ``screen`` +
``decide`` give the same loser, the same Blocked/Idle verdicts and the same plan, and
``panel_rows`` the same offsets and projected plans, Decimal for Decimal (SPEC 7.2-7.5, 7.7)."""

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.risk import (
    RiskBlocked,
    RiskIdle,
    RiskSettings,
    evaluate_cycle,
    first_loser,
    is_winner,
    loser_failures,
    loser_rank_key,
    panel_rows,
    plan_offsets,
    rank_winners,
    screen,
)
from engine.risk.selection import OPERATOR_FAILURES
from tests.engine.risk_views import MIN, view

NOW = 10_000 * MIN


def reference_cycle(groups, s, now, *, force, engine_running, taker_fee_rate):
    """SPEC 7.4/7.5 literally: every group's failures named, then loser, winners and plan."""
    eligible = [g for g in groups if not loser_failures(g, s, now, force=force)]
    if not eligible:
        excluded = [g for g in groups if (f := loser_failures(g, s, now, force=force))
                    and OPERATOR_FAILURES.issuperset(f)]
        if excluded:
            first = min(excluded, key=loser_rank_key)
            return RiskBlocked(reason="losers_excluded", loser_id=first.id)
        return RiskIdle()
    loser = min(eligible, key=loser_rank_key)
    if not engine_running:
        return RiskBlocked(reason="engine_paused", loser_id=loser.id)
    winners = [g for g in groups if g.id != loser.id and is_winner(g)]
    winners.sort(key=lambda g: (-g.unrealized_usd, g.created_at_ms, g.id))
    return plan_offsets(loser, winners, s, taker_fee_rate=taker_fee_rate)


# few distinct values, so ties in loss %, USD, age and rank are common
_price = st.sampled_from(["80", "90", "94", "95", "95.004", "99.99", "100", "104", "110", "125"])


@st.composite
def groups(draw):
    out = []
    for gid in range(1, draw(st.integers(0, 12)) + 1):
        qty = draw(st.sampled_from(["0", "0.5", "1", "2", "8", "20"]))
        out.append(view(
            gid, draw(st.sampled_from(["50", "100", "100.01"])), draw(_price), qty,
            side=draw(st.sampled_from(["long", "short"])),
            status=draw(st.sampled_from(["active", "active", "partially_filled", "live",
                                         "closing", "closed", "failed"])),
            pyramids=draw(st.integers(3, 5)), max_pyramids=5,
            timer=draw(st.one_of(st.none(), st.sampled_from([0, NOW - 60 * MIN, NOW - MIN,
                                                             NOW]))),
            created=draw(st.sampled_from([0, NOW - 200 * MIN, NOW - 10 * MIN])),
            min_notional=draw(st.sampled_from(["0", "5", "200"])),
            step=draw(st.sampled_from(["0.001", "1"])),
            blocked=draw(st.booleans()) and draw(st.booleans()),
            skip_once=draw(st.booleans()) and draw(st.booleans()),
            closing=draw(st.booleans()) and draw(st.booleans())))
    return out


risk_settings = st.builds(
    RiskSettings,
    require_full_pyramids=st.booleans(), enable_post_full_wait=st.booleans(),
    post_full_wait_minutes=st.sampled_from([0, 1, 60]), use_trade_age_filter=st.booleans(),
    age_threshold_minutes=st.sampled_from([0, 200]),
    # a threshold >= 0 (refused by the config, not by the core) lets a loser also be a winner
    loss_threshold_percent=st.sampled_from([D("-5"), D("-5.00"), D("-0.004"), D(0), D(3)]),
    max_winners_to_combine=st.integers(1, 4), partial_close_enabled=st.booleans(),
    min_close_notional=st.sampled_from([D(0), D(20), D(500)]),
    offset_slippage_percent=st.sampled_from([D(0), D("0.5")]))


@settings(max_examples=400, deadline=None)
@given(groups(), risk_settings, st.booleans(), st.booleans(),
       st.sampled_from([None, D(0), D("0.001")]))
def test_cycle_equals_the_rules_one_by_one(gs, s, force, running, fee):
    assert evaluate_cycle(gs, s, NOW, force=force, engine_running=running,
                          taker_fee_rate=fee) == reference_cycle(
        gs, s, NOW, force=force, engine_running=running, taker_fee_rate=fee)


@settings(max_examples=300, deadline=None)
@given(groups(), risk_settings, st.booleans())
def test_screen_sorts_by_the_named_failures(gs, s, force):
    out = screen(gs, s, NOW, force=force)
    failures = {g.id: loser_failures(g, s, NOW, force=force) for g in gs}
    assert out.losers == [g for g in gs if not failures[g.id]]
    assert out.excluded == [g for g in gs if failures[g.id]
                            and OPERATOR_FAILURES.issuperset(failures[g.id])]
    assert out.winners == [g for g in gs if is_winner(g)]


def test_a_loser_that_is_also_a_winner_never_offsets_itself():
    s = RiskSettings(loss_threshold_percent=D(3))
    gs = [view(1, "100", "102", "10"), view(2, "100", "101", "10", created=1)]
    out = screen(gs, s, NOW)
    assert [g.id for g in out.losers] == [1, 2] and [g.id for g in out.winners] == [1, 2]
    plan = evaluate_cycle(gs, s, NOW, taker_fee_rate=D(0))
    assert plan.loser_id == 2 and [step.group_id for step in plan.steps] == [1]


# on and around half cents, both signs: where rounding to 0.01 decides the rank
_figure = st.sampled_from([D(x) for x in ("-6.005", "-6.004999", "-6.0050001", "-6.01", "-6.00",
                                          "-5.995", "-0.005", "-0.0049", "0", "0.005", "0.0049",
                                          "0.015", "-6.005000")])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_figure, _figure, st.integers(0, 2)), min_size=1, max_size=8))
def test_first_loser_is_the_lowest_rank_key(figures):
    gs = [msgspec.structs.replace(view(i, "100", "94", "1", created=created),
                                  unrealized_percent=pct, unrealized_usd=usd)
          for i, (pct, usd, created) in enumerate(figures, start=1)]
    assert first_loser(gs) is min(gs, key=loser_rank_key)


@settings(max_examples=200, deadline=None)
@given(groups(), risk_settings, st.sampled_from([None, D("0.001")]))
def test_panel_offsets_are_every_other_winner(gs, s, fee):
    ranked = rank_winners(gs, exclude_id=None)
    for row in panel_rows(gs, s, NOW, taker_fee_rate=fee):
        g = next(g for g in gs if g.id == row.group_id)
        others = [w for w in ranked if w.id != g.id]
        assert (row.offsets_count, row.offsets_usd) == (
            len(others), sum((w.unrealized_usd for w in others), D(0)))
        assert row.projected == plan_offsets(g, others, s, taker_fee_rate=fee)
