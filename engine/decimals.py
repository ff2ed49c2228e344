"""Exact Decimal helpers shared by every rule: parsing, rounding toward zero, rounding up."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from engine.errors import InvalidInput

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def dec(value: object, field: str) -> Decimal:
    """Parse a number (int, str, Decimal; never float) into a finite Decimal or refuse it."""
    if isinstance(value, bool) or isinstance(value, float):
        # floats carry binary noise; callers must pass the JSON/TOML text or a Decimal
        raise InvalidInput(field, f"expected a decimal number, got {type(value).__name__}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, f"not a number: {value!r}") from None
    if not d.is_finite():
        raise InvalidInput(field, f"not a finite number: {value!r}")
    return d


def plain(d: Decimal) -> Decimal:
    """The same value without trailing zeros nor an exponent (``97.00000000`` -> ``97``,
    ``10.0`` -> ``10``, never ``1E+1``): exchanges pad their decimal text."""
    d = d.normalize()
    return d.quantize(ONE) if d.as_tuple().exponent > 0 else d


def positive(value: Decimal, field: str) -> Decimal:
    if value <= 0:
        raise InvalidInput(field, f"must be > 0, got {value}")
    return value


def _digits_needed(x: Decimal, inc: Decimal) -> int:
    """Digits of ``x / inc``'s integer part times ``inc``: what an exact result needs."""
    return max(x.adjusted() - inc.adjusted(), 0) + len(inc.as_tuple().digits) + 2


def round_down(x: Decimal, inc: Decimal) -> Decimal:
    """floor(x / inc) * inc for x >= 0 (toward zero), exact. ``inc`` must be > 0."""
    if inc <= 0:
        raise InvalidInput("increment", f"must be > 0, got {inc}")
    # Decimal // truncates toward zero, and integer × inc carries inc's exponent: the same value
    # and digits as floor-then-quantize, ten times faster (ladder planning calls this per leg).
    # A quotient beyond the context's 28 digits (an absurd price from a webhook) would raise
    # or round: it is computed with the precision it needs.
    if x.adjusted() - inc.adjusted() < 20:
        return (x // inc) * inc
    with localcontext() as ctx:
        ctx.prec = _digits_needed(x, inc)
        return (x // inc) * inc


def round_up(x: Decimal, inc: Decimal) -> Decimal:
    """ceil(x / inc) * inc for x >= 0, exact (the Risk Engine's deliberate exception, SPEC 5.2)."""
    if inc <= 0:
        raise InvalidInput("increment", f"must be > 0, got {inc}")
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, _digits_needed(x, inc))
        units = x // inc  # exact at this precision; a remainder means one more increment
        if units * inc < x:
            units += 1
        return (units * inc).quantize(inc) if inc.as_tuple().exponent < 0 else units * inc


def cents(x: Decimal) -> Decimal:
    """Round half-up to 0.01: the comparison resolution of loss % and USD rankings."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)
