"""Real Binance spot filters for property tests, and an independent oracle of Binance's checks.

``market_rules()`` turns ``tests/data/binance_spot_exchangeinfo.json`` into MarketRules with a
small parser of the filters the tests need (engine/markets.py, owned by another helper, did not
exist yet when these tests were written). ``binance_refusal()`` re-implements the exchange's
filter semantics straight from the raw JSON, so the engine's checks are compared with the
exchange's rules, not with themselves.
"""

import json
from decimal import Decimal
from functools import cache
from pathlib import Path

from engine.types import MarketRules

DATA = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"


@cache
def raw_filters() -> dict[str, dict[str, dict]]:
    info = json.loads(DATA.read_text())
    return {s["symbol"]: {f["filterType"]: f for f in s["filters"]} for s in info["symbols"]}


@cache
def symbols_info() -> dict[str, dict]:
    return {s["symbol"]: s for s in json.loads(DATA.read_text())["symbols"]}


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@cache
def market_rules() -> dict[str, MarketRules]:
    out = {}
    for symbol, f in raw_filters().items():
        info = symbols_info()[symbol]
        price, lot, mlot = f["PRICE_FILTER"], f["LOT_SIZE"], f["MARKET_LOT_SIZE"]
        band, notional = f["PERCENT_PRICE_BY_SIDE"], f["NOTIONAL"]
        out[symbol] = MarketRules(
            symbol=symbol,
            ccxt_symbol=f"{info['baseAsset']}/{info['quoteAsset']}",
            base=info["baseAsset"],
            quote=info["quoteAsset"],
            tick_size=Decimal(price["tickSize"]),
            step_size=Decimal(lot["stepSize"]),
            min_qty=Decimal(lot["minQty"]),
            max_qty=_d(lot["maxQty"]),
            market_step_size=_d(mlot["stepSize"]),
            market_min_qty=_d(mlot["minQty"]),
            market_max_qty=_d(mlot["maxQty"]),
            min_notional=Decimal(notional["minNotional"]),
            min_notional_applies_to_market=notional["applyMinToMarket"],
            max_notional=_d(notional["maxNotional"]),
            min_price=_d(price["minPrice"]),
            max_price=_d(price["maxPrice"]),
            bid_multiplier_up=_d(band["bidMultiplierUp"]),
            bid_multiplier_down=_d(band["bidMultiplierDown"]),
            ask_multiplier_up=_d(band["askMultiplierUp"]),
            ask_multiplier_down=_d(band["askMultiplierDown"]),
            max_num_orders=f["MAX_NUM_ORDERS"]["maxNumOrders"],
        )
    return out


def binance_refusal(
    symbol: str, *, side: str, price: Decimal, qty: Decimal, current: Decimal
) -> str | None:
    """Which Binance filter would refuse this LIMIT order (None = accepted), from the raw JSON."""
    f = raw_filters()[symbol]
    pf, lot, band, notional = (
        f["PRICE_FILTER"], f["LOT_SIZE"], f["PERCENT_PRICE_BY_SIDE"], f["NOTIONAL"]
    )
    min_price, max_price, tick = (Decimal(pf[k]) for k in ("minPrice", "maxPrice", "tickSize"))
    if price < min_price or (max_price and price > max_price) or (price - min_price) % tick:
        return "PRICE_FILTER"
    min_qty, max_qty, step = (Decimal(lot[k]) for k in ("minQty", "maxQty", "stepSize"))
    if qty < min_qty or qty > max_qty or (qty - min_qty) % step:
        return "LOT_SIZE"
    key = "bid" if side == "buy" else "ask"
    up, down = Decimal(band[f"{key}MultiplierUp"]), Decimal(band[f"{key}MultiplierDown"])
    if price > current * up or price < current * down:
        return "PERCENT_PRICE_BY_SIDE"
    if price * qty < Decimal(notional["minNotional"]):
        return "NOTIONAL"
    if price * qty > Decimal(notional["maxNotional"]):
        return "NOTIONAL"
    return None
