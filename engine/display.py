"""How numbers are shown to people: one rule per kind of number, applied in one place.

The API answers, the live push and the exports format every number they show through this
module; nothing else rounds for display. Trading never reads these strings back: the engine
computes with exact Decimals and only the text sent out is rounded (ROUND_HALF_UP).

| kind       | shown to                                                    |
|------------|-------------------------------------------------------------|
| price      | the symbol's tick (``0.01`` tick → ``60000.50``)            |
| quantity   | the symbol's step (``0.00001`` step → ``0.00150``)          |
| USD / quote| the quote asset's precision: 2 decimals for dollar assets   |
| percentage | 2 decimals                                                  |

Without the symbol's rules (never synced), prices and quantities are shown exactly as stored.
"""

from decimal import ROUND_HALF_UP, Decimal, getcontext, localcontext

import msgspec

from engine.types import MarketRules

# quote assets whose unit is one US dollar: amounts in them are shown in cents
DOLLAR_ASSETS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USDP", "USDS"})
DOLLAR_PLACES = 2
PERCENT_PLACES = 2
OTHER_QUOTE_PLACES = 8  # an asset that is not a dollar and has no published precision


_QUANTA = {p: Decimal(1).scaleb(-p) for p in range(0, 19)}


def plain(value: Decimal | int | str | None) -> str | None:
    """Exact fixed-point text (never ``1E+2``): numbers that are not rounded for display
    (configuration values, market rules). None stays None."""
    if value is None:
        return None
    return format(value if isinstance(value, Decimal) else Decimal(value), "f")


def _text(value: Decimal, places: int) -> str:
    """``value`` rounded half-up to ``places`` decimals (a negative ``places`` = tens, …)."""
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    # a value that fits the context's precision needs no wider one: ~3x faster, which a long
    # series shows (an equity CSV of two years rounds 420,000 numbers)
    if value.adjusted() + places + 2 <= getcontext().prec:
        rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    else:
        with localcontext() as ctx:
            ctx.prec = value.adjusted() + places + 2
            rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return format(rounded, "f")


def to_increment(value: Decimal | None, increment: Decimal | None) -> str | None:
    """``value`` on the nearest multiple of ``increment`` (half-up), with its decimals."""
    if value is None:
        return None
    if increment is None or increment <= 0:
        return plain(value)
    inc = increment.normalize()
    places = max(-inc.as_tuple().exponent, 0)  # type: ignore[operator]
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, value.adjusted() - inc.adjusted() + 4)
        units = (value / inc).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return _text(units * inc, places)


def quote_places(quote: str, quote_precision: int | None = None) -> int:
    """Decimals of an amount in ``quote``: cents for a dollar asset, else the asset's published
    precision (8 when unknown)."""
    if not quote or quote.upper() in DOLLAR_ASSETS:
        return DOLLAR_PLACES
    return quote_precision if quote_precision is not None else OTHER_QUOTE_PLACES


def percent(value: Decimal | None) -> str | None:
    """A percentage: 2 decimals."""
    return None if value is None else _text(value, PERCENT_PLACES)


class Display(msgspec.Struct, frozen=True, kw_only=True):
    """The display rules of one symbol (or of the account's quote asset: no tick or step)."""

    tick: Decimal | None = None
    step: Decimal | None = None
    places: int = DOLLAR_PLACES  # decimals of quote (USD) amounts

    def price(self, value: Decimal | None) -> str | None:
        return to_increment(value, self.tick)

    def qty(self, value: Decimal | None) -> str | None:
        return to_increment(value, self.step)

    def usd(self, value: Decimal | None) -> str | None:
        return None if value is None else _text(value, self.places)

    percent = staticmethod(percent)

    def size(self, value: Decimal | None, size_type: str) -> str | None:
        """A signal's ``order_size``: quote amounts like USD, base / contracts like quantities."""
        return self.usd(value) if size_type == "quote" else self.qty(value)

    def fee(self, value: Decimal | None, asset: str | None, *, quote: str,
            base: str) -> str | None:
        """A fee in the asset it was charged in: quote → USD rule, base → quantity rule,
        any other asset (BNB) exactly as charged."""
        if asset is None or asset == quote:
            return self.usd(value)
        if asset == base:
            return self.qty(value)
        return plain(value)


def for_rules(rules: MarketRules | None, quote: str = "") -> Display:
    """The display of a symbol with these rules; ``quote`` when the rules are not known."""
    if rules is None:
        return Display(places=quote_places(quote))
    return Display(tick=rules.tick_size, step=rules.step_size,
                   places=quote_places(rules.quote or quote, rules.quote_precision))


def for_quote(quote: str) -> Display:
    """Account-wide amounts (dashboard totals) in the engine's first quote currency."""
    return Display(places=quote_places(quote))
