"""Precision rules (SPEC 5, vectors V5-V8, 5.6): rounding, pre-order checks, rule resolution."""

from decimal import Decimal as D

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config.model import FallbackRules, PrecisionOverride
from engine.errors import InvalidInput
from engine.ladder import PlannedLeg
from engine.precision import (
    DAY_MS,
    Enforcement,
    MetadataMissing,
    ResolvedRules,
    check_order,
    effective_rules,
    order_problems,
    round_price,
    round_qty,
    validate_ladder,
)
from engine.types import MarketRules
from tests.engine.binance_oracle import binance_refusal, market_rules

BTC = MarketRules(
    symbol="BTCUSDT",
    ccxt_symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    step_size=D("0.00001"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    market_step_size=D("0"),
    market_min_qty=D("0"),
    market_max_qty=D("128.52621715"),
    min_notional=D("5"),
    max_notional=D("9000000"),
    min_price=D("0.01"),
    max_price=D("1000000"),
    bid_multiplier_up=D("5"),
    bid_multiplier_down=D("0.2"),
    ask_multiplier_up=D("5"),
    ask_multiplier_down=D("0.2"),
    max_num_orders=200,
    fetched_at_ms=1_000_000,
)


def rules(**changes) -> MarketRules:
    return msgspec.structs.replace(BTC, **changes)


# --- SPEC 13.1 V5-V8 and 5.6 --------------------------------------------------------------------

ROUNDING = [
    # (tick or step, raw, expected)  V5, V6, V7, V8 (BTC example rules of D3)
    ("price", "0.10", "99.537", "99.50"),
    ("qty", "0.001", "1.23456", "1.234"),
    ("price", "0.00001", "0.01165145", "0.01165"),
    ("price", "0.10", "59700.004", "59700.00"),
    ("qty", "0.0001", "0.0033333", "0.0033"),
    ("price", "0.01", "100", "100.00"),
    ("qty", "1", "17079.35", "17079"),
]


@pytest.mark.parametrize("kind,inc,raw,expected", ROUNDING)
def test_vectors_round_toward_zero(kind, inc, raw, expected):
    if kind == "price":
        got = round_price(rules(tick_size=D(inc)), D(raw))
    else:
        got = round_qty(rules(step_size=D(inc)), D(raw))
    assert got == D(expected) and str(got) == expected


def test_v7_reference_times_gap():
    assert D("0.01171") * D("0.995") == D("0.01165145")
    assert round_price(rules(tick_size=D("0.00001")), D("0.01171") * D("0.995")) == D("0.01165")


def test_market_quantity_respects_both_lot_filters():
    r = rules(step_size=D("0.0004"), min_qty=D("0.0004"), market_step_size=D("0.0006"))
    assert round_qty(r, D("1.23456"), "market") == D("1.2336")  # lcm 0.0012: 1028 x 0.0012
    assert round_qty(r, D("1.23456"), "limit") == D("1.2344")
    assert round_qty(BTC, D("1.234567"), "market") == D("1.23456")  # market step 0 = none


def test_rounding_switched_off():
    off = Enforcement(tick_size=False, step_size=False)
    assert round_price(BTC, D("99.537"), off) == D("99.537")
    assert round_qty(BTC, D("1.234567"), "limit", off) == D("1.234567")


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: round_price(BTC, D("-1")), "price"),
        (lambda: round_price(rules(tick_size=D(0)), D("1")), "tick_size"),
        (lambda: round_qty(BTC, D("-1")), "qty"),
        (lambda: round_qty(rules(step_size=D(0)), D("1")), "step_size"),
        (lambda: check_order(BTC, side="buy", type="limit", price=D(1), qty=D(-1), current_price=None), "qty"),
        (lambda: check_order(rules(tick_size=D(0)), side="buy", type="limit", price=D(1), qty=D(1), current_price=None), "tick_size"),
        (lambda: check_order(rules(step_size=D(-1)), side="buy", type="limit", price=D(1), qty=D(1), current_price=None), "step_size"),
        (lambda: check_order(BTC, side="buy", type="market", price=None, qty=D(1), current_price=None), "current_price"),
        (lambda: check_order(BTC, side="buy", type="limit", price=D(1), qty=D(1), current_price=D(0)), "current_price"),
        (lambda: check_order(BTC, side="buy", type="limit", price=None, qty=D(1), current_price=D(1)), "price"),
        (lambda: check_order(BTC, side="buy", type="limit", price=D(-5), qty=D(1), current_price=D(1)), "price"),
    ],
)
def test_impossible_inputs_name_the_field(call, field):
    with pytest.raises(InvalidInput) as err:
        call()
    assert err.value.field == field


