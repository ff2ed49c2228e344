"""Run one scenario against the real engine core on the paper exchange, in virtual time.

``run_seed(seed, steps=, workdir=)`` → ``RunResult``. Everything runs in one ``trio.run`` with a
``MockClock`` (autojump) and trio's scheduler seeded from the seed, so a seed replays the same
run (with ``PYTHONHASHSEED=0``: ``python -m tests.stress.fault_search`` sees to it).

The exchange (paper, its own database) outlives every engine process; the engine's database
survives its kills. After every step the safety invariants are checked; liveness findings
become violations when they persist for ``GRACE_S`` of engine-up time, and strictly after a
final settle with every fault disarmed.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio
import trio.testing

from actors.runtime.clock import EngineClock
from actors.settings.config_service import ConfigRefused
from actors.settings.config_store import ConfigStore
from actors.handle import ActionRefused, IntakeUnavailable
from engine.config import DEFAULT_TOML
from tests.actors.engine_kit import signal as make_signal
from tests.stress.fault_search import invariants as inv
from tests.stress.fault_search.exchanges import EmulatorBackend, PaperBackend
from tests.stress.fault_search.generator import (
    START_MS, FaultStep, KillStep, OperatorStep, PriceStep, ReloadStep, Scenario, SignalStep,
    WaitStep, generate,
)
from tests.stress.fault_search.life import KillTrigger, Life

GRACE_S = 200.0  # engine-up seconds a liveness finding may last (2 reconcile periods + retries)
FINAL_SETTLE_S = 420.0
START_LIMIT_S = 900.0
# wall-time runs (emulator): steps settle at most this long, the end is polled more often
WALL_SETTLE_MAX_S = 2.0
WALL_FINAL_POLL_S = 3.0
WALL_FINAL_SETTLE_S = 150.0
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
step_log = logging.getLogger("engine.fuzz")


@dataclass
class Violation:
    step: int  # -1 = at the end
    kind: str  # safety / liveness / crash / start
    message: str


@dataclass
class RunResult:
    seed: int
    steps: int
    scenario: str = ""
    violations: list[Violation] = field(default_factory=list)
    lives: int = 0
    kills: int = 0
    injected: int = 0
    orders: int = 0
    groups: int = 0
    signals: int = 0
    wall_s: float = 0.0
    workdir: str = ""

    @property
    def clean(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        state = "clean" if self.clean else f"{len(self.violations)} VIOLATION(S)"
        return (f"seed {self.seed}: {state} — {self.steps} steps, {self.lives} lives, "
                f"{self.kills} kills, {self.injected} faults, {self.signals} signals, "
                f"{self.groups} groups, {self.orders} orders, {self.wall_s:.1f} s")


class Run:
    def __init__(self, scenario: Scenario, workdir: Path, exchange: str = "paper"):
        self.sc = scenario
        self.exchange_kind = exchange
        self.dir = workdir
        self.db = workdir / "engine_data" / "engine.db"
        self.toml = workdir / "engine.toml"
        self.trigger = KillTrigger()
        self.result = RunResult(seed=scenario.seed, steps=0, scenario=scenario.describe(),
                                workdir=str(workdir))
        self.life: Life | None = None
        self.lives = 0
        self.suspects: dict[str, float] = {}  # liveness finding -> engine-up time first seen
        self.up_total = 0.0
        self.up_since: float | None = None
        self.previous_used: int | None = None
        self.previous_max: int | None = None
        self.forced = False
        self.dead_steps = 0
        self._seen: set[str] = set()

    # -- set-up ---------------------------------------------------------------------------------
    async def setup(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        paper = self.exchange_kind == "paper"
        self.clock = EngineClock.following_trio(START_MS) if paper else EngineClock("wall")
        backend = PaperBackend if paper else EmulatorBackend
        self.exchange = backend(self.dir, fee=self.sc.fee_percent,
                                ratio=self.sc.partial_fill_ratio, clock=self.clock,
                                trigger=self.trigger)
        await self.exchange.start({s for s, _ in self.sc.keys})
        self.toml.write_text(DEFAULT_TOML)
        ConfigStore(self.toml).set_values({
            "exchange.name": "paper" if paper else "binance",
            "execution_pool.max_open_groups": self.sc.max_open_groups,
            "grid_strategy.tp_mode": self.sc.tp_mode})
        n = self.sc.seed % (36 ** 2)
        self.instance = "fs" + _BASE36[n // 36] + _BASE36[n % 36]

    # -- lives ----------------------------------------------------------------------------------
    def up_time(self) -> float:
        extra = trio.current_time() - self.up_since if self.up_since is not None else 0.0
        return self.up_total + extra

    def _went_down(self) -> None:
        if self.up_since is not None:
            self.up_total += trio.current_time() - self.up_since
            self.up_since = None

    async def ensure_alive(self, step: int) -> bool:
        for _ in range(8):
            life = self.life
            if life is not None and life.alive:
                return True
            if life is not None and life.dead.is_set():
                self._ended(life, step)
            if life is None or life.dead.is_set():
                self.lives += 1
                life = Life(number=self.lives, db=self.db, toml=self.toml,
                            port_factory=self.exchange.life_port, clock=self.clock,
                            trigger=self.trigger, instance=self.instance)
                self.life = await self.nursery.start(life.run)
            with trio.move_on_after(START_LIMIT_S):
                async with trio.open_nursery() as n:
                    async def until(event: trio.Event) -> None:
                        await event.wait()
                        n.cancel_scope.cancel()
                    n.start_soon(until, life.ready)
                    n.start_soon(until, life.dead)
            if life.alive:
                self.up_since = trio.current_time()
                self.dead_steps = 0
                return True
            if not life.dead.is_set():
                self.violate(step, "start", f"life {life.number}: start-up (reconciliation) did"
                             f" not complete in {START_LIMIT_S:.0f} s")
                life.kill()
                await life.dead.wait()
        self.violate(step, "start", "the engine could not be started 8 times in a row")
        return False

    def _ended(self, life: Life, step: int) -> None:
        """A life found dead: its crash (if it was not the kill) is a violation."""
        self._went_down()
        if life.crash and not getattr(life, "reported", False):
            life.reported = True
            self.violate(step, "crash", f"life {life.number} crashed:\n{life.crash}")

    # -- steps ----------------------------------------------------------------------------------
    async def step(self, i: int, step) -> None:
        life = self.life
        needs_engine = isinstance(step, (SignalStep, OperatorStep, ReloadStep))
        if life is None or not life.alive:
            if life is not None and life.dead.is_set():
                self._ended(life, i)
            self.dead_steps += 1
            if needs_engine or self.dead_steps > 2:
                if not await self.ensure_alive(i):
                    return
        life = self.life
        match step:
            case SignalStep():
                await self.send_signal(life, step)
            case PriceStep():
                await self.exchange.push_price(step.symbol, step.price)
            case FaultStep():
                self.exchange.arm(step)
            case KillStep():
                if step.mode == "idle":
                    self.trigger.fired += 1
                    life.kill()
                else:
                    self.trigger.arm(step.mode, step.k)
            case OperatorStep():
                await self.operator(life, step)
            case ReloadStep():
                await self.reload(life, step)
            case WaitStep():
                pass

    async def send_signal(self, life: Life, step: SignalStep) -> None:
        symbol, tf = self.sc.keys[step.key]
        sig = make_signal(step.intent, side=step.side, symbol=symbol, timeframe=tf,
                          ts_ms=step.ts_ms, entry_price=str(step.price),
                          order_size=None if step.order_size is None else str(step.order_size),
                          size_type=step.size_type,
                          market_position_size=str(step.market_position_size),
                          prev_market_position_size=str(step.prev_market_position_size))
        handle = life.handle

        async def accept():
            try:
                return await handle.accept(sig, "{}", "127.0.0.1", self.clock.now_ms())
            except IntakeUnavailable as e:
                return ("unavailable", str(e))

        ok, _ = await life.call(accept)
        self.result.signals += ok

    async def operator(self, life: Life, step: OperatorStep) -> None:
        handle = life.handle
        if step.action in ("pause", "resume"):
            call = getattr(handle, step.action)
            fn = lambda: call(user="fuzz")  # noqa: E731
        elif step.action == "close":
            ids = sorted(gid for gid, g in self._groups().items()
                         if g not in ("closed", "failed"))
            if not ids:
                return
            gid = ids[step.target % len(ids)]
            fn = lambda: handle.close_group(gid, user="fuzz")  # noqa: E731
        else:
            ids = sorted(r["id"] for r in self._query("SELECT id FROM queue_entries"))
            if not ids:
                return
            entry = ids[step.target % len(ids)]
            fn = lambda: handle.queue_action(entry, step.action, user="fuzz")  # noqa: E731

        async def act():
            try:
                return await fn()
            except ActionRefused as e:
                return {"ok": False, "code": e.code}

        ok, answer = await life.call(act)
        # "not_running" is no refusal: the engine stopped mid-action (a kill), which may have
        # let the force-add in
        refused = ok and isinstance(answer, dict) and answer.get("code") in (
            "conflict", "not_found")
        if step.action == "force_add" and not refused:
            self.forced = True

    async def reload(self, life: Life, step: ReloadStep) -> None:
        life.config_store.set_values({"execution_pool.max_open_groups": step.max_open_groups,
                                      "grid_strategy.tp_mode": step.tp_mode})

        async def apply():
            try:
                return await life.handle.apply_config(user="fuzz")
            except ConfigRefused as e:
                return {"refused": str(e)}

        await life.call(apply)

    # -- checks ---------------------------------------------------------------------------------
    def _query(self, sql: str) -> list[dict]:
        import sqlite3

        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql)]
        finally:
            conn.close()

    def _groups(self) -> dict[int, str]:
        return {r["id"]: r["status"] for r in self._query("SELECT id, status FROM "
                                                          "position_groups")}

    def violate(self, step: int, kind: str, message: str) -> None:
        self.result.violations.append(Violation(step=step, kind=kind, message=message))

    async def check(self, i: int, *, strict: bool = False) -> None:
        await self.exchange.end_step()
        state = await self.exchange.state()
        extra = await self.exchange.extra_safety()
        life = self.life
        if life is not None and life.dead.is_set():
            self._ended(life, i)
        alive = life is not None and life.alive
        facts = inv.read_facts(self.db, exchange_state=state,
                               placements=self.exchange.placements, rules=self.exchange.rules,
                               supervisor=life.core.supervisor if alive else None)
        for f in inv.safety(facts) + extra:
            if f.key not in self._seen:
                self._seen.add(f.key)
                self.violate(i, "safety", f.message)
        pool = inv.pool_finding(facts, self.previous_used, self.forced, self.previous_max)
        if pool is not None:
            self.violate(i, "safety", pool.message)
        if facts.used is not None:
            self.previous_used = facts.used
            self.previous_max = facts.max_open
            # a force-add cut short by a kill completes at the next start: it counts until a
            # live engine has been looked at
            self.forced = self.forced and not alive
        if not alive:
            return
        now = self.up_time()
        found = {f.key: f for f in inv.liveness(facts)}
        self.suspects = {k: self.suspects.get(k, now) for k in found}
        for key, f in found.items():
            if (strict or now - self.suspects[key] > GRACE_S) and key not in self._seen:
                self._seen.add(key)
                self.violate(i, "liveness", f.message)

    # -- the whole run ----------------------------------------------------------------------------
    async def run(self) -> None:
        await self.ensure_alive(0)
        for i, (step, settle) in enumerate(self.sc.steps):
            self.result.steps = i + 1
            if not self.exchange.virtual_time:
                settle = min(settle, WALL_SETTLE_MAX_S)
            step_log.info(f"--- step {i}: {step} (then {settle} s)")
            await self.step(i, step)
            await trio.sleep(settle)
            await self.check(i)
        # the end: no more faults or kills, the engine up, time to settle every retry
        self.trigger.disarm()
        self.exchange.disarm()
        end = len(self.sc.steps)
        step_log.info("--- final settle")
        await self.ensure_alive(end)
        virtual = self.exchange.virtual_time
        poll = 30.0 if virtual else WALL_FINAL_POLL_S
        at_least, at_most = (90.0, FINAL_SETTLE_S) if virtual else (6.0, WALL_FINAL_SETTLE_S)
        waited = 0.0
        while waited < at_most:
            await trio.sleep(poll)
            waited += poll
            await self.check(end)
            if not self.suspects and waited >= at_least:
                break
        await self.check(end, strict=True)
        if self.life is not None:
            self.life.kill()
            await self.life.dead.wait()
            self._ended(self.life, end)

    def finish(self) -> RunResult:
        r = self.result
        r.lives = self.lives
        r.kills = self.trigger.fired
        r.injected = self.exchange.injected
        r.orders = len({cid for cid, result in self.exchange.placements if result == "placed"})
        r.groups = len(self._groups())
        return r


class _Formatter(logging.Formatter):
    """Virtual time, the message and the structured extras (group, order, data)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            now = f"{trio.current_time():9.2f}"
        except RuntimeError:
            now = "        -"
        extras = " ".join(f"{k}={getattr(record, k)}" for k in ("group_id", "order_id", "data")
                          if getattr(record, k, None) not in (None, {}))
        text = f"{now} {record.name[7:]:9} {record.levelname[:4]} {record.getMessage()} {extras}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def run_seed(seed: int, *, steps: int = 40, workdir: Path, keep: bool = False,
             exchange: str = "paper", log_level: int = logging.INFO) -> RunResult:
    """One seed: ``exchange="paper"`` in virtual time (fast, deterministic) or ``"emulator"``
    (the ccxt adapter on the loopback Binance emulator: real HTTP faults, wall time)."""
    scenario = generate(seed, steps)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    handler = logging.FileHandler(workdir / "engine.log")
    handler.setFormatter(_Formatter())
    logger = logging.getLogger("engine")
    logger.handlers[:] = [handler]
    logger.setLevel(log_level)
    logger.propagate = False
    started = time.monotonic()
    run = Run(scenario, workdir, exchange)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await run.setup(nursery)
            try:
                await run.run()
            finally:
                nursery.cancel_scope.cancel()

    # trio's deterministic scheduling (what its Hypothesis integration switches on): each batch
    # of runnable tasks in creation order, shuffled by its seeded generator — one seed, one run
    import trio._core._run as trio_run

    trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True
    trio_run._r.seed(seed)
    clock = trio.testing.MockClock(autojump_threshold=0) if exchange == "paper" else None
    try:
        trio.run(main, clock=clock)
        result = run.finish()
    finally:
        handler.close()
        logger.handlers[:] = []
        if getattr(run, "exchange", None) is not None:
            run.exchange.close()
    result.wall_s = time.monotonic() - started
    if result.clean and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
