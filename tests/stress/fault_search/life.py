"""One process life of the engine under test, and the armed kill.

A ``Life`` is what ``engine run`` would be between two starts: its own database connection and
writer (``KillableStore``), its own ``EngineHandle`` (webhook intake, operator actions, Apply)
and the engine core (``run_core``) on a ``LifePort`` to the run's one exchange. ``kill()`` ends
it like a SIGKILL (see ``chaos_port``); an exception escaping the core is recorded as a crash,
and the life ends too (systemd would restart the process: the runner starts the next life).
"""

from __future__ import annotations

import logging
import traceback
from functools import partial
from pathlib import Path

import trio

from actors.settings.config_store import ConfigStore
from actors.runtime.core import run_core
from actors.handle import EngineHandle
from actors.settings.secrets import SecretStore
from engine.masking import Masker
from tests.stress.fault_search.chaos_port import Killed, KillableStore, LifePort


class KillTrigger:
    """At most one armed kill: the k-th commit (before or after it) or the k-th call that
    changed the exchange. One-shot: it disarms when it fires."""

    def __init__(self) -> None:
        self.mode: str | None = None
        self.k = 0
        self.fired = 0
        self.kill = lambda: None  # the current life's kill

    def arm(self, mode: str, k: int) -> None:
        self.mode, self.k = mode, k

    def disarm(self) -> None:
        self.mode = None

    def _count(self, mode: str) -> bool:
        if self.mode != mode:
            return False
        self.k -= 1
        if self.k > 0:
            return False
        self.mode = None
        self.fired += 1
        return True

    def before_commit(self) -> str | None:
        for mode in ("before_commit", "after_commit"):
            if self._count(mode):
                return mode
        return None

    def on_effect(self, method: str) -> None:
        if self._count("after_exchange"):
            self.kill()


class Life:
    def __init__(self, *, number: int, db: Path, toml: Path, port_factory, clock,
                 trigger: KillTrigger, instance: str | None):
        self.number = number
        self.db = db
        self.toml = toml
        self.port_factory = port_factory  # a new LifePort on the run's exchange
        self.clock = clock
        self.trigger = trigger
        self.instance = instance
        self.ready = trio.Event()
        self.dead = trio.Event()
        self.crash: str | None = None
        self.killed = False
        self.core = None
        self.handle: EngineHandle | None = None
        self.config_store: ConfigStore | None = None
        self._store: KillableStore | None = None
        self._port: LifePort | None = None
        self._scope: trio.CancelScope | None = None

    @property
    def alive(self) -> bool:
        return self.ready.is_set() and not self.dead.is_set()

    def kill(self) -> None:
        if self.killed or self.dead.is_set():
            return
        self.killed = True
        logging.getLogger("engine.fuzz").warning(f"--- life {self.number} KILLED")
        if self._store is not None:
            self._store.kill()
        if self._port is not None:
            self._port.kill()
        if self._scope is not None:
            self._scope.cancel()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                task_status.started(self)
                await self._run()
        except BaseException as exc:  # a crash of the engine process (not the kill)
            rest = _without_kill(exc)
            if rest is not None:
                self.crash = "".join(traceback.format_exception(rest))
        finally:
            if self._store is not None:
                self._store.close()
            self.dead.set()

    async def _run(self) -> None:
        store = KillableStore.open(self.db, clock_ms=self.clock.wall_ms)
        self._store = store
        if self.instance is not None:  # deterministic client ids: set before the first order
            store.meta_set("instance_id", self.instance)
        store.before_commit = self.trigger.before_commit
        store.on_kill = self.kill
        self.trigger.kill = self.kill
        self.config_store = ConfigStore(self.toml)
        cfg = self.config_store.load()
        self._port = self.port_factory()
        self.handle = EngineHandle(
            store=store, config_store=self.config_store,
            secrets=SecretStore(self.toml.parent, cfg.security), masker=Masker(),
            clock_ms=self.clock.now_ms)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            self.core = await nursery.start(partial(
                run_core, config=cfg, store=store, handle=self.handle,
                secrets=self.handle.secrets, clock=self.clock, port=self._port))
            self.ready.set()
            await trio.sleep_forever()

    async def call(self, fn):
        """Run an operator/webhook call against this life; ``(ok, result)``. A call the kill
        cut short answers ``(False, "killed")`` — the caller saw a connection error."""
        result: list = []

        async def attempt() -> None:
            try:
                result.append((True, await fn()))
            except Killed:
                result.append((False, "killed"))
            nursery.cancel_scope.cancel()

        async def watch() -> None:
            await self.dead.wait()
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt)
            nursery.start_soon(watch)
        return result[0] if result else (False, "killed")


def _without_kill(exc: BaseException) -> BaseException | None:
    """The part of ``exc`` that is not the kill (``Killed``, the cancellation it caused)."""
    if isinstance(exc, (Killed, trio.Cancelled)):
        return None
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split((Killed, trio.Cancelled))
        return rest
    return exc
