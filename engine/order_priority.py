"""Which waiting order leaves first when the exchange's order budget is the bottleneck.

In a storm (hundreds of entry signals at one bar close) orders wait for the exchange's rate
budget. They leave by purpose, then by age:

1. ``PROTECTIVE`` — cancels and every order that reduces exposure: take-profits and their
   replacements, exit / aggregate / reduce / risk / manual closes;
2. ``FIRST_LEG`` — the first leg (DCA0) of a ladder;
3. ``DEEPER_LEG`` — the other entry legs.

Within a class the oldest decision goes first (decision time, then the client order id, so a
line rebuilt from the recorded orders after a crash has exactly the same order). A lower class
never waits in front of a higher one, and it never uses the last ``RESERVE_PERCENT`` of a
rate window: that headroom is kept for class 1, so entries cannot make the exchange refuse a
take-profit. An entry leg whose stale-ladder price (SPEC 3.10, the group's own trigger) the
market has reached is dropped instead of being sent late.

``Line`` is the waiting line as a plain container; ``next_step`` is the decision and
``stale_items`` the sweep for stale legs further back. All pure: the trio shell
(``actors/orders/line.py``) owns the clock and the budget.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Literal

import msgspec

from engine.group.price_watch import reached
from engine.orders import Purpose

PROTECTIVE, FIRST_LEG, DEEPER_LEG = 1, 2, 3
CLASSES = (PROTECTIVE, FIRST_LEG, DEEPER_LEG)
CLASS_NAMES = {PROTECTIVE: "protective", FIRST_LEG: "first_leg", DEEPER_LEG: "deeper_leg"}
RESERVE_PERCENT = 10  # of every rate window, kept free for class 1


def order_class(purpose: str, leg: int | None, *, cancel: bool = False) -> int:
    """The class of a placement (``purpose`` letter of SPEC 8.4, leg index) or of a cancel."""
    if cancel or purpose != Purpose.ENTRY:
        return PROTECTIVE
    return FIRST_LEG if leg == 0 else DEEPER_LEG


def reserve(cls: int, limit: int) -> int:
    """Units of a window of ``limit`` that an order of class ``cls`` must leave unused."""
    if cls == PROTECTIVE or limit <= 1:
        return 0
    return min(limit - 1, max(1, limit * RESERVE_PERCENT // 100))


class Waiting(msgspec.Struct, frozen=True, kw_only=True):
    """One order in the line. ``seq`` orders items of one class (the decision time in the
    priority mode, the arrival number in first-come mode); ``since_ms`` is when it entered
    the line (its wait is measured from there); ``entry_side`` and ``stale_at`` are set for a
    limit entry leg whose ladder can go stale."""

    cls: int
    seq: int
    cid: str
    symbol: str = ""
    since_ms: int = 0
    entry_side: Literal["buy", "sell"] | None = None
    stale_at: Decimal | None = None

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.cls, self.seq, self.cid)


def is_stale(item: Waiting, price: Decimal | None) -> bool:
    """The market has reached the leg's stale-ladder price (a buy leg: at or above it)."""
    if item.stale_at is None or item.entry_side is None or price is None:
        return False
    return reached("long" if item.entry_side == "buy" else "short", item.stale_at, price)


class Send(msgspec.Struct, frozen=True):
    item: Waiting


class Drop(msgspec.Struct, frozen=True):
    item: Waiting
    price: Decimal


class Wait(msgspec.Struct, frozen=True):
    """The best item cannot be admitted yet; nothing behind it may pass."""

    item: Waiting


Step = Send | Drop | Wait | None


class Line:
    """The waiting orders: one heap per class on ``key``; removal marks and skips."""

    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[tuple[int, int, str], Waiting]]] = {
            c: [] for c in CLASSES}
        self._live: dict[str, Waiting] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, cid: object) -> bool:
        return cid in self._live

    def put(self, item: Waiting) -> bool:
        """False when an order with this client id already waits (a repeat is not queued)."""
        if item.cls not in self._heaps:
            raise ValueError(f"cls: expected one of {CLASSES}, got {item.cls}")
        if item.cid in self._live:
            return False
        self._live[item.cid] = item
        heapq.heappush(self._heaps[item.cls], (item.key, item))
        return True

    def remove(self, cid: str) -> Waiting | None:
        return self._live.pop(cid, None)

    def head(self, cls: int) -> Waiting | None:
        heap = self._heaps[cls]
        while heap:
            item = heap[0][1]
            if self._live.get(item.cid) is item:
                return item
            heapq.heappop(heap)  # removed earlier (sent, withdrawn, dropped)
        return None

    def best(self) -> Waiting | None:
        return next((h for h in map(self.head, CLASSES) if h is not None), None)

    def in_order(self) -> list[Waiting]:
        """Every waiting item in the order it would leave (budget permitting)."""
        return sorted(self._live.values(), key=lambda w: w.key)

    def by_class(self) -> Iterator[tuple[int, int, Waiting | None]]:
        """(class, count, its oldest item) for every class."""
        counts = dict.fromkeys(CLASSES, 0)
        for item in self._live.values():
            counts[item.cls] += 1
        for cls in CLASSES:
            yield cls, counts[cls], self.head(cls)


def next_step(line: Line, price_of: Callable[[str], Decimal | None],
              admits: Callable[[Waiting], bool]) -> Step:
    """What to do with the best waiting item: drop it (stale), send it (admitted now) or wait
    — strict priority: when the best cannot go, nothing behind it goes either. ``price_of``
    gives a symbol's current price (None: unknown, so never stale)."""
    item = line.best()
    if item is None:
        return None
    if item.stale_at is not None:
        price = price_of(item.symbol)
        if is_stale(item, price):
            assert price is not None
            return Drop(item, price)
    return Send(item) if admits(item) else Wait(item)


def stale_items(line: Line, price_of: Callable[[str], Decimal | None]) -> list[Drop]:
    """Every waiting entry leg the market has made stale, wherever it waits (a periodic sweep:
    the best item is checked by ``next_step`` anyway)."""
    out = []
    for item in line.in_order():
        if item.stale_at is not None and is_stale(item, price := price_of(item.symbol)):
            assert price is not None
            out.append(Drop(item, price))
    return out
