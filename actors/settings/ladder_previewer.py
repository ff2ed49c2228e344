"""The Live Preview's ladder (SPEC 11.5 F): what a draft configuration would place for one
symbol at its current price and a chosen notional.

Owns: nothing — it reads the running engine's market rules and latest price and hands them,
with the draft, to the pure ``engine.ladder_preview``.
Receives: ``preview`` from the handle (``handle.ladder_preview``; admin route
``POST /api/config/preview/ladder``).
Sends: nothing (no order, no log event: a preview changes nothing).
Fails how: ``ConfigRefused`` listing every problem (HTTP 422) for a draft that is invalid; an
answer with ``ok: false`` and the reason when no ladder can be planned (unknown symbol under
strict mode, no price known and none given, a pyramid index the draft does not allow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from actors.settings.config_service import ConfigRefused, ConfigService
from engine.config import parse_config
from engine.ladder_preview import ladder_preview
from engine.types import MarketRules, Side


class LadderPreviewer:
    def __init__(self, configuration: ConfigService,
                 markets: Callable[[], Mapping[str, MarketRules] | None],
                 core: Callable[[], Any], clock_ms: Callable[[], int]):
        self.configuration = configuration
        self.markets = markets
        self.core = core
        self.clock_ms = clock_ms

    def rules(self, symbol: str) -> MarketRules | None:
        """The running engine's rules for ``symbol`` (its precision cache), else the market
        list the webhook checks symbols against."""
        core = self.core()
        if core is not None and (found := core.precision.all_rules().get(symbol)) is not None:
            return found
        return (self.markets() or {}).get(symbol)

    def price(self, symbol: str) -> Decimal | None:
        core = self.core()
        latest = core.market.price(symbol) if core is not None else None
        return None if latest is None else latest[0]

    def preview(self, *, text: str | None, changes: dict[str, Any] | None, symbol: str,
                timeframe: int, side: Side, pyramid: int, notional: Decimal,
                price: Decimal | None) -> dict[str, Any]:
        draft = self.configuration.draft_text(text=text, changes=changes)
        problems = self.configuration.config_store.validate_text(draft)
        if problems:
            raise ConfigRefused(problems)
        symbol = symbol.strip().upper()
        current = self.price(symbol)
        use = price if price is not None else current
        if use is None:
            return {"ok": False, "symbol": symbol, "current_price": None,
                    "reason": f"no price known for {symbol} yet: enter one"}
        result = ladder_preview(parse_config(draft), symbol=symbol, timeframe=timeframe,
                                side=side, pyramid=pyramid, notional=notional, price=use,
                                rules=self.rules(symbol), now_ms=self.clock_ms())
        return {**result, "symbol": symbol, "current_price": current}
