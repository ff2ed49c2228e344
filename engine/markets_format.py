"""``MarketRules`` -> a Binance exchange-info symbol entry: the paper exchange's markets format
for rules that came from elsewhere (ccxt's unified precision and limits of another exchange).

The inverse of ``engine.markets`` for what the rules carry: reading the entry back gives the
same rules. Filters the rules do not know are left out, so they are not enforced:
``UNKNOWN_FROM_UNIFIED`` lists those ccxt's unified markets never carry.
"""

from decimal import Decimal

from engine.types import MarketRules

# ccxt's unified market has no field for these Binance filters / entry fields
UNKNOWN_FROM_UNIFIED = ("PERCENT_PRICE_BY_SIDE", "MAX_NUM_ORDERS", "MARKET_LOT_SIZE.stepSize",
                        "baseAssetPrecision", "quoteAssetPrecision")


def _text(value: Decimal | None) -> str:
    """Binance writes an absent bound as 0; decimals as plain text (no exponent)."""
    return "0" if value is None else format(value, "f")


def binance_entry(rules: MarketRules) -> dict:
    filters: list[dict] = [
        {"filterType": "PRICE_FILTER", "minPrice": _text(rules.min_price),
         "maxPrice": _text(rules.max_price), "tickSize": _text(rules.tick_size)},
        {"filterType": "LOT_SIZE", "minQty": _text(rules.min_qty),
         "maxQty": _text(rules.max_qty), "stepSize": _text(rules.step_size)},
        {"filterType": "NOTIONAL", "minNotional": _text(rules.min_notional),
         "applyMinToMarket": rules.min_notional_applies_to_market,
         "maxNotional": _text(rules.max_notional), "applyMaxToMarket": False},
    ]
    if any(v is not None for v in (rules.market_min_qty, rules.market_max_qty,
                                   rules.market_step_size)):
        filters.append({"filterType": "MARKET_LOT_SIZE", "minQty": _text(rules.market_min_qty),
                        "maxQty": _text(rules.market_max_qty),
                        "stepSize": _text(rules.market_step_size)})
    bands = (rules.bid_multiplier_up, rules.bid_multiplier_down, rules.ask_multiplier_up,
             rules.ask_multiplier_down)
    if all(b is not None for b in bands):
        filters.append({"filterType": "PERCENT_PRICE_BY_SIDE",
                        "bidMultiplierUp": _text(bands[0]), "bidMultiplierDown": _text(bands[1]),
                        "askMultiplierUp": _text(bands[2]), "askMultiplierDown": _text(bands[3])})
    if rules.max_num_orders is not None:
        filters.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": rules.max_num_orders})
    entry: dict = {"symbol": rules.symbol, "status": "TRADING", "baseAsset": rules.base,
                   "quoteAsset": rules.quote, "filters": filters}
    if rules.base_precision is not None:
        entry["baseAssetPrecision"] = rules.base_precision
    if rules.quote_precision is not None:
        entry["quoteAssetPrecision"] = rules.quote_precision
    return entry