CHECKS = [
    # (description, rules changes, side, type, price, qty, current, expected rule)
    ("valid limit buy", {}, "buy", "limit", "60000.00", "0.001", "60000", None),
    ("valid without current price", {}, "sell", "limit", "60000.00", "0.001", None, None),
    ("price off tick", {}, "buy", "limit", "60000.005", "0.001", "60000", "tick_size"),
    ("below min price", {"min_price": D("100")}, "buy", "limit", "99.00", "1", None, "min_price"),
    ("above max price", {}, "sell", "limit", "1000000.01", "0.001", None, "max_price"),
    ("buy above band", {}, "buy", "limit", "300000.01", "0.001", "60000", "percent_price"),
    ("buy below band", {}, "buy", "limit", "11999.99", "0.001", "60000", "percent_price"),
    ("buy at band edge", {}, "buy", "limit", "12000.00", "0.001", "60000", None),
    ("sell below ask band", {"ask_multiplier_down": D("0.8")}, "sell", "limit", "47999.99", "0.001", "60000", "percent_price"),
    ("sell above ask band", {"ask_multiplier_up": D("1.1")}, "sell", "limit", "66000.01", "0.001", "60000", "percent_price"),
    ("qty off step", {}, "buy", "limit", "60000.00", "0.000015", "60000", "step_size"),
    ("qty zero", {}, "buy", "limit", "60000.00", "0", "60000", "min_qty"),
    ("qty below min", {"min_qty": D("0.001")}, "buy", "limit", "60000.00", "0.0009", None, "min_qty"),
    ("qty above max", {}, "buy", "limit", "0.50", "9000.01", None, "max_qty"),
    ("below min notional", {}, "buy", "limit", "60000.00", "0.00008", "60000", "min_notional"),
    ("at min notional", {}, "buy", "limit", "50000.00", "0.0001", "60000", None),
    ("above max notional", {}, "buy", "limit", "1100.00", "9000", "1100", "max_notional"),
    ("market valued at current", {}, "sell", "market", None, "0.0001", "40000", "min_notional"),
    ("market at current ok", {}, "sell", "market", None, "0.0001", "60000", None),
    ("market min notional not applied", {"min_notional_applies_to_market": False}, "sell", "market", None, "0.0001", "40000", None),
    ("market above market max", {}, "sell", "market", None, "128.52621716", "60000", "step_size"),
    ("market above market max qty", {}, "sell", "market", None, "128.52622", "60000", "market_max_qty"),
    ("market below market min", {"market_min_qty": D("0.01")}, "buy", "market", None, "0.005", "60000", "market_min_qty"),
    ("market off market step", {"market_step_size": D("0.001")}, "buy", "market", None, "0.00150", "60000", "market_step_size"),
    ("market max notional not applied", {}, "buy", "market", None, "128", "100000", None),
    ("futures contract size in notional", {"contract_size": D("0.001"), "step_size": D("1"), "min_qty": D("1")}, "buy", "limit", "60000.00", "1", None, None),
    ("futures contract too small", {"contract_size": D("0.00001"), "step_size": D("1"), "min_qty": D("1")}, "buy", "limit", "60000.00", "1", None, "min_notional"),
]


