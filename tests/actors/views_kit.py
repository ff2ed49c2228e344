"""Groups and queue entries recorded in a real Store exactly as the engine records them.

A ``RecordedGroup`` runs the real group reducer (``engine.group.decide``) and writes every step
with the group actor's own projection writer (``actors.group.projection.record_step``), so the
read models are tested on the rows the running engine produces. ``queue_signal`` goes through
the real ``QueueActor``.
"""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from actors.group import projection
from actors.store.writer import Store
from engine.group import GridSnapshot, GroupContext, decide, open_group
from engine.group.messages import (
    OrderAccepted, OrderEnded, PlannedLeg, PriceChanged, PyramidPlan, TradeFilled,
)
from engine.group.state import OrderRef
from engine.types import MarketRules

INSTANCE = "t3st"


def rules(symbol: str = "TESTUSDT", tick: str = "0.01", step: str = "0.001") -> MarketRules:
    base = symbol.removesuffix("USDT")
    return MarketRules(symbol=symbol, ccxt_symbol=f"{base}/USDT", base=base, quote="USDT",
                       tick_size=D(tick), step_size=D(step), min_qty=D(step), min_notional=D("1"),
                       fetched_at_ms=1_000)


def cache_rules(store: Store, r: MarketRules, exchange: str = "paper") -> None:
    """A ``precision_cache`` row as the precision actor writes it."""
    store.write_now(lambda c: c.execute(
        "INSERT OR REPLACE INTO precision_cache (exchange, symbol, rules, fetched_at)"
        " VALUES (?, ?, ?, ?)", (exchange, r.symbol, msgspec.json.encode(r).decode(),
                                 r.fetched_at_ms)))


def ladder(legs, ref: str, notional: str, index: int = 0) -> PyramidPlan:
    """``legs``: (gap, weight, tp, price, qty) per leg."""
    return PyramidPlan(index=index, reference_price=D(ref), notional=D(notional), signal_ts_ms=0,
                       legs=tuple(PlannedLeg(index=i, gap_percent=D(g), weight_percent=D(w),
                                             tp_percent=D(t), price=D(p), qty=D(q))
                                  for i, (g, w, t, p, q) in enumerate(legs)))


class RecordedGroup:
    def __init__(self, store: Store, *, market: MarketRules, plan: PyramidPlan,
                 side: str = "long", timeframe: int = 60, tp_mode: str = "leg",
                 tp_percent: str = "1", price: str | None = None, now_ms: int = 1_000_000,
                 exchange: str = "paper"):
        self.store = store
        self.now = now_ms
        self.ctx = GroupContext(rules=market, price=D(price) if price else None)
        config = GridSnapshot(tp_mode=tp_mode, tp_percent=D(tp_percent))
        snapshot = msgspec.json.encode(config).decode()
        self.id = store.write_now(lambda c: projection.insert_group(
            c, exchange=exchange, symbol=market.symbol, timeframe=timeframe, side=side,
            now_ms=now_ms, config_snapshot=snapshot, first_signal=None))
        step = open_group(group_id=self.id, exchange=exchange, symbol=market.symbol,
                          timeframe=timeframe, side=side, config=config, plan=plan,
                          now_ms=now_ms, ctx=self.ctx)
        self.state = None
        self._record(step, None)
        self.trades = 0

    def _record(self, step, trade) -> None:
        before = self.state
        self.store.write_now(lambda c: projection.record_step(
            c, self.store, instance=INSTANCE, before=before, after=step.state,
            events=step.events, trade=trade, now_ms=self.now))
        self.state = step.state

    def send(self, msg) -> None:
        self.now += 1
        step = decide(self.state, msg, self.now, self.ctx)
        self._record(step, msg if isinstance(msg, TradeFilled) else None)

    def ack_all(self) -> None:
        for o in list(self.state.orders):
            if o.state == "pending":
                self.send(OrderAccepted(ref=o.ref))

    def price(self, p: str) -> None:
        self.ctx = msgspec.structs.replace(self.ctx, price=D(p))
        self.send(PriceChanged(price=D(p)))

    def fill(self, leg: int, qty: str | None = None, price: str | None = None,
             pyramid: int = 0, purpose: str = "e", end: bool = False, fee: str = "0") -> None:
        ref = next(o.ref for o in self.state.orders if o.ref.purpose == purpose
                   and (o.ref.pyramid, o.ref.leg) == (pyramid, leg))
        rec = next(o for o in self.state.orders if o.ref == ref)
        self.trades += 1
        self.send(TradeFilled(ref=ref, trade_id=f"{self.id}-t{self.trades}",
                              price=D(price) if price else rec.price,
                              qty=D(qty) if qty else rec.qty - rec.filled_qty, fee=D(fee),
                              fee_asset="USDT", ts_ms=self.now))
        if end:
            self.send(OrderEnded(ref=ref, status="filled"))

    def tp_ref(self, pyramid: int, leg: int) -> OrderRef:
        return next(o.ref for o in self.state.orders
                    if o.ref.purpose == "t" and (o.ref.pyramid, o.ref.leg) == (pyramid, leg))
