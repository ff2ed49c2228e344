"""Risk and win/loss ratios of SPEC 11.3, with their "n/a" rules (None here).

Money stays Decimal; a drawdown is a Decimal fraction of the peak; only the daily returns and
the ratios built on square roots (Sharpe, Sortino) are floats. Conventions (checked against
empyrical in tests/engine/test_analytics_empyrical.py): daily return ``r_d = E_d / E_{d-1} − 1``
on total equity at day boundaries, risk-free rate 0, annualised by √365; Sharpe divides by the
sample standard deviation (n − 1); Sortino by the downside deviation √(Σ min(r, 0)² / n) over
all n returns. Both need at least two returns and a non-zero deviation. A drawdown is measured
against the running peak of the series including its first point.
"""

import math
import statistics
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from engine.decimals import HUNDRED, ZERO

ANNUALISATION = 365
MIN_RETURNS = 2


def daily_returns(equities: Sequence[Decimal]) -> list[float]:
    """Returns between consecutive day-boundary equities. A day that starts at or below zero
    equity has no return (there is nothing to divide by), so it is left out."""
    return [float(cur / prev - 1) for prev, cur in zip(equities, equities[1:]) if prev > 0]


def sharpe(returns: Sequence[float]) -> float | None:
    if len(returns) < MIN_RETURNS:
        return None
    deviation = statistics.stdev(returns)
    if deviation == 0:
        return None
    return statistics.fmean(returns) / deviation * math.sqrt(ANNUALISATION)


def downside_deviation(returns: Sequence[float]) -> float:
    return math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / len(returns))


def sortino(returns: Sequence[float]) -> float | None:
    if len(returns) < MIN_RETURNS:
        return None
    deviation = downside_deviation(returns)
    if deviation == 0:
        return None
    return statistics.fmean(returns) / deviation * math.sqrt(ANNUALISATION)


class Drawdown(msgspec.Struct, frozen=True, kw_only=True):
    """The running state of a drawdown measurement: the highest equity so far and the largest
    ``(peak − E) / peak`` seen. Points before the peak turns positive are not measured."""

    peak: Decimal | None = None
    max: Decimal = ZERO

    def step(self, equity: Decimal) -> "Drawdown":
        peak = equity if self.peak is None or equity > self.peak else self.peak
        if peak <= 0:
            return Drawdown(peak=peak, max=self.max)
        return Drawdown(peak=peak, max=max(self.max, (peak - equity) / peak))

    def current(self, equity: Decimal) -> Decimal:
        """``(peak − E_now) / peak`` against this peak (E_now may be a new peak: 0)."""
        peak = self.peak if self.peak is not None and self.peak > equity else equity
        return (peak - equity) / peak if peak > 0 else ZERO


def drawdown(equities: Sequence[Decimal], start: Drawdown = Drawdown()) -> Drawdown:
    state = start
    for e in equities:
        state = state.step(e)
    return state


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator else None


def profit_factor(gross_profit: Decimal, gross_loss: Decimal) -> Decimal | None:
    """Gross profit ÷ |gross loss| over closed trades; n/a without losses."""
    return ratio(gross_profit, abs(gross_loss))


def win_rate(wins: int, trades: int) -> Decimal | None:
    """Wins ÷ closed trades × 100 (breakeven trades count as trades, not wins)."""
    return Decimal(wins) / trades * HUNDRED if trades else None


def average(total: Decimal, count: int) -> Decimal | None:
    return total / count if count else None


def reward_risk(avg_win: Decimal | None, avg_loss: Decimal | None) -> Decimal | None:
    """Average win ÷ |average loss|; n/a when either is missing or the loss is 0."""
    if avg_win is None or avg_loss is None or avg_loss == 0:
        return None
    return avg_win / abs(avg_loss)
