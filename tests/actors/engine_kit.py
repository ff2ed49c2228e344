"""A running trading side for actor and scenario tests: a real Store on tmp_path, the real paper
exchange (in-process, so trio's MockClock may drive every timer) and the engine core.

Nothing is mocked: signals go through the real inbox table into the supervisor; prices are
pushed through the paper exchange, whose stream reaches the gateway and market data.
"""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import msgspec
import trio

from actors.runtime.clock import EngineClock
from actors.runtime.core import EngineCore, run_core
from actors.exchange.paper import PaperExchange
from actors.pool.inbox import Inbox
from actors.store.writer import Store
from engine.config import Config, PaperConfig, default_config
from engine.messages import SignalAccepted
from engine.signals import Signal

START_MS = 1_762_776_000_000  # 2025-11-10T12:00:00Z
HOUR_MS = 3_600_000
SYMBOL = "LTCUSDT"  # tick 0.01, step 0.001 in the bundled exchange info: the D2 ladder


def config(**sections) -> Config:
    """The default configuration with some sections' keys replaced, e.g.
    ``config(execution_pool={"max_open_groups": 2})``."""
    cfg = default_config()
    for name, changes in sections.items():
        cfg = msgspec.structs.replace(cfg, **{name: msgspec.structs.replace(
            getattr(cfg, name), **changes)})
    return cfg


def signal(intent: str = "signal", *, side: str = "long", symbol: str = SYMBOL,
           timeframe: int = 60, ts_ms: int = START_MS, entry_price: str | None = "100",
           order_size: str | None = "1000", size_type: str = "quote",
           market_position_size: str = "0", prev_market_position_size: str = "0") -> Signal:
    text = f"{intent}{side}{symbol}{timeframe}{ts_ms}{entry_price}{order_size}{size_type}"
    key = hashlib.sha256(text.encode()).hexdigest()
    return Signal(
        intent=intent, side=side, symbol=symbol, ccxt_symbol=None, timeframe=timeframe,
        timestamp_ms=ts_ms, source="tradingview", tv_exchange="BINANCE",
        action="buy" if side == "long" else "sell", market_position="long",
        market_position_size=D(market_position_size), prev_market_position="flat",
        prev_market_position_size=D(prev_market_position_size),
        entry_price=None if entry_price is None else D(entry_price),
        close_price=D(entry_price or "100"), order_size=None if order_size is None
        else D(order_size), position_size_type=size_type, precision_mode="auto",
        max_slippage_percent=None, stop_loss=None, take_profit=None, trade_id="t",
        alert_name="a", alert_message="", idempotency_key=key)


class Kit:
    def __init__(self, store: Store, paper: PaperExchange, core: EngineCore, clock: EngineClock):
        self.store = store
        self.paper = paper
        self.core = core
        self.clock = clock
        self.inbox = Inbox(store)

    @property
    def sup(self):
        return self.core.supervisor

    async def send(self, sig: Signal) -> int:
        """Store the signal in the inbox (as the webhook does) and hand it to the supervisor."""
        outcome, inbox_id = await self.inbox.accept(sig, "{}", "127.0.0.1", self.clock.now_ms())
        assert outcome == "accepted"
        await self.sup.inbox.send(SignalAccepted(inbox_id=inbox_id, received_ms=0,
                                                 source_ip=None, signal=sig))
        await self.settle()
        return inbox_id

    async def price(self, price: str, symbol: str = SYMBOL) -> None:
        await self.paper.push_price(symbol, D(price))
        await self.settle()

    async def settle(self, seconds: float = 0.5) -> None:
        """Let every actor run (virtual time under autojump_clock)."""
        await trio.sleep(seconds)

    def inbox_row(self, inbox_id: int) -> dict:
        return self.store.query("SELECT state, outcome FROM inbox WHERE id = ?", (inbox_id,))[0]

    def orders(self, status: str | None = None, symbol: str = SYMBOL) -> list[dict]:
        return [o for o in self.paper.state()["orders"] if o["symbol"] == symbol
                and (status is None or o["status"] == status)]

    def open_orders(self, symbol: str = SYMBOL) -> list[tuple[str, str, str]]:
        """(side, price, quantity) of the resting orders, as decimal text."""
        return sorted((o["side"], o["price"], o["quantity"]) for o in self.orders("open", symbol))

    def groups(self) -> list[dict]:
        return self.store.query("SELECT id, symbol, timeframe, side, status, close_reason,"
                                " pyramid_count, open_qty FROM position_groups ORDER BY id")

    def queue(self) -> list[dict]:
        return self.store.query("SELECT * FROM queue_entries ORDER BY id")

    def journal(self, kind: str) -> list[dict]:
        return self.store.query("SELECT * FROM journal WHERE kind = ? ORDER BY seq", (kind,))


def paper_config(**changes) -> PaperConfig:
    values = {"maker_fee_percent": D(0), "taker_fee_percent": D(0),
              "start_balances": {"USDT": D(100_000), "LTC": D(0)}}
    if changes.pop("hold_base", False):  # shorts on the spot book need base to sell
        values["start_balances"] = {"USDT": D(100_000), "LTC": D(1_000)}
    values.update(changes)
    return PaperConfig(**values)


@asynccontextmanager
async def running(db: Path, cfg: Config | None = None, *, paper: PaperConfig | None = None,
                  prices: dict[str, str] | None = None, hedge: bool = False):
    """Store writer + paper exchange + engine core in one nursery; cancelled on exit (resting
    orders stay in the paper exchange's tables, as on a real shutdown)."""
    cfg = cfg or config()
    store = Store.open(db)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock.following_trio(START_MS)
            exchange = PaperExchange(db=store, config=paper or paper_config(),
                                     clock_ms=clock.now_ms)
            for symbol, price in (prices or {SYMBOL: "100"}).items():
                await exchange.push_price(symbol, D(price))
            port = HedgeModePaper(exchange) if hedge else exchange
            core = await nursery.start(partial(run_core, config=cfg, store=store, handle=None,
                                               secrets=None, clock=clock, port=port))
            kit = Kit(store, exchange, core, clock)
            await kit.settle()
            yield kit
            nursery.cancel_scope.cancel()
    finally:
        store.close()


class HedgeModePaper:
    """The paper exchange seen as a futures account in hedge mode: the position side travels
    with every order, the spot book just executes it (shorts sell base it holds). A port
    implementation (a fake, not a mock) for the opposite-side and reverse rules."""

    name = "paper"

    def __init__(self, paper: PaperExchange):
        self.inner = paper

    def __getattr__(self, attr: str):
        return getattr(self.inner, attr)

    async def create_order(self, request):
        return await self.inner.create_order(msgspec.structs.replace(
            request, position_side=None, reduce_only=False))

    def stream(self, symbols):
        return self.inner.stream(symbols)
