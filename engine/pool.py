"""Execution pool arithmetic (SPEC 6.1, D19): slots held per group, usage, fit test.

Slots are a pure function of a group's facts, so they never need to be stored: a non-closed group
holds its entry legs (``count_dca_toward_pool``), else its pyramids (``count_pyramids_toward_pool``,
rolled-back ones included), else 1. Closed and Failed groups hold nothing. A partial close (leg TP,
``reduce``, Risk Engine winner) changes none of these facts, so it never releases a slot (V16).
"""

from collections.abc import Iterable
from typing import Literal

import msgspec

from engine.errors import InvalidInput

GroupStatus = Literal["live", "partially_filled", "active", "closing", "closed", "failed"]
RELEASED_STATUSES: frozenset[str] = frozenset({"closed", "failed"})

PoolEvent = Literal[
    "group_created", "pyramid_added", "leg_tp", "reduce", "risk_partial_close", "group_closed",
    "group_failed",
]
SlotEffect = Literal["takes", "none", "releases_all"]
_EFFECTS: dict[str, SlotEffect] = {
    "group_created": "takes",
    "pyramid_added": "takes",  # takes 0 slots unless pyramids or DCA legs count
    "leg_tp": "none",
    "reduce": "none",  # a full reduce is a group close, reported as group_closed
    "risk_partial_close": "none",
    "group_closed": "releases_all",
    "group_failed": "releases_all",
}


class GroupSlots(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """What the pool needs to know about one group."""

    group_id: int
    status: GroupStatus
    pyramid_count: int  # received pyramids, rolled-back ones included
    entry_leg_count: int  # entry legs of all its pyramids, any state


def slots_held(
    group: GroupSlots, *, count_pyramids_toward_pool: bool, count_dca_toward_pool: bool
) -> int:
    if group.status in RELEASED_STATUSES:
        return 0
    if group.pyramid_count < 0 or group.entry_leg_count < 0:
        raise InvalidInput("pool.group", f"negative counts for group {group.group_id}")
    if count_dca_toward_pool:
        return group.entry_leg_count
    if count_pyramids_toward_pool:
        return group.pyramid_count
    return 1


def used_slots(
    groups: Iterable[GroupSlots], *, count_pyramids_toward_pool: bool, count_dca_toward_pool: bool
) -> int:
    return sum(
        slots_held(
            g,
            count_pyramids_toward_pool=count_pyramids_toward_pool,
            count_dca_toward_pool=count_dca_toward_pool,
        )
        for g in groups
    )


def slots_needed(
    *,
    new_group: bool,
    entry_legs: int,
    count_pyramids_toward_pool: bool,
    count_dca_toward_pool: bool,
) -> int:
    """Slots a new group (``new_group``) or a further pyramid with ``entry_legs`` legs needs."""
    if entry_legs < 1:
        raise InvalidInput("entry_legs", f"must be >= 1, got {entry_legs}")
    if count_dca_toward_pool:
        return entry_legs
    if count_pyramids_toward_pool:
        return 1
    return 1 if new_group else 0


def fits(used: int, k: int, max_open_groups: int) -> bool:
    """``used + k <= max``; a lowered ``max`` below ``used`` closes nothing, new work just waits."""
    if max_open_groups < 1:
        raise InvalidInput("execution_pool.max_open_groups", f"must be >= 1, got {max_open_groups}")
    if used < 0 or k < 0:
        raise InvalidInput("pool.used", f"slot counts must be >= 0, got used={used} k={k}")
    return used + k <= max_open_groups


def slot_effect(event: PoolEvent) -> SlotEffect:
    """What an event does to pool usage (SPEC 6.1 table): partial closes never release a slot."""
    try:
        return _EFFECTS[event]
    except KeyError:
        raise InvalidInput("pool.event", f"unknown pool event {event!r}") from None


def force_add_refusal(reason: str) -> str | None:
    """Force Add overrides the pool limit and nothing else (SPEC 6.5, A90): None = allowed."""
    return None if reason == "pool_full" else reason
