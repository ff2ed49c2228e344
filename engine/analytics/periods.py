"""Calendar arithmetic of the analytics (SPEC 11.3): local days, weeks, months and the equity
snapshot marks.

Times are UTC epoch milliseconds; the calendar is the one of ``app.timezone``, passed in as a
``tzinfo`` (the shell builds it with ``zoneinfo``; nothing here reads files or the clock).
A local day starts at the first instant whose local date is that day: on a date whose midnight
does not exist (a DST jump at 00:00) that is the instant of the jump.
"""

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Literal

import msgspec

SNAPSHOT_EVERY_MS = 300_000  # an equity snapshot every 5 minutes of engine time
Period = Literal["day", "week", "month", "all"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "all")
ALL_KEY = "*"  # the period start of the all-time roll-up rows


def local_date(ts_ms: int, tz: tzinfo) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).astimezone(tz).date()


def day_start_ms(day: date, tz: tzinfo) -> int:
    """The first instant (UTC ms) of the local ``day``."""
    # fold=0: a midnight inside a DST gap maps to the instant of the jump (the day's first),
    # an ambiguous midnight to its earlier instant
    local = datetime(day.year, day.month, day.day, tzinfo=tz)
    return round(local.timestamp() * 1000)


def day_key(ts_ms: int, tz: tzinfo) -> str:
    """``YYYY-MM-DD``: the local day of an instant (realizations, closes, daily_stats)."""
    return local_date(ts_ms, tz).isoformat()


def month_key(ts_ms: int, tz: tzinfo) -> str:
    """``YYYY-MM``: the local month of an instant."""
    return local_date(ts_ms, tz).isoformat()[:7]


def rollup_keys(ts_ms: int, tz: tzinfo) -> tuple[tuple[str, str], ...]:
    """The roll-up rows an event at ``ts_ms`` counts in: its day, its month and all time.
    Weeks are summed from their days (a week straddles months)."""
    d = local_date(ts_ms, tz).isoformat()
    return (("day", d), ("month", d[:7]), ("all", ALL_KEY))


def week_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def period_rows(period: str, now_ms: int, tz: tzinfo) -> tuple[tuple[str, str], ...]:
    """The roll-up rows whose sum is ``period`` as of ``now_ms``: today, this week (Monday to
    today), this month, or all time."""
    today = local_date(now_ms, tz)
    if period == "day":
        return (("day", today.isoformat()),)
    if period == "week":
        monday = week_monday(today)
        return tuple(("day", (monday + timedelta(days=i)).isoformat())
                     for i in range((today - monday).days + 1))
    if period == "month":
        return (("month", today.isoformat()[:7]),)
    if period == "all":
        return (("all", ALL_KEY),)
    raise ValueError(f"period: expected one of {', '.join(PERIODS)}, got {period!r}")


def period_start_ms(period: str, now_ms: int, tz: tzinfo) -> int | None:
    """The first instant of ``period`` (None for all time)."""
    today = local_date(now_ms, tz)
    if period == "day":
        return day_start_ms(today, tz)
    if period == "week":
        return day_start_ms(week_monday(today), tz)
    if period == "month":
        return day_start_ms(today.replace(day=1), tz)
    if period == "all":
        return None
    raise ValueError(f"period: expected one of {', '.join(PERIODS)}, got {period!r}")


def next_day_start_ms(ts_ms: int, tz: tzinfo) -> int:
    """The first day boundary strictly after ``ts_ms``."""
    return day_start_ms(local_date(ts_ms, tz) + timedelta(days=1), tz)


class Mark(msgspec.Struct, frozen=True, kw_only=True):
    """One equity snapshot due at ``ts_ms``; ``day_boundary``: a local day starts there."""

    ts_ms: int
    day_boundary: bool


def due_marks(last_ms: int, now_ms: int, tz: tzinfo,
              every_ms: int = SNAPSHOT_EVERY_MS) -> list[Mark]:
    """Every snapshot due in ``(last_ms, now_ms]``: the multiples of ``every_ms`` (UTC epoch
    grid) and the local day boundaries, ascending; a boundary on the grid is one mark."""
    if now_ms <= last_ms:
        return []
    marks: dict[int, bool] = {}
    first = (last_ms // every_ms + 1) * every_ms
    for ts in range(first, now_ms + 1, every_ms):
        marks[ts] = False
    boundary = next_day_start_ms(last_ms, tz)
    while boundary <= now_ms:
        marks[boundary] = True
        boundary = next_day_start_ms(boundary, tz)
    return [Mark(ts_ms=ts, day_boundary=marks[ts]) for ts in sorted(marks)]


def grid_floor(ts_ms: int, every_ms: int = SNAPSHOT_EVERY_MS) -> int:
    """The latest grid mark at or before ``ts_ms``."""
    return ts_ms - ts_ms % every_ms
