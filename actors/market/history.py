"""Price history for the group charts: 1-minute OHLC bars of the prices the engine observes.

Owns: the followed symbols (those of open groups and queue entries; a closed group's bars
stay until the retention ends), the bars of the current minutes not yet written, and the
backfill queue.
Receives: ``follow(symbols)`` whenever that set changes; ``observe(symbol, price)`` for every
price market data accepts (engine clock); ``bars(symbol, since, until)`` from the chart.
Sends: ``price_bars`` rows through the Store every ``FLUSH_S`` (one transaction), an hourly
delete of rows older than ``ui.chart_history_days``; for a newly followed symbol one
``backfill(symbol, since, until)`` call (``fetch_ohlcv``: the ccxt adapter, or the public
endpoints under the paper live feed) from the last stored bar — at most ``BACKFILL_MS`` back
— to now, whose bars fill the minutes nothing was observed in.
Fails how: a failed backfill is logged and not retried (the chart has a gap); a failed write
raises (``StorageError``: crash-only, like every other write).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal

import trio

from actors.exchange.port import ExchangeError
from actors.store.writer import Store

log = logging.getLogger("engine.system")

MINUTE_MS = 60_000
FLUSH_S = 5.0
PRUNE_EVERY_S = 3600.0
BACKFILL_MS = 60 * MINUTE_MS  # context before a group opens, and the longest gap refilled
BACKFILL_MAX_MS = 1000 * MINUTE_MS  # one fetch_ohlcv page
Bar = tuple[int, Decimal, Decimal, Decimal, Decimal]
Backfill = Callable[[str, int, int], Awaitable[list[Bar]]]


class PriceHistory:
    def __init__(self, *, store: Store, exchange: str, clock_ms: Callable[[], int],
                 retention_days: Callable[[], int], backfill: Backfill | None = None,
                 record: bool = True):
        self._store = store
        self.exchange = exchange
        self._clock_ms = clock_ms
        self._retention_days = retention_days
        self._backfill = backfill
        self._record = record  # False: a CSV replay on the feed clock (its candles are used)
        self.followed: set[str] = set()
        self._open: dict[str, list] = {}  # symbol -> [minute, open, high, low, close]
        self._dirty: dict[tuple[str, int], Bar] = {}
        self._todo: list[str] = []
        self._wake = trio.Event()
        self.backfilled = 0

    def follow(self, symbols: Iterable[str]) -> None:
        new = set(symbols) - self.followed
        self.followed |= new
        self.followed &= set(symbols)
        if new and self._backfill is not None:
            self._todo.extend(sorted(new))
            self._wake.set()

    def observe(self, symbol: str, price: Decimal) -> None:
        if not self._record or symbol not in self.followed:
            return
        now = self._clock_ms()
        minute = now - now % MINUTE_MS
        bar = self._open.get(symbol)
        if bar is None or bar[0] != minute:
            bar = self._open[symbol] = [minute, price, price, price, price]
        else:
            bar[2] = max(bar[2], price)
            bar[3] = min(bar[3], price)
            bar[4] = price
        self._dirty[(symbol, minute)] = tuple(bar)  # type: ignore[assignment]

    def bars(self, symbol: str, since_ms: int, until_ms: int) -> list[Bar]:
        """Stored bars of ``symbol`` in [since, until], with the ones not yet written."""
        rows = self._store.query(
            "SELECT t, open, high, low, close FROM price_bars WHERE exchange = ? AND symbol = ?"
            " AND t BETWEEN ? AND ? ORDER BY t", (self.exchange, symbol, since_ms, until_ms))
        out = {r["t"]: (r["t"], Decimal(r["open"]), Decimal(r["high"]), Decimal(r["low"]),
                        Decimal(r["close"])) for r in rows}
        for (sym, minute), bar in self._dirty.items():
            if sym == symbol and since_ms <= minute <= until_ms:
                out[minute] = _merge(out.get(minute), bar)
        return [out[t] for t in sorted(out)]

    # -- the task ---------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._backfills)
            prune_at = 0.0
            while True:
                if trio.current_time() >= prune_at:
                    await self._prune()
                    prune_at = trio.current_time() + PRUNE_EVERY_S
                await trio.sleep(FLUSH_S)
                await self.flush()

    async def flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        await self._store.write(lambda conn: _upsert(conn, self.exchange, dirty.items()))

    async def _prune(self) -> None:
        cutoff = self._clock_ms() - self._retention_days() * 86_400_000
        await self._store.write(lambda conn: conn.execute(
            "DELETE FROM price_bars WHERE t < ?", (cutoff,)))

    async def _backfills(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._todo:
                await self._backfill_one(self._todo.pop(0))

    async def _backfill_one(self, symbol: str) -> None:
        now = self._clock_ms()
        last = self._store.query(
            "SELECT max(t) AS t FROM price_bars WHERE exchange = ? AND symbol = ?",
            (self.exchange, symbol))[0]["t"]
        since = max(now - BACKFILL_MAX_MS, now - BACKFILL_MS if last is None else last)
        current = now - now % MINUTE_MS
        try:
            bars = await self._backfill(symbol, since, now)  # type: ignore[misc]
        except ExchangeError as exc:
            log.warning(f"price history of {symbol} not backfilled: {exc}", extra={
                "event": "chart_backfill_failed", "symbol": symbol,
                "data": {"error": str(exc)}})
            return
        done = [b for b in bars if b[0] < current]  # the current minute is still moving
        if done:
            await self._store.write(lambda conn: conn.executemany(
                "INSERT OR IGNORE INTO price_bars (exchange, symbol, t, open, high, low, close,"
                " source) VALUES (?, ?, ?, ?, ?, ?, ?, 'exchange')",
                [(self.exchange, symbol, t, str(o), str(h), str(low), str(c))
                 for t, o, h, low, c in done]))
        self.backfilled += len(done)


def _merge(old: Bar | None, new: Bar) -> Bar:
    """Two views of one minute: the first open, the extremes, the newer close."""
    if old is None:
        return new
    return (new[0], old[1], max(old[2], new[2]), min(old[3], new[3]), new[4])


def _upsert(conn, exchange: str, bars: Iterable[tuple[tuple[str, int], Bar]]) -> None:
    for (symbol, minute), bar in bars:
        row = conn.execute("SELECT t, open, high, low, close FROM price_bars WHERE exchange = ?"
                           " AND symbol = ? AND t = ?", (exchange, symbol, minute)).fetchone()
        stored = None if row is None else (row[0], *(Decimal(v) for v in row[1:]))
        _, o, h, low, c = _merge(stored, bar)  # type: ignore[arg-type]
        conn.execute("INSERT OR REPLACE INTO price_bars (exchange, symbol, t, open, high, low,"
                     " close, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'observed')",
                     (exchange, symbol, minute, str(o), str(h), str(low), str(c)))
