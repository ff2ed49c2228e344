"""Risk timer (SPEC 7.3): D7's three timelines and the start/clear rules of each condition."""

import msgspec
import pytest

from engine.errors import InvalidInput
from engine.risk import (
    RiskSettings,
    TimerFacts,
    loser_failures,
    next_timer,
    start_condition_met,
    timer_elapsed,
    timer_remaining_ms,
)
from tests.engine.risk_views import view

H, M = 3_600_000, 60_000


def at(hh, mm=0):
    return hh * H + mm * M


def eligible(settings, started, now, pyramids=5):
    g = msgspec.structs.replace(view(1, "100", "94", "20", pyramids=pyramids),
                                timer_started_at_ms=started)
    return not loser_failures(g, settings, now)


def test_d7_after_5_pyramids():
    s = RiskSettings()
    t = next_timer(s, TimerFacts(timer_started_at_ms=None, pyramid_count=4, max_pyramids=5),
                   "pyramid_added", at(11, 30))
    assert t is None
    t = next_timer(s, TimerFacts(timer_started_at_ms=None, pyramid_count=5, max_pyramids=5),
                   "pyramid_added", at(12))
    assert t == at(12)
    assert not eligible(s, t, at(13) - 1) and eligible(s, t, at(13))
    assert timer_remaining_ms(s, t, at(12, 45)) == 15 * M
    assert timer_remaining_ms(s, t, at(14)) == 0
    # without reset, a replacement pyramid leaves the timer alone; legs never clear this one
    full = TimerFacts(timer_started_at_ms=t, pyramid_count=5, max_pyramids=5,
                      leg_states=("pending",))
    assert next_timer(s, full, "replacement_pyramid", at(12, 40)) == at(12)
    assert next_timer(s, full, "legs_changed", at(12, 50)) == at(12)


def test_d7_reset_on_replacement():
    s = RiskSettings(reset_timer_on_replacement=True)
    full = TimerFacts(timer_started_at_ms=at(12), pyramid_count=5, max_pyramids=5)
    t = next_timer(s, full, "replacement_pyramid", at(12, 40))
    assert t == at(12, 40)
    assert not eligible(s, t, at(13)) and not eligible(s, t, at(13, 40) - 1)
    assert eligible(s, t, at(13, 40))
    # no effect while the timer is not running
    idle = TimerFacts(timer_started_at_ms=None, pyramid_count=4, max_pyramids=5)
    assert next_timer(s, idle, "replacement_pyramid", at(12, 40)) is None


def test_d7_after_all_dca_filled_without_full_pyramids():
    s = RiskSettings(timer_start_condition="after_all_dca_filled", require_full_pyramids=False)
    two = ("filled",) * 8 + ("cancelled", "failed")
    waiting = TimerFacts(timer_started_at_ms=None, pyramid_count=2, max_pyramids=5,
                         leg_states=("filled",) * 9 + ("open",))
    t = next_timer(s, waiting, "legs_changed", at(10, 20))
    assert t is None
    t = next_timer(s, TimerFacts(timer_started_at_ms=None, pyramid_count=2, max_pyramids=5,
                                 leg_states=two), "legs_changed", at(10, 30))
    assert t == at(10, 30)
    three = TimerFacts(timer_started_at_ms=t, pyramid_count=3, max_pyramids=5,
                       leg_states=two + ("pending",) * 5)
    t = next_timer(s, three, "pyramid_added", at(10, 50))
    assert t is None
    done = TimerFacts(timer_started_at_ms=None, pyramid_count=3, max_pyramids=5,
                      leg_states=two + ("filled",) * 5)
    t = next_timer(s, done, "legs_changed", at(11, 10))
    assert t == at(11, 10)
    assert not eligible(s, t, at(12, 10) - 1, pyramids=3) and eligible(s, t, at(12, 10), pyramids=3)
    # once running, later leg events do not move it
    assert next_timer(s, msgspec.structs.replace(done, timer_started_at_ms=t), "legs_changed",
                      at(11, 30)) == t


@pytest.mark.parametrize(
    "states, submitted, filled",
    [
        (("open", "partially_filled", "filled", "cancelled"), True, False),
        (("filled", "cancelled", "failed"), True, True),
        (("pending", "filled"), False, False),
        (("failed",), False, False),  # failed legs are ignored; nothing left to wait for
        ((), False, False),
    ],
)
def test_dca_conditions(states, submitted, filled):
    facts = TimerFacts(timer_started_at_ms=None, pyramid_count=1, max_pyramids=5,
                       leg_states=states)
    assert start_condition_met("after_all_dca_submitted", facts) is submitted
    assert start_condition_met("after_all_dca_filled", facts) is filled


def test_after_all_dca_submitted_restarts_after_new_pyramid():
    s = RiskSettings(timer_start_condition="after_all_dca_submitted")
    facts = TimerFacts(timer_started_at_ms=at(9), pyramid_count=2, max_pyramids=5,
                       leg_states=("open",) * 10)
    # the new pyramid's legs were all accepted already: the timer restarts at once
    assert next_timer(s, facts, "pyramid_added", at(10)) == at(10)


def test_wait_disabled_running_timer_suffices():
    s = RiskSettings(enable_post_full_wait=False)
    assert timer_elapsed(s, at(12), at(12))
    assert not timer_elapsed(s, None, at(12))
    assert timer_remaining_ms(s, None, at(12)) is None
    assert timer_remaining_ms(s, at(12), at(12)) == 0


def test_unknown_values_refused():
    facts = TimerFacts(timer_started_at_ms=None, pyramid_count=1, max_pyramids=5,
                       leg_states=("open",))
    with pytest.raises(InvalidInput) as exc:
        start_condition_met("after_lunch", facts)
    assert exc.value.field == "risk_engine.timer_start_condition"
    with pytest.raises(InvalidInput) as exc:
        start_condition_met("after_all_dca_filled", msgspec.structs.replace(
            facts, leg_states=("open", "weird")))
    assert exc.value.field == "leg_states[1]"
