"""Queue ranking by `waiting_rule.selection_priority` (SPEC 6.3, A18, A46, A49, D6).

Expected profit (D13) is computed when the signal is queued, with ``engine.ladder.expected_profit``
over the ladder it would open, and stored on the entry.

The configured rules are applied lexicographically, then ``fifo`` (always last, even if omitted),
then the entry id. Ids are unique, so the order is strict and total.
"""

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import msgspec

from engine.decimals import HUNDRED, cents
from engine.errors import InvalidInput
from engine.queue.entries import Key, QueueEntry
from engine.types import Side

PRIORITY_NAMES: tuple[str, ...] = (
    "pyramid_continuation",
    "highest_loss_percent",
    "highest_replacement_count",
    "highest_expected_profit",
    "fifo",
)
_FIELD = "waiting_rule.selection_priority"


class KeyState(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The non-closed group of a key, as the queue needs to see it."""

    side: Side
    closing: bool = False


class RankedEntry(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    rank: int  # 1 = next to promote
    entry: QueueEntry
    continuation: bool
    loss_percent: Decimal | None  # None: no price known for the symbol
    expected_profit: Decimal


def validate_priority(priority: Sequence[str]) -> tuple[str, ...]:
    """Only the five names, each at most once; refuses with the offending list position."""
    if isinstance(priority, str):
        raise InvalidInput(_FIELD, "expected a list of rule names, got a string")
    seen: set[str] = set()
    for i, name in enumerate(priority):
        if name not in PRIORITY_NAMES:
            raise InvalidInput(
                f"{_FIELD}[{i}]", f"must be one of {', '.join(PRIORITY_NAMES)}; got {name!r}"
            )
        if name in seen:
            raise InvalidInput(f"{_FIELD}[{i}]", f"{name!r} is listed twice")
        seen.add(name)
    return tuple(priority)


def loss_percent(side: Side, reference_price: Decimal, price: Decimal) -> Decimal:
    """Queued-signal loss %, rounded HALF_UP to 0.01 (most negative = deepest retrace)."""
    if reference_price <= 0:
        raise InvalidInput("reference_price", f"must be > 0, got {reference_price}")
    move = price - reference_price if side == "long" else reference_price - price
    return cents(move / reference_price * HUNDRED)


def is_continuation(entry: QueueEntry, live_groups: Mapping[Key, KeyState]) -> bool:
    live = live_groups.get(entry.key)
    return live is not None and live.side == entry.side and not live.closing


def rank(
    entries: Iterable[QueueEntry],
    *,
    prices: Mapping[str, Decimal],
    live_groups: Mapping[Key, KeyState],
    priority: Sequence[str],
) -> list[RankedEntry]:
    """Rank the queue. ``prices`` by symbol; an unknown price ranks last on the loss rule."""
    rules = validate_priority(priority)
    rows = []
    for e in entries:
        cont = is_continuation(e, live_groups)
        price = prices.get(e.symbol)
        loss = None if price is None else loss_percent(e.side, e.reference_price, price)
        sort_key: list[object] = []
        for rule in rules:
            if rule == "pyramid_continuation":
                sort_key.append(not cont)
            elif rule == "highest_loss_percent":
                sort_key.append((1, Decimal(0)) if loss is None else (0, loss))
            elif rule == "highest_replacement_count":
                sort_key.append(-e.replacement_count)
            elif rule == "highest_expected_profit":
                sort_key.append(-e.expected_profit)
            else:  # fifo: applied here when listed, and again below (harmless)
                sort_key.append(e.queued_at_ms)
        sort_key.append(e.queued_at_ms)
        sort_key.append(e.id)
        rows.append((tuple(sort_key), e, cont, loss))
    rows.sort(key=lambda r: r[0])
    return [
        RankedEntry(
            rank=i, entry=e, continuation=cont, loss_percent=loss, expected_profit=e.expected_profit
        )
        for i, (_, e, cont, loss) in enumerate(rows, start=1)
    ]
