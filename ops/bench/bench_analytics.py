"""Benchmark of the Performance analytics on a big history: 100,000 closed trades (200,000
fills) and two years of 5-minute equity snapshots (210,240 rows).

The database is filled while the engine is stopped (deterministic data, no randomness), the
roll-ups built by the rebuild, then the real engine process (``engine run``, paper exchange)
answers over HTTP: ``summary?period=all``, ``equity``, ``heatmap`` and ``trades?limit=100``
(target ≤ 100 ms each). The floors, measured in the same run: ``GET /healthz`` (the HTTP
round trip), ``GET /api/auth/me`` (the same plus the session check every ``/api/`` route
passes) and a bare ``SELECT count(*) FROM closed_trades`` on the same database. The incremental roll-up of a close (``actors/analytics/steps.record``: the fill's
realization, the trade's buckets in its day, month and all-time rows, daily_stats; target
≤ 1 ms) and of an entry fill are timed in-process on the same database, inside a transaction
like a group's step. Figures in milliseconds (median, p95) and the database size in MB.

``python -m ops.bench analytics`` prints the flat figures; ``python -m ops.bench.bench_analytics``
prints them as JSON.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from actors.analytics import rebuild, rows, steps
from actors.store.writer import Store
from engine.group.messages import ClosedTrade, CloseFilled, GroupClosed, LegFilled, TradeFilled
from engine.group.state import GridSnapshot, GroupState, Leg, OrderRef, Pyramid
from engine.orders import encode_cid
from ops.bench.daemon import Daemon, pct

D = Decimal
TRADES = 100_000
DAY_MS = 86_400_000
END_MS = 1_762_732_800_000  # 2025-11-10 00:00 UTC
START_MS = END_MS - 730 * DAY_MS  # two years of snapshots
PAIRS = [f"{a}USDT" for a in ("BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "LTC", "DOT",
                              "AVAX", "LINK", "TRX", "ATOM", "NEAR", "UNI", "XLM", "FIL", "APT",
                              "ARB", "OP")]
TIMEFRAMES = (5, 15, 60, 240)
REPEATS = 30
CLOSES = 300
ADMIN_PASSWORD = "bench-admin-password-0123"
ROUTES = {"summary_all": "/api/analytics/summary?period=all", "equity": "/api/analytics/equity",
          "heatmap": "/api/analytics/heatmap", "trades_100": "/api/analytics/trades?limit=100"}


def _pnl(i: int) -> D:
    return D((i * 7919) % 2001 - 900) / 100  # −9.00 … +11.00, deterministic


def fill(db: Path) -> None:
    conn = sqlite3.connect(db)
    instance = conn.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()[0]
    groups, trades, fills = [], [], []
    for i in range(TRADES):
        gid = i + 1
        symbol, tf = PAIRS[i % len(PAIRS)], TIMEFRAMES[(i // 7) % len(TIMEFRAMES)]
        closed = START_MS + (i * (730 * DAY_MS)) // TRADES
        opened = closed - (1 + i % 100) * 3_600_000
        pnl = _pnl(i)
        label = json.dumps({"alert_name": f"strategy {i % 10}", "trade_id": str(i)})
        groups.append((gid, "paper", symbol, tf, "long", "closed", "exit_signal", opened, closed,
                       closed, str(pnl), label))
        trades.append((gid, "paper", symbol, tf, "long", f"strategy {i % 10}", opened, closed,
                       1 + i % 5, 1 + i % 7, "1000", str(D(1000) + pnl + 1), "1", str(pnl),
                       str(pnl / 10), "exit_signal"))
        leg = i % 5
        fills.append(("paper", symbol, f"e{gid}", encode_cid(instance, gid, 0, leg, "e", 0), gid,
                      "buy", "100", "10", "0.5", "USDT", opened, opened, "-0.5", None))
        lots = json.dumps([[0, leg, "10", str(pnl + 1)]])
        fills.append(("paper", symbol, f"x{gid}", encode_cid(instance, gid, None, None, "x", 0),
                      gid, "sell", "100.5", "10", "0.5", "USDT", closed, closed,
                      str(pnl + D("0.5")), lots))
    with conn:
        conn.executemany("INSERT INTO position_groups (id, exchange, symbol, timeframe, side,"
                         " status, close_reason, created_at, updated_at, closed_at, realized_pnl,"
                         " first_signal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", groups)
        conn.executemany("INSERT INTO closed_trades (group_id, exchange, symbol, timeframe, side,"
                         " strategy, opened_at, closed_at, pyramids, legs_filled, entry_cost,"
                         " exit_proceeds, fees, realized_pnl, return_percent, close_reason)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", trades)
        conn.executemany("INSERT INTO fills (exchange, symbol, trade_id, client_order_id,"
                         " group_id, side, price, quantity, fee, fee_currency, ts, recorded_at,"
                         " realized, lots) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         fills)
        snaps, equity = [], D(100_000)
        for k in range(730 * 288):
            ts = START_MS + k * 300_000
            equity += D((k * 104729) % 2001 - 1000) / 100
            snaps.append((ts, str(equity), str(equity + D(k % 300) - 150), str(D(k % 300) - 150),
                          int(ts % DAY_MS == 0)))
        conn.executemany("INSERT INTO equity_snapshots (ts, realized_equity, total_equity,"
                         " unrealized_pnl, day_boundary) VALUES (?, ?, ?, ?, ?)", snaps)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('capital_base_usd',"
                     " '100000')")
    conn.close()


def _states(gid: int, now: int) -> tuple[GroupState, GroupState, TradeFilled, tuple]:
    """A one-lot group before and after the trade that closes it, with the step's events."""
    pyr = Pyramid(index=0, reference_price=D(100), notional=D(1000), signal_ts_ms=now - 7_200_000,
                  received_at_ms=now - 7_200_000)
    leg = Leg(pyramid=0, index=0, gap_percent=D(0), weight_percent=D(100), tp_percent=D(1),
              planned_price=D(100), planned_qty=D(10), entry_state="filled", filled_qty=D(10),
              fill_vwap=D(100), fill_cost=D(1000), open_qty=D(10), last_fill_ms=now - 3_600_000)
    before = GroupState(group_id=gid, exchange="paper", symbol=PAIRS[gid % 20], timeframe=60,
                        side="long", created_at_ms=now - 7_200_000, config=GridSnapshot(),
                        status="active", pyramids=(pyr,), legs=(leg,), realized_pnl=D("-0.5"),
                        fees_paid=D("0.5"), entry_cost=D(1000))
    closed_leg = Leg(**{**{f: getattr(leg, f) for f in leg.__struct_fields__},
                        "open_qty": D(0), "sold_qty": D(10), "closed_otherwise": True})
    realized = D("4.5")  # (100.5 − 100) × 10 − 0.5
    after = GroupState(**{**{f: getattr(before, f) for f in before.__struct_fields__},
                          "status": "closed", "legs": (closed_leg,), "closed_at_ms": now,
                          "close_reason": "exit_signal", "realized_pnl": D(4), "fees_paid": D(1),
                          "exit_proceeds": D(1005)})
    trade = TradeFilled(ref=OrderRef(pyramid=None, leg=None, purpose="x", attempt=0),
                        trade_id=f"bx{gid}", price=D("100.5"), qty=D(10), fee=D("0.5"),
                        fee_asset="USDT", ts_ms=now)
    record = ClosedTrade(group_id=gid, exchange="paper", symbol=before.symbol, timeframe=60,
                         side="long", opened_at_ms=before.created_at_ms, closed_at_ms=now,
                         pyramids=1, legs_filled=1, entry_cost=D(1000), exit_proceeds=D(1005),
                         fees=D(1), realized_pnl=D(4), return_percent=D("0.4"), dust_qty=D(0),
                         close_reason="exit_signal")
    events = (CloseFilled(purpose="x", trade_id=trade.trade_id, qty=D(10), price=trade.price,
                          realized=realized),
              GroupClosed(reason="exit_signal", realized=D(4), record=record))
    return before, after, trade, events


