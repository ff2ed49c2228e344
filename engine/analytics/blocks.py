"""The dashboard blocks of SPEC 11.3 computed from summed roll-up rows (pure).

Values keep their exact type: Decimal money (keys ending ``_usd``), Decimal percentages
(``_percent``), Decimal or float ratios, ints for counts, None for "n/a". The shell rounds them
for display in one place (``present``). Every block has an empty form: zero counts, "n/a"
ratios, empty lists — an empty history is not an error.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from engine.analytics import ratios
from engine.analytics.definitions import DURATION_BUCKETS
from engine.analytics.rollup import (
    ALL,
    CELL,
    DURATION,
    EMPTY,
    LEG,
    PAIR,
    PYRAMIDS,
    RETURN_BIN,
    SIDE,
    STRATEGY,
    TIMEFRAME,
    Bucket,
    Key,
    of_dimension,
)
from engine.decimals import HUNDRED, ZERO

PYRAMID_ROWS = 5  # pyramid counts always listed (1–5), more when a group had more


def _trade_stats(b: Bucket) -> dict[str, Any]:
    avg_win = ratios.average(b.win_pnl, b.wins)
    avg_loss = ratios.average(b.loss_pnl, b.losses)
    return {"trades": b.trades, "wins": b.wins, "losses": b.losses,
            "win_rate_percent": ratios.win_rate(b.wins, b.trades), "pnl_usd": b.trade_pnl,
            "avg_win_usd": avg_win, "avg_loss_usd": avg_loss,
            "rr": ratios.reward_risk(avg_win, avg_loss)}


def _by(rows: dict[Key, Bucket], dimension: str, name: str) -> list[dict[str, Any]]:
    """Realized PnL (by realization time) and trades closed per value, largest PnL first."""
    items = of_dimension(rows, dimension)
    out = [{name: value, "realized_usd": b.realized, "trades": b.trades,
            "trade_pnl_usd": b.trade_pnl} for value, b in items.items()]
    out.sort(key=lambda r: (-r["realized_usd"], r[name]))
    return out


def pnl_block(rows: dict[Key, Bucket], unrealized: Decimal,
              by_period: dict[str, Decimal]) -> dict[str, Any]:
    total = rows.get((ALL, "*"), EMPTY)
    return {"realized_usd": total.realized, "unrealized_usd": unrealized,
            "realized_by_period_usd": by_period,
            "by_pair": _by(rows, PAIR, "pair"), "by_timeframe": _by(rows, TIMEFRAME, "timeframe"),
            "by_strategy": _by(rows, STRATEGY, "strategy")}


def win_loss_block(rows: dict[Key, Bucket]) -> dict[str, Any]:
    out = _trade_stats(rows.get((ALL, "*"), EMPTY))
    sides = of_dimension(rows, SIDE)
    for side in ("long", "short"):
        s = _trade_stats(sides.get(side, EMPTY))
        out[side] = {"trades": s["trades"], "win_rate_percent": s["win_rate_percent"],
                     "pnl_usd": s["pnl_usd"]}
    return out


def risk_block(rows: dict[Key, Bucket], *, returns: Sequence[float],
               drawdown: ratios.Drawdown, current_equity: Decimal | None) -> dict[str, Any]:
    total = rows.get((ALL, "*"), EMPTY)
    current = None if current_equity is None else drawdown.current(current_equity)
    return {
        "max_drawdown_percent": drawdown.max * HUNDRED if drawdown.peak is not None else None,
        "current_drawdown_percent": None if current is None else current * HUNDRED,
        "sharpe": ratios.sharpe(returns), "sortino": ratios.sortino(returns),
        "daily_returns": len(returns),
        "profit_factor": ratios.profit_factor(total.win_pnl, total.loss_pnl),
        "gross_profit_usd": total.win_pnl, "gross_loss_usd": total.loss_pnl,
    }


def histogram(rows: dict[Key, Bucket]) -> list[dict[str, Any]]:
    """Trades per 1 % return bin, every bin from the lowest to the highest (empty ones 0)."""
    bins = {int(v): b.trades for v, b in of_dimension(rows, RETURN_BIN).items() if b.trades}
    if not bins:
        return []
    return [{"from_percent": Decimal(k), "to_percent": Decimal(k + 1), "trades": bins.get(k, 0)}
            for k in range(min(bins), max(bins) + 1)]


def heatmap(rows: dict[Key, Bucket]) -> dict[str, Any]:
    """Realized PnL and trade count of the trades closed, by pair × timeframe. ``scale_usd``
    is the largest |PnL| of a cell: the colour of a cell is its PnL divided by it."""
    cells = {}
    for value, b in of_dimension(rows, CELL).items():
        if b.trades:
            symbol, tf = value.rsplit("|", 1)
            cells[(symbol, int(tf))] = b
    pairs = sorted({s for s, _ in cells})
    timeframes = sorted({tf for _, tf in cells})
    out = [{"pair": s, "timeframe": tf, "pnl_usd": b.trade_pnl, "trades": b.trades}
           for (s, tf), b in sorted(cells.items())]
    scale = max((abs(b.trade_pnl) for b in cells.values()), default=ZERO)
    return {"pairs": pairs, "timeframes": timeframes, "cells": out, "scale_usd": scale}


def time_in_trade(rows: dict[Key, Bucket]) -> list[dict[str, Any]]:
    found = of_dimension(rows, DURATION)
    return [{"bucket": label, "trades": found.get(label, EMPTY).trades}
            for _, label in DURATION_BUCKETS]


def ladder_block(rows: dict[Key, Bucket]) -> dict[str, Any]:
    """Per leg index: how often it filled, its average time to fill and its share of the
    realized PnL of all legs; per pyramid count: the groups that reached it, their win rate
    and average PnL; the time-in-trade distribution."""
    legs = sorted(((int(v), b) for v, b in of_dimension(rows, LEG).items()))
    leg_total = sum((b.trade_pnl for _, b in legs), ZERO)
    leg_rows = [{"leg": f"DCA{i}", "index": i, "placed": b.legs_placed, "filled": b.legs_filled,
                 "fill_rate_percent": ratios.win_rate(b.legs_filled, b.legs_placed),
                 "avg_time_to_fill_ms": (b.fill_ms // b.legs_filled) if b.legs_filled else None,
                 "realized_usd": b.trade_pnl,
                 "profit_share_percent": b.trade_pnl / leg_total * HUNDRED if leg_total > 0
                 else None} for i, b in legs]
    pyr = {int(v): b for v, b in of_dimension(rows, PYRAMIDS).items()}
    pyr_rows = [{"pyramids": k, "groups": b.trades,
                 "win_rate_percent": ratios.win_rate(b.wins, b.trades),
                 "avg_pnl_usd": ratios.average(b.trade_pnl, b.trades)}
                for k in range(1, max([PYRAMID_ROWS, *pyr]) + 1) for b in [pyr.get(k, EMPTY)]]
    return {"legs": leg_rows, "legs_realized_usd": leg_total, "pyramids": pyr_rows,
            "time_in_trade": time_in_trade(rows)}
