"""A small driver for the group reducer tests: plays the exchange by hand, one message at a time.

Nothing is mocked: every message goes through ``decide``; the kit only builds the inputs the
gateway would deliver (acknowledgements, trades, order ends) from the commands the reducer
emitted.
"""

from decimal import Decimal as D

import msgspec

from engine.group import GridSnapshot, GroupContext, decide, open_group
from engine.group.messages import (
    CancelOrder,
    OrderAccepted,
    OrderEnded,
    PlaceOrder,
    PlannedLeg,
    PriceChanged,
    PyramidPlan,
    Step,
    TradeFilled,
)
from engine.group.state import OrderRef
from engine.types import Level, MarketRules

RULES = MarketRules(
    symbol="TESTUSDT", ccxt_symbol="TEST/USDT", base="TEST", quote="USDT",
    tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"), min_notional=D("5"),
)

D2_LEGS = [  # (gap, weight, tp, price, qty) of SPEC 13 D2
    ("0", "20", "1", "100.00", "2.000"),
    ("-0.5", "20", "0.5", "99.50", "2.010"),
    ("-1.0", "20", "2", "99.00", "2.020"),
    ("-1.5", "20", "1.5", "98.50", "2.030"),
    ("-2.0", "20", "1", "98.00", "2.040"),
]


def plan(index: int = 0, legs=D2_LEGS, ref: str = "100", notional: str = "1000",
         ts: int = 0, levels=()) -> PyramidPlan:
    return PyramidPlan(
        index=index, reference_price=D(ref), notional=D(notional), signal_ts_ms=ts,
        legs=tuple(PlannedLeg(index=i, gap_percent=D(g), weight_percent=D(w), tp_percent=D(t),
                              price=D(p), qty=D(q)) for i, (g, w, t, p, q) in enumerate(legs)),
        levels=levels,
    )


def d2_levels() -> tuple[Level, ...]:
    return tuple(Level(gap_percent=D(g), weight_percent=D(w), tp_percent=D(t))
                 for g, w, t, _, _ in D2_LEGS)


class Sim:
    def __init__(self, *, tp_mode="leg", tp_percent="1", side="long", legs=D2_LEGS,
                 rules=RULES, price="100", entry_order_type="limit", max_pyramids=5,
                 cancel_beyond="0", ref="100", levels=(), **ctx):
        self.now = 1_000
        self.ctx = GroupContext(rules=rules, price=D(price) if price else None, **ctx)
        self.config = GridSnapshot(
            tp_mode=tp_mode, tp_percent=D(tp_percent), entry_order_type=entry_order_type,
            max_pyramids=max_pyramids, cancel_dca_beyond_percent=D(cancel_beyond),
        )
        self.trade_seq = 0
        self.commands: list = []
        self.events: list = []
        step = open_group(group_id=7, exchange="paper", symbol=rules.symbol, timeframe=60,
                          side=side, config=self.config, plan=plan(legs=legs, ref=ref,
                                                                   levels=levels),
                          now_ms=self.now, ctx=self.ctx)
        self._record(step)

    # -- plumbing --------------------------------------------------------------------------
    def _record(self, step: Step) -> Step:
        self.state = step.state
        self.last = step
        self.commands.extend(step.commands)
        self.events.extend(step.events)
        return step

    def send(self, msg, *, advance: int = 1, **ctx) -> Step:
        self.now += advance
        if ctx:
            self.ctx = msgspec.structs.replace(self.ctx, **ctx)
        return self._record(decide(self.state, msg, self.now, self.ctx))

    def price(self, p: str) -> Step:
        self.ctx = msgspec.structs.replace(self.ctx, price=D(p))
        return self.send(PriceChanged(price=D(p)))

    # -- the exchange side ------------------------------------------------------------------
    def order(self, ref: OrderRef):
        return next(o for o in self.state.orders if o.ref == ref)

    def placed(self, purpose: str | None = None) -> list[PlaceOrder]:
        return [c for c in self.commands if isinstance(c, PlaceOrder)
                and (purpose is None or c.ref.purpose == purpose)]

    def cancels(self) -> list[CancelOrder]:
        return [c for c in self.commands if isinstance(c, CancelOrder)]

    def ack_all(self) -> None:
        for o in list(self.state.orders):
            if o.state == "pending":
                self.send(OrderAccepted(ref=o.ref))

    def trade(self, ref: OrderRef, qty: str, price: str | None = None, fee: str = "0",
              fee_asset: str = "USDT") -> Step:
        self.trade_seq += 1
        rec = next((o for o in self.state.orders if o.ref == ref), None)
        px = D(price) if price else (rec.price if rec and rec.price else self.ctx.price)
        return self.send(TradeFilled(ref=ref, trade_id=f"t{self.trade_seq}", price=px,
                                     qty=D(qty), fee=D(fee), fee_asset=fee_asset,
                                     ts_ms=self.now + 1))

    def end(self, ref: OrderRef, status: str = "filled") -> Step:
        return self.send(OrderEnded(ref=ref, status=status))

    def fill_all(self, ref: OrderRef, price: str | None = None) -> Step:
        rec = self.order(ref)
        rest = rec.qty - rec.filled_qty
        if rest > 0:
            self.trade(ref, str(rest), price)
        return self.end(ref, "filled")

    def confirm_cancels(self) -> None:
        """Every order the reducer asked to cancel ends cancelled (acks pending ones first)."""
        while True:
            self.ack_all()
            asked = [o for o in self.state.orders if o.cancel == "requested"]
            if not asked:
                return
            for o in asked:
                self.end(o.ref, "canceled")

    def entry(self, pyramid: int, leg: int, attempt: int = 0) -> OrderRef:
        return OrderRef(pyramid=pyramid, leg=leg, purpose="e", attempt=attempt)

    def tp_ref(self, pyramid: int, leg: int) -> OrderRef:
        return next(o.ref for o in self.state.orders
                    if o.ref.purpose == "t" and (o.ref.pyramid, o.ref.leg) == (pyramid, leg))

    def close_ref(self) -> OrderRef:
        return next(o.ref for o in self.state.orders if o.ref.purpose not in ("e", "t"))

    def events_of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]
