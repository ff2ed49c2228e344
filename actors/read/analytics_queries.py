"""The SQL behind the analytics answers, run on a read-only connection in a worker thread.

Owns: nothing — plain functions over the connection they are given.
Receives: a read-only ``sqlite3`` connection, the zone of ``app.timezone``, the time, filters.
Sends: exact values (``engine.analytics`` rows, Decimals, lists) to ``actors/read/analytics.py``,
which rounds them for display.
Fails how: SQL and decoding errors propagate (a bug: the rows are written by the engine).

Unfiltered answers sum the roll-up rows (one to seven rows per dimension value); an answer
filtered by pair, timeframe or strategy recomputes the same buckets from the record of the
matching groups with the same ``engine.analytics`` functions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from actors.analytics import facts, rows
from engine.analytics.definitions import Filters
from engine.analytics.periods import PERIODS, SNAPSHOT_EVERY_MS, period_rows, period_start_ms
from engine.analytics.ratios import Drawdown, daily_returns
from engine.analytics.rollup import Bucket, Key, of_realization, of_trade, total


def _infos(conn: sqlite3.Connection, f: Filters) -> dict[int, facts.GroupInfo]:
    where, params = [], []
    if f.pair is not None:
        where.append("symbol = ?")
        params.append(f.pair)
    if f.timeframe is not None:
        where.append("timeframe = ?")
        params.append(f.timeframe)
    sql = ("WHERE " + " AND ".join(where)) if where else ""
    infos = facts.group_infos(conn, sql, tuple(params))
    if f.strategy is not None:
        infos = {g: i for g, i in infos.items() if i.strategy == f.strategy}
    return infos


class Buckets:
    """The summed buckets of any period for one answer: the roll-up rows, or — filtered by
    pair, timeframe or strategy — the same buckets recomputed once from the matching groups'
    record."""

    def __init__(self, conn: sqlite3.Connection, tz: tzinfo, f: Filters, now_ms: int, *,
                 with_legs: bool = False):
        self._conn = conn
        self._tz = tz
        self._by = None
        if f:
            keep = {pk for p in PERIODS for pk in period_rows(p, now_ms, tz)}
            infos = _infos(conn, f)
            dated = [(r.ts_ms, of_realization(r))
                     for r in facts.realizations(conn, infos, selected=True)]
            for t in facts.closed_trades(conn, infos, with_legs=with_legs, selected=True):
                dated.append((t.closed_at_ms, of_trade(t)))
            self._by = rows.by_period(tz, dated, keep)

    def rows(self, period: str, now_ms: int) -> dict[Key, Bucket]:
        """Today, this week, this month or all time."""
        wanted = period_rows(period, now_ms, self._tz)
        if self._by is None:
            return total(rows.read_rows(self._conn, p, s) for p, s in wanted)
        return total(self._by.get(pk, {}) for pk in wanted)

    def realized_by_period(self, now_ms: int) -> dict[str, Decimal]:
        return {p: self.rows(p, now_ms).get(("all", "*"), Bucket()).realized
                for p in ("day", "week", "month", "all")}


# --- equity -------------------------------------------------------------------------------

def equity_points(conn: sqlite3.Connection, since_ms: int | None, points: int
                  ) -> list[tuple[int, str, str, str | None]]:
    """(ts, realized, total, peak) of the snapshots since ``since_ms``, at most about
    ``points`` of them: the last snapshot of each equal slice of time (one index seek per
    slice), the newest one included."""
    since = since_ms if since_ms is not None else -1
    first = conn.execute("SELECT min(ts) FROM equity_snapshots WHERE ts >= ?",
                         (since,)).fetchone()[0]
    if first is None:
        return []
    last = conn.execute("SELECT max(ts) FROM equity_snapshots").fetchone()[0]
    width = (last - first) // points + 1
    columns = "s.ts, s.realized_equity, s.total_equity, s.peak_equity"
    if width <= SNAPSHOT_EVERY_MS:  # no more snapshots than points: all of them
        return conn.execute(f"SELECT {columns} FROM equity_snapshots s WHERE ts >= ? ORDER BY"
                            " ts", (first,)).fetchall()
    return conn.execute(
        "WITH RECURSIVE slice(t) AS (SELECT ? UNION ALL SELECT t + ? FROM slice WHERE t < ?)"
        f" SELECT {columns} FROM slice JOIN equity_snapshots s ON s.ts = (SELECT max(ts) FROM"
        " equity_snapshots WHERE ts <= min(slice.t, ?) AND ts > slice.t - ?) ORDER BY s.ts",
        (first + width - 1, width, last, last, width)).fetchall()


def equity_rows(conn: sqlite3.Connection, since_ms: int | None):
    """Every snapshot since ``since_ms`` (the CSV export), oldest first."""
    return conn.execute("SELECT ts, realized_equity, total_equity, peak_equity, day_boundary"
                        " FROM equity_snapshots WHERE ts >= ? ORDER BY ts",
                        (since_ms if since_ms is not None else -1,))


def risk_series(conn: sqlite3.Connection, since_ms: int | None
                ) -> tuple[list[float], Drawdown]:
    """Daily returns from the day-boundary snapshots since ``since_ms`` and the drawdown over
    the snapshots of that span (all time: the stored running figures of the newest one)."""
    since = since_ms if since_ms is not None else -1
    boundary = [Decimal(t) for (t,) in conn.execute(
        "SELECT total_equity FROM equity_snapshots WHERE day_boundary = 1 AND ts >= ?"
        " ORDER BY ts", (since,))]
    if since_ms is None:
        last = conn.execute("SELECT peak_equity, max_drawdown FROM equity_snapshots ORDER BY ts"
                            " DESC LIMIT 1").fetchone()
        dd = Drawdown() if last is None or last[0] is None else Drawdown(
            peak=Decimal(last[0]), max=Decimal(last[1]))
    else:
        dd = Drawdown()
        for (t,) in conn.execute("SELECT total_equity FROM equity_snapshots WHERE ts >= ?"
                                 " ORDER BY ts", (since,)):
            dd = dd.step(Decimal(t))
    return daily_returns(boundary), dd


def since(period: str, now_ms: int, tz: tzinfo) -> int | None:
    return period_start_ms(period, now_ms, tz)


# --- trades -------------------------------------------------------------------------------

SORTS = {"closed_at": "closed_at", "opened_at": "opened_at",
         "pnl": "CAST(realized_pnl AS REAL)", "return": "CAST(return_percent AS REAL)",
         "duration": "(closed_at - opened_at)", "pair": "symbol"}


def trades(conn: sqlite3.Connection, *, sort: str, descending: bool, limit: int,
           since_ms: int | None, f: Filters) -> list[dict[str, Any]]:
    where, params = ["closed_at >= ?"], [since_ms if since_ms is not None else -1]
    for column, value in (("symbol", f.pair), ("timeframe", f.timeframe),
                          ("strategy", f.strategy)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'}, group_id"
    cursor = conn.execute(f"SELECT * FROM closed_trades WHERE {' AND '.join(where)}"
                          f" ORDER BY {order} LIMIT ?", (*params, limit))
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor:
        r = dict(zip(names, values))
        out.append({"group_id": r["group_id"], "pair": r["symbol"], "timeframe": r["timeframe"],
                    "side": r["side"], "strategy": r["strategy"], "opened_at": r["opened_at"],
                    "closed_at": r["closed_at"], "duration_ms": r["closed_at"] - r["opened_at"],
                    "pyramids": r["pyramids"], "legs_filled": r["legs_filled"],
                    "entry_cost_usd": Decimal(r["entry_cost"]),
                    "exit_proceeds_usd": Decimal(r["exit_proceeds"]),
                    "fees_usd": Decimal(r["fees"]), "pnl_usd": Decimal(r["realized_pnl"]),
                    "return_percent": None if r["return_percent"] is None
                    else Decimal(r["return_percent"]), "close_reason": r["close_reason"]})
    return out


def best_and_worst(conn: sqlite3.Connection, since_ms: int | None, f: Filters, n: int = 10
                   ) -> tuple[list[dict], list[dict]]:
    """The ``n`` best and worst trades by realized PnL (exact order after the REAL index)."""
    def pick(descending: bool) -> list[dict]:
        found = trades(conn, sort="pnl", descending=descending, limit=n * 2, since_ms=since_ms,
                       f=f)
        found.sort(key=lambda t: (-t["pnl_usd"] if descending else t["pnl_usd"],
                                  t["group_id"]))
        return found[:n]

    return pick(True), pick(False)


# --- daily, allocation, risk ledger -------------------------------------------------------

DAY_COLUMNS = ("day", "fills", "volume", "realized_pnl", "trades_closed", "wins", "losses",
               "best_symbol", "worst_symbol", "start_equity", "end_equity", "finalised")


def days(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT {', '.join(DAY_COLUMNS)} FROM daily_stats ORDER BY day DESC"
                          " LIMIT ?", (limit,))
    return [dict(zip(DAY_COLUMNS, r)) for r in cursor]


def open_entry_notional(conn: sqlite3.Connection, prices: dict[str, Decimal]
                        ) -> dict[str, Decimal]:
    """Notional still to fill of the entry orders not ended, per symbol (a market order at
    the latest price)."""
    out: dict[str, Decimal] = {}
    for symbol, price, qty, filled in conn.execute(
            "SELECT symbol, price, quantity, filled_qty FROM orders WHERE purpose = 'e' AND"
            " state NOT IN ('filled', 'canceled', 'expired', 'rejected', 'failed')"):
        p = Decimal(price) if price is not None else prices.get(symbol)
        if p is not None:
            out[symbol] = out.get(symbol, Decimal(0)) + p * (Decimal(qty) - Decimal(filled))
    return out


def risk_rows(conn: sqlite3.Connection) -> tuple[list[dict], Sequence[tuple]]:
    """Every risk action row, and the fills of Risk Engine closes (cid purpose ``r``) of the
    groups the actions name."""
    cursor = conn.execute("SELECT * FROM risk_actions ORDER BY ts, id")
    names = [d[0] for d in cursor.description]
    actions = [dict(zip(names, r)) for r in cursor]
    ids = sorted({a["loser_group_id"] for a in actions if a["loser_group_id"] is not None}
                 | {w["group_id"] for a in actions for w in json.loads(a["winners"])})
    fills = conn.execute("SELECT group_id, ts, side, price, quantity, fee, realized, lots FROM"
                         " fills WHERE group_id IN (SELECT value FROM json_each(?)) AND"
                         " substr(client_order_id, 16, 1) = 'r' ORDER BY ts, id",
                         (json.dumps(ids),)).fetchall()
    return actions, fills
