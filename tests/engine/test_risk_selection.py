"""Eligibility (7.2), loser ranking (7.4, D5) and winner selection (7.5)."""

from decimal import Decimal as D

import msgspec
import pytest

from engine.risk import (
    RiskSettings,
    age_filter_passed,
    choose_loser,
    is_winner,
    loser_failures,
    rank_winners,
)
from tests.engine.risk_views import MIN, view

S = RiskSettings()
NOW = 600 * MIN  # 10:00, every view's timer started at 0


def with_(g, **kw):
    return msgspec.structs.replace(g, **kw)


def loser(**kw):
    return with_(view(1, "100", "94", "20"), **kw)


@pytest.mark.parametrize(
    "change, failures",
    [
        ({}, ()),
        (dict(pyramid_count=4), ("pyramids_not_full",)),
        (dict(timer_started_at_ms=None), ("timer_not_started",)),
        (dict(timer_started_at_ms=NOW - 59 * MIN), ("timer_waiting",)),
        (dict(unrealized_percent=D("-4.996")), ("loss_above_threshold",)),
        (dict(unrealized_percent=D("-4")), ("loss_above_threshold",)),
        (dict(unrealized_percent=D("-5")), ()),  # exact comparison, <=
        (dict(blocked=True), ("blocked",)),
        (dict(skip_once=True), ("skip_once",)),
        (dict(status="live"), ("status",)),
        (dict(status="closing"), ("status",)),
        (dict(status="partially_filled"), ()),
        (dict(closing=True), ("closing",)),
        (dict(open_qty=D(0)), ("no_open_qty",)),
    ],
)
def test_loser_conditions(change, failures):
    assert loser_failures(loser(**change), S, NOW) == failures


def test_full_pyramids_not_required():
    s = RiskSettings(require_full_pyramids=False)
    assert loser_failures(loser(pyramid_count=2), s, NOW) == ()


def test_force_skips_only_the_timer():
    g = loser(timer_started_at_ms=None, blocked=True)
    assert loser_failures(g, S, NOW, force=True) == ("blocked",)
    assert loser_failures(loser(timer_started_at_ms=None), S, NOW, force=True) == ()


def test_age_filter_from_creation():
    s = RiskSettings(use_trade_age_filter=True)
    young = loser(created_at_ms=NOW - 199 * MIN)
    assert loser_failures(young, s, NOW) == ("too_young",)
    assert not age_filter_passed(young, s, NOW)
    assert age_filter_passed(loser(created_at_ms=NOW - 200 * MIN), s, NOW)
    assert age_filter_passed(young, S, NOW)  # filter disabled


def ranked(gid, pct, usd, created):
    return with_(view(gid, "100", "94", "20"), unrealized_percent=D(pct), unrealized_usd=D(usd),
                 created_at_ms=created)


def test_d5_loser_ranking():
    a = ranked(1, "-6.00", "-300", 600 * MIN)  # 10:00
    b = ranked(2, "-6.00", "-300", 540 * MIN)  # 09:00
    c = ranked(3, "-7.20", "-90", 0)
    assert choose_loser([a, b, c], S, NOW).id == 3
    assert choose_loser([a, b], S, NOW).id == 2


def test_loser_ranking_compares_at_cents():
    a = ranked(1, "-6.004", "-100", 0)
    b = ranked(2, "-6.001", "-200", 0)  # same -6.00 %, larger USD loss
    assert choose_loser([a, b], S, NOW).id == 2
    c = ranked(3, "-6.005", "-10", 0)  # -6.01 %: deeper
    assert choose_loser([a, b, c], S, NOW).id == 3
    d = ranked(4, "-6.00", "-200.004", 0)  # ties b at 0.01 USD and in age -> lower id
    assert choose_loser([d, b], S, NOW).id == 2
    assert choose_loser([with_(a, blocked=True)], S, NOW) is None


def test_winners_selection_and_ranking():
    groups = [
        loser(),
        view(2, "100", "110", "8", created=5),  # +80
        view(3, "50", "55", "16", created=3),  # +80, older
        view(4, "50", "55", "16", created=3),  # +80, same age, higher id
        view(5, "50", "55", "10", blocked=True),
        view(6, "50", "55", "10", skip_once=True),
        view(7, "50", "55", "10", closing=True),
        view(8, "50", "55", "10", status="live"),
        view(9, "50", "50", "10"),  # flat, not a winner
        view(10, "50", "55", "10", pyramids=1),  # no pyramid/timer condition for winners
    ]
    assert [g.id for g in rank_winners(groups, exclude_id=1)] == [3, 4, 2, 10]
    assert [g.id for g in rank_winners(groups, exclude_id=3)] == [4, 2, 10]
    assert not is_winner(groups[0])
