"""The precision refresher: the market-rules cache the whole engine reads (SPEC 5.1, 5.4).

Owns: the rules of every market of the configured exchange, in memory and in the
``precision_cache`` table (one row per symbol with its fetch time), the last successful sync
time and the failure count shown by the UI ("precision sync failure" alert).
Receives: ``request_refresh(symbol)`` (a missing or stale symbol, an ``InvalidOrder`` from the
gateway, the Settings panel's manual fetch); its own timer every
``exchange.precision_refresh_sec``.
Sends: ``PrecisionRefreshed`` to every subscriber (the supervisor promotes queued
``precision_missing`` entries on it) after each successful refresh; calls
``port.load_markets()`` (one bulk call).
Fails how: a failed refresh (any ``ExchangeError``) is logged as a Precision error on
``engine.precision``, counted in ``failures`` and leaves the previous rules in use; the next
timer tick or request tries again. A storage failure propagates (crash-only).

Ages are measured on WALL time (``clock_ms``), never on a replayed paper feed's clock: market
metadata gets old in the real world, and a feed running 300x faster would otherwise mark every
entry stale at once. The age rules themselves (stale after the interval, missing after 24 h,
overrides, fallback) are ``engine.precision.effective_rules``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Literal

import msgspec
import trio

from actors.exchange.port import ExchangeError, ExchangePort
from actors.store.writer import Store
from engine.config.model import PrecisionConfig
from engine.precision import Enforcement, MetadataMissing, ResolvedRules, effective_rules
from engine.types import MarketRules

log = logging.getLogger("engine.precision")

MIN_GAP_S = 5.0  # on-demand refreshes are at least this far apart (an unknown symbol asks often)
_encode = msgspec.json.Encoder().encode
_decode_rules = msgspec.json.Decoder(MarketRules).decode


class PrecisionRefreshed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Market rules were fetched successfully: held signals/orders may go ahead (SPEC 6.4)."""

    fetched_at_ms: int
    symbols: int


Listener = Callable[[PrecisionRefreshed], None]


