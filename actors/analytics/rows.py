"""The SQL of the analytics roll-ups: ``trade_analytics`` buckets and ``daily_stats`` rows.

Owns: nothing between calls — every function runs inside a write transaction handed in by
its caller (a group's step via ``actors/analytics/steps.py``, the snapshot writer at a day
boundary, the rebuild).
Receives: facts already computed by ``engine.analytics`` (buckets per row, day figures).
Sends: upserts to ``trade_analytics`` and ``daily_stats``; reads ``meta.analytics_timezone``
(the zone the rows are cut in, written by the snapshot writer at start-up).
Fails how: SQL errors propagate to the caller's write, whose savepoint is rolled back: the
roll-up then moves with the step it belongs to or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from engine.analytics.periods import rollup_keys
from engine.analytics.rollup import (
    EMPTY,
    PAIR,
    Bucket,
    DayFacts,
    Key,
    best_and_worst,
)

TZ_KEY = "analytics_timezone"
_decode = msgspec.json.Decoder(Bucket).decode
_encode = msgspec.json.Encoder().encode
_UPSERT = ("INSERT INTO trade_analytics (period, period_start, dimension, dim_value, metrics,"
           " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (period, period_start, dimension,"
           " dim_value) DO UPDATE SET metrics = excluded.metrics, updated_at = excluded.updated_at")


def zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def timezone_of(conn: sqlite3.Connection) -> tzinfo:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (TZ_KEY,)).fetchone()
    return zone(row[0] if row else None)


def read_rows(conn: sqlite3.Connection, period: str, start: str,
              keys: Iterable[Key] | None = None) -> dict[Key, Bucket]:
    """The buckets of one roll-up period (all of them, or only ``keys``)."""
    if keys is None:
        found = conn.execute("SELECT dimension, dim_value, metrics FROM trade_analytics WHERE"
                             " period = ? AND period_start = ?", (period, start))
    else:  # one primary-key seek per wanted row (a join on the keys, not a filtered scan)
        keys = list(keys)
        found = conn.execute(
            "SELECT t.dimension, t.dim_value, t.metrics FROM (VALUES "
            + ", ".join(["(?, ?)"] * len(keys)) + ") k JOIN trade_analytics t ON t.period = ?"
            " AND t.period_start = ? AND t.dimension = k.column1 AND t.dim_value = k.column2",
            [x for k in keys for x in k] + [period, start])
    return {(d, v): _decode(m) for d, v, m in found}


def dimension_rows(conn: sqlite3.Connection, period: str, start: str,
                   dimension: str) -> dict[str, Bucket]:
    return {v: _decode(m) for v, m in conn.execute(
        "SELECT dim_value, metrics FROM trade_analytics WHERE period = ? AND period_start = ?"
        " AND dimension = ?", (period, start, dimension))}


def add_buckets(conn: sqlite3.Connection, period: str, start: str,
                parts: Mapping[Key, Bucket], now_ms: int) -> None:
    """Add ``parts`` to the rows of (period, start): one read, one batched upsert."""
    if not parts:
        return
    have = read_rows(conn, period, start, parts)
    conn.executemany(_UPSERT, [(period, start, dim, value,
                                _encode(have.get((dim, value), EMPTY) + b), now_ms)
                               for (dim, value), b in parts.items()])


def write_buckets(conn: sqlite3.Connection, period: str, start: str,
                  rows: Mapping[Key, Bucket], now_ms: int) -> None:
    """Write whole rows (the rebuild)."""
    conn.executemany(_UPSERT, [(period, start, dim, value, _encode(b), now_ms)
                               for (dim, value), b in rows.items()])


def by_period(tz: tzinfo, dated: Iterable[tuple[int, Iterable[tuple[Key, Bucket]]]],
              keep: set[tuple[str, str]] | None = None
              ) -> dict[tuple[str, str], dict[Key, Bucket]]:
    """Contributions ``(ts, [(key, bucket)])`` summed per roll-up row of their time (only
    the rows in ``keep`` when given)."""
    out: dict[tuple[str, str], dict[Key, Bucket]] = {}
    for ts, parts in dated:
        parts = list(parts)
        for pk in rollup_keys(ts, tz):
            if keep is not None and pk not in keep:
                continue
            rows = out.setdefault(pk, {})
            for key, b in parts:
                rows[key] = rows.get(key, EMPTY) + b
    return out


# --- daily_stats --------------------------------------------------------------------------

def _day_facts(row: sqlite3.Row | tuple | None) -> DayFacts:
    if row is None:
        return DayFacts()
    fills, volume, realized, trades, wins, losses = row
    return DayFacts(fills=fills, volume=Decimal(volume), realized=Decimal(realized),
                    trades_closed=trades, wins=wins, losses=losses)


def add_day(conn: sqlite3.Connection, day: str, facts: DayFacts, now_ms: int) -> None:
    row = conn.execute("SELECT fills, volume, realized_pnl, trades_closed, wins, losses FROM"
                       " daily_stats WHERE day = ?", (day,)).fetchone()
    put_day(conn, day, _day_facts(row) + facts, now_ms)


def put_day(conn: sqlite3.Connection, day: str, f: DayFacts, now_ms: int) -> None:
    conn.execute(
        "INSERT INTO daily_stats (day, fills, volume, realized_pnl, trades_closed, wins, losses,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET"
        " fills = excluded.fills, volume = excluded.volume, realized_pnl ="
        " excluded.realized_pnl, trades_closed = excluded.trades_closed, wins = excluded.wins,"
        " losses = excluded.losses, updated_at = excluded.updated_at",
        (day, f.fills, str(f.volume), str(f.realized), f.trades_closed, f.wins, f.losses,
         now_ms))


def refresh_best_worst(conn: sqlite3.Connection, day: str) -> None:
    """The day's best and worst symbol by realized PnL, from its pair rows."""
    best, worst = best_and_worst(dimension_rows(conn, "day", day, PAIR))
    conn.execute("UPDATE daily_stats SET best_symbol = ?, worst_symbol = ? WHERE day = ?",
                 (best, worst, day))


def set_day_equity(conn: sqlite3.Connection, day: str, *, now_ms: int,
                   start: Decimal | None = None, end: Decimal | None = None) -> None:
    """A day boundary: the equity the new day starts with, or the one the past day ended
    with (which finalises it)."""
    conn.execute("INSERT INTO daily_stats (day, updated_at) VALUES (?, ?) ON CONFLICT (day)"
                 " DO NOTHING", (day, now_ms))
    if start is not None:
        conn.execute("UPDATE daily_stats SET start_equity = ?, updated_at = ? WHERE day = ?",
                     (str(start), now_ms, day))
    if end is not None:
        conn.execute("UPDATE daily_stats SET end_equity = ?, finalised = 1, updated_at = ?"
                     " WHERE day = ?", (str(end), now_ms, day))
        refresh_best_worst(conn, day)
