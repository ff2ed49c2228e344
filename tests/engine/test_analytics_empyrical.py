"""Cross-check of the risk ratios against empyrical-reloaded, an independent, maintained
implementation, on generated equity series.

Conventions aligned (read in empyrical's ``stats.py``): ``annualization=365``, risk-free /
required return 0; empyrical's Sharpe divides by the sample deviation (ddof=1) and its Sortino
by ``downside_risk`` = √(mean(min(r, 0)²)) over all returns — both exactly SPEC 11.3. Its
``max_drawdown`` is negative and measured on cumulative returns started at 100, i.e. against
the running peak including the first equity: ours is the same number, positive.

Differences, by design: where SPEC says "n/a" (fewer than two returns, zero deviation) ours is
None and empyrical answers NaN or ±inf — or, when float noise leaves a deviation of ~1e-17
where the exact one is 0, an absurdly large number. Ours starts from exact Decimal equities
and empyrical from their float64 images, so a return is compared to 1e-9 relative with a
1e-12 absolute floor (the float image of an equity carries ~1e-16 relative error, which
dominates a return that is itself ~1e-9), and a ratio to 1e-9 relative of the size of its
terms (√365 · mean|r| / deviation) — plain relative error is meaningless when the mean
cancels to nearly 0.
"""

import math
from decimal import Decimal as D

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import empyrical
from engine.analytics import ratios

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)
EQUITY = st.decimals(min_value=D("1000.00"), max_value=D("100000.00"), places=2)


def _walk(moves: list[int]) -> list[D]:
    """A curve of daily moves of −30 % … +30 % (in 0.1 % units), in cents, never below 100."""
    out = [D("10000.00")]
    for m in moves:
        out.append(max((out[-1] * (1000 + m) / 1000).quantize(D("0.01")), D("100.00")))
    return out


# equity series: free values, or a random walk of daily moves (closer to real curves)
WALK = st.lists(st.integers(-300, 300), min_size=0, max_size=80).map(_walk)
SERIES = st.one_of(st.lists(EQUITY, min_size=1, max_size=80), WALK)


def close(ours: float, theirs: float, scale: float) -> bool:
    return abs(ours - theirs) <= 1e-9 * max(abs(theirs), scale)


def floats(series: list[D]) -> np.ndarray:
    return np.array([float(e) for e in series], dtype=np.float64)


@SETTINGS
@given(series=SERIES)
def test_daily_returns_match_empyrical(series):
    ours = ratios.daily_returns(series)
    theirs = empyrical.simple_returns(floats(series))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (a, b)


@SETTINGS
@given(series=SERIES)
def test_sharpe_and_sortino_match_empyrical(series):
    returns = ratios.daily_returns(series)
    r = np.array(returns, dtype=np.float64)
    theirs_sharpe = empyrical.sharpe_ratio(r, risk_free=0, annualization=365)
    theirs_sortino = empyrical.sortino_ratio(r, required_return=0, annualization=365)
    ours_sharpe, ours_sortino = ratios.sharpe(returns), ratios.sortino(returns)
    size = math.sqrt(365) * (float(np.mean(np.abs(r))) if len(r) else 0.0)
    if ours_sharpe is None:
        assert len(r) < 2 or not math.isfinite(theirs_sharpe) or abs(theirs_sharpe) > 1e6
    else:
        assert close(ours_sharpe, theirs_sharpe, size / float(np.std(r, ddof=1)))
    if ours_sortino is None:
        assert len(r) < 2 or not math.isfinite(theirs_sortino) or abs(theirs_sortino) > 1e6
    else:
        assert close(ours_sortino, theirs_sortino, size / ratios.downside_deviation(returns))


@SETTINGS
@given(series=SERIES)
def test_max_drawdown_matches_empyrical(series):
    ours = ratios.drawdown(series).max
    if len(series) < 2:
        assert ours == 0
        return
    theirs = empyrical.max_drawdown(empyrical.simple_returns(floats(series)))
    assert math.isclose(float(ours), -theirs, rel_tol=1e-9, abs_tol=1e-12), (ours, theirs)


def test_a_recovering_series_by_hand_agrees_with_empyrical():
    series = [D(100), D(120), D(90), D(110), D(130), D(125)]
    theirs = empyrical.max_drawdown(empyrical.simple_returns(floats(series)))
    assert ratios.drawdown(series).max == D("0.25") and math.isclose(theirs, -0.25)
