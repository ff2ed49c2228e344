"""Binance exchange-info JSON -> MarketRules per symbol (SPEC 5.1, 12.6) and rate limits.

Decimals come from the JSON text itself: load it with ``load_exchange_info`` (``parse_float=
Decimal``); a float anywhere in a filter is refused, because its binary value is not the
exchange's number. Increments are stored without Binance's trailing zeros (``0.01000000`` ->
``0.01``), exactly equal in value. A published 0 means "no limit" and becomes ``None``.
Only symbols with ``status == "TRADING"`` and both PRICE_FILTER and LOT_SIZE are kept.
"""

import json
from decimal import Decimal
from typing import Literal

import msgspec

from engine.decimals import dec, plain
from engine.errors import InvalidInput
from engine.types import MarketRules

RateLimitKind = Literal["REQUEST_WEIGHT", "ORDERS"]
_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    """One Binance ``rateLimits`` entry: at most ``limit`` units per ``window_ms``."""

    kind: RateLimitKind
    limit: int
    window_ms: int


def load_exchange_info(text: str | bytes) -> dict:
    """Parse exchange-info JSON keeping every number exact."""
    try:
        info = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise InvalidInput("exchange_info", f"not valid JSON: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise InvalidInput("exchange_info.symbols", "expected an object with a symbols list")
    return info


_clean = plain  # drop trailing zeros without switching to exponent notation


def _num(f: dict, key: str, field: str) -> Decimal:
    if key not in f:
        raise InvalidInput(f"{field}.{key}", "missing")
    value = _clean(dec(f[key], f"{field}.{key}"))
    if value < 0:
        raise InvalidInput(f"{field}.{key}", f"must be >= 0, got {value}")
    return value


def _limit(f: dict | None, key: str, field: str) -> Decimal | None:
    """An optional bound: absent or published as 0 means no bound."""
    if f is None or key not in f:
        return None
    value = _num(f, key, field)
    return value if value > 0 else None


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(field, f"expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(field, f"expected an integer, got {value!r}") from None


def _rules(entry: dict, fetched_at_ms: int) -> MarketRules | None:
    symbol = entry.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise InvalidInput("symbols[].symbol", f"expected a symbol name, got {symbol!r}")
    where = f"symbols[{symbol}]"
    if entry.get("status") != "TRADING":
        return None
    filters = {f.get("filterType"): f for f in entry.get("filters", []) if isinstance(f, dict)}
    price, lot = filters.get("PRICE_FILTER"), filters.get("LOT_SIZE")
    if price is None or lot is None:
        return None  # SPEC 12.5: a market without tick and step metadata is not tradable
    base, quote = entry.get("baseAsset"), entry.get("quoteAsset")
    if not isinstance(base, str) or not isinstance(quote, str) or not base or not quote:
        raise InvalidInput(f"{where}.baseAsset", "baseAsset and quoteAsset are required")
    pf, lf = f"{where}.PRICE_FILTER", f"{where}.LOT_SIZE"
    market_lot = filters.get("MARKET_LOT_SIZE")
    mf = f"{where}.MARKET_LOT_SIZE"
    band = filters.get("PERCENT_PRICE_BY_SIDE")
    bf = f"{where}.PERCENT_PRICE_BY_SIDE"
    # NOTIONAL superseded MIN_NOTIONAL; a market publishes one of them
    notional, nf = filters.get("NOTIONAL"), f"{where}.NOTIONAL"
    if notional is not None:
        min_notional = _num(notional, "minNotional", nf) if "minNotional" in notional else None
        applies = bool(notional.get("applyMinToMarket", True))
        max_notional = _limit(notional, "maxNotional", nf)
    elif (old := filters.get("MIN_NOTIONAL")) is not None:
        min_notional = _num(old, "minNotional", f"{where}.MIN_NOTIONAL")
        applies = bool(old.get("applyToMarket", True))
        max_notional = None
    else:
        min_notional, applies, max_notional = None, True, None
    max_orders = filters.get("MAX_NUM_ORDERS")
    return MarketRules(
        symbol=symbol,
        ccxt_symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        tick_size=_num(price, "tickSize", pf),
        step_size=_num(lot, "stepSize", lf),
        min_qty=_num(lot, "minQty", lf),
        max_qty=_limit(lot, "maxQty", lf),
        market_step_size=_limit(market_lot, "stepSize", mf),
        market_min_qty=_limit(market_lot, "minQty", mf),
        market_max_qty=_limit(market_lot, "maxQty", mf),
        min_notional=min_notional if min_notional is not None else Decimal(0),
        min_notional_applies_to_market=applies,
        max_notional=max_notional,
        min_price=_limit(price, "minPrice", pf),
        max_price=_limit(price, "maxPrice", pf),
        bid_multiplier_up=_limit(band, "bidMultiplierUp", bf),
        bid_multiplier_down=_limit(band, "bidMultiplierDown", bf),
        ask_multiplier_up=_limit(band, "askMultiplierUp", bf),
        ask_multiplier_down=_limit(band, "askMultiplierDown", bf),
        max_num_orders=(None if max_orders is None else
                        _int(max_orders.get("maxNumOrders"), f"{where}.MAX_NUM_ORDERS")),
        fetched_at_ms=fetched_at_ms,
        base_precision=_precision(entry, "baseAssetPrecision", where),
        quote_precision=_precision(entry, "quoteAssetPrecision", where, "quotePrecision"),
    )


def _precision(entry: dict, key: str, where: str, fallback: str | None = None) -> int | None:
    value = entry.get(key, entry.get(fallback) if fallback else None)
    return None if value is None else _int(value, f"{where}.{key}")


def rules_from_binance_exchange_info(info: dict, *, fetched_at_ms: int) -> dict[str, MarketRules]:
    """Every TRADING symbol's rules, keyed by exchange market id (``BTCUSDT``)."""
    symbols = info.get("symbols")
    if not isinstance(symbols, list):
        raise InvalidInput("exchange_info.symbols", "expected a list of symbols")
    out: dict[str, MarketRules] = {}
    for entry in symbols:
        if not isinstance(entry, dict):
            raise InvalidInput("symbols[]", f"expected an object, got {entry!r}")
        rules = _rules(entry, fetched_at_ms)
        if rules is not None:
            out[rules.symbol] = rules
    return out


def rate_limits_from_binance_exchange_info(info: dict) -> tuple[RateLimit, ...]:
    """The REQUEST_WEIGHT and ORDERS budgets (RAW_REQUESTS and unknown kinds are skipped)."""
    out = []
    for i, entry in enumerate(info.get("rateLimits") or []):
        kind = entry.get("rateLimitType")
        if kind not in ("REQUEST_WEIGHT", "ORDERS"):
            continue
        field = f"rateLimits[{i}]"
        unit = _INTERVAL_MS.get(entry.get("interval"))
        if unit is None:
            raise InvalidInput(f"{field}.interval", f"unknown interval {entry.get('interval')!r}")
        count = _int(entry.get("intervalNum", 1), f"{field}.intervalNum")
        limit = _int(entry.get("limit"), f"{field}.limit")
        if count <= 0 or limit <= 0:
            raise InvalidInput(field, f"interval and limit must be > 0, got {count}/{limit}")
        out.append(RateLimit(kind=kind, limit=limit, window_ms=unit * count))
    return tuple(out)
