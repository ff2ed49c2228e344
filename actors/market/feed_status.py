"""Where the engine's prices come from, for ``/api/status`` and the dashboard (``handle.price_feed``).

Owns: nothing; it reads the live feed (paper ``feed = "live"``), market data's newest prices
and the exchange health.
Receives: ``status()`` from the handle.
Sends: ``{"feed": "live"|"api"|"csv"|"exchange", "exchange", "state", "stale_after_ms",
"stale", "symbols": {SYMBOL: {"price", "age_ms", ...}}, "markets"}`` — ``markets`` (paper
only) names the markets file, its exchange, fetch time and age.
Fails how: never raises; an unreadable markets file is reported in ``markets.error``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.market.markets_file import markets_source
from engine.config import Config

STATES = {"api": "manual", "csv": "replaying"}


def stale_limit_ms(cfg: Config) -> int | None:
    """The age past which a price is stale: the live feed's ``stale_sec``; None elsewhere
    (pushed and replayed prices have no such limit)."""
    paper = cfg.exchange.paper
    if cfg.exchange.name == "paper" and paper.feed == "live":
        return paper.live.stale_sec * 1000
    return None


class PriceFeedStatus:
    def __init__(self, *, config: Callable[[], Config],
                 prices: Callable[[], dict[str, tuple[Decimal, int]]],
                 clock_ms: Callable[[], int], wall_ms: Callable[[], int], live: Any = None,
                 health: Any = None, markets_path: Path | None = None):
        self._config = config
        self._prices = prices
        self._clock_ms = clock_ms
        self._wall_ms = wall_ms
        self._live = live
        self._health = health
        self._markets_path = markets_path

    def status(self) -> dict[str, Any]:
        cfg = self._config()
        paper = cfg.exchange.name == "paper"
        if self._live is not None:
            out = self._live.status()
        else:
            feed = cfg.exchange.paper.feed if paper else "exchange"
            state = STATES.get(feed)
            if state is None and self._health is not None:
                state = "connected" if self._health.stream_up else "disconnected"
            now = self._clock_ms()
            out = {"feed": feed, "exchange": cfg.exchange.name, "state": state,
                   "stale_after_ms": None, "stale": [],
                   "symbols": {s: {"price": format(p, "f"), "age_ms": now - at}
                               for s, (p, at) in sorted(self._prices().items())}}
        if paper:
            out["markets"] = self.markets()
        return out

    def markets(self) -> dict[str, Any] | None:
        """The paper exchange's markets file, its exchange, fetch time and age (None: a real
        exchange, whose rules come from its precision sync)."""
        if self._config().exchange.name != "paper":
            return None
        return markets_source(self._markets_path, self._wall_ms())
