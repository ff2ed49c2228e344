"""ccxt market tables -> ``MarketRules`` (SPEC 5.1), and the per-exchange ccxt settings.

Binance markets are built from the raw exchange-info filters ccxt keeps in ``info`` (exact
PERCENT_PRICE_BY_SIDE bands and MARKET_LOT_SIZE, which ccxt's unified fields drop); the other
exchanges from ccxt's unified ``precision``/``limits``, whose precision is a tick size or a
number of decimal places depending on the exchange's ``precisionMode``.
"""

from decimal import Decimal

import msgspec
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from engine.markets import rules_from_binance_exchange_info
from engine.types import MarketRules


class Venue(msgspec.Struct, frozen=True, kw_only=True):
    """How one supported exchange is driven through ccxt."""

    ccxt_id: str
    create_cid_param: str  # the exchange's own client-order-id parameter on create
    lookup_cid_param: str | None  # parameter for fetch/cancel by client id (None: pass as id)
    cid_prefix: str = ""  # Gate.io requires "t-" on the wire; stripped back when decoding
    needs_passphrase: bool = False


VENUES: dict[str, Venue] = {
    "binance": Venue(ccxt_id="binance", create_cid_param="newClientOrderId",
                     lookup_cid_param="origClientOrderId"),
    "bybit": Venue(ccxt_id="bybit", create_cid_param="orderLinkId",
                   lookup_cid_param="orderLinkId"),
    "okx": Venue(ccxt_id="okx", create_cid_param="clOrdId", lookup_cid_param="clOrdId",
                 needs_passphrase=True),
    "kucoin": Venue(ccxt_id="kucoin", create_cid_param="clientOid", lookup_cid_param="clientOid",
                    needs_passphrase=True),
    # ccxt's mexc reads the unified name and sends it as origClientOrderId
    "mexc": Venue(ccxt_id="mexc", create_cid_param="newClientOrderId",
                  lookup_cid_param="clientOrderId"),
    # Gate.io accepts the client text in place of the order id on query and cancel
    "gateio": Venue(ccxt_id="gate", create_cid_param="text", lookup_cid_param=None,
                    cid_prefix="t-"),
}


def ccxt_options(name: str, market_type: str) -> dict:
    """Options that keep ``load_markets`` to one public bulk call of the wanted market type."""
    ccxt_type = "spot" if market_type == "spot" else "swap"
    if name == "binance":
        return {
            "defaultType": "spot" if market_type == "spot" else "future",
            "fetchMarkets": {"types": ["spot"] if market_type == "spot" else ["linear"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "newOrderRespType": {"market": "FULL", "limit": "FULL"},
        }
    return {"defaultType": ccxt_type, "fetchCurrencies": False}


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    d = Decimal(str(value))
    return d if d.is_finite() else None


def _increment(value: object, precision_mode: int) -> Decimal | None:
    raw = _dec(value)
    if raw is None:
        return None
    if precision_mode == TICK_SIZE:
        return raw if raw > 0 else None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(raw))
    return None  # significant digits cannot be expressed as an increment: no rules


def market_symbol(market: dict) -> str:
    """The port's symbol (``BTCUSDT``): base + quote without separators."""
    return f"{market['base']}{market['quote']}".upper()


def wanted(market: dict, market_type: str) -> bool:
    if market.get("active") is False:
        return False
    if market_type == "spot":
        return bool(market.get("spot"))
    return bool(market.get("swap") or market.get("future")) and bool(market.get("linear"))


def rules_from_markets(name: str, markets: dict[str, dict], *, market_type: str,
                       precision_mode: int, fetched_at_ms: int) -> dict[str, MarketRules]:
    chosen = [m for m in markets.values() if wanted(m, market_type)]
    if name == "binance" and market_type == "spot":
        info = {"symbols": [m["info"] for m in chosen]}
        rules = rules_from_binance_exchange_info(info, fetched_at_ms=fetched_at_ms)
        by_id = {m["id"]: m for m in chosen}
        return {sym: msgspec.structs.replace(r, ccxt_symbol=by_id[sym]["symbol"])
                for sym, r in rules.items() if sym in by_id}
    out: dict[str, MarketRules] = {}
    for m in chosen:
        rule = _unified_rules(m, precision_mode, fetched_at_ms)
        if rule is not None:
            out[rule.symbol] = rule
    return out


def _unified_rules(m: dict, precision_mode: int, fetched_at_ms: int) -> MarketRules | None:
    precision = m.get("precision") or {}
    tick = _increment(precision.get("price"), precision_mode)
    step = _increment(precision.get("amount"), precision_mode)
    if tick is None or step is None:
        return None  # SPEC 12.5: a market without tick and step metadata is not traded
    limits = m.get("limits") or {}
    amount = limits.get("amount") or {}
    price = limits.get("price") or {}
    cost = limits.get("cost") or {}
    market = limits.get("market") or {}
    return MarketRules(
        symbol=market_symbol(m),
        ccxt_symbol=m["symbol"],
        base=m["base"],
        quote=m["quote"],
        tick_size=tick,
        step_size=step,
        min_qty=_dec(amount.get("min")) or step,
        max_qty=_dec(amount.get("max")),
        market_min_qty=_dec(market.get("min")),
        market_max_qty=_dec(market.get("max")),
        min_notional=_dec(cost.get("min")) or Decimal(0),
        max_notional=_dec(cost.get("max")),
        min_price=_dec(price.get("min")),
        max_price=_dec(price.get("max")),
        contract_size=_dec(m.get("contractSize")) or Decimal(1),
        fetched_at_ms=fetched_at_ms,
    )
