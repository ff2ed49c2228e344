"""The price chart of one group (``GET /api/groups/{id}/chart``): the symbol's bars over the
group's life, its price levels and its fills.

Owns: nothing but a cache of the replayed candle files (CSV feed on the feed clock).
Receives: ``chart(group_id)`` from the web through the handle's ``charts``.
Sends: ``{"bars": [[t_ms, o, h, l, c], ...], "levels": {"legs": [{price, filled, pyramid,
leg}], "tps": [{price, pyramid, leg, state}], "avg_entry", "aggregate_target"}, "fills":
[{t_ms, price, qty, side}]}``, decimals as strings. Levels and fills are the group detail's
own figures (``actors/read/groups.py`` through ``group``), so the chart shows exactly what
the positions page shows. Bars: the recorded 1-minute bars (``PriceHistory``) from
``PADDING_MS`` before the group opened to its close (or now); with a CSV replay on the feed
clock, the replayed candles themselves.
Fails how: an unknown group gives None (404); an unreadable candle file raises
``CandleFileError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.market.history import Bar, PriceHistory

PADDING_MS = 30 * 60_000  # context before the group opened
MAX_BARS = 5_000  # the newest ones are kept


def _text(value: object) -> str:
    return format(value, "f")


class PriceCharts:
    def __init__(self, *, group: Callable[[int], dict[str, Any] | None],
                 history: PriceHistory | None, clock_ms: Callable[[], int],
                 candle_files: Mapping[str, Path] | None = None):
        self._group = group
        self._history = history
        self._clock_ms = clock_ms
        self._candle_files = candle_files
        self._candles: dict[str, Sequence[Any]] | None = None

    def chart(self, group_id: int) -> dict[str, Any] | None:
        g = self._group(group_id)
        if g is None or g.get("queue_id") is not None:
            return None
        since = g["created_at"] - PADDING_MS
        until = g["closed_at"] or self._clock_ms()
        bars = self._bars(g["symbol"], since, until)[-MAX_BARS:]
        return {
            "symbol": g["symbol"], "side": g["side"], "from_ms": since, "to_ms": until,
            "bars": [[t, _text(o), _text(h), _text(low), _text(c)] for t, o, h, low, c in bars],
            "levels": levels(g), "fills": [
                {"t_ms": f["ts"], "price": f["price"], "qty": f["quantity"], "side": f["side"]}
                for f in g.get("fills", [])],
        }

    def _bars(self, symbol: str, since: int, until: int) -> list[Bar]:
        if self._candle_files is not None:
            return self._replayed(symbol, since, until)
        if self._history is None:
            return []
        return self._history.bars(symbol, since, until)

    def _replayed(self, symbol: str, since: int, until: int) -> list[Bar]:
        from actors.exchange.paper_feed import load_candle_files

        if self._candles is None:
            self._candles = load_candle_files(dict(self._candle_files or {}))
        return [(c.ts_ms, c.open, c.high, c.low, c.close)
                for c in self._candles.get(symbol, ()) if since <= c.ts_ms <= until]


def _filled(leg: dict[str, Any]) -> bool:
    return Decimal(leg.get("filled_quantity") or 0) > 0


def levels(g: dict[str, Any]) -> dict[str, Any]:
    """The horizontal lines: every leg's planned price (filled or not), the per-leg TP of each
    filled leg (leg and hybrid modes), the average entry and the aggregate target."""
    legs = g.get("legs") or []
    return {
        "legs": [{"price": leg["planned_price"], "filled": _filled(leg),
                  "pyramid": leg["pyramid"], "leg": leg["leg"]}
                 for leg in legs if leg["planned_price"] is not None],
        "tps": [{"price": leg["tp_price"], "pyramid": leg["pyramid"], "leg": leg["leg"],
                 "state": leg["tp_state"]} for leg in legs
                if leg["tp_target"] == "leg" and leg["tp_price"] is not None and _filled(leg)],
        "avg_entry": g.get("avg_entry"),
        "aggregate_target": g.get("aggregate_target"),
    }