def incremental(db: Path) -> dict[str, float]:
    """Milliseconds of ``steps.record`` for a close and for an entry fill, in a transaction."""
    store = Store.open(db)
    conn = store.conn
    now = END_MS + 3_600_000
    close_ms, entry_ms = [], []
    try:
        for n in range(CLOSES):
            gid = TRADES + 1 + n
            before, after, trade, events = _states(gid, now + n * 1000)
            with conn:  # the rows a group's step has written before the analytics part
                conn.execute("INSERT INTO position_groups (id, exchange, symbol, timeframe, side,"
                             " status, created_at, updated_at, first_signal) VALUES (?, 'paper',"
                             " ?, 60, 'long', 'closed', ?, ?, ?)", (gid, before.symbol, now, now,
                                                                   '{"alert_name": "bench"}'))
                conn.execute("INSERT INTO fills (exchange, symbol, trade_id, client_order_id,"
                             " group_id, side, price, quantity, ts, recorded_at) VALUES ('paper',"
                             " ?, ?, ?, ?, 'sell', '100.5', '10', ?, ?)",
                             (before.symbol, trade.trade_id, f"bench{gid}", gid, now, now))
                conn.execute("INSERT INTO closed_trades (group_id, exchange, symbol, timeframe,"
                             " side, opened_at, closed_at, pyramids, legs_filled, entry_cost,"
                             " exit_proceeds, fees, realized_pnl) VALUES (?, 'paper', ?, 60,"
                             " 'long', ?, ?, 1, 1, '1000', '1005', '1', '4')",
                             (gid, before.symbol, now - 7_200_000, now))
            entry = TradeFilled(ref=OrderRef(pyramid=0, leg=0, purpose="e", attempt=0),
                                trade_id=f"be{gid}", price=D(100), qty=D(10), fee=D("0.5"),
                                fee_asset="USDT", ts_ms=now)
            leg_event = LegFilled(pyramid=0, leg=0, trade_id=entry.trade_id, qty=D(10),
                                  price=D(100), fee_quote=D("0.5"), fill_vwap=D(100),
                                  open_qty=D(10), dust_qty=D(0))
            opened = GroupState(**{**{f: getattr(before, f) for f in before.__struct_fields__},
                                   "realized_pnl": D(0)})
            for kind, args, out in (
                    ("entry", dict(before=opened, after=before, events=(leg_event,), trade=entry),
                     entry_ms),
                    ("close", dict(before=before, after=after, events=events, trade=trade),
                     close_ms)):
                conn.execute("BEGIN IMMEDIATE")
                started = time.perf_counter()
                steps.record(conn, fill_is_new=True, now_ms=now, **args)
                out.append((time.perf_counter() - started) * 1000)
                conn.execute("COMMIT")
    finally:
        store.close()
    return {"rollup_close_median_ms": statistics.median(close_ms),
            "rollup_close_p95_ms": pct(close_ms, 0.95),
            "rollup_entry_fill_median_ms": statistics.median(entry_ms)}


