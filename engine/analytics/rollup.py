"""The roll-up algebra behind ``trade_analytics``: additive buckets per (period, dimension).

Every fact adds one ``Bucket`` to a set of (dimension, value) rows of its day, its month and
all time (``periods.rollup_keys``); the rows are plain sums, so the incremental update (one
fact at a time, in the transaction that records it) and the rebuild (all facts at once) give
the same rows, and a week is the sum of its days.

Dimensions and what their bucket holds:

| dimension    | value                 | fields                                                 |
|--------------|-----------------------|--------------------------------------------------------|
| ``all``      | ``*``                 | realized (by realization time) and the trade fields    |
| ``pair``, ``timeframe``, ``strategy``, ``side`` | the trade's | same                           |
| ``cell``     | ``SYMBOL|timeframe``  | same (the pair × timeframe heatmap)                    |
| ``return_bin`` | ``k`` (k ≤ r < k+1 %) | trades, wins, losses, trade_pnl                       |
| ``duration`` | time-in-trade bucket  | same                                                   |
| ``pyramids`` | ``k``, every k ≤ the trade's pyramid count | same (groups that reached k)      |
| ``leg``      | leg index             | legs_placed, legs_filled, fill_ms, trade_pnl (its share) |

Trade fields count by the day the trade closed; ``realized`` by the day it was booked.
"""

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from engine.analytics.definitions import (
    RealizationFact,
    TradeFact,
    duration_bucket,
    outcome,
    return_bin,
)
from engine.decimals import ZERO

ALL, PAIR, TIMEFRAME, STRATEGY, SIDE, CELL = "all", "pair", "timeframe", "strategy", "side", "cell"
RETURN_BIN, DURATION, PYRAMIDS, LEG = "return_bin", "duration", "pyramids", "leg"
DIMENSIONS = (ALL, PAIR, TIMEFRAME, STRATEGY, SIDE, CELL, RETURN_BIN, DURATION, PYRAMIDS, LEG)


class Bucket(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Additive metrics of one roll-up row (the ``metrics`` JSON of ``trade_analytics``)."""

    realized: Decimal = ZERO  # PnL realized in the period (fills, write-offs, dust)
    trades: int = 0  # trades closed in the period
    wins: int = 0
    losses: int = 0
    trade_pnl: Decimal = ZERO  # Σ realized PnL of those trades (a leg row: its lots' share)
    win_pnl: Decimal = ZERO  # Σ of the wins (gross profit)
    loss_pnl: Decimal = ZERO  # Σ of the losses (≤ 0: gross loss)
    legs_placed: int = 0
    legs_filled: int = 0
    fill_ms: int = 0  # Σ time to fill of the filled legs

    def __add__(self, other: "Bucket") -> "Bucket":
        # spelled out: summing hundreds of thousands of facts (a rebuild) is this loop
        return Bucket(realized=self.realized + other.realized, trades=self.trades + other.trades,
                      wins=self.wins + other.wins, losses=self.losses + other.losses,
                      trade_pnl=self.trade_pnl + other.trade_pnl,
                      win_pnl=self.win_pnl + other.win_pnl,
                      loss_pnl=self.loss_pnl + other.loss_pnl,
                      legs_placed=self.legs_placed + other.legs_placed,
                      legs_filled=self.legs_filled + other.legs_filled,
                      fill_ms=self.fill_ms + other.fill_ms)


EMPTY = Bucket()
Key = tuple[str, str]  # (dimension, value)


def cell(symbol: str, timeframe: int) -> str:
    return f"{symbol}|{timeframe}"


def _identity(symbol: str, timeframe: int, side: str, strategy: str) -> list[Key]:
    return [(ALL, "*"), (PAIR, symbol), (TIMEFRAME, str(timeframe)), (STRATEGY, strategy),
            (SIDE, side), (CELL, cell(symbol, timeframe))]


def of_realization(r: RealizationFact) -> list[tuple[Key, Bucket]]:
    b = Bucket(realized=r.amount)
    return [(k, b) for k in _identity(r.symbol, r.timeframe, r.side, r.strategy)]


def trade_bucket(pnl: Decimal) -> Bucket:
    kind = outcome(pnl)
    return Bucket(trades=1, wins=int(kind == "win"), losses=int(kind == "loss"), trade_pnl=pnl,
                  win_pnl=pnl if kind == "win" else ZERO,
                  loss_pnl=pnl if kind == "loss" else ZERO)


def of_trade(t: TradeFact) -> list[tuple[Key, Bucket]]:
    b = trade_bucket(t.realized)
    out = [(k, b) for k in _identity(t.symbol, t.timeframe, t.side, t.strategy)]
    bin_ = return_bin(t.return_percent)
    if bin_ is not None:
        out.append(((RETURN_BIN, str(bin_)), b))
    out.append(((DURATION, duration_bucket(t.opened_at_ms, t.closed_at_ms)), b))
    out += [((PYRAMIDS, str(k)), b) for k in range(1, t.pyramids + 1)]
    legs: dict[int, Bucket] = {}
    for leg in t.legs:
        legs[leg.index] = legs.get(leg.index, EMPTY) + Bucket(
            legs_placed=1, legs_filled=int(leg.filled), trade_pnl=leg.realized,
            fill_ms=(leg.fill_ms or 0) if leg.filled else 0)
    out += [((LEG, str(i)), b) for i, b in sorted(legs.items())]
    return out


def merge(parts: Iterable[tuple[Key, Bucket]]) -> dict[Key, Bucket]:
    """Sum contributions that hit the same row."""
    out: dict[Key, Bucket] = {}
    for key, b in parts:
        out[key] = out.get(key, EMPTY) + b
    return out


def total(rows: Iterable[dict[Key, Bucket]]) -> dict[Key, Bucket]:
    """Row-wise sum of several periods' rows (a week from its days)."""
    out: dict[Key, Bucket] = {}
    for part in rows:
        for key, b in part.items():
            out[key] = out.get(key, EMPTY) + b
    return out


def of_dimension(rows: dict[Key, Bucket], dimension: str) -> dict[str, Bucket]:
    return {value: b for (dim, value), b in rows.items() if dim == dimension}


class DayFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The additive columns of one ``daily_stats`` row."""

    fills: int = 0
    volume: Decimal = ZERO  # Σ price × quantity of the day's fills
    realized: Decimal = ZERO
    trades_closed: int = 0
    wins: int = 0
    losses: int = 0

    def __add__(self, other: "DayFacts") -> "DayFacts":
        return DayFacts(**{f: getattr(self, f) + getattr(other, f)
                           for f in self.__struct_fields__})


def best_and_worst(pairs: dict[str, Bucket]) -> tuple[str | None, str | None]:
    """The day's best and worst symbol by realized PnL (ties: alphabetical); a day with one
    symbol names it both times; none without realizations."""
    booked = [(b.realized, s) for s, b in pairs.items() if b.realized != 0]
    if not booked:
        return None, None
    best = min(booked, key=lambda x: (-x[0], x[1]))
    worst = min(booked)
    return best[1], worst[1]
