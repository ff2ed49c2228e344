"""The engine core: the trading-side actors, started in the SPEC 8.5 order under one nursery.

Owns: the exchange port, the precision refresher, market data, the order gateway, the
supervisor (with the group actors and the queue actor), the stream actor, the inbox worker, the
equity snapshots (``actors/analytics/snapshots.py``), and the forwarding of ``ConfigChanged`` to them; ``EngineCore`` is what the handle's engine
operations call (``handle.core``).
Receives: the running ``Config``, the ``Store``, the ``EngineHandle`` (its ``signals`` and
``config_changes`` channels), the ``SecretStore``; from the root: cancellation at shutdown.
Sends: ``SignalAccepted`` to the supervisor (the inbox backlog first, in arrival order, then the
live channel), ``ConfigChanged`` to the supervisor and the precision refresher,
``handle.status = "running"`` once everything is up (``"paused"`` / ``"running"`` on operator
pause/resume).
Fails how: any child's exception propagates out of ``run_core`` into the root (crash-only: the
process stops and the next start reloads and reconciles); a group actor's crash is contained by
the supervisor. A port that cannot be built raises ``PortSetupError`` before anything starts.
Shutdown (cancellation) leaves every resting order on the exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from actors.analytics.snapshots import EquitySnapshots
from actors.runtime.clock import EngineClock
from actors.exchange.factory import build_port
from actors.exchange.port import ExchangeError, ExchangePort
from actors.market.health import ExchangeHealth, MonitoredPort
from actors.orders.gateway import OrderGateway
from actors.market.prices import MarketData
from actors.market.services import MarketServices
from actors.pool.operator_actions import AdminResult, CloseGroupOp, PauseOp, PromoteOp, RemoveOp
from actors.market.precision import PrecisionActor
from actors.pool.queue_actor import QueueActor
from actors.risk.actor import RiskActor
from actors.store.writer import Store
from actors.market.streams import StreamActor
from actors.pool.directory import GroupDirectory
from actors.pool.supervisor import Supervisor
from actors.reconcile.reconciler import Reconciler
from engine.config import Config
from engine.messages import SignalAccepted

log = logging.getLogger("engine.system")

GATEWAY_INBOX = 1024  # commands down are awaited: a full gateway inbox is backpressure


class EngineCore:
    """The running trading side, as the handle sees it."""

    def __init__(self, *, config: Config, store: Store, port: ExchangePort, clock: EngineClock,
                 set_status=lambda status: None, on_change=lambda topic: None,
                 group_view: Callable[[int], dict | None] = lambda group_id: None,
                 base_dir: Path | None = None):
        self.config = config
        self.store = store
        self.port = port
        self.clock = clock
        self.instance = store.instance_id()
        self.health = getattr(port, "health", None)
        self.precision = PrecisionActor(
            port=port, store=store, exchange=config.exchange.name,
            refresh_sec=config.exchange.precision_refresh_sec,
            precision_cfg=config.precision, clock_ms=clock.wall_ms)
        self.market = MarketData(port=port, clock_ms=clock.now_ms)
        self.queue = QueueActor(store=store, clock_ms=clock.now_ms)
        self.gateway_send, self._gateway_receive = trio.open_memory_channel(GATEWAY_INBOX)
        self.stream: StreamActor | None = None
        # the paper live feed and the chart's price history (actors/market/services.py)
        self.services = MarketServices(
            config=config, store=store, port=port, market=self.market, clock=clock,
            running_config=lambda: self.config, base_dir=base_dir, health=self.health,
            group=group_view)
        directory = GroupDirectory()
        # the Risk Engine (SPEC 7) hears every group step and closes through the directory
        self.risk = RiskActor(
            store=store, directory=directory, config=lambda: self.config,
            precision=self.precision, market=self.market, clock_ms=clock.now_ms,
            engine_running=lambda: self.supervisor.trading and not self.supervisor.paused,
            on_change=lambda: on_change("risk"))
        self.gateway = OrderGateway(
            port=port, store=store, instance=self.instance, deliver=directory.deliver,
            clock_ms=clock.now_ms, on_invalid_order=self.precision.request_refresh,
            price_of=self._price_of, priority=config.exchange.order_priority,
            alert_after_ms=lambda: int(self.config.exchange.protective_wait_alert_sec * 1000))
        self.supervisor = Supervisor(
            config=config, store=store, instance=self.instance, gateway=self.gateway_send,
            market=self.market, precision=self.precision, queue=self.queue,
            clock_ms=clock.now_ms, on_status=set_status, on_symbols=self._watch,
            on_change=on_change, free_balance=self.gateway.free_balance, directory=directory,
            on_group_events=self.risk.on_group_events)
        # SPEC 11.3: equity every 5 minutes and at day boundaries of the engine clock
        self.snapshots = EquitySnapshots(
            store=store, config=lambda: self.config, now_ms=clock.now_ms,
            feed_mode=clock.mode == "feed", prices=self.prices,
            on_change=lambda: on_change("analytics"))
        # start-up pass before any signal, then every 60 s (SPEC 8.5)
        self.reconciler = Reconciler(
            port=port, store=store, groups=self.supervisor.directory.groups,
            gateway=self.gateway, instance=self.instance, clock=clock,
            rules=self.precision.rules, market_type=config.exchange.market_type,
            on_price=self.market.on_price)

    def _price_of(self, symbol: str) -> Decimal | None:
        """The newest price of ``symbol`` (the gateway's line drops stale entry legs)."""
        latest = self.market.price(symbol)
        return None if latest is None else latest[0]

    def _on_feed_time(self, ts_ms: int) -> None:
        self.clock.on_feed_time(ts_ms)
        self.snapshots.on_feed_time(self.clock.now_ms())

    def _watch(self, symbols: set[str]) -> None:
        self.services.follow(symbols)
        # The paper exchange streams every symbol in-process (an empty set): a resubscription
        # would only open a gap in its order updates.
        if self.stream is not None and self.config.exchange.name != "paper":
            self.stream.set_symbols(symbols)

    def _on_price(self, update: Any) -> None:
        self.market.on_price(update)
        self.services.observe(update)

    # -- the start sequence (SPEC 8.5) --------------------------------------------------------
    async def start(self, nursery: trio.Nursery, *, signals: trio.MemoryReceiveChannel | None,
                    pending: list[SignalAccepted]) -> None:
        await nursery.start(self.snapshots.run)  # first: it may rebuild the roll-ups
        await nursery.start(self.precision.run)
        await nursery.start(self.gateway.run, self._gateway_receive)
        self.queue.restore()
        await nursery.start(self.supervisor.run)  # restores the groups (their actors run)
        await _until_reconciled(self.reconciler)  # signals wait until one pass completed
        await nursery.start(self.reconciler.run_periodic)
        self.stream = StreamActor(port=self.port, on_order=self.gateway.on_update,
                                  on_price=self._on_price, health=self.health,
                                  clock_ms=self.clock.now_ms,
                                  on_feed_time=self._on_feed_time
                                  if self.clock.mode == "feed" else None)
        await nursery.start(self.stream.run)
        self.precision.subscribe(self.supervisor.on_precision)
        await self._capture_capital_base()
        self.supervisor.begin_trading()
        await nursery.start(self.risk.run)  # R5: evaluates only once trading has begun
        await nursery.start(_inbox_worker, self.supervisor, pending, signals)

    async def _capture_capital_base(self) -> None:
        """SPEC 11.3: with ``app.capital_base_usd = 0`` the capital base is the quote-currency
        balances (free + locked) seen at the first start; stored once, never recomputed."""
        if self.store.meta_get("capital_base_usd") is not None:
            return
        try:
            balances = await self.port.fetch_balances()
        except ExchangeError as e:  # tried again at the next start
            log.warning("capital base not captured", extra={
                "event": "capital_base_unknown", "data": {"error": str(e)}})
            return
        quotes = set(self.config.app.quote_currencies)
        base = sum((b.free + b.locked for a, b in balances.items() if a in quotes), Decimal(0))
        await self.store.write(lambda conn: self.store.meta_set("capital_base_usd", str(base),
                                                                conn=conn))
        log.info(f"capital base captured: {base}", extra={
            "event": "capital_base_captured", "data": {"capital_base_usd": str(base)}})

    # -- engine operations for the handle ---------------------------------------------------
    async def close_group(self, group_id: int, *, user: str | None) -> AdminResult:
        return await self.supervisor.request(CloseGroupOp(group_id=group_id, user=user))

    async def queue_action(self, entry_id: int, action: str, *, user: str | None) -> AdminResult:
        match action:
            case "promote" | "force_add":
                op = PromoteOp(entry_id=entry_id, forced=action == "force_add", user=user)
            case "remove":
                op = RemoveOp(entry_id=entry_id, user=user)
            case _:
                raise ValueError(f"action: expected promote, force_add or remove, got {action!r}")
        return await self.supervisor.request(op)

    async def pause(self, *, user: str | None) -> AdminResult:
        return await self.supervisor.request(PauseOp(paused=True, user=user))

    async def resume(self, *, user: str | None) -> AdminResult:
        return await self.supervisor.request(PauseOp(paused=False, user=user))

    def prices(self) -> dict:
        return {symbol: price for symbol, (price, _) in self.market.prices().items()}

    async def apply(self, message: Any) -> None:
        """``ConfigChanged``: pool/queue/grid to the supervisor, precision to its refresher."""
        self.config = message.config
        self.precision.reconfigure(refresh_sec=message.config.exchange.precision_refresh_sec,
                                   precision_cfg=message.config.precision)
        await self.supervisor.inbox.send(message)


async def _until_reconciled(reconciler: Reconciler) -> None:
    """Signals stay held until one start-up pass completes (SPEC 8.5); an unreachable exchange
    is retried, not fatal."""
    delay = 1.0
    while True:
        try:
            await reconciler.startup()
            return
        except ExchangeError as e:
            log.warning("start-up reconciliation failed, retrying", extra={
                "event": "reconcile_retry", "data": {"error": str(e), "retry_in_s": delay}})
            await trio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _inbox_worker(supervisor: Supervisor, pending: list[SignalAccepted],
                        signals: trio.MemoryReceiveChannel | None, *,
                        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Accepted signals to the supervisor: the backlog of the inbox table first (arrival order),
    then the live channel, skipping what the backlog already delivered."""
    taken = 0
    for message in pending:
        await supervisor.inbox.send(message)
        taken = max(taken, message.inbox_id)
    task_status.started()
    if signals is None:
        return
    async for message in signals:
        if message.inbox_id > taken:
            await supervisor.inbox.send(message)


async def _forward_config(core: EngineCore, changes: trio.MemoryReceiveChannel) -> None:
    async for message in changes:
        await core.apply(message)


def _paper_feed(config: Config, port: ExchangePort, base_dir: Path | None, clock: EngineClock):
    """The CSV replay of ``exchange.paper`` (``feed = "csv"``), or None."""
    paper = config.exchange.paper
    if config.exchange.name != "paper" or paper.feed != "csv" or not paper.csv_files:
        return None
    from functools import partial

    from actors.exchange.paper_feed import load_candle_files, run_csv_feed

    files = {s: (Path(p) if Path(p).is_absolute() or base_dir is None else base_dir / p)
             for s, p in paper.csv_files.items()}
    inner = getattr(port, "inner", port)
    return partial(run_csv_feed, inner, load_candle_files(files),
                   interval_ms=paper.replay_interval_ms, loop=paper.replay_loop)


async def run_core(*, config: Config, store: Store, handle: Any, secrets: Any,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
                   clock: EngineClock | None = None, port: ExchangePort | None = None) -> None:
    """Started by the root after the HTTP server (webhooks are journaled meanwhile).
    ``clock`` / ``port`` default to the configured ones (tests pass theirs)."""
    if clock is None:
        paper = config.exchange.name == "paper"
        clock = EngineClock("feed" if paper and config.exchange.paper.clock == "feed" else "wall")
    base_dir = handle.config_store.path.parent if handle is not None else None
    if port is None:
        health = ExchangeHealth(clock.wall_ms)
        port = MonitoredPort(build_port(config, secrets, store, clock, base_dir=base_dir,
                                        masker=getattr(handle, "masker", None)), health,
                             observer=getattr(handle, "metrics", None))  # /metrics hooks

    def set_status(status: str) -> None:
        if handle is not None:
            handle.status = status

    core = EngineCore(config=config, store=store, port=port, clock=clock, set_status=set_status,
                      on_change=handle.touch if handle is not None else lambda topic: None,
                      group_view=handle.group_view if handle is not None else lambda gid: None,
                      base_dir=base_dir)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(core.services.run)
            if handle is not None:  # the web's market services (actors/market/)
                handle.price_feed = core.services.feed_status
                handle.charts = core.services.charts
            pending = handle.inbox.pending() if handle is not None else []
            await core.start(nursery, signals=getattr(handle, "signals", None), pending=pending)
            feed = _paper_feed(config, port, base_dir, clock)
            if feed is not None:
                await nursery.start(feed)
            if handle is not None:
                nursery.start_soon(_forward_config, core, handle.config_changes)
                handle.core = core
                handle.views.set_source("risk", core.risk.status_source)  # R5: Panel C
                handle.hub.set_builder("risk", core.risk.panel)
                handle.status = "paused" if core.supervisor.paused else "running"
            log.info("engine core running", extra={"event": "core_running", "data": {
                "groups": len(core.supervisor.directory.groups), "queued": len(core.queue.entries)}})
            task_status.started(core)
    finally:
        with trio.CancelScope(shield=True):
            await port.aclose()
