"""The Risk Engine actor (SPEC 7): when to evaluate, what the cycle decided, the operator flags,
and the execution of offset plans through the group actors.

Owns: the operator flags (Block, Skip Once — persisted in ``position_groups.risk_blocked`` /
``skip_once``, written only here), the pending cycle request (coalesced), the last cycle's
outcome and status (Active / Idle / Blocked), the per-loser "insufficient" log times, the
closes whose realized USD is still to be booked, and the ``risk_actions`` rows.
Receives: ``request(trigger)`` — every ``risk_engine.evaluate_interval_sec`` from its own ticker
(``trio.sleep``: MockClock-testable), after every fill (``on_group_events``, when
``evaluate_on_fill``), and Run Now (``run_now``); requests arriving during a cycle become ONE
follow-up cycle. ``on_group_events(state, events)`` from every group actor (never blocks).
``control(group_id, op)`` from the API.
Sends: ``RiskClose`` to group actors found in the ``GroupDirectory`` (awaited, one at a time,
``actors/risk/execution.py``); rows and journal events (``actors/risk/audit.py``); log lines on
``engine.risk``; ``on_change()`` (the UI hub's "risk" topic) after each cycle or flag change.
Fails how: no cycle acts while the engine is paused or not yet trading (the outcome is
Blocked/engine_paused); groups without a price no older than 10 s are left out of the cycle;
a refused or incomplete close stops the action with its reason (never retried blindly);
storage errors and bugs propagate (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import trio

from actors.risk import audit
from actors.risk import execution
from actors.market.prices import FRESH_PRICE_MS
from actors.pool.directory import GroupDirectory
from actors.risk.views import ViewCache, row_json
from engine.config import Config
from engine.group import GroupState
from engine.group.messages import CloseFilled, GroupClosed, LegFilled, TimerChanged, TpFilled
from engine.precision import ResolvedRules
from engine.risk import (
    CycleOutcome,
    NoAction,
    OffsetPlan,
    RiskBlocked,
    RiskGroupView,
    RiskIdle,
    RiskSettings,
    decide,
    panel_rows,
    risk_status,
    screen,
    should_log_insufficient,
)
from engine.types import MarketRules

log = logging.getLogger("engine.risk")

TRIGGERS = ("interval", "fill", "run_now", "run_now_forced")  # SPEC 7.7, lowest rank first
CONTROLS = {"skip-once": ("skip_once", True), "block": ("risk_blocked", True),
            "unblock": ("risk_blocked", False)}
# A fill's effects can end one step later: an entry leg counts as filled for the timer once its
# order has ended, so the timer's start is the fill's last word (SPEC 7.6 "after every fill").
FILLS = (LegFilled, TpFilled, CloseFilled, TimerChanged)


class RiskRefused(Exception):
    """An operator request that cannot be served: HTTP ``status`` with a code and a reason."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A cycle's evaluation, before anything is recorded or sent."""

    trigger: str
    force: bool
    at: int
    outcome: CycleOutcome
    loser: RiskGroupView | None  # the view of the outcome's loser, as evaluated
    unpriced: list[int]


class _Request:
    def __init__(self, trigger: str, force: bool):
        self.trigger = trigger
        self.force = force
        self.done = trio.Event()
        self.result: dict[str, Any] = {}

    def merge(self, trigger: str, force: bool) -> None:
        if TRIGGERS.index(trigger) > TRIGGERS.index(self.trigger):
            self.trigger = trigger
        self.force = self.force or force