@pytest.mark.parametrize("desc,changes,side,kind,price,qty,current,expected", CHECKS, ids=[c[0] for c in CHECKS])
def test_check_order_names_the_failed_rule(desc, changes, side, kind, price, qty, current, expected):
    problem = check_order(
        rules(**changes),
        side=side,
        type=kind,
        price=None if price is None else D(price),
        qty=D(qty),
        current_price=None if current is None else D(current),
    )
    assert (problem.rule if problem else None) == expected
    if problem:
        assert problem.message and problem.leg is None


def test_all_problems_listed_with_values():
    problems = order_problems(BTC, side="buy", type="limit", price=D("60000.00"), qty=D("0"), current_price=None)
    assert [p.rule for p in problems] == ["min_qty", "min_notional"]
    assert problems[0].value == D("0") and problems[0].limit == D("0.00001")


def test_enforce_switches():
    price, qty = D("60000.005"), D("0.000015")
    everything = order_problems(BTC, side="buy", type="limit", price=price, qty=qty, current_price=D("60000"))
    assert {p.rule for p in everything} == {"tick_size", "step_size", "min_notional"}
    off = Enforcement(tick_size=False, step_size=False, min_notional=False)
    assert check_order(BTC, side="buy", type="limit", price=price, qty=qty, current_price=D("60000"), enforce=off) is None


def _leg(index, price, qty, order_type="limit"):
    return PlannedLeg(
        index=index, order_type=order_type, price=D(price), qty=D(qty), notional=D(price) * D(qty),
        gap_percent=D(0), weight_percent=D(50), tp_percent=D(1),
    )


def test_validate_ladder_tags_legs_and_counts_orders():
    legs = [_leg(0, "60000.00", "0.001"), _leg(1, "59000.00", "0.00001")]
    problems = validate_ladder(BTC, legs, side="buy", current_price=D("60000"))
    assert [(p.leg, p.rule) for p in problems] == [(1, "min_notional")]
    assert validate_ladder(BTC, legs[:1], side="buy", current_price=D("60000")) == []
    full = validate_ladder(BTC, legs[:1], side="buy", current_price=D("60000"), open_orders=200)
    assert [(p.leg, p.rule) for p in full] == [(None, "max_num_orders")]
    market = [_leg(0, "60000.00", "0.0001", "market")]
    assert [p.rule for p in validate_ladder(BTC, market, side="buy", current_price=D("40000"))] == ["min_notional"]


# --- properties ---------------------------------------------------------------------------------

increments = st.sampled_from([D("1"), D("0.1"), D("0.01"), D("0.00001"), D("0.00000001"), D("0.5"), D("0.25")])
amounts = st.decimals(min_value=D(0), max_value=D("1000000"), places=10, allow_nan=False)


@given(inc=increments, x=amounts)
def test_rounding_is_down_to_a_multiple(inc, x):
    r = rules(tick_size=inc, step_size=inc)
    for got in (round_price(r, x), round_qty(r, x)):
        assert got % inc == 0 and got <= x < got + inc


@given(
    symbol=st.sampled_from(sorted(market_rules())),
    side=st.sampled_from(["buy", "sell"]),
    factor=st.decimals(min_value=D("0.1"), max_value=D("6"), places=4),
    notional=st.decimals(min_value=D(0), max_value=D("20000"), places=2),
)
def test_check_order_agrees_with_binance_filters(symbol, side, factor, notional):
    """Over the real markets: a rounded order passes our checks iff Binance would accept it."""
    r = market_rules()[symbol]
    current = {"BTC": D("60000"), "ETH": D("3000"), "LTC": D("80"), "XMR": D("150")}.get(r.base, D("0.5"))
    if r.quote == "BTC":
        current = current / D("60000")
    price = round_price(r, current * factor)
    if price <= 0:
        return
    quote_notional = notional / D("60000") if r.quote == "BTC" else notional
    qty = round_qty(r, quote_notional / price)
    ours = check_order(r, side=side, type="limit", price=price, qty=qty, current_price=current)
    theirs = binance_refusal(symbol, side=side, price=price, qty=qty, current=current)
    assert (ours is None) == (theirs is None), (ours, theirs)


