"""What the performance figures are made of (SPEC 11.3): trades, their outcome and return, the
capital base and the two equities.

A trade is a closed group. Its realized PnL is everything realized over its life (leg TPs,
partial closes, the final close, fees as they were charged); its return % divides that by the
cost of all its entry fills. A trade is a win above zero, a loss below, neither at exactly zero.
"""

from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

import msgspec

from engine.decimals import HUNDRED, ZERO

Outcome = Literal["win", "loss", "flat"]
UNLABELLED = "(none)"  # a group whose first signal carried neither alert_name nor trade_id
# time-in-trade buckets: (upper bound in hours, label); the last one is open-ended
DURATION_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "<1h"), (4, "1-4h"), (12, "4-12h"), (24, "12-24h"), (72, "1-3d"), (168, "3-7d"),
    (float("inf"), ">7d"))
HOUR_MS = 3_600_000


def outcome(pnl: Decimal) -> Outcome:
    return "win" if pnl > 0 else "loss" if pnl < 0 else "flat"


def return_percent(pnl: Decimal, entry_cost: Decimal) -> Decimal | None:
    """Realized PnL ÷ total entry cost × 100; None for a trade that bought nothing."""
    return pnl / entry_cost * HUNDRED if entry_cost else None


def return_bin(percent: Decimal | None) -> int | None:
    """The 1 % histogram bin of a return: ``k`` holds ``k ≤ r < k + 1`` (−0.5 % is in −1)."""
    if percent is None:
        return None
    return int(percent.to_integral_value(rounding=ROUND_FLOOR))


def duration_bucket(opened_at_ms: int, closed_at_ms: int) -> str:
    hours = max(closed_at_ms - opened_at_ms, 0) / HOUR_MS
    return next(label for bound, label in DURATION_BUCKETS if hours < bound)


def strategy_label(first_signal: dict[str, Any] | None) -> str:
    """The ``alert_name`` of the group's first signal, else its ``trade_id``."""
    if not first_signal:
        return UNLABELLED
    for field in ("alert_name", "trade_id"):
        value = first_signal.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return UNLABELLED


def capital_base(configured: Decimal, captured: Decimal | None) -> Decimal | None:
    """C0: ``app.capital_base_usd``, or when that is 0 the quote balances captured at the first
    start; None while neither is known."""
    return configured if configured > 0 else captured


class Equity(msgspec.Struct, frozen=True, kw_only=True):
    """Equity at one instant: realized = C0 + cumulative realized PnL; total = realized +
    unrealized PnL of the open groups (fees excluded from the unrealized part)."""

    realized: Decimal
    total: Decimal
    unrealized: Decimal


def equity(c0: Decimal, cumulative_realized: Decimal, unrealized: Decimal) -> Equity:
    realized = c0 + cumulative_realized
    return Equity(realized=realized, total=realized + unrealized, unrealized=unrealized)


class LegFact(msgspec.Struct, frozen=True, kw_only=True):
    """One ladder leg of a closed trade: ``fill_ms`` is the time from its pyramid's signal to
    the leg's last entry fill; ``realized`` what its lot realized (entry fees included)."""

    index: int
    filled: bool
    fill_ms: int | None = None
    realized: Decimal = ZERO


class TradeFact(msgspec.Struct, frozen=True, kw_only=True):
    """A closed trade as the analytics count it (by the day it closed)."""

    group_id: int
    symbol: str
    timeframe: int
    side: str
    strategy: str
    opened_at_ms: int
    closed_at_ms: int
    pyramids: int
    realized: Decimal
    entry_cost: Decimal
    legs: tuple[LegFact, ...] = ()

    @property
    def return_percent(self) -> Decimal | None:
        return return_percent(self.realized, self.entry_cost)


class RealizationFact(msgspec.Struct, frozen=True, kw_only=True):
    """Realized PnL booked at ``ts_ms`` (a fill, a write-off, dust left at a close)."""

    ts_ms: int
    amount: Decimal
    symbol: str
    timeframe: int
    side: str
    strategy: str


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """What an answer's trade figures are restricted to (None: everything)."""

    pair: str | None = None
    timeframe: int | None = None
    strategy: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.pair, self.timeframe, self.strategy))