def _timed(client: httpx.Client, path: str) -> list[float]:
    client.get(path).raise_for_status()  # warm: the worker thread's connection, page cache
    out = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    return out


def _count_floor(db: Path) -> list[float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM closed_trades").fetchone()
            out.append((time.perf_counter() - started) * 1000)
        return out
    finally:
        conn.close()


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    daemon = Daemon(work, {"app.capital_base_usd": 100000})
    daemon.env["ENGINE_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    url = f"http://127.0.0.1:{daemon.port}"
    figures: dict[str, float] = {}
    try:
        daemon.start()
        daemon.wait_running()
        daemon.stop()
        started = time.monotonic()
        fill(daemon.db)
        store = Store.open(daemon.db)
        try:
            store.write_now(lambda conn: rebuild.rebuild(conn, rows.zone("UTC"), "UTC", END_MS))
        finally:
            store.close()
        figures["setup_fill_and_rebuild_s"] = time.monotonic() - started
        figures.update(incremental(daemon.db))
        figures["db_mb"] = daemon.db.stat().st_size / 1024 / 1024
        daemon.start()
        daemon.wait_running()
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/api/auth/login", json={"username": "admin",
                                                 "password": ADMIN_PASSWORD}).raise_for_status()
            floors = {"floor_http_healthz": "/healthz", "floor_http_me": "/api/auth/me"}
            for name, path in {**floors, **ROUTES}.items():
                times = _timed(client, path)
                figures[f"{name}_median_ms"] = statistics.median(times)
                figures[f"{name}_p95_ms"] = pct(times, 0.95)
        floor = _count_floor(daemon.db)
        figures["floor_sql_count_median_ms"] = statistics.median(floor)
        daemon.stop()
    finally:
        daemon.kill()
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