# --- rule resolution (SPEC 5.1, 5.4, 5.5) ------------------------------------------------------

FALLBACK = {"tick_size": D("0.00000001"), "step_size": D("0.000001"), "min_qty": D("0.000001"), "min_notional": D("1")}
OVERRIDE = {"tick_size": D("0.10"), "step_size": D("0.0001"), "min_qty": D("0.0001"), "min_notional": D("5")}
FETCHED = BTC.fetched_at_ms


def resolve(exchange=BTC, **kw):
    args = dict(mode="auto", override=None, strict=True, fallback=FALLBACK, now_ms=FETCHED + 1000)
    return effective_rules(exchange, **(args | kw))


def test_fresh_exchange_rules():
    got = resolve()
    assert got == ResolvedRules(rules=BTC, source="exchange", refresh_due=False)


def test_stale_but_usable_flags_a_refresh():
    got = resolve(now_ms=FETCHED + 61_000)
    assert isinstance(got, ResolvedRules) and got.source == "exchange" and got.refresh_due


def test_explicit_fetch_time_wins():
    got = resolve(fetched_at_ms=FETCHED - DAY_MS - 1)
    assert isinstance(got, MetadataMissing) and "24 h" in got.reason


@pytest.mark.parametrize("exchange", [None, BTC])
def test_missing_or_expired_under_strict_mode_is_held(exchange):
    got = resolve(exchange, now_ms=FETCHED + DAY_MS + 1)
    assert isinstance(got, MetadataMissing) and got.refresh_due


def test_missing_without_strict_mode_uses_fallback_rules():
    got = resolve(None, strict=False, symbol="NEWUSDT")
    assert isinstance(got, ResolvedRules) and got.source == "fallback" and got.refresh_due
    assert got.rules.symbol == "NEWUSDT" and got.rules.tick_size == D("0.00000001")
    assert got.rules.min_notional == D("1") and "fallback" in got.warning
    expired = resolve(strict=False, fallback=FallbackRules(), now_ms=FETCHED + DAY_MS + 1)
    assert expired.rules.ccxt_symbol == "BTC/USDT" and expired.rules.max_qty is None
    assert expired.rules.step_size == D("0.000001")


def test_force_mode_uses_the_override_over_exchange_rules():
    got = resolve(mode="force", override=OVERRIDE)
    assert got.source == "override" and got.warning is None
    assert (got.rules.tick_size, got.rules.step_size) == (D("0.10"), D("0.0001"))
    assert got.rules.max_qty == D("9000")  # other exchange rules still apply
    struct = resolve(mode="force", override=PrecisionOverride(**OVERRIDE))
    assert struct.rules == got.rules
    bare = resolve(None, mode="force", override=OVERRIDE, symbol="BTCUSDT")
    assert bare.source == "override" and bare.rules.max_qty is None and bare.refresh_due


def test_force_without_override_warns_and_uses_exchange_rules():
    got = resolve(mode="force")
    assert got.source == "exchange" and "override" in got.warning
    held = resolve(None, mode="force")
    assert isinstance(held, MetadataMissing)
    fallback = resolve(None, mode="force", strict=False)
    assert fallback.source == "fallback" and "override" in fallback.warning


def test_resolution_carries_the_enforce_switches():
    off = Enforcement(min_notional=False)
    assert resolve(enforce=off).enforce == off


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(mode="force", override=OVERRIDE | {"tick_size": D(0)}), "precision.overrides.tick_size"),
        (dict(mode="force", override={"tick_size": D(1)}), "precision.overrides.step_size"),
        (dict(mode="force", override=OVERRIDE | {"min_qty": "abc"}), "precision.overrides.min_qty"),
        (dict(exchange=None, strict=False, fallback=FALLBACK | {"step_size": D(-1)}), "precision.fallback_rules.step_size"),
        (dict(mode="fast"), "precision_mode"),
    ],
)
def test_resolution_refuses_impossible_rules(kw, field):
    with pytest.raises(InvalidInput) as err:
        resolve(**kw)
    assert err.value.field == field