class RiskActor:
    def __init__(self, *, store, directory: GroupDirectory, config: Callable[[], Config],
                 precision, market, clock_ms: Callable[[], int],
                 engine_running: Callable[[], bool], on_change: Callable[[], None] = lambda: None):
        """``directory``: the running groups; ``config``: the running configuration (hot
        reloaded); ``precision``: ``resolve(symbol)``; ``market``: ``fresh_prices`` / ``price``;
        ``engine_running``: trading has begun and no operator paused it."""
        self.store = store
        self.directory = directory
        self._config = config
        self.precision = precision
        self.market = market
        self.clock_ms = clock_ms
        self._on_change = on_change
        self._engine_running = engine_running
        self.blocked, self.skip_once = audit.load_flags(store)
        self.executor = execution.PlanExecutor(group=directory.get,
                                               save=self.save)
        self.status = "idle"
        self.last_cycle: dict[str, Any] | None = None
        self._views = ViewCache()
        self._pending: _Request | None = None
        self._wake = trio.Event()
        self._insufficient_logged: dict[int, int] = {}
        self.cycles = 0

    # -- settings ------------------------------------------------------------------------------
    @property
    def settings(self) -> RiskSettings:
        return self._config().risk_engine

    def taker_fee_rate(self) -> Decimal | None:
        """The paper exchange's configured rate; None (→ 0.1 %, SPEC 7.5) when unknown."""
        exchange = self._config().exchange
        return exchange.paper.taker_fee_percent / 100 if exchange.name == "paper" else None

    # -- the loop ------------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._ticker)
            task_status.started()
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                await self._book_late()
                while self._pending is not None:
                    req, self._pending = self._pending, None
                    req.result = await self.cycle(req.trigger, force=req.force)
                    req.done.set()
                    if req.result["outcome"] == "executed":
                        self.request(req.trigger)  # one loser per cycle: re-read, repeat
                    await self._book_late()

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(max(self.settings.evaluate_interval_sec, 1))
            self.request("interval")

    def request(self, trigger: str, *, force: bool = False) -> _Request:
        """Ask for a cycle (never blocks); requests made meanwhile share one follow-up."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger: expected one of {TRIGGERS}, got {trigger!r}")
        if self._pending is None:
            self._pending = _Request(trigger, force)
        else:
            self._pending.merge(trigger, force)
        self._wake.set()
        return self._pending

    def on_group_events(self, state: GroupState, events) -> None:
        """Every recorded group step (called by the group actor; never blocks)."""
        if not events:
            return
        if self.executor.offer(state, events):
            self._wake.set()  # a late close ended: book its realized USD
        if any(isinstance(ev, GroupClosed) for ev in events):
            self.blocked.discard(state.group_id)  # flags die with the group
            self.skip_once.discard(state.group_id)
        if self.settings.evaluate_on_fill and any(isinstance(ev, FILLS) for ev in events):
            self.request("fill")

    async def _book_late(self) -> None:
        done = self.executor.take_late()
        for action_id, group_id, usd in done:
            now = self.clock_ms()
            await self.store.write(lambda conn, a=action_id, g=group_id, u=usd: (
                audit.book_late_realized(conn, self.store, a, g, u, now_ms=now)))
            log.info(f"risk action {action_id}: group {group_id} closed, realized {usd}",
                     extra={"event": "risk_realized", "group_id": group_id,
                            "data": {"action_id": action_id, "realized_usd": str(usd)}})
        if done:
            self._on_change()

    # -- one cycle -----------------------------------------------------------------------------
    async def group_views(self):
        """Every running group, priced at most ``FRESH_PRICE_MS`` old (fetched when older):
        live views, read before the next build (``LiveView.snapshot()`` to keep one)."""
        latest = self.market.prices()
        views = self._build({s: p for s, (p, _) in latest.items()})
        found = await self.market.fresh_prices(self._views.symbols, FRESH_PRICE_MS)
        if all(s in latest and found.get(s) == latest[s] for s in self._views.symbols):
            return views  # every price was fresh: nothing awaited, nothing moved
        # a price was stale or unknown and has been fetched: the states may have moved too
        return self._build({s: p for s, (p, _) in found.items()})

    def latest_views(self):
        """The same on the latest known prices (read side: never fetches)."""
        latest = {s: found[0] for s, found in self.market.prices().items()}
        return self._build(latest)

    def _build(self, prices: dict[str, Decimal]):
        market_close = self.settings.slippage_action == "warn"
        return self._views.build(self.directory.slots(), prices, self._rules,
                                 blocked=self.blocked, skip_once=self.skip_once,
                                 market_close=market_close)

    def _rules(self, symbol: str) -> MarketRules | None:
        resolved = self.precision.resolve(symbol)
        return resolved.rules if isinstance(resolved, ResolvedRules) else None

    async def cycle(self, trigger: str, *, force: bool = False) -> dict[str, Any]:
        """Evaluate once and act on the outcome; returns the cycle's summary."""
        return await self.act(await self.evaluate(trigger, force=force))

    async def evaluate(self, trigger: str, *, force: bool = False) -> Decision:
        """The decision half of a cycle: fresh views, the pure evaluation, Skip Once spent."""
        running = self._engine_running()
        spent = set(self.skip_once) if running else set()
        views = await self.group_views()
        now = self.clock_ms()
        screened = screen(views, self.settings, now, force=force)
        outcome = decide(screened, self.settings, engine_running=running,
                         taker_fee_rate=self.taker_fee_rate())
        loser_id = getattr(outcome, "loser_id", None)
        loser = next((v.snapshot() for v in (*screened.losers, *screened.excluded)
                      if v.id == loser_id), None)
        self.cycles += 1
        if spent:
            await self.store.write(lambda conn: audit.clear_skip_once(conn, self.store,
                                                                      sorted(spent)))
            self.skip_once -= spent
        return Decision(trigger=trigger, force=force, at=now, outcome=outcome, loser=loser,
                        unpriced=list(self._views.unpriced))

    async def act(self, d: Decision) -> dict[str, Any]:
        """The acting half: record, then execute a sufficient plan step by step."""
        outcome = d.outcome
        self.status = risk_status(outcome)
        summary: dict[str, Any] = {"at": d.at, "trigger": d.trigger, "forced": d.force,
                                   "status": self.status, "outcome": "idle", "loser_id": None,
                                   "action_id": None, "reason": None, "unpriced": d.unpriced}
        match outcome:
            case OffsetPlan():
                loser = d.loser
                record = audit.ActionRecord(ts=d.at, trigger=d.trigger, outcome=outcome,
                                            loser_usd=loser.unrealized_usd,
                                            loser_percent=loser.unrealized_percent)
                await self.save(record, "RiskPlanned")
                log.info(f"risk action {record.id}: loser {loser.id} {loser.symbol} "
                         f"{outcome.loss_percent} % / {loser.unrealized_usd} USD, required "
                         f"{outcome.required_usd} USD from {len(outcome.steps)} winner(s)",
                         extra={"event": "risk_plan", "group_id": loser.id,
                                "symbol": loser.symbol, "data": {"action_id": record.id,
                                                                 "trigger": d.trigger}})
                await self.executor.execute(outcome, record)
                summary.update(outcome=record.outcome, loser_id=outcome.loser_id,
                               action_id=record.id, reason=record.realized.get("reason"))
            case NoAction():
                summary.update(outcome="insufficient", loser_id=outcome.loser_id,
                               reason="insufficient offsets")
                summary["action_id"] = await self._insufficient(outcome, d)
            case RiskBlocked():
                summary.update(outcome="blocked", loser_id=outcome.loser_id,
                               reason=outcome.reason)
            case RiskIdle():
                pass
            case _:
                raise TypeError(f"unknown cycle outcome {outcome!r}")
        self.last_cycle = summary
        self._on_change()
        return summary

    async def save(self, record: audit.ActionRecord, kind: str) -> int:
        now = self.clock_ms()
        return await self.store.write(lambda conn: audit.save_action(
            conn, self.store, record, now_ms=now, kind=kind))

    async def _insufficient(self, outcome: NoAction, d: Decision) -> int | None:
        """Logged, and recorded, at most once per minute for the same loser (SPEC 7.5)."""
        last = self._insufficient_logged.get(outcome.loser_id)
        if not should_log_insufficient(last, d.at):
            return None
        self._insufficient_logged[outcome.loser_id] = d.at
        loser = d.loser
        record = audit.ActionRecord(ts=d.at, trigger=d.trigger, outcome=outcome,
                                    loser_usd=loser.unrealized_usd,
                                    loser_percent=loser.unrealized_percent)
        action_id = await self.save(record, "RiskInsufficient")
        log.warning(f"insufficient offsets for loser {loser.id} {loser.symbol}: required "
                    f"{outcome.required_usd} USD, available {outcome.available_usd} USD",
                    extra={"event": "risk_insufficient", "group_id": loser.id,
                           "symbol": loser.symbol, "data": {
                               "action_id": action_id, "required_usd": str(outcome.required_usd),
                               "available_usd": str(outcome.available_usd)}})
        return action_id

    # -- operator requests -----------------------------------------------------------------------
    async def run_now(self, *, force: bool = False, user: str | None = None) -> dict[str, Any]:
        """One cycle now (SPEC 7.7); ``force`` skips the timer condition for this cycle."""
        if not self._engine_running():
            raise RiskRefused(409, "engine_paused",
                              "the engine is paused or not trading: the Risk Engine does not act")
        log.info(f"risk Run Now{' (forced)' if force else ''} by {user or 'system'}",
                 extra={"event": "risk_run_now", "data": {"force": force, "user": user}})
        req = self.request("run_now_forced" if force else "run_now", force=force)
        await req.done.wait()
        return req.result

    async def control(self, group_id: int, op: str, *, user: str | None = None
                      ) -> dict[str, Any]:
        """Skip Once / Block / Unblock one group (SPEC 7.7)."""
        if op not in CONTROLS:
            raise RiskRefused(400, "bad_request", f"unknown risk control {op!r}")
        status = audit.group_status(self.store, group_id)
        if status is None:
            raise RiskRefused(404, "not_found", f"no group {group_id}")
        if status in ("closed", "failed"):
            raise RiskRefused(409, "group_closed", f"group {group_id} is {status}")
        column, value = CONTROLS[op]
        await self.store.write(lambda conn: audit.set_flag(
            conn, self.store, group_id, column=column, value=value, user=user))
        flags = self.blocked if column == "risk_blocked" else self.skip_once
        if value:
            flags.add(group_id)
        else:
            flags.discard(group_id)
        log.info(f"risk {op} group {group_id} by {user or 'system'}", extra={
            "event": f"risk_{op.replace('-', '_')}", "group_id": group_id,
            "data": {"user": user}})
        self._on_change()
        return self.flags_of(group_id)

    def flags_of(self, group_id: int) -> dict[str, Any]:
        return {"group_id": group_id, "blocked": group_id in self.blocked,
                "skip_once": group_id in self.skip_once}

    # -- read side -------------------------------------------------------------------------------
    def status_source(self) -> dict[str, Any]:
        """For ``ReadModels.set_source("risk", ...)``: status and last action time."""
        last = self.last_cycle
        return {"status": self.status, "last_action_at": audit.last_action_at(self.store),
                "last_cycle_at": None if last is None else last["at"]}

    def panel(self, *, actions: int = 20) -> dict[str, Any]:
        """Panel C (SPEC 7.7, 11.5 C, ``GET /api/risk``, the hub's "risk" topic) on the latest
        known prices."""
        views = self.latest_views()
        now = self.clock_ms()
        by_id = {v.id: v for v in views}
        rows = panel_rows(views, self.settings, now, taker_fee_rate=self.taker_fee_rate())
        s = self.settings
        return {
            **self.status_source(), "last_cycle": self.last_cycle, "now": now,
            "settings": {"loss_threshold_percent": str(s.loss_threshold_percent),
                         "timer_start_condition": s.timer_start_condition,
                         "post_full_wait_minutes": s.post_full_wait_minutes
                         if s.enable_post_full_wait else 0,
                         "require_full_pyramids": s.require_full_pyramids,
                         "use_trade_age_filter": s.use_trade_age_filter,
                         "evaluate_interval_sec": s.evaluate_interval_sec},
            "groups": [row_json(r, by_id[r.group_id], by_id) for r in rows],
            "blocked": sorted(self.blocked), "skip_once": sorted(self.skip_once),
            "unpriced": list(self._views.unpriced),
            "actions": audit.recent_actions(self.store, limit=actions),
        }
