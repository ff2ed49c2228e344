"""What the pool's steps (routing, outcomes, operator actions) need from the supervisor.

Owns: nothing (types only). The supervisor satisfies ``PoolContext``; the step modules take it
instead of importing the supervisor, so the supervisor imports them and nothing imports it back.
Receives: nothing. Sends: nothing. Fails how: a missing member is a type error, not a runtime one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from actors.pool.directory import GroupDirectory, Slot
from actors.pool.queue_actor import QueueActor
from actors.store.writer import Store
from engine.config import Config
from engine.grid_settings import GridSettings
from engine.group import GroupState
from engine.precision import MetadataMissing, ResolvedRules
from engine.queue import Key, PoolView


class Precision(Protocol):
    def resolve(self, symbol: str, *, mode: Literal["auto", "force"] = "auto"
                ) -> ResolvedRules | MetadataMissing: ...

    def all_rules(self) -> dict: ...


class PoolContext(Protocol):
    config: Config
    store: Store
    queue: QueueActor
    precision: Precision
    market: Any  # MarketData: ``price(symbol)``
    directory: GroupDirectory
    instance: str
    clock_ms: Callable[[], int]
    paused: bool
    trading: bool

    @property
    def exchange(self) -> str: ...

    def used(self) -> int: ...

    def grid_for(self, key: Key) -> GridSettings: ...

    def pool_view(self) -> PoolView: ...

    def poke(self, reason: str) -> None: ...

    async def promote(self) -> None: ...

    def set_paused(self, paused: bool) -> None: ...

    def start_group(self, state: GroupState, grid: GridSettings, initial: Any) -> Slot: ...
