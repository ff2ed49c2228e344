"""The Performance & Portfolio answers (SPEC 11.3, 11.6 ``/api/analytics/*``): the service the
handle exposes as ``handle.analytics``.

Owns: one read-only SQLite connection per worker thread (``mode=ro``: it can never write);
every answer is computed off the trio thread (``trio.to_thread``), so a heavy read never holds
up trading or the webhook.
Receives: calls from ``web/api_analytics.py`` (through the handle) with validated parameters;
the latest prices and the engine clock from the running core (``handle.core``) when there is
one; the hub's builder call for the ``analytics`` topic.
Sends: plain dicts and CSV text, every number rounded by ``engine.analytics.present`` (the
project's display rules), "n/a" for undefined figures, empty lists and zero counts for an
empty history.
Fails how: a bad parameter raises ``InvalidInput`` naming it and the allowed values (HTTP 400);
a database that cannot be opened read-only raises ``sqlite3.Error`` (HTTP 500, logged).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import trio

from actors.analytics import facts, rows
from actors.read import analytics_queries as q
from actors.read.common import ReadContext
from actors.read.queue import pool_usage
from engine.analytics import blocks, risk_ledger
from engine.analytics.allocation import OpenPosition, allocation
from engine.analytics.definitions import capital_base, equity
from engine.analytics.periods import PERIODS, day_key
from engine.analytics.present import present, rule
from engine.analytics.rollup import Bucket
from engine.config import Config
from engine.display import Display, for_quote
from engine.errors import InvalidInput
from engine.group import average_entry

KINDS = ("realized", "total")
FORMATS = ("json", "csv")
TRADE_LIMIT_MAX = 1000
EQUITY_POINTS, EQUITY_POINTS_MAX = 2000, 20_000
DAYS_MAX = 3660
DAY_MS = 86_400_000
_bucket = msgspec.json.Decoder(Bucket).decode


def choice(field: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise InvalidInput(field, f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


class _Rows:
    """``ReadContext``'s store, on the read-only connection (dict rows)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


