"""The exchange a fault-search run trades on: the paper exchange (in-process, virtual time) or
the loopback Binance emulator through the ccxt adapter (real HTTP and websockets, wall time).

Both outlive every engine life and answer the same questions: a port for a new life, the
market (``push_price``), faults (``arm``), and the facts for the invariants (``state``: every
order and trade; ``placements``: every order request that reached the exchange;
``extra_safety``: the emulator's rate-limit counters).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from actors.exchange.paper import PaperExchange, load_markets_file
from actors.store.writer import Store
from engine.config import PaperConfig
from tests.stress.fault_search.chaos_port import Fault, FaultyPort, LifePort
from tests.stress.fault_search.generator import SYMBOLS, FaultStep
from tests.stress.fault_search.invariants import Finding

# port method -> (emulator path, HTTP method)
_PATHS = {"create_order": ("/api/v3/order", "POST"), "cancel_order": ("/api/v3/order", "DELETE"),
          "fetch_order": ("/api/v3/order", "GET"), "fetch_open_orders": ("/api/v3/openOrders", ""),
          "fetch_my_trades": ("/api/v3/myTrades", ""), "fetch_balances": ("/api/v3/account", ""),
          "": ("/api/v3/", "")}
_EMULATOR_KINDS = {"unavailable": "5xx", "timeout_before": "5xx", "timeout_after": "timeout",
                   "rate_limit": "429", "ban": "418", "reject_funds": "-2010",
                   "reject_filter": "-1013"}


class PaperBackend:
    virtual_time = True

    def __init__(self, workdir: Path, *, fee: Decimal, ratio: Decimal, clock, trigger):
        self.store = Store.open(workdir / "exchange.db", clock_ms=clock.wall_ms)
        self.paper = PaperExchange(db=self.store, clock_ms=clock.now_ms, config=PaperConfig(
            maker_fee_percent=fee, taker_fee_percent=fee, partial_fill_ratio=ratio,
            start_balances={"USDT": Decimal(100_000)}))
        self.port = FaultyPort(self.paper, on_effect=trigger.on_effect)
        self.rules = self.paper.markets

    async def start(self, symbols) -> None:
        for symbol in sorted(symbols):
            await self.paper.push_price(symbol, SYMBOLS[symbol][0])

    def life_port(self) -> LifePort:
        return LifePort(self.port)

    async def push_price(self, symbol: str, price: Decimal) -> None:
        await self.paper.push_price(symbol, price)

    def arm(self, step: FaultStep) -> None:
        self.port.arm(Fault(kind=step.kind, method=step.method, count=step.count,
                            retry_after_s=step.retry_after_s, delay_s=step.delay_s))

    def disarm(self) -> None:
        self.port.faults.clear()
        self.port.stream_faults.clear()

    async def state(self) -> dict:
        return self.paper.state()

    @property
    def placements(self) -> list[tuple[str, str]]:
        return self.port.placements

    @property
    def injected(self) -> int:
        return len(self.port.injected)

    async def extra_safety(self) -> list[Finding]:
        return []

    async def end_step(self) -> None:
        return None

    def close(self) -> None:
        self.store.close()


class EmulatorBackend:
    """The Binance emulator in a thread; each life gets a fresh ccxt adapter (its own thread
    pool and websockets), wrapped in a fault-free ``FaultyPort`` for the request record and
    the "killed after the exchange acted" trigger. Faults are armed in the emulator itself."""

    virtual_time = False

    def __init__(self, workdir: Path, *, fee: Decimal, ratio: Decimal, clock, trigger):
        from tests.emulator.chaos import ChaosEmulatorThread

        self.emu = ChaosEmulatorThread().start()
        self.emu.reset(balances={"USDT": "100000"}, partial_fill_ratio=str(ratio))
        self.trigger = trigger
        self.rules = load_markets_file(None, fetched_at_ms=0)
        self.injected_count = 0
        self.ports: list[FaultyPort] = []

    async def _ctl(self, fn, *args, **kwargs):
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def start(self, symbols) -> None:
        for symbol in sorted(symbols):
            await self._ctl(self.emu.price, symbol, str(SYMBOLS[symbol][0]))

    def life_port(self) -> LifePort:
        from tests.contract.conftest_ccxt import make_adapter

        adapter = make_adapter(self.emu, timeout_ms=1500)
        port = FaultyPort(adapter, on_effect=self.trigger.on_effect)
        self.ports.append(port)
        return _ClosingLifePort(port, adapter)

    async def push_price(self, symbol: str, price: Decimal) -> None:
        await self._ctl(self.emu.price, symbol, str(price))

    def arm(self, step: FaultStep) -> None:
        self.injected_count += step.count
        if step.kind == "drop_stream":
            self.emu.fault("drop_ws")
        elif step.kind in ("dup_events", "reorder_events"):
            self.emu.chaos("dup" if step.kind == "dup_events" else "reorder", step.count)
        else:
            path, method = _PATHS[step.method]
            self.emu.fault(_EMULATOR_KINDS[step.kind], count=step.count, path=path,
                           method=method, delay_s=max(step.delay_s, 2.0),
                           retry_after_s=int(step.retry_after_s))

    def disarm(self) -> None:
        self.emu.emulator.faults.clear()  # the list is only read between requests

    async def state(self) -> dict:
        return await self._ctl(self.emu.book)

    @property
    def placements(self) -> list[tuple[str, str]]:
        return [(o.get("newClientOrderId", ""), o["_result"]) for o in self.emu.orders()]

    @property
    def injected(self) -> int:
        return self.injected_count

    async def extra_safety(self) -> list[Finding]:
        stats = await self._ctl(self.emu.stats)
        if stats["rejected_429"]:
            return [Finding("rate-limit", f"the emulator refused {stats['rejected_429']} "
                            f"requests over its rate limits: {stats['weights']} {stats['orders']}")]
        return []

    async def end_step(self) -> None:
        await self._ctl(self.emu.chaos, "flush")

    def close(self) -> None:
        self.emu.stop()


class _ClosingLifePort(LifePort):
    def __init__(self, port: FaultyPort, adapter):
        super().__init__(port)
        self._adapter = adapter
        # the adapter's rate budget, so the gateway's order line pays for its orders as in
        # production (plain attributes: not gated calls)
        self.limiter, self.weight = adapter.limiter, adapter.weight

    async def aclose(self) -> None:
        await super().aclose()
        await self._adapter.aclose()
