"""Equity snapshots every 5 minutes and at each day boundary of ``app.timezone``, on the engine
clock (SPEC 11.3, 8.2 "Analytics"), and the day finalisation of ``daily_stats``.

Owns: the time of the last snapshot, the running drawdown (peak, maximum) and the snapshots
computed but not yet written.
Receives: ``on_feed_time(ts)`` for every price event in feed mode (``clock = "feed"``: the
snapshot marks follow the replay, and the equity is taken before the event is applied, i.e.
as it stood at the mark); in wall mode a check every second.
Sends: ``equity_snapshots`` rows (realized equity = C0 + cumulative realized PnL, total =
that + unrealized PnL of the open groups at the latest prices, the running peak and maximum
drawdown); at a day boundary the past day's end equity (finalising it) and the new day's start
equity in ``daily_stats``; ``on_change()`` after each write (the UI hub's analytics topic).
At start-up, roll-ups cut in another zone than ``app.timezone`` are rebuilt.
Fails how: a storage error propagates (crash-only, like every writer). With no capital base
known yet (C0 not configured and the balances not captured) nothing is written: equity is not
defined; the marks are taken up again once it is.

Marks missed while the engine was stopped are not invented: after a stop only the latest day
boundary that passed (the current day's start) and the latest 5-minute mark are recorded, with
the equity at that moment (``day_boundary = 2``: the day's start; not a daily-return point); a
day that ended while the engine was stopped stays unfinalised. In
feed mode every mark the replay passes is recorded (nothing happens between price events, so
the equity at a skipped mark is the equity at the event).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

import msgspec
import trio

from actors.analytics import facts, rebuild, rows
from actors.store.writer import Store
from engine.analytics.definitions import Equity, capital_base, equity
from engine.analytics.periods import (
    SNAPSHOT_EVERY_MS,
    Mark,
    day_key,
    day_start_ms,
    due_marks,
    grid_floor,
    local_date,
)
from engine.analytics.ratios import Drawdown
from engine.analytics.rollup import Bucket
from engine.config import Config

log = logging.getLogger("engine.system")
CHECK_S = 1.0
RESUMED = 2  # equity_snapshots.day_boundary of a day's start recorded after a stop
CATCH_UP_MS = 2 * SNAPSHOT_EVERY_MS  # a longer silence of the wall clock: the engine was stopped
_bucket = msgspec.json.Decoder(Bucket).decode


def cumulative_realized(store: Store) -> Decimal:
    found = store.query("SELECT metrics FROM trade_analytics WHERE period = 'all' AND"
                        " period_start = '*' AND dimension = 'all' AND dim_value = '*'")
    return _bucket(found[0]["metrics"]).realized if found else Decimal(0)


class EquitySnapshots:
    def __init__(self, *, store: Store, config: Callable[[], Config], now_ms: Callable[[], int],
                 feed_mode: bool, prices: Callable[[], Mapping[str, Decimal]],
                 on_change: Callable[[], None] = lambda: None):
        self._store = store
        self._config = config
        self._now_ms = now_ms
        self._feed_mode = feed_mode
        self._prices = prices
        self._on_change = on_change
        self._last: int | None = None  # the newest mark taken (written or pending)
        self._drawdown = Drawdown()
        self._pending: list[tuple[Mark, Equity]] = []
        self._resumed: set[int] = set()  # boundaries recorded after a stop: a start, no end
        self._wake = trio.Event()
        self._ready = False
        self.written = 0

    # -- start-up -------------------------------------------------------------------------
    def _prepare(self) -> None:
        cfg = self._config()
        name = cfg.app.timezone
        if self._store.meta_get(rows.TZ_KEY) != name:
            tz = rows.zone(name)
            counts = self._store.write_now(
                lambda conn: rebuild.rebuild(conn, tz, name, self._now_ms()))
            log.info(f"analytics roll-ups rebuilt for time zone {name}", extra={
                "event": "analytics_rebuilt", "data": counts})
        last = self._store.query("SELECT ts, peak_equity, max_drawdown FROM equity_snapshots"
                                 " ORDER BY ts DESC LIMIT 1")
        if last:
            row = last[0]
            if row["max_drawdown"] is None:  # snapshots from before the analytics migration
                self._store.write_now(rebuild.redraw_drawdown)
                row = self._store.query("SELECT ts, peak_equity, max_drawdown FROM"
                                        " equity_snapshots ORDER BY ts DESC LIMIT 1")[0]
            self._last = row["ts"]
            self._drawdown = Drawdown(
                peak=None if row["peak_equity"] is None else Decimal(row["peak_equity"]),
                max=Decimal(row["max_drawdown"]))
        self._ready = True

    # -- the marks --------------------------------------------------------------------------
    def on_feed_time(self, ts_ms: int) -> None:
        """Feed mode: the clock moved to ``ts_ms`` (this event is not applied yet)."""
        if self._ready:
            self.check(ts_ms)

    def check(self, now_ms: int) -> None:
        tz = rows.zone(self._config().app.timezone)
        if self._last is None:
            self._last = grid_floor(now_ms) - 1  # the first mark: the latest grid point
        if not self._feed_mode and now_ms - self._last > CATCH_UP_MS:
            marks = self._after_a_stop(now_ms, tz)
        else:
            marks = due_marks(self._last, now_ms, tz)
        if not marks:
            return
        value = self._equity()
        if value is None:
            return  # no capital base yet: try again at the next check
        self._last = marks[-1].ts_ms
        self._pending += [(m, value) for m in marks]
        self._wake.set()

    def _after_a_stop(self, now_ms: int, tz) -> list[Mark]:
        """The engine was stopped (wall clock): no history is invented for the time it did not
        run — only the latest day boundary that passed (the new day's start) and the latest
        grid mark are taken."""
        boundary = day_start_ms(local_date(now_ms, tz), tz)
        grid = grid_floor(now_ms)
        marks = {t: t == boundary for t in (boundary, grid) if t > self._last}
        if boundary in marks:
            self._resumed.add(boundary)
        return [Mark(ts_ms=t, day_boundary=b) for t, b in sorted(marks.items())]

    def _equity(self) -> Equity | None:
        cfg = self._config()
        stored = self._store.meta_get("capital_base_usd")
        c0 = capital_base(cfg.app.capital_base_usd,
                          None if stored is None else Decimal(stored))
        if c0 is None:
            return None
        states = facts.open_states(r["state"] for r in self._store.query(facts.OPEN_STATES_SQL))
        return equity(c0, cumulative_realized(self._store),
                      facts.unrealized_total(states, self._prices()))

    # -- the writer -------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED):
        self._prepare()
        task_status.started()
        first = True
        while True:
            if not first:
                with trio.move_on_after(CHECK_S):
                    await self._wake.wait()
                self._wake = trio.Event()
            first = False
            if not self._feed_mode:
                self.check(self._now_ms())
            if self._pending:
                batch, self._pending = self._pending, []
                await self._store.write(lambda conn: self._write(conn, batch))
                self.written += len(batch)
                self._on_change()

    def _write(self, conn, batch: list[tuple[Mark, Equity]]) -> None:
        tz = rows.timezone_of(conn)
        now = self._now_ms()
        for mark, e in batch:
            self._drawdown = self._drawdown.step(e.total)
            peak = self._drawdown.peak
            resumed = mark.ts_ms in self._resumed
            self._resumed.discard(mark.ts_ms)
            kind = RESUMED if resumed else int(mark.day_boundary)
            conn.execute(
                "INSERT OR IGNORE INTO equity_snapshots (ts, realized_equity, total_equity,"
                " unrealized_pnl, day_boundary, peak_equity, max_drawdown) VALUES (?, ?, ?, ?,"
                " ?, ?, ?)", (mark.ts_ms, str(e.realized), str(e.total), str(e.unrealized),
                              kind, None if peak is None else str(peak),
                              str(self._drawdown.max)))
            if mark.day_boundary:
                rows.set_day_equity(conn, day_key(mark.ts_ms, tz), now_ms=now, start=e.total)
            if kind == 1:  # the day before ended while the engine ran: it is final
                rows.set_day_equity(conn, day_key(mark.ts_ms - 1, tz), now_ms=now,
                                    end=e.total)
