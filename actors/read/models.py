"""The read side of the API and of the live push: one object that answers every panel.

Owns: the way to the read-only sources that are not tables — the running engine core's latest
prices (market data), precision sync status and exchange health, and the risk actor's status
(``set_source``); everything else is read from the projection tables at the moment of the call.
Receives: calls from ``EngineHandle`` (the web layer's only door) and from the UI hub.
Sends: plain dicts with the SPEC 11.6 field names, decimals as strings, times as UTC ms.
Fails how: a bad filter raises ``InvalidInput`` (HTTP 400); a source that raises propagates (a
bug in that source); a missing source is reported as ``"unknown"`` (never guessed).

Panels: ``dashboard()`` (A), ``groups()``/``group()`` (B, ``actors/read/groups.py``),
``queue()`` (D, ``actors/read/queue.py``), ``precision()``, and the topic payloads the hub
pushes besides those (``alerts()``, ``logs()``, ``risk()``, ``push_groups()``);
``order_line()`` (the gateway's waiting line) goes with the dashboard and ``/api/status``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from actors.read.log_query import query_events
from actors.store.writer import Store
from actors.read.common import OPEN_STATUSES, GroupStates, ReadContext, count, num
from actors.read.groups import group_detail, list_groups, open_unrealized
from actors.read.queue import pool_usage, queue_view, queued_by_reason
from engine.config import Config
from engine.types import MarketRules

HOUR_MS = 3_600_000
ALERTS_LIMIT = 50
LOGS_LIMIT = 100
PUSH_CLOSED_LIMIT = 50  # closed/failed groups carried by the live push (the API lists all)
SOURCES = ("prices", "precision", "exchange", "risk", "order_line")
_decode_rules = msgspec.json.Decoder(MarketRules).decode
_decode = msgspec.json.decode
_OPEN_MARKS = ", ".join("?" * len(OPEN_STATUSES))


def _rules_dict(rules: MarketRules) -> dict[str, Any]:
    out = {}
    for name in rules.__struct_fields__:
        value = getattr(rules, name)
        out[name] = num(value) if isinstance(value, Decimal) else value
    return out


class ReadModels:
    def __init__(self, *, store: Store, config: Callable[[], Config], clock_ms: Callable[[], int],
                 status: Callable[[], str], core: Callable[[], Any] = lambda: None):
        """``config`` returns the running configuration, ``status`` the engine status
        (``starting``/``running``/``paused``/``error``), ``core`` the running ``EngineCore``
        or None (before it started): its market data, precision refresher and exchange health
        are the live sources."""
        self._store = store
        self._config = config
        self._clock_ms = clock_ms
        self._status = status
        self._core = core
        self._sources: dict[str, Callable[[], Any]] = {}
        self.states = GroupStates(store)  # decoded group states, shared by every answer

    def set_source(self, name: str, fn: Callable[[], Any]) -> None:
        """Attach (or replace) a live source: ``prices`` → ``{symbol: Decimal}``;
        ``precision`` → the precision actor's ``status()``; ``exchange`` → an exchange-health
        ``snapshot()`` (``status``, ``error``, ``rate_limited_until_ms``, ``banned_until_ms``,
        …); ``risk`` → ``{"status": "active"|"idle"|"blocked", "last_action_at": ms|None}``;
        ``order_line`` → the gateway's waiting line (``OrderLine.status()``)."""
        if name not in SOURCES:
            raise ValueError(f"unknown read source {name!r}; expected one of {SOURCES}")
        self._sources[name] = fn

    def _source(self, name: str) -> Any:
        fn = self._sources.get(name)
        if fn is not None:
            return fn()
        core = self._core()
        if core is None:
            return None
        if name == "prices":
            return core.prices()
        if name == "precision":
            return core.precision.status()
        if name == "exchange":
            health = getattr(core, "health", None)
            return None if health is None else health.snapshot()
        if name == "order_line":
            return core.gateway.line.status()
        return None

    def order_line(self) -> dict | None:
        """Orders waiting for the rate budget per class (count, age of the oldest), the budget
        used per limit, and what left the line; None before the engine core runs."""
        return self._source("order_line")

    def context(self) -> ReadContext:
        prices = self._source("prices") or {}
        return ReadContext(store=self._store, cfg=self._config(), prices=prices,
                           now_ms=self._clock_ms(), states=self.states)

    # --- panels ------------------------------------------------------------------------------

    def groups(self, *, status: str | None = None, symbol: str | None = None,
               timeframe: str | int | None = None, side: str | None = None,
               closed_limit: int | None = None) -> dict:
        return {"groups": list_groups(self.context(), status=status, symbol=symbol,
                                      timeframe=timeframe, side=side, closed_limit=closed_limit)}

    def group(self, group_id: int) -> dict | None:
        return group_detail(self.context(), group_id)

    def queue(self) -> dict:
        return queue_view(self.context())

    def queue_entry(self, entry_id: int) -> dict | None:
        return next((e for e in self.queue()["entries"] if e["id"] == entry_id), None)

    def dashboard(self) -> dict:
        ctx = self.context()
        exact = open_unrealized(ctx)  # the totals add exact values, then round
        realized = sum((Decimal(r["realized_pnl"]) for r in ctx.query(
            "SELECT realized_pnl FROM position_groups")), Decimal(0))
        unknown = [gid for gid, usd in exact.items() if usd is None]
        unrealized = sum((usd for usd in exact.values() if usd is not None), Decimal(0))
        base = self._capital_base(ctx)
        total = realized + unrealized
        show = ctx.display()
        return {
            "total_active_groups": count(self._store, "SELECT COUNT(*) FROM position_groups"
                                         f" WHERE status IN ({_OPEN_MARKS})", OPEN_STATUSES),
            "pool": pool_usage(ctx),
            "queued": queued_by_reason(ctx),
            "pnl": {
                "realized_usd": show.usd(realized), "unrealized_usd": show.usd(unrealized),
                "total_usd": show.usd(total), "capital_base_usd": show.usd(base),
                "total_percent": None if not base else show.percent(total / base * 100),
                # groups whose price is not known yet: their unrealized PnL is not included
                "unpriced_group_ids": unknown,
            },
            "last_webhook": self._last_webhook(ctx),
            "engine": self._engine(),
            "risk": self.risk_status(),
            "system": self._system(ctx),
            "alerts": self.alerts()["alerts"],
            "order_line": self.order_line(),
        }

    def precision(self, symbol: str | None = None) -> dict:
        cfg = self._config()
        exchange = cfg.exchange.name
        sql, params = "SELECT symbol, rules, fetched_at FROM precision_cache WHERE exchange = ?", \
            [exchange]
        if symbol:
            sql += " AND symbol = ?"
            params.append(symbol.strip().upper())
        rows = self._store.query(sql + " ORDER BY symbol", params)
        sync = self._precision_sync()
        return {
            "exchange": exchange, "refresh_interval_sec": cfg.exchange.precision_refresh_sec,
            "strict_mode": cfg.precision.strict_mode, "last_sync_at": sync["last_sync_at"],
            "failures": sync["failures"], "last_error": sync["last_error"],
            "overrides": {k: _rules_dict_plain(v) for k, v in cfg.precision.overrides.items()},
            "symbols": [{**_rules_dict(_decode_rules(r["rules"])), "fetched_at": r["fetched_at"]}
                        for r in rows],
        }

    def risk_status(self) -> dict:
        """Placeholder fields the risk actor fills through the ``risk`` source."""
        last = self._store.query("SELECT MAX(ts) AS ts FROM risk_actions")[0]["ts"]
        found = self._source("risk")
        out = {"status": None, "last_action_at": last}
        if found:
            out.update(found)
        return out

    def risk(self) -> dict:
        """The ``risk`` topic until the risk actor attaches its panel (same as its status)."""
        return self.risk_status()

    def alerts(self) -> dict:
        rows = self._store.query(
            "SELECT * FROM alerts WHERE dismissed_at IS NULL ORDER BY id DESC LIMIT ?",
            (ALERTS_LIMIT,))
        return {"alerts": [{"id": a["id"], "ts": a["ts"], "level": a["level"],
                            "category": a["category"], "event": a["event"],
                            "message": a["message"],
                            "data": None if a["data"] is None else _decode(a["data"])}
                           for a in rows]}

    def logs(self) -> dict:
        events, cursor = query_events(self._store, limit=LOGS_LIMIT)
        return {"events": events, "next_cursor": cursor}

    def push_groups(self) -> dict:
        return self.groups(closed_limit=PUSH_CLOSED_LIMIT)

    # --- pieces ------------------------------------------------------------------------------

    def _engine(self) -> dict:
        """Status banner: the status and, in Error, why (the exchange health's reason)."""
        health = self._source("exchange") or {}
        return {"status": self._status(), "error": health.get("error")}

    def _capital_base(self, ctx: ReadContext) -> Decimal | None:
        """SPEC 11.3 C0: ``app.capital_base_usd``, else the balances stored at the first start
        (``meta.capital_base_usd``); None while neither is known."""
        configured = ctx.cfg.app.capital_base_usd
        if configured > 0:
            return configured
        stored = self._store.meta_get("capital_base_usd")
        return Decimal(stored) if stored else None

    def _last_webhook(self, ctx: ReadContext) -> dict | None:
        rows = ctx.query("SELECT id, received_at, parsed, state FROM inbox ORDER BY id DESC"
                         " LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        parsed = _decode(row["parsed"]) if row["parsed"] else {}
        symbol, timeframe = parsed.get("symbol"), parsed.get("timeframe")
        key = f"{ctx.cfg.exchange.name}:{symbol}:{timeframe}" if symbol else None
        return {"inbox_id": row["id"], "received_at": row["received_at"], "key": key,
                "symbol": symbol, "timeframe": timeframe, "side": parsed.get("side"),
                "intent": parsed.get("intent"), "state": row["state"]}

    def _precision_sync(self) -> dict:
        found = self._source("precision")
        if found is not None:
            return {"last_sync_at": found.get("last_sync_ms"), "failures": found.get("failures"),
                    "last_error": found.get("last_error"), "symbols": found.get("symbols")}
        exchange = self._config().exchange.name
        row = self._store.query("SELECT MAX(fetched_at) AS ts, COUNT(*) AS n FROM"
                                " precision_cache WHERE exchange = ?", (exchange,))[0]
        return {"last_sync_at": row["ts"], "failures": None, "last_error": None,
                "symbols": row["n"]}

    def _system(self, ctx: ReadContext) -> dict:
        return {
            "exchange": _connection(self._source("exchange")),
            "precision_sync": self._precision_sync(),
            "webhooks_last_hour": count(self._store, "SELECT COUNT(*) FROM inbox WHERE"
                                        " received_at >= ?", (ctx.now_ms - HOUR_MS,)),
            "rate_limit": _rate_limit(self._source("exchange"), ctx.now_ms),
            "database": self._database(),
        }

    def _database(self) -> dict:
        return {"status": "ok", "schema_version": int(self._store.meta_get("schema_version") or 0),
                "commits": self._store.batches,
                "size_bytes": self._store.pragma("page_count") * self._store.pragma("page_size")}


def _rules_dict_plain(override: Any) -> dict:
    return {k: num(v) if isinstance(v, Decimal) else v
            for k, v in msgspec.structs.asdict(override).items()}


def _connection(health: Mapping[str, Any] | None) -> dict:
    """Exchange connection of Panel A from an exchange-health snapshot ("unknown" without one:
    the core has not started)."""
    if health is None:
        return {"connection": "unknown", "error": None, "last_success_at": None,
                "stream_up": None}
    return {"connection": health.get("status"), "error": health.get("error"),
            "last_error": health.get("last_error"), "last_success_at": health.get(
                "last_success_ms"), "stream_up": health.get("stream_up")}


def _rate_limit(health: Mapping[str, Any] | None, now_ms: int) -> dict:
    """normal / throttled / banned until (SPEC 11.2)."""
    if health is None:
        return {"state": "unknown", "until": None}
    banned = health.get("banned_until_ms")
    if banned is not None and banned > now_ms:
        return {"state": "banned", "until": banned}
    limited = health.get("rate_limited_until_ms")
    if limited is not None and limited > now_ms:
        return {"state": "throttled", "until": limited}
    return {"state": "normal", "until": None}