class PrecisionActor:
    def __init__(self, *, port: ExchangePort, store: Store, exchange: str, refresh_sec: int,
                 precision_cfg: PrecisionConfig, clock_ms: Callable[[], int]):
        self._port = port
        self._store = store
        self.exchange = exchange
        self.refresh_sec = refresh_sec
        self._cfg = precision_cfg
        self._clock_ms = clock_ms
        self._rules: dict[str, MarketRules] = {}
        self._listeners: list[Listener] = []
        self._wake = trio.Event()
        self._last_attempt = 0.0  # trio time of the last refresh attempt
        self.last_sync_ms: int | None = None
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.refreshes = 0

    # -- reading the cache ------------------------------------------------------------------

    def rules(self, symbol: str) -> MarketRules | None:
        """Exchange rules of ``symbol`` if usable (≤ 24 h old). Missing or stale (older than
        the refresh interval) also starts an immediate refresh; a stale entry is returned."""
        resolved = self._resolve_exchange(symbol)
        return resolved.rules if isinstance(resolved, ResolvedRules) else None

    def all_rules(self) -> dict[str, MarketRules]:
        return dict(self._rules)

    def resolve(self, symbol: str, *, mode: Literal["auto", "force"] = "auto"
                ) -> ResolvedRules | MetadataMissing:
        """The rules to use for an order of ``symbol`` under ``precision.*`` (SPEC 5.4, 5.5)."""
        cfg = self._cfg
        result = effective_rules(
            self._rules.get(symbol), mode=mode,
            override=cfg.overrides.get(f"{self.exchange}:{symbol}"), strict=cfg.strict_mode,
            fallback=cfg.fallback_rules, now_ms=self._clock_ms(),
            refresh_interval_ms=self.refresh_sec * 1000, symbol=symbol,
            enforce=Enforcement(tick_size=cfg.enforce_tick_size,
                                step_size=cfg.enforce_step_size,
                                min_notional=cfg.enforce_min_notional))
        if result.refresh_due:
            self.request_refresh(symbol)
        return result

    def _resolve_exchange(self, symbol: str) -> ResolvedRules | MetadataMissing:
        result = effective_rules(
            self._rules.get(symbol), mode="auto", override=None, strict=True, fallback=None,
            now_ms=self._clock_ms(), refresh_interval_ms=self.refresh_sec * 1000, symbol=symbol)
        if result.refresh_due:
            self.request_refresh(symbol)
        return result

    # -- control ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """``listener`` must not block (e.g. an inbox's ``send_nowait``)."""
        self._listeners.append(listener)

    def request_refresh(self, symbol: str | None = None) -> None:
        """Refresh as soon as allowed (``MIN_GAP_S`` after the previous attempt)."""
        if not self._wake.is_set():
            log.debug("precision refresh requested", extra={
                "event": "precision_refresh_requested", "symbol": symbol})
        self._wake.set()

    def reconfigure(self, *, refresh_sec: int, precision_cfg: PrecisionConfig) -> None:
        """Hot reload (ConfigChanged): the new interval applies from the next wait."""
        self.refresh_sec = refresh_sec
        self._cfg = precision_cfg
        self._wake.set()  # re-arm the timer with the new interval

    # -- the task ---------------------------------------------------------------------------

    def load_cache(self) -> int:
        """Rules from ``precision_cache`` (start-up: usable before the first fetch answers)."""
        rows = self._store.query(
            "SELECT symbol, rules, fetched_at FROM precision_cache WHERE exchange = ?",
            (self.exchange,))
        for row in rows:
            rules = msgspec.structs.replace(_decode_rules(row["rules"]),
                                            fetched_at_ms=row["fetched_at"])
            self._rules[row["symbol"]] = rules
        if rows:
            self.last_sync_ms = max(row["fetched_at"] for row in rows)
        return len(rows)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Cache first, then one refresh (its failure does not stop the start), then serve."""
        loaded = self.load_cache()
        log.info("precision cache loaded", extra={"event": "precision_cache_loaded",
                                                  "exchange": self.exchange,
                                                  "data": {"symbols": loaded}})
        self._wake = trio.Event()
        await self.refresh()
        task_status.started()
        while True:
            with trio.move_on_after(self.refresh_sec):
                await self._wake.wait()
            await trio.sleep_until(self._last_attempt + MIN_GAP_S)
            # a new event before fetching: a request arriving during the fetch is not lost
            self._wake = trio.Event()
            await self.refresh()

    async def refresh(self) -> bool:
        """One bulk fetch; the cache is replaced in one transaction. True on success."""
        self._last_attempt = trio.current_time()
        try:
            fetched = await self._port.load_markets()
        except ExchangeError as e:
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = f"{type(e).__name__}: {e}"
            log.error("precision sync failure", extra={
                "event": "precision_sync_failed", "exchange": self.exchange,
                "data": {"error": self.last_error, "failures": self.failures}})
            return False
        now = self._clock_ms()
        rules = {symbol: msgspec.structs.replace(r, fetched_at_ms=now)
                 for symbol, r in fetched.items()}
        await self._store.write(lambda conn: self._write_cache(conn, rules, now))
        self._rules = rules
        self.last_sync_ms = now
        self.consecutive_failures = 0
        self.refreshes += 1
        log.info("precision metadata refreshed", extra={
            "event": "precision_refreshed", "exchange": self.exchange,
            "data": {"symbols": len(rules)}})
        message = PrecisionRefreshed(fetched_at_ms=now, symbols=len(rules))
        for listener in self._listeners:
            listener(message)
        return True

    def _write_cache(self, conn: sqlite3.Connection, rules: dict[str, MarketRules],
                     now: int) -> None:
        conn.execute("DELETE FROM precision_cache WHERE exchange = ?", (self.exchange,))
        conn.executemany(
            "INSERT INTO precision_cache (exchange, symbol, rules, fetched_at) VALUES (?,?,?,?)",
            [(self.exchange, symbol, _encode(r).decode(), now) for symbol, r in rules.items()])

    def status(self) -> dict[str, object]:
        """For ``/api/status`` and the Settings panel."""
        return {"last_sync_ms": self.last_sync_ms, "symbols": len(self._rules),
                "failures": self.failures, "consecutive_failures": self.consecutive_failures,
                "last_error": self.last_error}
