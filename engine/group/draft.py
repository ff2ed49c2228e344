"""The working copy of one decision: a mutable shell around frozen values.

``decide`` loads the state into a Draft, the rule modules edit legs/orders/pyramids through it
and collect commands and events, and ``freeze`` builds the next immutable state. Nothing here
outlives one call, so the reducer stays a pure function.
"""

from decimal import Decimal

import msgspec

from engine.group.messages import (
    AttemptsExhausted,
    CancelOrder,
    GroupCommand,
    GroupEvent,
    OrderIntended,
    PlaceOrder,
    Step,
    WithdrawOrder,
)
from engine.group.state import (
    GroupContext,
    GroupState,
    Leg,
    OrderRec,
    OrderRef,
    OrderSide,
    OrderType,
    Pyramid,
    TimeInForce,
)
from engine.orders import MAX_ATTEMPT, Purpose

replace = msgspec.structs.replace


class Draft:
    def __init__(self, state: GroupState, now_ms: int, ctx: GroupContext):
        self.s = state  # top-level scalars; legs/orders/pyramids live in the containers below
        self.now = now_ms
        self.ctx = ctx
        self.legs: dict[tuple[int, int], Leg] = {leg.key: leg for leg in state.legs}
        self.orders: dict[OrderRef, OrderRec] = {o.ref: o for o in state.orders}
        self.pyramids: dict[int, Pyramid] = {p.index: p for p in state.pyramids}
        self.commands: list[GroupCommand] = []
        self.events: list[GroupEvent] = []

    # -- top level ------------------------------------------------------------------------------
    def set(self, **changes: object) -> None:
        self.s = replace(self.s, **changes)

    def event(self, ev: GroupEvent) -> None:
        self.events.append(ev)

    @property
    def closing(self) -> bool:
        return self.s.status in ("closing", "closed", "failed")

    @property
    def open_qty(self) -> Decimal:
        return sum((leg.open_qty for leg in self.legs.values()), Decimal(0))

    @property
    def dust_qty(self) -> Decimal:
        return sum((leg.dust_qty for leg in self.legs.values()), Decimal(0))

    def view(self) -> GroupState:
        """The state as it stands now (for the pure read-only helpers)."""
        return replace(
            self.s,
            legs=tuple(self.legs.values()),
            orders=tuple(self.orders.values()),
            pyramids=tuple(self.pyramids.values()),
        )

    def freeze(self) -> Step:
        return Step(state=self.view(), commands=tuple(self.commands), events=tuple(self.events))

    # -- legs -----------------------------------------------------------------------------------
    def leg(self, key: tuple[int, int]) -> Leg:
        return self.legs[key]

    def put_leg(self, leg: Leg, **changes: object) -> Leg:
        leg = replace(leg, **changes) if changes else leg
        self.legs[leg.key] = leg
        return leg

    def put_pyramid(self, p: Pyramid, **changes: object) -> Pyramid:
        p = replace(p, **changes)
        self.pyramids[p.index] = p
        return p

    # -- orders ---------------------------------------------------------------------------------
    def orders_of(self, purpose: str, key: tuple[int, int] | None = None) -> list[OrderRec]:
        return [
            o for o in self.orders.values()
            if o.ref.purpose == purpose and (key is None or (o.ref.pyramid, o.ref.leg) == key)
        ]

    def close_orders(self) -> list[OrderRec]:
        return [o for o in self.orders.values() if o.ref.purpose not in (Purpose.ENTRY, Purpose.TAKE_PROFIT)]

    def count_fill(self, ref: OrderRef, qty: Decimal) -> None:
        rec = self.orders.get(ref)
        if rec is not None:
            self.orders[ref] = replace(rec, filled_qty=rec.filled_qty + qty)

    def place(
        self, ref: OrderRef, *, side: OrderSide, type: OrderType, qty: Decimal,
        price: Decimal | None, tif: TimeInForce = "GTC", closing: bool = False,
        stale_at: Decimal | None = None,
    ) -> bool:
        """Record and emit one order; False when its attempt number is exhausted.
        ``stale_at``: an entry leg's stale-ladder price (the gateway drops it there)."""
        if ref.attempt > MAX_ATTEMPT:
            self.event(AttemptsExhausted(pyramid=ref.pyramid, leg=ref.leg, purpose=ref.purpose))
            return False
        futures = self.ctx.market_type == "futures"
        cmd = PlaceOrder(
            group_id=self.s.group_id, ref=ref, symbol=self.s.symbol, side=side, order_type=type,
            qty=qty, price=price, time_in_force=tif, reduce_only=closing and futures,
            position_side=self.s.side if futures else None, decided_ms=self.now,
            stale_at=stale_at,
        )
        self.orders[ref] = OrderRec(
            ref=ref, side=side, type=type, time_in_force=tif, qty=qty, price=price,
            placed_at_ms=self.now,
        )
        self.event(OrderIntended(order=cmd))
        self.commands.append(cmd)
        return True

    def resend(self, rec: OrderRec, stale_at: Decimal | None = None) -> None:
        """Send the same order again with the same id (nothing reached the exchange)."""
        cmd = PlaceOrder(
            group_id=self.s.group_id, ref=rec.ref, symbol=self.s.symbol, side=rec.side,
            order_type=rec.type, qty=rec.qty, price=rec.price, time_in_force=rec.time_in_force,
            reduce_only=rec.ref.purpose != Purpose.ENTRY and self.ctx.market_type == "futures",
            position_side=self.s.side if self.ctx.market_type == "futures" else None,
            decided_ms=self.now, stale_at=stale_at,
        )
        self.orders[rec.ref] = replace(rec, state="pending", placed_at_ms=self.now)
        self.commands.append(cmd)

    def cancel(self, rec: OrderRec, why: str = "") -> None:
        """Ask for a cancel; the order's end arrives later as OrderEnded.

        A pending order is cancelled once acknowledged — and withdrawn at once if it still
        waits in the gateway's line (then it ends without any exchange call); market/IOC
        orders end by themselves; an order waiting for a resend never reached the exchange and
        is ended by ``settle``.
        """
        if rec.cancel != "none":
            return
        if rec.state == "retry":
            self.orders[rec.ref] = replace(rec, cancel="requested")
        elif rec.type == "market" or rec.time_in_force == "IOC":
            return
        elif rec.state == "pending":
            self.orders[rec.ref] = replace(rec, cancel="wanted")
            self.commands.append(WithdrawOrder(group_id=self.s.group_id, ref=rec.ref,
                                               symbol=self.s.symbol, why=why))
        else:
            self.orders[rec.ref] = replace(rec, cancel="requested")
            self.commands.append(CancelOrder(group_id=self.s.group_id, ref=rec.ref,
                                             symbol=self.s.symbol))
