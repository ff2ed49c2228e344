"""Precision rules (SPEC 5): rounding toward zero, pre-order checks and rule resolution.

Callers round first (``round_price``/``round_qty``) and then check the values they will send;
a failed check is a ``PrecisionProblem`` naming the rule, never an exception. Exceptions
(``InvalidInput``) are kept for impossible inputs: negative prices, zero increments.
"""

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal, Protocol

import msgspec

from engine.decimals import dec, round_down
from engine.errors import InvalidInput
from engine.types import MarketRules

DAY_MS = 24 * 3600 * 1000
OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]


class Enforcement(msgspec.Struct, frozen=True, kw_only=True):
    """The ``precision.enforce_*`` switches (SPEC 5.3)."""

    tick_size: bool = True
    step_size: bool = True
    min_notional: bool = True


ENFORCE_ALL = Enforcement()


class PrecisionProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One failed pre-order check. ``rule`` names it: min_qty, max_qty, market_min_qty,
    market_max_qty, step_size, market_step_size, tick_size, min_price, max_price,
    percent_price, min_notional, max_notional, max_num_orders."""

    rule: str
    message: str
    value: Decimal
    limit: Decimal | None = None
    leg: int | None = None


class LegOrder(Protocol):
    """What ``validate_ladder`` needs of a planned leg (engine.ladder.PlannedLeg has it)."""

    @property
    def index(self) -> int: ...
    @property
    def order_type(self) -> str: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def qty(self) -> Decimal: ...


def _published(x: Decimal | None) -> bool:
    # Binance publishes 0 for "no limit" (minPrice 0, market step 0)
    return x is not None and x > 0


def _dec_lcm(a: Decimal, b: Decimal) -> Decimal:
    """Smallest positive multiple of both increments, exact (for LOT_SIZE + MARKET_LOT_SIZE)."""
    exp = min(a.as_tuple().exponent, b.as_tuple().exponent, 0)
    scale = Decimal(10) ** -exp
    return Decimal(math.lcm(int(a * scale), int(b * scale))) / scale


def round_price(rules: MarketRules, price: Decimal, enforce: Enforcement = ENFORCE_ALL) -> Decimal:
    """Price rounded down to the tick (SPEC 5.2, V5: 99.537 at tick 0.10 → 99.50)."""
    if price < 0:
        raise InvalidInput("price", f"must be >= 0, got {price}")
    if not enforce.tick_size:
        return price
    if rules.tick_size <= 0:
        raise InvalidInput("tick_size", f"must be > 0, got {rules.tick_size}")
    return round_down(price, rules.tick_size)


def order_step(rules: MarketRules, order_type: OrderType) -> Decimal:
    """The quantity increment an order of this type must respect (both lot filters for market)."""
    if rules.step_size <= 0:
        raise InvalidInput("step_size", f"must be > 0, got {rules.step_size}")
    if order_type == "market" and _published(rules.market_step_size):
        assert rules.market_step_size is not None
        return _dec_lcm(rules.step_size, rules.market_step_size)
    return rules.step_size


def round_qty(
    rules: MarketRules,
    qty: Decimal,
    order_type: OrderType = "limit",
    enforce: Enforcement = ENFORCE_ALL,
) -> Decimal:
    """Quantity rounded down to the step (SPEC 5.2, V6: 1.23456 at step 0.001 → 1.234)."""
    if qty < 0:
        raise InvalidInput("qty", f"must be >= 0, got {qty}")
    if not enforce.step_size:
        return qty
    return round_down(qty, order_step(rules, order_type))


def _problem(rule: str, message: str, value: Decimal, limit: Decimal | None) -> PrecisionProblem:
    return PrecisionProblem(rule=rule, message=message, value=value, limit=limit)


def _qty_problems(
    rules: MarketRules, order_type: OrderType, qty: Decimal
) -> list[PrecisionProblem]:
    out: list[PrecisionProblem] = []
    step, lo, hi = rules.step_size, rules.min_qty, rules.max_qty
    if qty % step != 0:
        out.append(_problem("step_size", f"qty {qty} is not a multiple of step {step}", qty, step))
    if qty <= 0 or qty < lo:
        out.append(_problem("min_qty", f"qty {qty} below min qty {lo}", qty, lo))
    if hi is not None and _published(hi) and qty > hi:
        out.append(_problem("max_qty", f"qty {qty} above max qty {hi}", qty, hi))
    if order_type == "market":
        step, lo, hi = rules.market_step_size, rules.market_min_qty, rules.market_max_qty
        if step is not None and _published(step) and qty % step != 0:
            msg = f"qty {qty} is not a multiple of market step {step}"
            out.append(_problem("market_step_size", msg, qty, step))
        if lo is not None and _published(lo) and qty < lo:
            out.append(_problem("market_min_qty", f"qty {qty} below market min qty {lo}", qty, lo))
        if hi is not None and _published(hi) and qty > hi:
            out.append(_problem("market_max_qty", f"qty {qty} above market max qty {hi}", qty, hi))
    return out


def _price_problems(
    rules: MarketRules, side: OrderSide, price: Decimal, current_price: Decimal | None
) -> list[PrecisionProblem]:
    out: list[PrecisionProblem] = []
    tick, lo, hi = rules.tick_size, rules.min_price, rules.max_price
    if price % tick != 0:
        msg = f"price {price} is not a multiple of tick {tick}"
        out.append(_problem("tick_size", msg, price, tick))
    if lo is not None and _published(lo) and price < lo:
        out.append(_problem("min_price", f"price {price} below min price {lo}", price, lo))
    if hi is not None and _published(hi) and price > hi:
        out.append(_problem("max_price", f"price {price} above max price {hi}", price, hi))
    if current_price is None:
        return out
    if side == "buy":
        up, down = rules.bid_multiplier_up, rules.bid_multiplier_down
    else:
        up, down = rules.ask_multiplier_up, rules.ask_multiplier_down
    if up is not None and _published(up) and price > current_price * up:
        bound = current_price * up
        msg = f"{side} price {price} above the band {bound} ({up} x current {current_price})"
        out.append(_problem("percent_price", msg, price, bound))
    if down is not None and _published(down) and price < current_price * down:
        bound = current_price * down
        msg = f"{side} price {price} below the band {bound} ({down} x current {current_price})"
        out.append(_problem("percent_price", msg, price, bound))
    return out


def order_problems(
    rules: MarketRules,
    *,
    side: OrderSide,
    type: OrderType,
    price: Decimal | None,
    qty: Decimal,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
) -> list[PrecisionProblem]:
    """Every pre-order check (SPEC 5.3) that the order as given fails; empty = sendable.

    A market order is valued at ``current_price`` (required); a limit order at its price, and
    its price is also checked against the percent-price band around ``current_price`` if given.
    """
    if qty < 0:
        raise InvalidInput("qty", f"must be >= 0, got {qty}")
    if rules.tick_size <= 0:
        raise InvalidInput("tick_size", f"must be > 0, got {rules.tick_size}")
    if rules.step_size <= 0:
        raise InvalidInput("step_size", f"must be > 0, got {rules.step_size}")
    if current_price is not None and current_price <= 0:
        raise InvalidInput("current_price", f"must be > 0, got {current_price}")
    if type == "market":
        if current_price is None:
            raise InvalidInput("current_price", "required to value a market order")
        value_price = current_price
    else:
        if price is None or price <= 0:
            raise InvalidInput("price", f"a limit order needs a price > 0, got {price}")
        value_price = price
    out: list[PrecisionProblem] = []
    if enforce.tick_size and type == "limit":
        out += _price_problems(rules, side, value_price, current_price)
    if enforce.step_size:
        out += _qty_problems(rules, type, qty)
    notional = qty * value_price * rules.contract_size
    lo, hi = rules.min_notional, rules.max_notional
    if enforce.min_notional and (type == "limit" or rules.min_notional_applies_to_market):
        if notional < lo or notional <= 0:
            msg = f"notional {notional} below min notional {lo}"
            out.append(_problem("min_notional", msg, notional, lo))
    # max notional is checked for limit orders only: Binance's applyMaxToMarket is false on spot
    if type == "limit" and hi is not None and _published(hi) and notional > hi:
        msg = f"notional {notional} above max notional {hi}"
        out.append(_problem("max_notional", msg, notional, hi))
    return out


def check_order(
    rules: MarketRules,
    *,
    side: OrderSide,
    type: OrderType,
    price: Decimal | None,
    qty: Decimal,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
) -> PrecisionProblem | None:
    """The first failed check of ``order_problems`` or None when the order may be sent."""
    problems = order_problems(
        rules,
        side=side,
        type=type,
        price=price,
        qty=qty,
        current_price=current_price,
        enforce=enforce,
    )
    return problems[0] if problems else None


def validate_ladder(
    rules: MarketRules,
    legs: Sequence[LegOrder],
    *,
    side: OrderSide,
    current_price: Decimal | None,
    enforce: Enforcement = ENFORCE_ALL,
    open_orders: int = 0,
) -> list[PrecisionProblem]:
    """All problems of a whole ladder, each tagged with its leg; empty = the ladder is placeable.

    All-or-nothing (SPEC 3.9): a caller sends nothing unless this is empty.
    """
    out: list[PrecisionProblem] = []
    for leg in legs:
        problems = order_problems(
            rules,
            side=side,
            type=leg.order_type,  # type: ignore[arg-type]
            price=leg.price,
            qty=leg.qty,
            current_price=current_price,
            enforce=enforce,
        )
        out += [msgspec.structs.replace(p, leg=leg.index) for p in problems]
    cap = rules.max_num_orders
    if cap is not None and open_orders + len(legs) > cap:
        n = Decimal(open_orders + len(legs))
        msg = f"{n} open orders would exceed the limit of {cap}"
        out.append(_problem("max_num_orders", msg, n, Decimal(cap)))
    return out


# --- which rules apply (SPEC 5.1, 5.4, 5.5) ---------------------------------------------------

RuleSource = Literal["exchange", "override", "fallback"]


class ResolvedRules(msgspec.Struct, frozen=True, kw_only=True):
    """Rules to use now. ``refresh_due``: the entry is older than the refresh interval (or was
    not usable), so an immediate metadata refresh should start; ``warning``: log it."""

    rules: MarketRules
    source: RuleSource
    enforce: Enforcement = ENFORCE_ALL
    refresh_due: bool = False
    warning: str | None = None


class MetadataMissing(msgspec.Struct, frozen=True, kw_only=True):
    """No usable metadata under strict mode: hold the signal/order and refresh (SPEC 5.4)."""

    reason: str
    refresh_due: bool = True


_RULE_KEYS = ("tick_size", "step_size", "min_qty", "min_notional")


def _rule_values(source: object, field: str) -> dict[str, Decimal]:
    """tick/step/min qty/min notional from a dict or a config Struct, each > 0."""
    out = {}
    for key in _RULE_KEYS:
        raw = source.get(key) if isinstance(source, Mapping) else getattr(source, key, None)
        if raw is None:
            raise InvalidInput(f"{field}.{key}", "missing")
        value = dec(raw, f"{field}.{key}")
        if value <= 0:
            raise InvalidInput(f"{field}.{key}", f"must be > 0, got {value}")
        out[key] = value
    return out


def _bare_rules(known: MarketRules | None, symbol: str, values: dict[str, Decimal]) -> MarketRules:
    """Only the four configured rules, keeping what identifies the market when it is known."""
    if known is None:
        return MarketRules(symbol=symbol, ccxt_symbol=symbol, base="", quote="", **values)
    return MarketRules(
        symbol=known.symbol,
        ccxt_symbol=known.ccxt_symbol,
        base=known.base,
        quote=known.quote,
        contract_size=known.contract_size,
        **values,
    )


def effective_rules(
    exchange_rules: MarketRules | None,
    *,
    mode: Literal["auto", "force"],
    override: object | None,
    strict: bool,
    fallback: object,
    now_ms: int,
    fetched_at_ms: int | None = None,
    refresh_interval_ms: int = 60_000,
    symbol: str = "",
    enforce: Enforcement = ENFORCE_ALL,
) -> ResolvedRules | MetadataMissing:
    """Resolve the rules for one symbol (SPEC 5.1, 5.4, 5.5).

    ``override`` / ``fallback`` are the ``precision.overrides["<exchange>:<SYMBOL>"]`` entry (or
    None) and ``precision.fallback_rules``, as dicts or config Structs. ``fetched_at_ms``
    defaults to the entry's own ``fetched_at_ms``. An entry older than 24 h counts as missing;
    one older than ``refresh_interval_ms`` is still used but flagged ``refresh_due``.
    """
    if mode not in ("auto", "force"):
        raise InvalidInput("precision_mode", f"must be auto or force, got {mode!r}")
    name = symbol or (exchange_rules.symbol if exchange_rules else "symbol")
    if fetched_at_ms is None and exchange_rules is not None:
        fetched_at_ms = exchange_rules.fetched_at_ms
    age = None if exchange_rules is None or fetched_at_ms is None else now_ms - fetched_at_ms
    usable = age is not None and age <= DAY_MS
    refresh_due = not usable or (age is not None and age > refresh_interval_ms)
    warning: str | None = None
    if mode == "force":
        if override is not None:
            values = _rule_values(override, "precision.overrides")
            if usable:
                assert exchange_rules is not None
                rules = msgspec.structs.replace(exchange_rules, **values)
            else:
                rules = _bare_rules(exchange_rules, name, values)
            return ResolvedRules(
                rules=rules, source="override", enforce=enforce, refresh_due=refresh_due
            )
        warning = f"precision_mode force without an override for {name}: exchange rules used"
    if usable:
        assert exchange_rules is not None
        return ResolvedRules(
            rules=exchange_rules,
            source="exchange",
            enforce=enforce,
            refresh_due=refresh_due,
            warning=warning,
        )
    reason = "no precision metadata" if exchange_rules is None else "metadata older than 24 h"
    if strict:
        return MetadataMissing(reason=f"{reason} for {name}")
    note = f"{reason} for {name}: precision.fallback_rules used"
    return ResolvedRules(
        rules=_bare_rules(exchange_rules, name, _rule_values(fallback, "precision.fallback_rules")),
        source="fallback",
        enforce=enforce,
        refresh_due=True,
        warning=note if warning is None else f"{warning}; {note}",
    )
