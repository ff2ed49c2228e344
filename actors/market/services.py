"""The market services of one engine core: the paper live feed, the price history and the two
read services the handle exposes (``handle.price_feed``, ``handle.charts``).

Owns: the ``LiveFeed`` (paper ``feed = "live"`` only), the ``PriceHistory`` recorder, the
``PriceCharts`` and ``PriceFeedStatus`` readers — built from the configuration the core runs.
Receives: ``follow(symbols)`` (the symbols of open groups and queue entries, from the
supervisor through the core), ``observe(update)`` for every price market data accepts.
Sends: the followed set to the live feed and the recorder; prices to the recorder.
Fails how: a live feed that cannot be set up (a bad public URL) raises ``PortSetupError``
naming the key or environment variable before anything starts; the tasks' own failures are
described in their modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import trio

from actors.exchange.factory import BUNDLED_MARKETS, PortSetupError, markets_path
from actors.exchange.port import PriceUpdate
from actors.market.chart import PriceCharts
from actors.market.feed_status import PriceFeedStatus
from actors.market.history import PriceHistory
from engine.config import Config


class MarketServices:
    def __init__(self, *, config: Config, store: Any, port: Any, market: Any, clock: Any,
                 running_config: Callable[[], Config], group: Callable[[int], dict | None],
                 base_dir: Path | None = None, health: Any = None):
        paper = config.exchange.paper
        inner = getattr(port, "inner", port)
        self.live = None
        backfill = getattr(inner, "fetch_ohlcv", None)  # the ccxt adapter
        if config.exchange.name == "paper":
            backfill = None
            if paper.feed == "live":
                self.live = _live_feed(paper, inner, clock)
                client = self.live.client

                async def backfill(symbol: str, since: int, until: int) -> list:
                    return await client.ohlcv(symbol, since_ms=since, until_ms=until)
        replayed = config.exchange.name == "paper" and paper.feed == "csv" \
            and paper.clock == "feed"
        self.history = PriceHistory(
            store=store, exchange=config.exchange.name, clock_ms=clock.now_ms,
            retention_days=lambda: running_config().ui.chart_history_days, backfill=backfill,
            record=not replayed)
        files = None
        if replayed:
            files = {s: Path(p) if Path(p).is_absolute() or base_dir is None else base_dir / p
                     for s, p in paper.csv_files.items()}
        self.charts = PriceCharts(group=group, history=self.history, clock_ms=clock.now_ms,
                                  candle_files=files)
        path = markets_path(config, base_dir) if config.exchange.name == "paper" else None
        self.feed_status = PriceFeedStatus(
            config=running_config, prices=market.prices, clock_ms=clock.now_ms,
            wall_ms=clock.wall_ms, live=self.live, health=health,
            markets_path=None if path == BUNDLED_MARKETS else path)

    def follow(self, symbols: Iterable[str]) -> None:
        followed = set(symbols)
        if self.live is not None:
            self.live.want(followed)
        self.history.follow(followed)

    def observe(self, update: PriceUpdate) -> None:
        self.history.observe(update.symbol, update.price)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.history.run)
            if self.live is not None:
                await nursery.start(self.live.run)
            task_status.started()


def _live_feed(paper: Any, exchange: Any, clock: Any) -> Any:
    from actors.exchange.public_client import PublicClient, PublicSetupError, public_endpoints
    from actors.market.live_feed import LiveFeed

    try:
        rest, ws = public_endpoints(paper.live)
        client = PublicClient(paper.live.exchange, rest_url=rest)
    except PublicSetupError as exc:
        raise PortSetupError(exc.field, str(exc).split(": ", 1)[-1]) from None
    return LiveFeed(client=client, paper=exchange, cfg=paper.live, ws_base=ws,
                    clock_ms=clock.wall_ms)
