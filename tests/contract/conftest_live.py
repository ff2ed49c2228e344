"""The paper exchange fed by live public prices (``feed = "live"``) as a port implementation:
the paper exchange itself, its prices coming from the loopback Binance emulator's public
``/ws`` socket and REST through ``actors/market/live_feed.py``.

The driver moves a price the way the market would: at the emulator, which pushes a
``bookTicker`` frame (mid = the price); it first makes the feed follow the symbol and waits
until the subscription and its REST catch-up are done, then waits for that frame to reach the
paper exchange. Markets are the bundled snapshot (the emulator serves the same file).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import trio

from actors.exchange.paper import PaperExchange
from actors.exchange.public_client import PublicClient
from actors.market.live_feed import LiveFeed
from actors.store.writer import Store
from engine.config import PaperConfig
from engine.config.model import PaperLiveConfig
from tests.contract.conftest_ccxt import shared_emulator
from tests.emulator.server import EmulatorThread

WAIT_S = 30


class LiveDriver:
    def __init__(self, emu: EmulatorThread, feed: LiveFeed, exchange: PaperExchange):
        self.emu, self.feed, self.exchange = emu, feed, exchange

    async def set_price(self, symbol: str, price: Decimal | str) -> None:
        price = Decimal(price)
        feed = self.feed
        feed.want(feed.symbols() | {symbol})
        with trio.fail_after(WAIT_S):
            while symbol not in feed.subscribed or symbol in feed._behind:
                await trio.sleep(0.01)
            before = feed.updates.get(symbol, 0)
            await trio.to_thread.run_sync(self.emu.price, symbol, str(price))
            while feed.updates.get(symbol, 0) == before or \
                    self.exchange.book.prices.get(symbol) != price:
                await trio.sleep(0.005)


def _wall_ms() -> int:
    return int(time.time() * 1000)


@asynccontextmanager
async def paper_live_venue(tmp_path: Path, settings: dict) -> AsyncIterator:
    from tests.contract.conftest import Venue

    emu = shared_emulator()
    await trio.to_thread.run_sync(lambda: (emu.reset(), emu.control("public", {"stall": False})))
    store = Store.open(tmp_path / "engine.db")
    config = PaperConfig(**settings)
    # no stale refresh within a test: a duplicate price event would fill one more chunk
    live = PaperLiveConfig(poll_sec=Decimal("0.5"), stale_sec=3600)

    async def start(nursery: trio.Nursery) -> tuple[PaperExchange, LiveFeed]:
        exchange = PaperExchange(db=store, config=config, clock_ms=_wall_ms)
        feed = LiveFeed(client=PublicClient("binance", rest_url=emu.base), paper=exchange,
                        cfg=live, ws_base=emu.ws_url, clock_ms=_wall_ms)
        await nursery.start(feed.run)
        return exchange, feed

    async with trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def run_in(task_status=trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                async with trio.open_nursery() as inner:
                    task_status.started(await start(inner))

        exchange, feed = await nursery.start(run_in)
        venue = Venue(kind="paper_live", exchange=exchange, driver=LiveDriver(emu, feed, exchange))

        async def restart() -> PaperExchange:
            nonlocal scope
            followed = venue.driver.feed.symbols()
            scope.cancel()
            await venue.exchange.aclose()
            scope = trio.CancelScope()
            exchange, feed = await nursery.start(run_in)
            feed.want(followed)
            venue.exchange, venue.driver = exchange, LiveDriver(emu, feed, exchange)
            return exchange

        venue.restart = restart
        try:
            yield venue
        finally:
            scope.cancel()
            await venue.exchange.aclose()
            store.close()
