"""The registry of running groups: which group is live for a key, by id, and what is held back.

Owns: the slot of every running group actor (by id and by its pair+timeframe key), the keys
whose group failed in this run (new entries for them are refused until the next start), and
the slots reserved for reversing groups (group id → the queue entry that will take its slot).
Receives: ``register`` / ``unregister`` / ``fail`` from the supervisor, its only writer;
order outcomes from the gateway (``deliver``).
Sends: each order outcome to the group actor that owns the order (never blocks). Readers (routing, the risk actor, the reconciler) look groups up here instead
of reaching into the supervisor; a group's state is read through its actor, its one owner.
Fails how: never raises; lookups of unknown ids or keys answer None.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from actors.group.actor import GroupActor
from engine.grid_settings import GridSettings
from engine.group import GroupState, slots_held
from engine.queue import Key

log = logging.getLogger("engine.system")


class Slot:
    """One registered group: its actor (the state's owner), key and grid snapshot."""

    def __init__(self, actor: GroupActor, grid: GridSettings):
        self.actor = actor
        self.grid = grid
        self.crashed = False
        s = actor.state
        self.group_id = s.group_id
        self.key: Key = (s.exchange, s.symbol, s.timeframe)

    @property
    def state(self) -> GroupState:
        return self.actor.state


class GroupDirectory:
    def __init__(self) -> None:
        self.groups: dict[int, Slot] = {}
        self.by_key: dict[Key, int] = {}
        self.failed_keys: set[Key] = set()
        self.reserved: dict[int, int] = {}  # reversing group id → queue entry taking its slot

    def get(self, group_id: int) -> Slot | None:
        return self.groups.get(group_id)

    def live(self, key: Key) -> Slot | None:
        gid = self.by_key.get(key)
        return None if gid is None else self.groups.get(gid)

    def slots(self) -> Iterator[Slot]:
        return iter(self.groups.values())

    def used(self, *, count_pyramids: bool, count_dca: bool) -> int:
        return sum(slots_held(s.state, count_pyramids=count_pyramids, count_dca=count_dca)
                   for s in self.groups.values())

    def register(self, slot: Slot, *, live: bool) -> None:
        """``live``: the group takes its key (an ended group restored for its tail does not)."""
        self.groups[slot.group_id] = slot
        if live:
            self.by_key[slot.key] = slot.group_id

    def release_key(self, group_id: int) -> Slot | None:
        """The group ended: its key is free for a new group; its slot lingers until it stops."""
        slot = self.groups.get(group_id)
        if slot is not None and self.by_key.get(slot.key) == group_id:
            del self.by_key[slot.key]
        return slot

    def unregister(self, group_id: int) -> None:
        self.groups.pop(group_id, None)

    def fail(self, slot: Slot) -> None:
        slot.crashed = True
        self.failed_keys.add(slot.key)

    def deliver(self, group_id: int, msg: object) -> None:
        """The gateway's outcome of an order to the group that owns it (never blocks)."""
        slot = self.groups.get(group_id)
        if slot is None or slot.crashed:
            log.warning("order update for a group that is not running", extra={
                "event": "update_unrouted", "group_id": group_id,
                "data": {"message": type(msg).__name__}})
            return
        slot.actor.deliver(msg)
