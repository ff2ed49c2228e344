"""Rebuilding the analytics roll-ups from the record: ``closed_trades``, ``fills`` (with what
each realized), ``pnl_adjustments`` and the closed groups' stored state (their legs).

Owns: nothing between calls; ``rebuild`` runs in one write transaction (``engine analytics
rebuild``, or the snapshot writer at start-up when the roll-ups were cut in another zone).
Receives: the connection, the zone of ``app.timezone``, the time.
Sends: ``trade_analytics`` and ``daily_stats`` rewritten from scratch, the equity snapshots'
running peak and drawdown recomputed, ``meta.analytics_timezone``.
Fails how: SQL or decoding errors propagate and the transaction is rolled back: the old rows
stay.

The rows equal the incremental ones (tests/actors/test_analytics_rollup.py): both sum the same
facts with the same ``engine.analytics`` functions. A day is finalised once a day-boundary
snapshot ends it; its start and end equity are the total equity of the boundary snapshots.
"""

from __future__ import annotations

import sqlite3
from datetime import tzinfo
from decimal import Decimal

from actors.analytics import facts, rows
from engine.analytics.definitions import outcome
from engine.analytics.periods import day_key
from engine.analytics.ratios import Drawdown
from engine.analytics.rollup import DayFacts, of_realization, of_trade


def rebuild(conn: sqlite3.Connection, tz: tzinfo, tz_name: str, now_ms: int) -> dict[str, int]:
    infos = facts.group_infos(conn)
    days: dict[str, DayFacts] = {}

    def day(ts: int, f: DayFacts) -> None:
        key = day_key(ts, tz)
        days[key] = days.get(key, DayFacts()) + f

    dated = []
    n_realized = n_trades = 0
    for r in facts.realizations(conn, infos):
        dated.append((r.ts_ms, of_realization(r)))
        day(r.ts_ms, DayFacts(realized=r.amount))
        n_realized += 1
    for t in facts.closed_trades(conn, infos):
        dated.append((t.closed_at_ms, of_trade(t)))
        kind = outcome(t.realized)
        day(t.closed_at_ms, DayFacts(trades_closed=1, wins=int(kind == "win"),
                                     losses=int(kind == "loss")))
        n_trades += 1
    n_fills = 0
    for ts, price, qty in conn.execute("SELECT ts, price, quantity FROM fills"
                                       " WHERE group_id IS NOT NULL"):
        day(ts, DayFacts(fills=1, volume=Decimal(price) * Decimal(qty)))
        n_fills += 1
    conn.execute("DELETE FROM trade_analytics")
    conn.execute("DELETE FROM daily_stats")
    for (period, start), parts in rows.by_period(tz, dated).items():
        rows.write_buckets(conn, period, start, parts, now_ms)
    for key, f in days.items():
        rows.put_day(conn, key, f, now_ms)
        rows.refresh_best_worst(conn, key)
    boundaries = conn.execute("SELECT ts, total_equity, day_boundary FROM equity_snapshots"
                              " WHERE day_boundary != 0 ORDER BY ts").fetchall()
    for ts, total, kind in boundaries:
        e = Decimal(total)
        rows.set_day_equity(conn, day_key(ts, tz), now_ms=now_ms, start=e)
        if kind == 1:  # 2: a day's start recorded after a stop; the day before was not seen end
            rows.set_day_equity(conn, day_key(ts - 1, tz), now_ms=now_ms, end=e)
    redraw_drawdown(conn)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (rows.TZ_KEY, tz_name))
    return {"realizations": n_realized, "trades": n_trades, "fills": n_fills,
            "days": len(days), "snapshots": snapshot_count(conn)}


def redraw_drawdown(conn: sqlite3.Connection) -> None:
    """Recompute every snapshot's running peak and maximum drawdown, in time order."""
    state = Drawdown()
    updates = []
    for ts, total in conn.execute("SELECT ts, total_equity FROM equity_snapshots ORDER BY ts"):
        state = state.step(Decimal(total))
        updates.append((None if state.peak is None else str(state.peak), str(state.max), ts))
    conn.executemany("UPDATE equity_snapshots SET peak_equity = ?, max_drawdown = ?"
                     " WHERE ts = ?", updates)


def snapshot_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM equity_snapshots").fetchone()[0]
