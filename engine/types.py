"""Value types shared across the core: sides, ladder levels and a market's trading rules."""

from decimal import Decimal
from typing import Literal

import msgspec

Side = Literal["long", "short"]
TpMode = Literal["leg", "aggregate", "hybrid"]


class Level(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One DCA leg of a ladder (SPEC 3.4): all three in percent units."""

    gap_percent: Decimal
    weight_percent: Decimal
    tp_percent: Decimal


class MarketRules(msgspec.Struct, frozen=True, kw_only=True):
    """Everything SPEC 5.1 needs to know about one symbol. ``None`` = not published.

    ``symbol`` is the exchange market id without separators (``BTCUSDT``); ``ccxt_symbol`` the
    unified form (``BTC/USDT``). Percent-price band multipliers follow Binance's
    PERCENT_PRICE_BY_SIDE: a BUY limit must lie in [P*bid_down, P*bid_up], a SELL in
    [P*ask_down, P*ask_up], with P the current (weighted average) price.
    """

    symbol: str
    ccxt_symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal | None = None
    market_step_size: Decimal | None = None  # MARKET_LOT_SIZE step; 0/None = no step check
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    min_notional_applies_to_market: bool = True
    max_notional: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    bid_multiplier_up: Decimal | None = None
    bid_multiplier_down: Decimal | None = None
    ask_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None
    max_num_orders: int | None = None
    contract_size: Decimal = Decimal(1)
    fetched_at_ms: int = 0
    # most decimals a quantity / price may carry (Binance base/quoteAssetPrecision; more = -1111)
    base_precision: int | None = None
    quote_precision: int | None = None
