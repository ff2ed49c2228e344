"""One display rule per kind of number (engine/display.py)."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.display import Display, for_quote, for_rules, percent, plain, quote_places
from engine.types import MarketRules

BTC = MarketRules(symbol="BTCUSDT", ccxt_symbol="BTC/USDT", base="BTC", quote="USDT",
                  tick_size=D("0.01000000"), step_size=D("0.00001000"), min_qty=D("0.00001"),
                  quote_precision=8)
ETHBTC = MarketRules(symbol="ETHBTC", ccxt_symbol="ETH/BTC", base="ETH", quote="BTC",
                     tick_size=D("0.00001"), step_size=D("0.0001"), min_qty=D("0.0001"),
                     quote_precision=8)


def test_the_three_spellings_of_one_loss_become_one():
    show = for_rules(BTC)
    assert {show.usd(D(v)) for v in ("-0.02", "-0.020", "-0.019800")} == {"-0.02"}


def test_prices_to_the_tick_quantities_to_the_step():
    show = for_rules(BTC)
    assert show.price(D("60000.5")) == "60000.50"
    assert show.price(D("59999.666666666666666666666667")) == "59999.67"
    assert show.qty(D("0.0015")) == "0.00150"
    assert show.qty(D("1.234565")) == "1.23457"  # half-up


def test_a_tick_that_is_not_a_power_of_ten():
    show = Display(tick=D("0.5"), step=D("0.05"))
    assert show.price(D("100.26")) == "100.5"
    assert show.price(D("100.24")) == "100.0"
    assert show.qty(D("1.024")) == "1.00"


def test_usd_follows_the_quote_asset():
    assert quote_places("USDT") == quote_places("USDC") == 2
    assert quote_places("BTC", 8) == 8
    assert for_rules(ETHBTC).usd(D("0.000012345678")) == "0.00001235"
    assert for_quote("USDT").usd(D("1.005")) == "1.01"  # ROUND_HALF_UP, not banker's


def test_percentages_and_no_negative_zero():
    assert percent(D("1.9462833")) == "1.95"
    assert percent(D("-0.004")) == "0.00"
    assert for_quote("USDT").usd(D("-0.001")) == "0.00"
    assert percent(None) is None


def test_without_rules_prices_and_quantities_stay_exact():
    show = for_rules(None, "USDT")
    assert show.price(D("1E+2")) == "100" and show.qty(D("0.000123")) == "0.000123"
    assert show.usd(D("12.3456")) == "12.35"
    assert plain(D("1E+3")) == "1000"


def test_fees_in_the_asset_they_were_charged_in():
    show = for_rules(BTC)
    assert show.fee(D("0.0600000"), "USDT", quote="USDT", base="BTC") == "0.06"
    assert show.fee(D("0.0000015"), "BTC", quote="USDT", base="BTC") == "0.00000"
    assert show.fee(D("0.00001234"), "BNB", quote="USDT", base="BTC") == "0.00001234"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=12),
       tick=st.sampled_from(["0.01", "0.00001", "0.5", "1", "0.0025"]))
def test_a_shown_price_is_on_the_tick_and_within_half_a_tick(value, tick):
    shown = D(Display(tick=D(tick)).price(value))
    assert shown % D(tick) == 0
    assert abs(shown - value) <= D(tick) / 2
