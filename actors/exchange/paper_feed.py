"""CSV candle replay for the paper exchange (SPEC 12.6 ``feed = "csv"``) and the feed clock.

Owns: the replay position and, with ``clock = "feed"``, the engine time (``FeedClock``).
Receives: the candle files (``symbol -> path``, header ``ts,open,high,low,close,volume``, ``ts``
in UTC ms, ascending), loaded once at start.
Sends: four ``push_price`` calls per candle to the paper exchange — open, then low then high
when close >= open (else high then low), then close — at ``ts``, ``ts + d/3``, ``ts + 2d/3``
and ``ts + d - 1`` (``d`` = candle length, the smallest gap between two timestamps). Candles
of several symbols that share a timestamp are replayed phase by phase (every open, then every
second price, ...) so the feed time never goes back. ``replay_interval_ms`` of wall time
separates two timestamps (0 = as fast as possible, still yielding to trio in between);
``replay_loop`` restarts at the first candle with every timestamp shifted past the last one,
so the feed time keeps increasing.
Fails how: an unreadable or malformed file raises ``CandleFileError`` (path and line) before
``task_status.started()``; an unknown symbol raises ``UnknownSymbol`` before it too.
"""

import csv
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

import msgspec
import trio

from actors.exchange.port import OrderUpdate
from engine.matching import candle_prices

log = logging.getLogger("engine.system")
HEADER = ["ts", "open", "high", "low", "close", "volume"]
DEFAULT_CANDLE_MS = 60_000  # only when every file holds a single candle


class CandleFileError(Exception):
    pass


class Candle(msgspec.Struct, frozen=True, kw_only=True):
    ts_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class PricePusher(Protocol):
    async def fetch_prices(self, symbols: list[str] | None = None) -> dict[str, Decimal]: ...

    async def push_price(self, symbol: str, price: Decimal,
                         ts_ms: int | None = None) -> list[OrderUpdate]: ...


class FeedClock:
    """The engine clock under ``clock = "feed"``: the time of the last replayed price."""

    def __init__(self, start_ms: int):
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ts_ms: int) -> None:
        self._now_ms = max(self._now_ms, ts_ms)


def load_candles(path: Path) -> list[Candle]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise CandleFileError(f"{path}: cannot read: {exc}") from exc
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        raise CandleFileError(f"{path}:1: expected the header {','.join(HEADER)}")
    candles: list[Candle] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            ts, o, h, lo, c = int(row[0]), *(Decimal(v) for v in row[1:5])
        except (ValueError, InvalidOperation, IndexError):
            raise CandleFileError(f"{path}:{line}: not a candle row: {row!r}") from None
        if not all(p.is_finite() and p > 0 for p in (o, h, lo, c)) or lo > min(o, c) \
                or h < max(o, c):
            raise CandleFileError(f"{path}:{line}: impossible prices {row[1:5]}")
        if candles and ts <= candles[-1].ts_ms:
            raise CandleFileError(f"{path}:{line}: timestamps must be ascending")
        candles.append(Candle(ts_ms=ts, open=o, high=h, low=lo, close=c))
    if not candles:
        raise CandleFileError(f"{path}: no candles")
    return candles


def load_candle_files(files: Mapping[str, Path]) -> dict[str, list[Candle]]:
    return {symbol: load_candles(Path(path)) for symbol, path in files.items()}


def candle_length_ms(candles: Mapping[str, Sequence[Candle]]) -> int:
    gaps = [b.ts_ms - a.ts_ms for series in candles.values() for a, b in zip(series, series[1:])]
    return min(gaps, default=DEFAULT_CANDLE_MS)


def first_ts(candles: Mapping[str, Sequence[Candle]]) -> int:
    """Where a ``FeedClock`` starts: the first candle's time."""
    return min(series[0].ts_ms for series in candles.values())


def schedule(candles: Mapping[str, Sequence[Candle]],
             shift_ms: int = 0) -> list[list[tuple[int, str, Decimal]]]:
    """One pass of the replay: per timestamp, its ``(ts_ms, symbol, price)`` events in order."""
    d = candle_length_ms(candles)
    offsets = (0, d // 3, 2 * d // 3, d - 1)
    by_ts: dict[int, list[tuple[str, Candle]]] = {}
    for symbol, series in candles.items():
        for candle in series:
            by_ts.setdefault(candle.ts_ms, []).append((symbol, candle))
    out = []
    for ts in sorted(by_ts):
        group = sorted(by_ts[ts], key=lambda item: item[0])
        prices = [(s, candle_prices(c.open, c.high, c.low, c.close)) for s, c in group]
        out.append([(ts + shift_ms + offsets[phase], s, p[phase])
                    for phase in range(4) for s, p in prices])
    return out


async def run_csv_feed(exchange: PricePusher, candles: Mapping[str, Sequence[Candle]], *,
                       interval_ms: int, loop: bool = False, clock: FeedClock | None = None,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Replay ``candles`` into ``exchange``; returns at the end unless ``loop``."""
    if interval_ms < 0:
        raise ValueError(f"replay_interval_ms must be >= 0, got {interval_ms}")
    if not candles:
        raise ValueError("no candle files to replay")
    await exchange.fetch_prices(sorted(candles))  # UnknownSymbol before we report started
    span = max(s[-1].ts_ms for s in candles.values()) - first_ts(candles) \
        + candle_length_ms(candles)
    task_status.started()
    passes = 0
    while True:
        for step in schedule(candles, shift_ms=passes * span):
            for ts, symbol, price in step:
                if clock is not None:
                    clock.advance(ts)
                await exchange.push_price(symbol, price, ts)
            if interval_ms:
                await trio.sleep(interval_ms / 1000)
            else:
                await trio.lowlevel.checkpoint()
        passes += 1
        if not loop:
            log.info("paper replay finished", extra={"event": "paper_replay_finished"})
            return
        log.info("paper replay restarts", extra={"event": "paper_replay_loop",
                                                 "data": {"pass": passes}})
