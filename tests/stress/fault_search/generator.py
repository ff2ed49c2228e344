"""Random but valid scenarios from a seed: ``generate(seed, steps) -> Scenario``.

Everything random is drawn here from ``random.Random(seed)``, before the run starts, so a seed
names exactly one scenario. Steps that need a run-time target (the n-th live group, the n-th
queue entry) carry an index the runner resolves on the sorted ids of that moment, which the
deterministic run reproduces as well.

The generator tracks each symbol's price path and each key's candle cursor so that entries
carry realistic prices and timestamps: same-candle duplicates, pyramids in later candles, stale
replays, exact transport repeats (same idempotency key), exits, reduces, reverses and short
(opposite-side, spot-refused) signals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from tests.stress.fault_search.chaos_port import REST_FAULTS, STREAM_FAULTS

START_MS = 1_762_776_000_000  # 2025-11-10T12:00:00Z, aligned on every timeframe used
# symbol -> (start price, decimals of its tick)
SYMBOLS = {"LTCUSDT": (Decimal("100"), 2), "ETHUSDT": (Decimal("3000"), 2),
           "BTCUSDT": (Decimal("60000"), 2), "XRPUSDT": (Decimal("0.5"), 4),
           "ADAUSDT": (Decimal("0.4"), 4)}
TIMEFRAMES = (15, 60, 240)
PORT_METHODS = ("create_order", "cancel_order", "fetch_order", "fetch_open_orders",
                "fetch_my_trades", "fetch_balances", "")
KILL_MODES = ("after_commit", "before_commit", "after_exchange", "idle")


@dataclass(frozen=True)
class SignalStep:
    key: int  # index into Scenario.keys
    intent: str  # signal / exit / reduce / reverse
    side: str
    ts_ms: int
    price: Decimal
    order_size: Decimal | None
    size_type: str = "quote"
    market_position_size: Decimal = Decimal(0)
    prev_market_position_size: Decimal = Decimal(0)
    repeat: bool = False  # the previous webhook of this key again, byte for byte (2.5)


@dataclass(frozen=True)
class PriceStep:
    symbol: str
    price: Decimal


@dataclass(frozen=True)
class FaultStep:
    kind: str
    method: str
    count: int
    retry_after_s: float = 1.0
    delay_s: float = 0.0


@dataclass(frozen=True)
class KillStep:
    mode: str  # after_commit / before_commit / after_exchange: the k-th such event; idle: now
    k: int


@dataclass(frozen=True)
class OperatorStep:
    action: str  # pause / resume / close / promote / remove / force_add
    target: int  # index into the sorted live group ids or queue entry ids


@dataclass(frozen=True)
class ReloadStep:
    max_open_groups: int
    tp_mode: str


@dataclass(frozen=True)
class WaitStep:
    seconds: float


Step = SignalStep | PriceStep | FaultStep | KillStep | OperatorStep | ReloadStep | WaitStep


@dataclass(frozen=True)
class Scenario:
    seed: int
    keys: tuple[tuple[str, int], ...]  # (symbol, timeframe)
    max_open_groups: int
    tp_mode: str
    fee_percent: Decimal
    partial_fill_ratio: Decimal
    steps: tuple[tuple[Step, float], ...] = field(default=())  # (step, settle seconds after)

    def describe(self) -> str:
        keys = ", ".join(f"{s}/{tf}" for s, tf in self.keys)
        return (f"seed {self.seed}: keys {keys}; pool {self.max_open_groups}; tp {self.tp_mode};"
                f" fee {self.fee_percent}%; fill ratio {self.partial_fill_ratio}")


def _q(price: Decimal, places: int) -> Decimal:
    return price.quantize(Decimal(1).scaleb(-places))


class _Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        r = self.r
        symbols = r.sample(sorted(SYMBOLS), r.randint(1, 3))
        keys: list[tuple[str, int]] = []
        for s in symbols:
            for tf in r.sample(TIMEFRAMES, r.randint(1, 2)):
                keys.append((s, tf))
        self.keys = tuple(keys[:4])
        self.prices = {s: SYMBOLS[s][0] for s in symbols}
        self.candle = {k: 0 for k in range(len(self.keys))}  # candles after START_MS
        self.sent: dict[int, SignalStep] = {}
        self.time_s = 0.0  # the run's virtual time, roughly (timestamps stay plausible)

    # -- steps --------------------------------------------------------------------------------
    def price(self) -> PriceStep:
        r = self.r
        symbol = r.choice(sorted(self.prices))
        start, places = SYMBOLS[symbol]
        roll = r.random()
        if roll < 0.35:  # down through one or more ladder legs (-0.5 % .. -2 % apart)
            pct = Decimal(str(round(-r.uniform(0.4, 2.6), 2)))
        elif roll < 0.7:  # up through TP prices (0.5 % .. 2 % above the fills)
            pct = Decimal(str(round(r.uniform(0.4, 2.8), 2)))
        else:
            pct = Decimal(str(round(r.uniform(-0.3, 0.3), 2)))
        new = self.prices[symbol] * (1 + pct / 100)
        new = min(max(new, start * Decimal("0.85")), start * Decimal("1.15"))
        self.prices[symbol] = _q(new, places)
        return PriceStep(symbol=symbol, price=self.prices[symbol])

    def signal(self) -> SignalStep:
        r = self.r
        k = r.randrange(len(self.keys))
        symbol, tf = self.keys[k]
        last = self.sent.get(k)
        if last is not None and r.random() < 0.08:
            return last.__class__(**{**last.__dict__, "repeat": True})
        roll = r.random()
        intent = ("signal" if roll < 0.62 else "exit" if roll < 0.77 else
                  "reduce" if roll < 0.88 else "reverse")
        side = "short" if r.random() < 0.12 else "long"
        when = r.random()
        if when < 0.15:
            candle = self.candle[k]  # the same candle again (a duplicate entry)
        elif when < 0.2:
            candle = max(0, self.candle[k] - r.randint(1, 3))  # a stale replay
        else:
            candle = self.candle[k] + r.randint(1, 2)
            self.candle[k] = candle
        ts = START_MS + candle * tf * 60_000 + r.randrange(tf * 60_000)
        price = self.prices[symbol]
        size = Decimal(r.choice(("150", "300", "600", "1200")))
        step = SignalStep(key=k, intent=intent, side=side, ts_ms=ts, price=price,
                          order_size=size)
        if intent == "reduce":
            kind = r.random()
            if kind < 0.4:
                step = SignalStep(key=k, intent=intent, side=side, ts_ms=ts, price=price,
                                  order_size=Decimal(r.choice(("20", "60", "200", "5000"))))
            elif kind < 0.8:  # Q from the strategy's position sizes
                step = SignalStep(key=k, intent=intent, side=side, ts_ms=ts, price=price,
                                  order_size=None, market_position_size=Decimal(
                                      r.choice(("0", "1", "2", "3"))),
                                  prev_market_position_size=Decimal("4"))
            else:  # reduce without size: ignored and logged
                step = SignalStep(key=k, intent=intent, side=side, ts_ms=ts, price=price,
                                  order_size=None)
        self.sent[k] = step
        return step

    def fault(self) -> FaultStep:
        r = self.r
        if r.random() < 0.3:
            return FaultStep(kind=r.choice(STREAM_FAULTS), method="", count=r.randint(1, 4))
        kind = r.choice(REST_FAULTS)
        method = r.choice(PORT_METHODS)
        if kind in ("reject_funds", "reject_filter"):
            method = "create_order"
        count = r.choice((1, 1, 2, 3, 5))
        return FaultStep(kind=kind, method=method, count=count,
                         retry_after_s=float(r.choice((1, 2, 5, 10))),
                         delay_s=float(r.choice((0, 0, 0.5, 3))))

    def kill(self) -> KillStep:
        r = self.r
        return KillStep(mode=r.choice(KILL_MODES), k=r.randint(1, 25))

    def operator(self) -> OperatorStep:
        r = self.r
        action = r.choice(("pause", "resume", "resume", "close", "close", "promote", "remove",
                           "force_add"))
        return OperatorStep(action=action, target=r.randrange(8))

    def reload(self) -> ReloadStep:
        r = self.r
        return ReloadStep(max_open_groups=r.randint(1, 4),
                          tp_mode=r.choice(("leg", "leg", "aggregate", "hybrid")))

    def settle(self, step: Step) -> float:
        r = self.r
        if isinstance(step, WaitStep):
            return step.seconds
        return r.choice((0.2, 1.0, 1.0, 3.0, 3.0, 12.0))

    def one(self) -> Step:
        roll = self.r.random()
        if roll < 0.34:
            return self.price()
        if roll < 0.64:
            return self.signal()
        if roll < 0.77:
            return self.fault()
        if roll < 0.83:
            return self.kill()
        if roll < 0.9:
            return self.operator()
        if roll < 0.93:
            return self.reload()
        return WaitStep(seconds=float(self.r.choice((5, 15, 30, 70))))


def generate(seed: int, steps: int) -> Scenario:
    g = _Gen(seed)
    r = g.r
    max_open = r.randint(1, 4)
    tp_mode = r.choice(("leg", "leg", "aggregate", "hybrid"))
    fee = Decimal(r.choice(("0", "0.1")))
    ratio = Decimal(r.choice(("1", "1", "0.5", "0.34")))
    out: list[tuple[Step, float]] = []
    # open with an entry so that most runs have a group to torture
    first = g.signal()
    if first.intent != "signal" or first.side != "long" or first.repeat:
        first = SignalStep(key=first.key, intent="signal", side="long", ts_ms=first.ts_ms,
                           price=first.price, order_size=Decimal("600"))
        g.sent[first.key] = first
    out.append((first, 1.0))
    while len(out) < steps:
        step = g.one()
        out.append((step, g.settle(step)))
    return Scenario(seed=seed, keys=g.keys, max_open_groups=max_open, tp_mode=tp_mode,
                    fee_percent=fee, partial_fill_ratio=ratio, steps=tuple(out))