class AnalyticsService:
    def __init__(self, *, db_path: Path, config: Callable[[], Config],
                 now_ms: Callable[[], int], prices: Callable[[], Mapping[str, Decimal]]):
        self._uri = f"{Path(db_path).resolve().as_uri()}?mode=ro"
        self._config = config
        self._now_ms = now_ms
        self._prices = prices
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(conn, cfg, tz, now, prices, *args)`` in a worker thread, on one snapshot of
        the inputs taken here on the trio thread."""
        cfg = self._config()
        inputs = (cfg, rows.zone(cfg.app.timezone), self._now_ms(), dict(self._prices()))

        def work() -> Any:
            conn = self._conn()
            conn.execute("BEGIN")  # one read snapshot for the whole answer
            try:
                return fn(conn, *inputs, *args)
            finally:
                conn.execute("COMMIT")

        return await trio.to_thread.run_sync(work)

    @staticmethod
    def _display(cfg: Config) -> Display:
        quotes = cfg.app.quote_currencies
        return for_quote(quotes[0] if quotes else "USD")

    def _show(self, cfg: Config, value: Any) -> Any:
        return present(value, self._display(cfg))

    def _live(self, conn: sqlite3.Connection, cfg: Config, prices: dict) -> dict[str, Any]:
        """C0, the live equities and the open positions."""
        stored = conn.execute("SELECT value FROM meta WHERE key = 'capital_base_usd'"
                              ).fetchone()
        c0 = capital_base(cfg.app.capital_base_usd, Decimal(stored[0]) if stored else None)
        states = facts.open_states(r for (r,) in conn.execute(facts.OPEN_STATES_SQL))
        unrealized = facts.unrealized_total(states, prices)
        every = conn.execute("SELECT metrics FROM trade_analytics WHERE period = 'all' AND"
                             " dimension = 'all'").fetchone()
        realized = _bucket(every[0]).realized if every else Decimal(0)
        e = None if c0 is None else equity(c0, realized, unrealized)
        return {"c0": c0, "equity": e, "unrealized": unrealized, "states": states}

    # -- the answers ------------------------------------------------------------------------
    async def summary(self, period: str | None, f: q.Filters) -> dict[str, Any]:
        return await self._run(self._summary, choice("period", period, PERIODS, "all"), f)

    def _summary(self, conn, cfg, tz, now, prices, period: str, f: q.Filters) -> dict:
        live = self._live(conn, cfg, prices)
        source = q.Buckets(conn, tz, f, now)
        buckets = source.rows(period, now)
        returns, dd = q.risk_series(conn, q.since(period, now, tz))
        e = live["equity"]
        out = {"period": period, "timezone": cfg.app.timezone, "as_of": now,
               "capital_base_usd": live["c0"],
               "equity": {"realized_usd": e and e.realized, "total_usd": e and e.total,
                          "unrealized_usd": live["unrealized"]},
               "pnl": blocks.pnl_block(buckets, live["unrealized"],
                                       source.realized_by_period(now)),
               "win_loss": blocks.win_loss_block(buckets),
               "risk": blocks.risk_block(buckets, returns=returns, drawdown=dd,
                                         current_equity=e and e.total)}
        return self._show(cfg, out)

    async def equity(self, kind: str | None, fmt: str | None, period: str | None,
                     points: int | None) -> dict[str, Any] | str:
        kind = choice("kind", kind, KINDS, "total")
        fmt = choice("format", fmt, FORMATS, "json")
        period = choice("period", period, PERIODS, "all")
        if points is not None and points < 2:
            raise InvalidInput("points", f"expected at least 2, got {points}")
        points = min(points or EQUITY_POINTS, EQUITY_POINTS_MAX)
        if fmt == "csv":
            return await self._run(self._equity_csv, kind, period)
        return await self._run(self._equity_json, kind, period, points)

    @staticmethod
    def _points(found, kind: str) -> tuple[list[int], list[Decimal], list[Decimal]]:
        """Times, the equity of ``kind`` and the drawdown of total equity (percent) per row."""
        ts, values, drawdown = [], [], []
        hundred, zero = Decimal(100), Decimal(0)
        for t, realized, total, peak in found:
            ts.append(t)
            values.append(Decimal(realized if kind == "realized" else total))
            p = None if peak is None else Decimal(peak)
            drawdown.append((p - Decimal(total)) / p * hundred if p and p > 0 else zero)
        return ts, values, drawdown

    def _equity_json(self, conn, cfg, tz, now, prices, kind: str, period: str,
                     points: int) -> dict:
        found = q.equity_points(conn, q.since(period, now, tz), points)
        ts, values, drawdown = self._points(found, kind)
        return self._show(cfg, {"kind": kind, "period": period, "points": len(ts), "ts": ts,
                                "equity_usd": values, "drawdown_percent": drawdown})

    def _equity_csv(self, conn, cfg, tz, now, prices, kind: str, period: str) -> str:
        display = self._display(cfg)
        usd, pct = rule("equity_usd", display), rule("drawdown_percent", display)
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(["ts", "time_utc", f"{kind}_equity_usd", "drawdown_percent",
                      "day_boundary"])
        found = list(q.equity_rows(conn, q.since(period, now, tz)))
        ts, values, drawdown = self._points([r[:4] for r in found], kind)
        days: dict[int, str] = {}
        for t, value, dd, row in zip(ts, values, drawdown, found):
            day, ms = divmod(t, DAY_MS)
            if day not in days:
                days[day] = datetime.fromtimestamp(day * 86_400, tz=timezone.utc).strftime(
                    "%Y-%m-%d")
            seconds = ms // 1000
            when = f"{days[day]}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
            out.writerow([t, when, usd(value), pct(dd), row[4]])
        return buf.getvalue()

    async def trades(self, sort: str | None, limit: int | None, period: str | None,
                     f: q.Filters) -> dict[str, Any]:
        key = sort or "-closed_at"
        name = key.removeprefix("-")
        if name not in q.SORTS:
            allowed = ", ".join(f"{s}, -{s}" for s in q.SORTS)
            raise InvalidInput("sort", f"expected one of {allowed}, got {sort!r}")
        if limit is not None and limit < 1:
            raise InvalidInput("limit", f"expected a positive number, got {limit}")
        asked = limit or 100
        capped = min(asked, TRADE_LIMIT_MAX)
        period = choice("period", period, PERIODS, "all")
        return await self._run(self._trades, name, key.startswith("-"), capped, asked, period,
                               f)

    def _trades(self, conn, cfg, tz, now, prices, sort, descending, limit, asked, period, f):
        found = q.trades(conn, sort=sort, descending=descending, limit=limit,
                         since_ms=q.since(period, now, tz), f=f)
        return self._show(cfg, {"sort": ("-" if descending else "") + sort, "limit": limit,
                                "capped": asked > limit, "trades": found})

    async def distribution(self, period: str | None, f: q.Filters) -> dict[str, Any]:
        return await self._run(self._distribution, choice("period", period, PERIODS, "all"), f)

    def _distribution(self, conn, cfg, tz, now, prices, period, f) -> dict:
        buckets = q.Buckets(conn, tz, f, now).rows(period, now)
        best, worst = q.best_and_worst(conn, q.since(period, now, tz), f)
        return self._show(cfg, {"period": period, "histogram": blocks.histogram(buckets),
                                "best": best, "worst": worst})

    async def heatmap(self, period: str | None, f: q.Filters) -> dict[str, Any]:
        return await self._run(self._heatmap, choice("period", period, PERIODS, "all"), f)

    def _heatmap(self, conn, cfg, tz, now, prices, period, f) -> dict:
        return self._show(cfg, {"period": period,
                                **blocks.heatmap(q.Buckets(conn, tz, f, now).rows(period, now))})

    async def ladder(self, period: str | None, f: q.Filters) -> dict[str, Any]:
        return await self._run(self._ladder, choice("period", period, PERIODS, "all"), f)

    def _ladder(self, conn, cfg, tz, now, prices, period, f) -> dict:
        buckets = q.Buckets(conn, tz, f, now, with_legs=True).rows(period, now)
        return self._show(cfg, {"period": period, **blocks.ladder_block(buckets)})

    async def daily(self, days: int | None) -> dict[str, Any]:
        if days is not None and days < 1:
            raise InvalidInput("days", f"expected a positive number, got {days}")
        return await self._run(self._daily, min(days or 90, DAYS_MAX))

    def _daily(self, conn, cfg, tz, now, prices, limit: int) -> dict:
        found = q.days(conn, limit)
        today = day_key(now, tz)
        row = next((d for d in found if d["day"] == today), None)
        snapshot = {"day": today, "fills": row["fills"] if row else 0,
                    "volume_usd": Decimal(row["volume"]) if row else Decimal(0),
                    "realized_usd": Decimal(row["realized_pnl"]) if row else Decimal(0),
                    "best_symbol": row and row["best_symbol"],
                    "worst_symbol": row and row["worst_symbol"]}
        days = [{"day": d["day"], "fills": d["fills"], "volume_usd": Decimal(d["volume"]),
                 "realized_usd": Decimal(d["realized_pnl"]), "trades": d["trades_closed"],
                 "wins": d["wins"], "losses": d["losses"], "best_symbol": d["best_symbol"],
                 "worst_symbol": d["worst_symbol"],
                 "start_equity_usd": d["start_equity"] and Decimal(d["start_equity"]),
                 "end_equity_usd": d["end_equity"] and Decimal(d["end_equity"]),
                 "finalised": bool(d["finalised"])} for d in found]
        return self._show(cfg, {"timezone": cfg.app.timezone, "today": snapshot, "days": days})

    async def allocation(self) -> dict[str, Any]:
        return await self._run(self._allocation)

    def _allocation(self, conn, cfg, tz, now, prices) -> dict:
        live = self._live(conn, cfg, prices)
        positions = []
        for s in live["states"]:
            qty, avg = s.open_qty, average_entry(s)
            positions.append(OpenPosition(symbol=s.symbol, side=s.side, qty=qty,
                                          cost=Decimal(0) if avg is None else avg * qty,
                                          price=prices.get(s.symbol)))
        ctx = ReadContext(store=_Rows(conn), cfg=cfg, prices=prices, now_ms=now)  # type: ignore
        pool = pool_usage(ctx)
        e = live["equity"]
        out = allocation(positions, q.open_entry_notional(conn, prices), pool_used=pool["used"],
                         pool_max=pool["max"], total_equity=e and e.total)
        return self._show(cfg, out)

    async def risk_ledger(self) -> dict[str, Any]:
        return await self._run(self._risk_ledger)

    def _risk_ledger(self, conn, cfg, tz, now, prices) -> dict:
        actions, fills = q.risk_rows(conn)
        return self._show(cfg, risk_ledger.ledger(
            [risk_fact(a) for a in actions], [fill_fact(f) for f in fills]))

    def topic(self) -> dict[str, Any]:
        """The live push's ``analytics`` payload: small, changes when a trade closes or a
        snapshot is taken (the page then fetches what it shows)."""
        conn = self._conn()
        every = conn.execute("SELECT metrics FROM trade_analytics WHERE period = 'all' AND"
                             " dimension = 'all'").fetchone()
        b = _bucket(every[0]) if every else Bucket()
        last = conn.execute("SELECT max(ts) FROM equity_snapshots").fetchone()[0]
        return {"trades": b.trades, "realized": str(b.realized), "last_snapshot": last}


_decode = msgspec.json.decode


def risk_fact(row: dict[str, Any]) -> risk_ledger.RiskActionFact:
    realized = _decode(row["realized"])
    qty, notional = realized.get("loser_qty"), realized.get("loser_notional")
    loser_price = Decimal(notional) / Decimal(qty) if qty and Decimal(qty) else None
    return risk_ledger.RiskActionFact(
        id=row["id"], ts_ms=row["ts"], outcome=row["outcome"], loser_id=row["loser_group_id"],
        loser_price=loser_price,
        winner_prices={w["group_id"]: Decimal(w["price"]) for w in _decode(row["winners"])},
        realized={int(g): Decimal(v) for g, v in realized.get("groups", {}).items()})


def fill_fact(row: tuple) -> risk_ledger.RiskFillFact:
    group_id, ts, side, price, qty, fee, realized, lots = row
    fee_usd = Decimal(fee)  # as charged; in the quote currency once lots tell its value:
    if realized is not None and lots:
        fee_usd = sum((lot.gross for lot in facts.decode_lots(lots)), Decimal(0)) \
            - Decimal(realized)
    return risk_ledger.RiskFillFact(group_id=group_id, ts_ms=ts, side=side,
                                    price=Decimal(price), qty=Decimal(qty), fee_usd=fee_usd)


def attach_analytics(handle: Any) -> None:
    """``handle.analytics`` and the hub's ``analytics`` topic, where the handle is built (the
    root, the web test kit). Prices and the engine clock come from the core once it runs."""
    def core() -> Any:
        return getattr(handle, "core", None)

    def now_ms() -> int:
        c = core()
        return c.clock.now_ms() if c is not None else handle.clock_ms()

    def prices() -> Mapping[str, Decimal]:
        c = core()
        return c.prices() if c is not None else {}

    handle.analytics = AnalyticsService(db_path=handle.store.path, config=lambda: handle.config,
                                        now_ms=now_ms, prices=prices)
    handle.hub.set_builder("analytics", handle.analytics.topic)
