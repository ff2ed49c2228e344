"""Ladder planning (SPEC 3.3-3.10, 6.3): vectors V1-V4, D1-D3, D12, D13, D16 and properties."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config.model import GridOverride, GridStrategyConfig
from engine.errors import InvalidInput
from engine.ladder import (
    DEFAULT_LEVELS,
    NO_SIZE,
    GridSettings,
    PlanRejected,
    PyramidPlan,
    aggregate_target,
    can_add_pyramid,
    effective_grid,
    expected_profit,
    ladder_for_pyramid,
    ladder_is_stale,
    leg_tp_price,
    plan_pyramid,
    pyramid_notional,
    reanchor_legs,
    reference_price,
    validate_levels,
)
from engine.types import Level, MarketRules
from tests.engine.binance_oracle import binance_refusal, market_rules


def lv(gap, weight, tp) -> Level:
    return Level(gap_percent=D(gap), weight_percent=D(weight), tp_percent=D(tp))


def market(tick, step, min_qty=None, min_notional="0", **kw) -> MarketRules:
    return MarketRules(
        symbol="TEST", ccxt_symbol="T/USDT", base="T", quote="USDT", tick_size=D(tick),
        step_size=D(step), min_qty=D(min_qty or step), min_notional=D(min_notional), **kw,
    )


def plan(rules, reference, notional, side="long", settings=GridSettings(), pyramid=0, current=None):
    return plan_pyramid(
        settings, pyramid=pyramid, side=side, reference=D(reference), notional=D(notional),
        rules=rules, current_price=D(current or reference),
    )


def average(p: PyramidPlan) -> D:
    return sum((leg.price * leg.qty for leg in p.legs), D(0)) / sum((leg.qty for leg in p.legs), D(0))


# --- SPEC 13 vectors ---------------------------------------------------------------------------

def test_v1_default_ladder():
    assert [(l.gap_percent, l.weight_percent, l.tp_percent) for l in DEFAULT_LEVELS] == [
        (D("0"), D("20"), D("1")), (D("-0.5"), D("20"), D("0.5")), (D("-1.0"), D("20"), D("2")),
        (D("-1.5"), D("20"), D("1.5")), (D("-2.0"), D("20"), D("1")),
    ]
    assert sum(l.weight_percent for l in DEFAULT_LEVELS) == 100
    validate_levels(DEFAULT_LEVELS, max_dca=7)


def test_v2_leg_prices_at_100():
    p = plan(market("0.01", "0.001"), "100", "1000")
    assert [leg.price for leg in p.legs] == [D("100.00"), D("99.50"), D("99.00"), D("98.50"), D("98.00")]


@pytest.mark.parametrize(
    "fill,tp,tick,expected",
    [("99.00", "1.5", "0.01", "100.48"), ("98.50", "1.5", "0.01", "99.97")],  # V3, V4
)
def test_v3_v4_leg_tp(fill, tp, tick, expected):
    assert leg_tp_price(D(fill), D(tp), "long", D(tick)) == D(expected)


D1 = [  # price, qty, notional, tp
    ("0.01171", "17079", "199.99509", "0.01182"),
    ("0.01165", "17167", "199.99555", "0.01170"),
    ("0.01159", "17256", "199.99704", "0.01182"),
    ("0.01153", "17346", "199.99938", "0.01170"),
    ("0.01147", "17436", "199.99092", "0.01158"),
]
D2 = [
    ("100.00", "2.000", "200.000", "101.00"),
    ("99.50", "2.010", "199.995", "99.99"),
    ("99.00", "2.020", "199.980", "100.98"),
    ("98.50", "2.030", "199.955", "99.97"),
    ("98.00", "2.040", "199.920", "98.98"),
]
D3 = [
    ("60000.0", "0.0033", "198.00", "60600.0"),
    ("59700.0", "0.0033", "197.01", "59998.5"),
    ("59400.0", "0.0033", "196.02", "60588.0"),
    ("59100.0", "0.0033", "195.03", "59986.5"),
    ("58800.0", "0.0034", "199.92", "59388.0"),
]
D16 = [  # short mirror
    ("100.00", "2.000", "200.000", "99.00"),
    ("100.50", "1.990", "199.995", "99.99"),
    ("101.00", "1.980", "199.980", "98.98"),
    ("101.50", "1.970", "199.955", "99.97"),
    ("102.00", "1.960", "199.920", "100.98"),
]

LADDERS = [
    # name, rules, reference, side, legs, total qty, cost, aggregate T -> target
    ("D1", market("0.00001", "1"), "0.01171", "long", D1, "86284", "999.97798", {"1": "0.01170", "2": "0.01182"}),
    ("D2", market("0.01", "0.001"), "100", "long", D2, "10.100", "999.85", {"1": "99.98"}),
    ("D3", market("0.10", "0.0001", min_notional="5"), "60000", "long", D3, "0.0166", "985.98", {"1": "59990.3"}),
    ("D16", market("0.01", "0.001"), "100", "short", D16, "9.900", "999.85", {"1": "99.98"}),
]


@pytest.mark.parametrize("name,rules,ref,side,rows,qty,cost,targets", LADDERS, ids=[x[0] for x in LADDERS])
def test_ladder_vectors(name, rules, ref, side, rows, qty, cost, targets):
    p = plan(rules, ref, "1000", side=side)
    assert isinstance(p, PyramidPlan)
    got = [
        (leg.price, leg.qty, leg.notional, leg_tp_price(leg.price, leg.tp_percent, side, rules.tick_size))
        for leg in p.legs
    ]
    assert got == [tuple(D(x) for x in row) for row in rows]
    assert sum(leg.qty for leg in p.legs) == D(qty)
    assert sum(leg.notional for leg in p.legs) == D(cost)
    assert [leg.index for leg in p.legs] == [0, 1, 2, 3, 4]
    assert all(leg.order_type == "limit" for leg in p.legs)
    for t, target in targets.items():
        assert aggregate_target(average(p), D(t), side, rules.tick_size) == D(target)


def test_d1_d2_d3_raw_averages():
    d2 = plan(market("0.01", "0.001"), "100", "1000")
    assert str(average(d2))[:11] == "98.99504950"
    assert average(d2) * D("1.01") == D("99.985")
    d3 = plan(market("0.10", "0.0001"), "60000", "1000")
    assert str(average(d3)).startswith("59396.3855")
    d16 = plan(market("0.01", "0.001"), "100", "1000", side="short")
    assert str(average(d16)).startswith("100.994949") and average(d16) * D("0.99") == D("99.985")


def test_d3_small_notional_rejects_the_whole_signal():
    got = plan(market("0.10", "0.0001", min_notional="5"), "60000", "20")
    assert isinstance(got, PlanRejected)
    assert {(p.leg, p.rule) for p in got.problems} == {
        (i, r) for i in range(5) for r in ("min_qty", "min_notional")
    }
    assert "DCA0" in got.reason and "min_qty" in got.reason


@pytest.mark.parametrize(
    "size,kind,contract,capital,expected",
    [  # D12 (reference 60000)
        ("2.5", "contracts", "1", "0", "150000"),
        ("1000", "quote", "1", "0", "1000"),
        ("0.05", "base", "1", "0", "3000"),
        ("2.5", "contracts", "0.001", "0", "150"),
        ("0.05", "base", "0.001", "0", "3000"),
        (None, "quote", "1", "500", "500"),
        ("0", "quote", "1", "500", "500"),
        (None, "quote", "1", "0", None),
        ("0", "contracts", "1", "0", None),
    ],
)
def test_d12_sizing(size, kind, contract, capital, expected):
    n = pyramid_notional(
        order_size=None if size is None else D(size), size_type=kind, reference=D("60000"),
        contract_size=D(contract), capital_per_pyramid_usd=D(capital),
    )
    assert n == (None if expected is None else D(expected))
    assert NO_SIZE == "no size: order_size missing and capital_per_pyramid_usd is 0"


def test_d13_expected_profit():
    assert expected_profit(D("1000"), DEFAULT_LEVELS) == D("12.00")
    assert expected_profit(D("500"), DEFAULT_LEVELS) == D("6.00")


# --- settings, overrides, validation -----------------------------------------------------------

BASE = GridSettings(capital_per_pyramid_usd=D("100"))
SPECIFIC = (lv("0", "50", "1"), lv("-1", "50", "1"))


def test_overrides_exact_beats_star_and_merge_key_by_key():
    overrides = {
        "Binance:btcusdt:*": {"tp_percent": D("2"), "capital_per_pyramid_usd": "300"},
        "BINANCE:BTCUSDT:60": GridOverride(tp_mode="hybrid", tp_percent=D("1.5")),
        "binance:ETHUSDT:60": {"tp_percent": D("9")},
    }
    hourly = effective_grid(BASE, overrides, exchange="binance", symbol="BTCUSDT", timeframe=60)
    assert (hourly.tp_mode, hourly.tp_percent, hourly.capital_per_pyramid_usd) == ("hybrid", D("1.5"), D("300"))
    other = effective_grid(BASE, overrides, exchange="binance", symbol="BTCUSDT", timeframe=15)
    assert (other.tp_mode, other.tp_percent) == ("leg", D("2"))
    none = effective_grid(BASE, overrides, exchange="binance", symbol="SOLUSDT", timeframe=60)
    assert none == BASE


def test_override_ladders_and_alias():
    base = GridSettings(pyramid_specific_levels={"1": SPECIFIC, "2": SPECIFIC})
    override = {
        "tp_mode": "per_leg",
        "pyramid_specific_levels": {4: [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "3"}]},
        "dca_levels": [lv("0", "100", "1")],
    }
    got = effective_grid(base, {"paper:X:*": override}, exchange="paper", symbol="X", timeframe=5)
    assert got.tp_mode == "leg"
    assert got.pyramid_specific_levels == {"4": (lv("0", "100", "3"),)}  # the whole table replaced
    assert ladder_for_pyramid(got, 4) == (lv("0", "100", "3"),)
    assert ladder_for_pyramid(got, 1) == (lv("0", "100", "1"),)


@pytest.mark.parametrize(
    "override,field",
    [
        ({"max_pyramids_per_group": 3}, "grid_strategy.overrides.paper:X:*.max_pyramids_per_group"),
        ({"tp_mode": "both"}, "grid_strategy.overrides.paper:X:*.tp_mode"),
        ({"dca_levels": "0,100,1"}, "grid_strategy.overrides.paper:X:*.dca_levels"),
        ({"dca_levels": [3]}, "grid_strategy.overrides.paper:X:*.dca_levels[0]"),
        ({"dca_levels": [{"gap_percent": "x"}]}, "grid_strategy.overrides.paper:X:*.dca_levels[0].gap_percent"),
        ({"pyramid_specific_levels": []}, "grid_strategy.overrides.paper:X:*.pyramid_specific_levels"),
        ({"tp_percent": 1.5}, "grid_strategy.overrides.paper:X:*.tp_percent"),
    ],
)
def test_bad_overrides_name_the_field(override, field):
    with pytest.raises(InvalidInput) as err:
        effective_grid(BASE, {"paper:X:*": override}, exchange="paper", symbol="X", timeframe=5)
    assert err.value.field == field


def test_settings_from_the_config_section():
    cfg = GridStrategyConfig(tp_mode="hybrid", capital_per_pyramid_usd=D("250"))
    got = GridSettings.from_config(cfg)
    assert got.tp_mode == "hybrid" and got.capital_per_pyramid_usd == D("250")
    assert got.dca_levels == DEFAULT_LEVELS

    class Legacy:
        tp_mode = "per_leg"

    assert GridSettings.from_config(Legacy()).tp_mode == "leg"


@pytest.mark.parametrize(
    "levels,field",
    [
        ((), "dca_levels"),
        ((lv("0", "100", "1"),) * 8, "dca_levels"),
        ((lv("0", "60", "1"), lv("-1", "40.02", "1")), "dca_levels.weight_percent"),
        ((lv("0", "100", "1"), lv("-1", "0", "1")), "dca_levels[1].weight_percent"),
        ((lv("0", "100", "0"),), "dca_levels[0].tp_percent"),
        ((lv("0.5", "100", "1"),), "dca_levels[0].gap_percent"),
        ((lv("-100", "100", "1"),), "dca_levels[0].gap_percent"),
        ((lv("-1", "50", "1"), lv("-0.5", "50", "1")), "dca_levels[1].gap_percent"),
    ],
)
def test_ladder_validation_names_the_field(levels, field):
    with pytest.raises(InvalidInput) as err:
        validate_levels(levels, max_dca=7)
    assert err.value.field == field


def test_weight_tolerance():
    validate_levels((lv("0", "60", "1"), lv("-1", "40.01", "1")), max_dca=7)
    validate_levels((lv("0", "33.33", "1"), lv("-1", "33.33", "1"), lv("-1", "33.33", "1")), max_dca=7)


def test_pyramid_ladder_choice_and_bounds():
    s = GridSettings(pyramid_specific_levels={"4": SPECIFIC})
    assert ladder_for_pyramid(s, 4) == SPECIFIC and ladder_for_pyramid(s, 0) == DEFAULT_LEVELS
    for bad in (5, -1, True):
        with pytest.raises(InvalidInput) as err:
            ladder_for_pyramid(s, bad)
        assert err.value.field == "pyramid"
    p = plan(market("0.01", "0.001"), "100", "1000", settings=s, pyramid=4)
    assert [leg.price for leg in p.legs] == [D("100.00"), D("99.00")]
    bad = GridSettings(pyramid_specific_levels={"1": (lv("0", "50", "1"),)})
    with pytest.raises(InvalidInput) as err:
        plan(market("0.01", "0.001"), "100", "1000", settings=bad, pyramid=1)
    assert err.value.field == "pyramid_specific_levels.1.weight_percent"


def test_reference_price_order():
    assert reference_price(D("60000"), D("60010"), D("60020")) == D("60000")
    assert reference_price(D("0"), D("60010"), None) == D("60010")
    assert reference_price(None, None, D("60020")) == D("60020")
    with pytest.raises(InvalidInput) as err:
        reference_price(None, D(0), None)
    assert err.value.field == "reference_price"


# --- market DCA0, band and impossible inputs ---------------------------------------------------

def test_market_dca0_then_reanchored_legs():
    rules = market("0.01", "0.001", min_notional="5", bid_multiplier_down=D("0.975"))
    s = GridSettings(entry_order_type="market")
    p = plan(rules, "100", "1000", settings=s, current="100.20")
    assert isinstance(p, PyramidPlan)
    assert [leg.order_type for leg in p.legs] == ["market"] + ["limit"] * 4
    legs, skipped = reanchor_legs(p, fill_vwap=D("100.40"), rules=rules, current_price=D("101.5"))
    # the price ran to 101.5: the band floor is 0.975 x 101.5 = 98.9625, so DCA3/DCA4 are skipped
    assert [(leg.index, leg.price) for leg in legs] == [(1, D("99.89")), (2, D("99.39"))]
    assert [(s.leg, s.rule) for s in skipped] == [(3, "percent_price"), (4, "percent_price")]


def test_price_band_rejects_the_whole_ladder():
    rules = market("0.01", "0.001", bid_multiplier_down=D("0.99"))
    got = plan(rules, "100", "1000")
    assert isinstance(got, PlanRejected)
    assert {(p.leg, p.rule) for p in got.problems} == {(3, "percent_price"), (4, "percent_price")}


def test_price_rounding_to_zero_is_a_problem_not_a_crash():
    got = plan(market("1", "0.001"), "1.5", "1000", settings=GridSettings(dca_levels=(lv("-50", "100", "1"),)))
    assert isinstance(got, PlanRejected) and got.problems[0].message == "price rounds to 0"


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(reference=D(-1)), "reference_price"),
        (dict(notional=D(0)), "notional"),
        (dict(side="flat"), "side"),
        (dict(rules=market("0.01", "0.001", contract_size=D(0))), "contract_size"),
        (dict(rules=market("0", "0.001")), "tick_size"),
        (dict(rules=market("0.01", "0")), "step_size"),
    ],
)
def test_plan_refuses_impossible_inputs(kw, field):
    args = dict(pyramid=0, side="long", reference=D(100), notional=D(1000), rules=market("0.01", "0.001"), current_price=None)
    with pytest.raises(InvalidInput) as err:
        plan_pyramid(GridSettings(), **(args | kw))
    assert err.value.field == field


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: pyramid_notional(order_size=D(-1), size_type="quote", reference=D(1)), "tv.order_size"),
        (lambda: pyramid_notional(order_size=D(1), size_type="quote", reference=D(0)), "reference_price"),
        (lambda: pyramid_notional(order_size=D(1), size_type="base", reference=D(1), contract_size=D(0)), "contract_size"),
        (lambda: pyramid_notional(order_size=D(1), size_type="lots", reference=D(1)), "execution_intent.position_size_type"),
        (lambda: leg_tp_price(D(0), D(1), "long", D("0.01")), "fill_vwap"),
        (lambda: aggregate_target(D(-1), D(1), "long", D("0.01")), "average_entry"),
        (lambda: aggregate_target(D(1), D(1), "long", D(0)), "tick_size"),
        (lambda: ladder_is_stale("long", D(100), D(101), D(-1)), "cancel_dca_beyond_percent"),
    ],
)
def test_helpers_refuse_impossible_inputs(call, field):
    with pytest.raises(InvalidInput) as err:
        call()
    assert err.value.field == field


@pytest.mark.parametrize(
    "side,price,beyond,stale",
    [
        ("long", "101.99", "2", False),
        ("long", "102", "2", True),
        ("long", "500", "0", False),
        ("short", "98.01", "2", False),
        ("short", "98", "2", True),
    ],
)
def test_stale_ladder(side, price, beyond, stale):
    assert ladder_is_stale(side, D("100"), D(price), D(beyond)) is stale


def test_max_pyramids():
    assert can_add_pyramid(4, 5) and not can_add_pyramid(5, 5) and can_add_pyramid(0, 1)


# --- properties over the real Binance markets --------------------------------------------------

@st.composite
def ladders(draw):
    n = draw(st.integers(1, 7))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    weights = [D(b - a) / 100 for a, b in zip(bounds, bounds[1:])]
    gaps = sorted((draw(st.decimals(min_value=D("-30"), max_value=D(0), places=2)) for _ in range(n)), reverse=True)
    tps = [draw(st.decimals(min_value=D("0.1"), max_value=D(10), places=2)) for _ in range(n)]
    return tuple(Level(gap_percent=g, weight_percent=w, tp_percent=t) for g, w, t in zip(gaps, weights, tps))


@given(levels=ladders())
def test_generated_weights_sum_to_100(levels):
    assert sum(lv.weight_percent for lv in levels) == 100
    validate_levels(levels, max_dca=7)
    skewed = (Level(gap_percent=levels[0].gap_percent, weight_percent=levels[0].weight_percent + D("0.02"), tp_percent=D(1)), *levels[1:])
    with pytest.raises(InvalidInput):
        validate_levels(skewed, max_dca=7)


PRICES = {"BTC": D("60000"), "ETH": D("3000"), "LTC": D("80"), "XMR": D("150")}


@given(
    symbol=st.sampled_from(sorted(market_rules())),
    levels=ladders(),
    side=st.sampled_from(["long", "short"]),
    move=st.decimals(min_value=D("0.5"), max_value=D("2"), places=3),
    notional=st.decimals(min_value=D("1"), max_value=D("50000"), places=2),
)
def test_every_leg_passes_binance_or_the_whole_ladder_is_refused(symbol, levels, side, move, notional):
    rules = market_rules()[symbol]
    usd = PRICES.get(rules.base, D("0.5")) * move
    reference = usd / D("60000") if rules.quote == "BTC" else usd
    quote_notional = notional / D("60000") if rules.quote == "BTC" else notional
    settings = GridSettings(dca_levels=levels)
    got = plan_pyramid(
        settings, pyramid=0, side=side, reference=reference, notional=quote_notional, rules=rules,
        current_price=reference,
    )
    if isinstance(got, PlanRejected):
        assert got.problems
        return
    assert len(got.legs) == len(levels)
    for leg in got.legs:
        refusal = binance_refusal(
            symbol, side="buy" if side == "long" else "sell", price=leg.price, qty=leg.qty, current=reference
        )
        assert refusal is None, (leg, refusal)
        assert leg.notional <= quote_notional * leg.weight_percent / 100
