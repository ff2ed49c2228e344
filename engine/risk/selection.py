"""Who may lose and who may pay (SPEC 7.2, 7.4, 7.5 winners, A52, A53, A58, D5).

``loser_failures`` names every condition a group fails, so the panel and the audit can say why a
losing group is not acted on; an empty tuple means eligible. ``screen`` sorts a cycle's groups
into eligible losers, losers held back only by the operator, and winners in one pass: the same
rules as a verdict, without naming them (a cycle looks at every open group).
"""

from collections.abc import Iterable, Sequence
from operator import attrgetter

import msgspec

from engine.decimals import ZERO, cents
from engine.risk.model import RiskGroupView, RiskSettings
from engine.risk.timer import timer_elapsed, wait_ms

_OPEN_STATUSES = frozenset({"partially_filled", "active"})
# conditions that only the operator's flags fail: such a loser makes the status Blocked, not Idle
OPERATOR_FAILURES = frozenset({"blocked", "skip_once"})
_AGE_THEN_ID = attrgetter("created_at_ms", "id")  # the rank's last parts, loser and winner alike


def pyramids_reached(g: RiskGroupView) -> bool:
    return g.pyramid_count >= g.max_pyramids


def age_filter_passed(g: RiskGroupView, settings: RiskSettings, now_ms: int) -> bool:
    """Condition 4, measured from group creation; True when the filter is disabled."""
    if not settings.use_trade_age_filter:
        return True
    return now_ms - g.created_at_ms >= settings.age_threshold_minutes * 60_000


def loser_failures(
    g: RiskGroupView, settings: RiskSettings, now_ms: int, *, force: bool = False
) -> tuple[str, ...]:
    """The 7.2 conditions ``g`` fails now as a loser; ``force`` (Run Now forced) skips the timer."""
    failed: list[str] = []
    if settings.require_full_pyramids and not pyramids_reached(g):
        failed.append("pyramids_not_full")
    if not force and not timer_elapsed(settings, g.timer_started_at_ms, now_ms):
        failed.append("timer_not_started" if g.timer_started_at_ms is None else "timer_waiting")
    # exact comparison: -4.996 % does not pass a -5 % threshold
    if not g.unrealized_percent <= settings.loss_threshold_percent:
        failed.append("loss_above_threshold")
    if not age_filter_passed(g, settings, now_ms):
        failed.append("too_young")
    failed.extend(_operator_and_status(g))
    return tuple(failed)


def _operator_and_status(g: RiskGroupView) -> list[str]:
    failed = []
    if g.blocked:
        failed.append("blocked")
    if g.skip_once:
        failed.append("skip_once")
    if g.status not in _OPEN_STATUSES:
        failed.append("status")
    if g.closing:
        failed.append("closing")
    if g.open_qty <= 0:
        failed.append("no_open_qty")
    return failed


def loser_rank_key(g: RiskGroupView) -> tuple:
    """Deepest loss % (at 0.01), then largest USD loss (at 0.01), then oldest, then lowest id."""
    return (cents(g.unrealized_percent), cents(g.unrealized_usd), g.created_at_ms, g.id)


def first_loser(groups: Sequence[RiskGroupView]) -> RiskGroupView:
    """``min(groups, key=loser_rank_key)`` one key part at a time: only the groups tied on the
    parts before are looked at again (``cents`` is monotone, so the lowest value has the lowest
    cents)."""
    for field in ("unrealized_percent", "unrealized_usd"):
        get = attrgetter(field)
        lowest = min(map(get, groups))
        at_cents = cents(lowest)
        groups = [g for g in groups if get(g) == lowest or cents(get(g)) == at_cents]
    return min(groups, key=_AGE_THEN_ID)


def choose_loser(
    groups: Iterable[RiskGroupView], settings: RiskSettings, now_ms: int, *, force: bool = False
) -> RiskGroupView | None:
    eligible = screen(groups, settings, now_ms, force=force).losers
    return first_loser(eligible) if eligible else None


def is_winner(g: RiskGroupView) -> bool:
    """Profit > 0, open status, not blocked/skipped, no close in progress; no pyramid/timer rule."""
    return g.unrealized_usd > 0 and g.open_qty > 0 and not _operator_and_status(g)


def sort_winners(winners: list[RiskGroupView]) -> None:
    """Unrealized USD, highest first; ties: older group, then lower id (two stable sorts)."""
    winners.sort(key=_AGE_THEN_ID)
    winners.sort(key=attrgetter("unrealized_usd"), reverse=True)


def rank_winners(groups: Iterable[RiskGroupView], *, exclude_id: int | None) -> list[RiskGroupView]:
    chosen = [g for g in groups if g.id != exclude_id and is_winner(g)]
    sort_winners(chosen)
    return chosen


class Screen(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle's groups sorted by role, in their given order (unranked)."""

    losers: list[RiskGroupView]  # no ``loser_failures``
    excluded: list[RiskGroupView]  # failing only the operator's flags (OPERATOR_FAILURES)
    winners: list[RiskGroupView]  # ``is_winner``


def screen(
    groups: Iterable[RiskGroupView], settings: RiskSettings, now_ms: int, *, force: bool = False
) -> Screen:
    """``loser_failures`` and ``is_winner`` for every group, as one verdict each."""
    losers: list[RiskGroupView] = []
    excluded: list[RiskGroupView] = []
    winners: list[RiskGroupView] = []
    threshold = settings.loss_threshold_percent
    full = settings.require_full_pyramids
    wait = wait_ms(settings)
    age = settings.age_threshold_minutes * 60_000 if settings.use_trade_age_filter else None
    for g in groups:
        if g.status not in _OPEN_STATUSES or g.closing or g.open_qty <= ZERO:
            continue  # neither loser nor winner
        flagged = g.blocked or g.skip_once
        if g.unrealized_usd > ZERO and not flagged:
            winners.append(g)
        if (
            g.unrealized_percent <= threshold
            and (not full or g.pyramid_count >= g.max_pyramids)
            and (force or (g.timer_started_at_ms is not None
                           and now_ms - g.timer_started_at_ms >= wait))
            and (age is None or now_ms - g.created_at_ms >= age)
        ):
            (excluded if flagged else losers).append(g)
    return Screen(losers=losers, excluded=excluded, winners=winners)
