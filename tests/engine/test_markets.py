"""Binance exchange-info parsing against the real snapshot (tests/data) and edge cases."""

import copy
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine.errors import InvalidInput
from engine.markets import (
    RateLimit,
    load_exchange_info,
    rate_limits_from_binance_exchange_info,
    rules_from_binance_exchange_info,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"


@pytest.fixture(scope="module")
def info() -> dict:
    return load_exchange_info(DATA.read_text())


def _symbol(info: dict, name: str) -> dict:
    return next(s for s in info["symbols"] if s["symbol"] == name)


def test_btcusdt_rules_from_the_real_snapshot(info):
    rules = rules_from_binance_exchange_info(info, fetched_at_ms=123)
    assert len(rules) == 11
    btc = rules["BTCUSDT"]
    assert (btc.symbol, btc.ccxt_symbol, btc.base, btc.quote) == ("BTCUSDT", "BTC/USDT", "BTC",
                                                                  "USDT")
    assert btc.tick_size == D("0.01") and str(btc.tick_size) == "0.01"
    assert (btc.min_price, btc.max_price) == (D("0.01"), D("1000000"))
    assert (btc.step_size, btc.min_qty, btc.max_qty) == (D("0.00001"), D("0.00001"), D("9000"))
    # MARKET_LOT_SIZE publishes minQty 0 and stepSize 0: "no limit"
    assert btc.market_step_size is None and btc.market_min_qty is None
    assert btc.market_max_qty == D("128.52621715")
    assert (btc.min_notional, btc.min_notional_applies_to_market) == (D("5"), True)
    assert btc.max_notional == D("9000000")
    assert (btc.bid_multiplier_up, btc.bid_multiplier_down) == (D("5"), D("0.2"))
    assert (btc.ask_multiplier_up, btc.ask_multiplier_down) == (D("5"), D("0.2"))
    assert btc.max_num_orders == 200
    assert (btc.base_precision, btc.quote_precision) == (8, 8)
    assert btc.fetched_at_ms == 123


@pytest.mark.parametrize("symbol,tick,step,min_qty,min_notional", [
    ("ETHUSDT", "0.01", "0.0001", "0.0001", "5"),
    ("ADAUSDT", "0.0001", "0.1", "0.1", "5"),
    ("XRPUSDT", "0.0001", "1", "1", "5"),
    ("DOGEUSDT", "0.00001", "1", "1", "5"),
    ("ETHBTC", "0.00001", "0.0001", "0.0001", "0.0001"),
    ("ADABTC", "0.00000001", "0.1", "0.1", "0.0001"),
])
def test_other_symbols(info, symbol, tick, step, min_qty, min_notional):
    rules = rules_from_binance_exchange_info(info, fetched_at_ms=0)[symbol]
    assert (rules.tick_size, rules.step_size, rules.min_qty, rules.min_notional) == (
        D(tick), D(step), D(min_qty), D(min_notional))
    assert "E" not in str(rules.step_size)  # 1.00000000 -> 1, never 1E+0


def test_only_trading_symbols_with_price_and_lot_filters(info):
    info = copy.deepcopy(info)
    _symbol(info, "ETHUSDT")["status"] = "BREAK"
    ada = _symbol(info, "ADAUSDT")
    ada["filters"] = [f for f in ada["filters"] if f["filterType"] != "LOT_SIZE"]
    rules = rules_from_binance_exchange_info(info, fetched_at_ms=0)
    assert "ETHUSDT" not in rules and "ADAUSDT" not in rules and "BTCUSDT" in rules


def test_legacy_min_notional_filter(info):
    info = copy.deepcopy(info)
    btc = _symbol(info, "BTCUSDT")
    btc["filters"] = [f for f in btc["filters"]
                      if f["filterType"] not in ("NOTIONAL", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS",
                                                 "PERCENT_PRICE_BY_SIDE")]
    btc["filters"].append({"filterType": "MIN_NOTIONAL", "minNotional": D("10.00000000"),
                           "applyToMarket": False, "avgPriceMins": 5})
    del btc["baseAssetPrecision"], btc["quoteAssetPrecision"]
    rules = rules_from_binance_exchange_info(info, fetched_at_ms=0)["BTCUSDT"]
    assert (rules.min_notional, rules.min_notional_applies_to_market) == (D("10"), False)
    assert rules.max_notional is None and rules.max_num_orders is None
    assert rules.market_max_qty is None and rules.bid_multiplier_up is None
    assert rules.base_precision is None and rules.quote_precision == 8  # quotePrecision


def test_no_notional_filter_means_zero_minimum(info):
    info = copy.deepcopy(info)
    btc = _symbol(info, "BTCUSDT")
    btc["filters"] = [f for f in btc["filters"] if f["filterType"] != "NOTIONAL"]
    rules = rules_from_binance_exchange_info(info, fetched_at_ms=0)["BTCUSDT"]
    assert rules.min_notional == 0 and rules.max_notional is None


@pytest.mark.parametrize("mutate,field", [
    (lambda s: s["filters"][0].update(tickSize=0.01), "symbols[BTCUSDT].PRICE_FILTER.tickSize"),
    (lambda s: s["filters"][0].pop("tickSize"), "symbols[BTCUSDT].PRICE_FILTER.tickSize"),
    (lambda s: s["filters"][1].update(minQty="-1"), "symbols[BTCUSDT].LOT_SIZE.minQty"),
    (lambda s: s.pop("quoteAsset"), "symbols[BTCUSDT].baseAsset"),
    (lambda s: s["filters"][7].update(maxNumOrders="lots"), "symbols[BTCUSDT].MAX_NUM_ORDERS"),
    (lambda s: s.update(baseAssetPrecision=True), "symbols[BTCUSDT].baseAssetPrecision"),
    (lambda s: s.update(symbol=""), "symbols[].symbol"),
])
def test_malformed_entries_name_the_field(info, mutate, field):
    info = copy.deepcopy(info)
    mutate(_symbol(info, "BTCUSDT"))
    with pytest.raises(InvalidInput) as err:
        rules_from_binance_exchange_info(info, fetched_at_ms=0)
    assert err.value.field == field


def test_malformed_documents():
    with pytest.raises(InvalidInput):
        load_exchange_info("{not json")
    with pytest.raises(InvalidInput):
        load_exchange_info("[]")
    with pytest.raises(InvalidInput):
        rules_from_binance_exchange_info({"symbols": None}, fetched_at_ms=0)
    with pytest.raises(InvalidInput):
        rules_from_binance_exchange_info({"symbols": ["BTCUSDT"]}, fetched_at_ms=0)


def test_decimals_come_from_the_json_text():
    text = json.dumps({"symbols": []}).replace("[]", "[], \"x\": 0.1")
    assert load_exchange_info(text)["x"] == D("0.1")


def test_rate_limits(info):
    assert rate_limits_from_binance_exchange_info(info) == (
        RateLimit(kind="REQUEST_WEIGHT", limit=6000, window_ms=60_000),
        RateLimit(kind="ORDERS", limit=100, window_ms=10_000),
        RateLimit(kind="ORDERS", limit=200_000, window_ms=86_400_000),
    )
    assert rate_limits_from_binance_exchange_info({"symbols": []}) == ()


@pytest.mark.parametrize("entry,field", [
    ({"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 5},
     "rateLimits[0].interval"),
    ({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 0, "limit": 5},
     "rateLimits[0]"),
    ({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": None},
     "rateLimits[0].limit"),
])
def test_bad_rate_limits(entry, field):
    with pytest.raises(InvalidInput) as err:
        rate_limits_from_binance_exchange_info({"rateLimits": [entry]})
    assert err.value.field == field
