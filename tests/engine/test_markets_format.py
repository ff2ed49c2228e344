"""Rules from elsewhere (ccxt's unified markets of another exchange) written in the paper
exchange's markets format read back as the same rules (engine/markets_format.py)."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.markets import rules_from_binance_exchange_info
from engine.markets_format import binance_entry
from engine.types import MarketRules

increments = st.sampled_from([D("0.00000001"), D("0.0001"), D("0.01"), D("0.5"), D(1), D(10)])
bounds = st.one_of(st.none(), st.sampled_from([D("0.001"), D(5), D("1000000"), D("9000.5")]))


@st.composite
def rules(draw) -> MarketRules:
    base = draw(st.sampled_from(["BTC", "SOL", "PEPE", "X1"]))
    band = draw(st.booleans())
    return MarketRules(
        symbol=f"{base}USDT", ccxt_symbol=f"{base}/USDT", base=base, quote="USDT",
        tick_size=draw(increments), step_size=draw(increments),
        min_qty=draw(st.sampled_from([D("0.00001"), D(1), D(0)])), max_qty=draw(bounds),
        market_min_qty=draw(bounds), market_max_qty=draw(bounds),
        min_notional=draw(st.sampled_from([D(0), D(5), D("0.1")])),
        min_notional_applies_to_market=draw(st.booleans()), max_notional=draw(bounds),
        min_price=draw(bounds), max_price=draw(bounds),
        bid_multiplier_up=D(5) if band else None, bid_multiplier_down=D("0.2") if band else None,
        ask_multiplier_up=D(5) if band else None, ask_multiplier_down=D("0.2") if band else None,
        max_num_orders=draw(st.one_of(st.none(), st.integers(1, 1000))),
        base_precision=draw(st.one_of(st.none(), st.integers(0, 8))),
        quote_precision=draw(st.one_of(st.none(), st.integers(0, 8))), fetched_at_ms=7)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rules())
def test_the_entry_reads_back_as_the_same_rules(r):
    back = rules_from_binance_exchange_info({"symbols": [binance_entry(r)]}, fetched_at_ms=7)
    assert back == {r.symbol: r}


def test_numbers_are_plain_text():
    r = MarketRules(symbol="AUSDT", ccxt_symbol="A/USDT", base="A", quote="USDT",
                    tick_size=D("1E-8"), step_size=D("1E+1"), min_qty=D(10))
    price, lot = binance_entry(r)["filters"][:2]
    assert (price["tickSize"], lot["stepSize"], price["maxPrice"]) == ("0.00000001", "10", "0")
