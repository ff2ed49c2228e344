"""Waiting-queue entries and the pure operations on them (SPEC 6.2, 6.5, A44, A45).

Every operation takes a ``QueueState`` and returns a ``QueueStep``: the new state plus the events
to journal and log. Nothing here reads a clock: ``now_ms`` is a parameter.
"""

from decimal import Decimal
from typing import Literal

import msgspec

from engine.errors import InvalidInput
from engine.signals import candle_index
from engine.types import Side

QueueReason = Literal[
    "pool_full", "precision_missing", "opposite_side", "group_closing", "engine_paused"
]
QUEUE_REASONS: tuple[str, ...] = (
    "pool_full", "precision_missing", "opposite_side", "group_closing", "engine_paused"
)
Key = tuple[str, str, int]  # (exchange, symbol, timeframe)


class QueuedSignal(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The part of an entry signal the queue stores (payload already stripped of its secret).

    ``expected_profit`` (SPEC 6.3) and ``entry_legs`` (for ``count_dca_toward_pool``) are computed
    by the caller from the ladder the signal would open, with the signal's own reference price.
    """

    exchange: str
    symbol: str
    timeframe: int
    side: Side
    intent: Literal["signal", "reverse"]
    payload: str
    reference_price: Decimal
    order_size: Decimal | None
    size_type: Literal["quote", "base", "contracts"]
    signal_timestamp_ms: int
    expected_profit: Decimal
    entry_legs: int = 1


class QueueEntry(QueuedSignal, frozen=True, kw_only=True, tag=True):
    """A queued signal with its place in the queue."""

    id: int
    reason: QueueReason
    queued_at_ms: int
    updated_at_ms: int
    replacement_count: int = 0

    @property
    def key(self) -> Key:
        return (self.exchange, self.symbol, self.timeframe)


class QueueState(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entries: tuple[QueueEntry, ...] = ()
    next_id: int = 1


# ---- events (journaled and logged by the queue actor) ----


class EntryQueued(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry: QueueEntry


class EntryReplaced(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry: QueueEntry  # the entry after the overwrite


class DuplicateIgnored(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """"duplicate entry signal": same or earlier candle (2.6), or replacement disabled (6.2)."""

    entry_id: int
    why: Literal["same_candle", "stale", "replace_disabled"]


class EntrySuperseded(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int  # the removed opposite-side entry
    by_side: Side


class QueueFullRejected(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    exchange: str
    symbol: str
    timeframe: int
    side: Side
    queue_limit: int


class EntriesDropped(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An ``exit`` deleted the queued entries of its key (``drop_on_exit``)."""

    entry_ids: tuple[int, ...]


class EntryRemoved(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    user: str


class EntryPromoted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    slots: int
    forced: bool


class ActionRefused(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    entry_id: int
    action: Literal["promote", "remove", "force_add"]
    reason: str  # "not_found", "pool_full" or a blocking queue reason


QueueEvent = (
    EntryQueued | EntryReplaced | DuplicateIgnored | EntrySuperseded | QueueFullRejected
    | EntriesDropped | EntryRemoved | EntryPromoted | ActionRefused
)


class QueueStep(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    state: QueueState
    events: tuple[QueueEvent, ...]


# ---- operations ----


def _check_signal(signal: QueuedSignal) -> None:
    if signal.reference_price <= 0:
        raise InvalidInput("reference_price", f"must be > 0, got {signal.reference_price}")
    if signal.entry_legs < 1:
        raise InvalidInput("entry_legs", f"must be >= 1, got {signal.entry_legs}")


def _fresh(signal: QueuedSignal, entry_id: int, reason: QueueReason, now_ms: int) -> QueueEntry:
    return QueueEntry(**msgspec.structs.asdict(signal), id=entry_id, reason=reason,
                      queued_at_ms=now_ms, updated_at_ms=now_ms)


def enqueue(
    state: QueueState,
    signal: QueuedSignal,
    *,
    reason: QueueReason,
    now_ms: int,
    live_side: Side | None,
    queue_replace_same_symbol: bool,
    queue_limit: int,
) -> QueueStep:
    """Queue a signal that cannot execute now (SPEC 6.2).

    ``live_side`` is the side of the key's non-closed group, or None when no group is live.
    Order of the rules: same-candle duplicate, replacement, opposite-side supersede, queue limit.
    """
    _check_signal(signal)
    if reason not in QUEUE_REASONS:
        raise InvalidInput("reason", f"unknown queue reason {reason!r}")
    if queue_limit < 0:
        raise InvalidInput("execution_pool.queue_limit", f"must be >= 0, got {queue_limit}")
    key = (signal.exchange, signal.symbol, signal.timeframe)
    same = next((e for e in state.entries if e.key == key and e.side == signal.side), None)
    if same is not None:
        return _same_side(state, same, signal, reason, now_ms, queue_replace_same_symbol)

    entries = state.entries
    events: list[QueueEvent] = []
    if live_side is None:
        for old in entries:
            if old.key == key and old.side != signal.side:
                events.append(EntrySuperseded(entry_id=old.id, by_side=signal.side))
        if events:
            entries = tuple(e for e in entries if e.key != key)
    if queue_limit and len(entries) >= queue_limit:
        rejected = QueueFullRejected(
            exchange=signal.exchange,
            symbol=signal.symbol,
            timeframe=signal.timeframe,
            side=signal.side,
            queue_limit=queue_limit,
        )
        return QueueStep(state=state, events=(rejected,))
    entry = _fresh(signal, state.next_id, reason, now_ms)
    events.append(EntryQueued(entry=entry))
    new_state = QueueState(entries=entries + (entry,), next_id=state.next_id + 1)
    return QueueStep(state=new_state, events=tuple(events))


def _same_side(
    state: QueueState,
    old: QueueEntry,
    signal: QueuedSignal,
    reason: QueueReason,
    now_ms: int,
    replace: bool,
) -> QueueStep:
    # the same-candle duplicate rule of 2.6 applies to queued entries too (A44)
    new_candle = candle_index(signal.signal_timestamp_ms, signal.timeframe)
    old_candle = candle_index(old.signal_timestamp_ms, signal.timeframe)
    if new_candle <= old_candle:
        why: Literal["same_candle", "stale"] = "stale" if new_candle < old_candle else "same_candle"
        return QueueStep(state=state, events=(DuplicateIgnored(entry_id=old.id, why=why),))
    if not replace:
        ignored = DuplicateIgnored(entry_id=old.id, why="replace_disabled")
        return QueueStep(state=state, events=(ignored,))
    # the FIFO position (queued_at) is kept; everything the newer signal says is overwritten
    # (the key and side are the old entry's: ``same`` matched them)
    new = msgspec.structs.replace(old, **msgspec.structs.asdict(signal), reason=reason,
                                  updated_at_ms=now_ms,
                                  replacement_count=old.replacement_count + 1)
    entries = tuple(new if e.id == old.id else e for e in state.entries)
    return QueueStep(
        state=QueueState(entries=entries, next_id=state.next_id), events=(EntryReplaced(entry=new),)
    )


def drop_on_exit(
    state: QueueState, key: Key, *, drop_on_exit: bool
) -> QueueStep:
    """An ``exit`` deletes every queued entry of its key when ``waiting_rule.drop_on_exit``."""
    if not drop_on_exit:
        return QueueStep(state=state, events=())
    dropped = tuple(e.id for e in state.entries if e.key == key)
    if not dropped:
        return QueueStep(state=state, events=())
    kept = tuple(e for e in state.entries if e.key != key)
    return QueueStep(
        state=QueueState(entries=kept, next_id=state.next_id),
        events=(EntriesDropped(entry_ids=dropped),),
    )


def find(state: QueueState, entry_id: int) -> QueueEntry | None:
    return next((e for e in state.entries if e.id == entry_id), None)


def without(state: QueueState, entry_id: int) -> QueueState:
    return QueueState(
        entries=tuple(e for e in state.entries if e.id != entry_id), next_id=state.next_id
    )


def remove(state: QueueState, entry_id: int, *, user: str) -> QueueStep:
    """UI/admin Remove (SPEC 6.5), logged with the user."""
    if find(state, entry_id) is None:
        refused = ActionRefused(entry_id=entry_id, action="remove", reason="not_found")
        return QueueStep(state=state, events=(refused,))
    return QueueStep(
        state=without(state, entry_id), events=(EntryRemoved(entry_id=entry_id, user=user),)
    )
