"""engine/decimals.py: parsing refuses floats and non-finite values; rounding is exact."""

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import example, given, strategies as st

from engine.decimals import cents, dec, positive, round_down, round_up
from engine.errors import InvalidInput


@pytest.mark.parametrize("raw, expected", [("60000.5", D("60000.5")), (15, D(15)),
                                           (" 0.01 ", D("0.01")), (D("1.5"), D("1.5"))])
def test_dec_accepts_numbers_and_numeric_strings(raw, expected):
    assert dec(raw, "x") == expected


@pytest.mark.parametrize("raw", [1.5, True, "NaN", "Infinity", "-inf", "abc", ""])
def test_dec_refuses_floats_and_non_finite_naming_the_field(raw):
    with pytest.raises(InvalidInput) as err:
        dec(raw, "tv.close_price")
    assert err.value.field == "tv.close_price"


def test_positive():
    assert positive(D("0.1"), "step") == D("0.1")
    with pytest.raises(InvalidInput, match="step"):
        positive(D(0), "step")


@pytest.mark.parametrize("x, inc, down, up", [
    ("99.537", "0.10", "99.50", "99.60"),  # V5
    ("1.23456", "0.001", "1.234", "1.235"),  # V6
    ("0.01165145", "0.00001", "0.01165", "0.01166"),  # V7
    ("13.33333", "0.001", "13.333", "13.334"),  # D21
    ("17079.3", "1", "17079", "17080"),
    ("5", "0.5", "5.0", "5.0"),
])
def test_rounding_vectors(x, inc, down, up):
    assert round_down(D(x), D(inc)) == D(down)
    assert round_up(D(x), D(inc)) == D(up)


def test_rounding_refuses_non_positive_increment():
    for fn in (round_down, round_up):
        with pytest.raises(InvalidInput, match="increment"):
            fn(D(1), D(0))


def test_cents_half_up():
    assert cents(D("-3.404")) == D("-3.40")
    assert cents(D("-3.405")) == D("-3.41")
    assert cents(D("2.675")) == D("2.68")


@given(units=st.integers(0, 10**12), frac=st.integers(0, 10**6 - 1),
       exp=st.integers(-8, 2))
def test_round_down_and_up_bracket_the_value(units, frac, exp):
    x = D(units) + D(frac) / D(10**6)
    inc = D(1).scaleb(exp)
    lo, hi = round_down(x, inc), round_up(x, inc)
    assert lo <= x <= hi
    assert hi - lo in (D(0), inc)
    assert (lo / inc) == (lo / inc).to_integral_value()


@example(mantissa=10**28 + 1, exp=0, inc_digits=1, inc_exp=0)  # 29 digits: beyond 28
@given(mantissa=st.integers(1, 10**40), exp=st.integers(-30, 300),
       inc_digits=st.integers(1, 999), inc_exp=st.integers(-12, 2))
def test_rounding_is_exact_far_beyond_the_default_precision(mantissa, exp, inc_digits, inc_exp):
    """An absurd price from a webhook (1e300 on a 0.01 tick) must round exactly, not raise
    DivisionImpossible or round in the 28-digit context (it crashed the engine in the fuzz
    suite): compared with integer arithmetic."""
    x, inc = D(f"{mantissa}E{exp}"), D(f"{inc_digits}E{inc_exp}")  # exact (scaleb rounds)
    k = max(0, -exp, -inc_exp)  # both as integers of the unit 10**-k
    xi, ii = mantissa * 10 ** (exp + k), inc_digits * 10 ** (inc_exp + k)
    assert Fraction(round_down(x, inc)) == Fraction(xi // ii * ii, 10 ** k)
    assert Fraction(round_up(x, inc)) == Fraction(-(-xi // ii) * ii, 10 ** k)
