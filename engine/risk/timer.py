"""Risk timer start/clear rules (SPEC 7.3, A50, A51, D7) over plain group facts.

The group actor calls ``next_timer`` after each relevant event and stores the result as the
group's ``timer_started_at``. The timer is independent of the loss: the loss is checked only at
evaluation.
"""

from typing import Literal

import msgspec

from engine.errors import InvalidInput
from engine.risk.model import RiskSettings

TimerEvent = Literal["pyramid_added", "legs_changed", "replacement_pyramid"]
_ACCEPTED = frozenset({"open", "partially_filled", "filled", "cancelled"})
_DONE = frozenset({"filled", "cancelled"})
_LEG_STATES = _ACCEPTED | {"pending", "failed"}


class TimerFacts(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The group after the event: ``leg_states`` of every entry leg of every received pyramid."""

    timer_started_at_ms: int | None
    pyramid_count: int
    max_pyramids: int
    leg_states: tuple[str, ...] = ()


def start_condition_met(condition: str, facts: TimerFacts) -> bool:
    if condition == "after_5_pyramids":
        return facts.pyramid_count >= facts.max_pyramids
    for i, s in enumerate(facts.leg_states):
        if s not in _LEG_STATES:
            raise InvalidInput(f"leg_states[{i}]", f"unknown leg state {s!r}")
    # failed legs are ignored by the timer conditions (A88)
    legs = [s for s in facts.leg_states if s != "failed"]
    if not legs:
        return False
    if condition == "after_all_dca_submitted":
        return all(s in _ACCEPTED for s in legs)
    if condition == "after_all_dca_filled":
        return all(s in _DONE for s in legs)
    raise InvalidInput("risk_engine.timer_start_condition", f"unknown value {condition!r}")


def next_timer(
    settings: RiskSettings, facts: TimerFacts, event: TimerEvent, now_ms: int
) -> int | None:
    """The new ``timer_started_at`` (ms) after ``event`` at ``now_ms``, or None (not running).

    - ``replacement_pyramid`` (a same-side non-duplicate signal for a full group): restarts a
      running timer at its receive time when ``reset_timer_on_replacement``; never starts one.
    - ``pyramid_added``: clears the timer of the two DCA conditions (it restarts once the new
      legs qualify); ``after_5_pyramids`` is set once and never cleared.
    - any event: a stopped timer starts when its condition holds.
    """
    started = facts.timer_started_at_ms
    condition = settings.timer_start_condition
    if event == "replacement_pyramid":
        reset = settings.reset_timer_on_replacement
        return now_ms if reset and started is not None else started
    if event == "pyramid_added" and condition != "after_5_pyramids":
        started = None
    if started is None and start_condition_met(condition, facts):
        return now_ms
    return started


def wait_ms(settings: RiskSettings) -> int:
    if not settings.enable_post_full_wait:
        return 0
    return settings.post_full_wait_minutes * 60_000


def timer_elapsed(settings: RiskSettings, started_at_ms: int | None, now_ms: int) -> bool:
    """Condition 2 of 7.2: running, and the post-full wait (if enabled) has passed."""
    return started_at_ms is not None and now_ms - started_at_ms >= wait_ms(settings)


def timer_remaining_ms(
    settings: RiskSettings, started_at_ms: int | None, now_ms: int
) -> int | None:
    """UI "Timer Remaining": ``max(0, started + wait - now)``, None = "not started"."""
    if started_at_ms is None:
        return None
    return max(0, started_at_ms + wait_ms(settings) - now_ms)
