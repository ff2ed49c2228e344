"""Waiting queue (SPEC 6.2-6.5): entries and operations, ranking, promotion decisions."""

from engine.queue.entries import (
    QUEUE_REASONS,
    ActionRefused,
    DuplicateIgnored,
    EntriesDropped,
    EntryPromoted,
    EntryQueued,
    EntryRemoved,
    EntryReplaced,
    EntrySuperseded,
    Key,
    QueuedSignal,
    QueueEntry,
    QueueEvent,
    QueueFullRejected,
    QueueReason,
    QueueState,
    QueueStep,
    drop_on_exit,
    enqueue,
    find,
    remove,
    without,
)
from engine.queue.promotion import (
    PoolView,
    Promotion,
    PromotionPlan,
    Skipped,
    Stopped,
    apply_plan,
    blocking_reason,
    plan_promotion,
    promote_one,
    slots_for,
)
from engine.queue.ranking import (
    PRIORITY_NAMES,
    KeyState,
    RankedEntry,
    is_continuation,
    loss_percent,
    rank,
    validate_priority,
)

__all__ = [
    "PRIORITY_NAMES", "QUEUE_REASONS", "ActionRefused", "DuplicateIgnored", "EntriesDropped",
    "EntryPromoted", "EntryQueued", "EntryRemoved", "EntryReplaced", "EntrySuperseded", "Key",
    "KeyState", "PoolView", "Promotion", "PromotionPlan", "QueueEntry", "QueueEvent",
    "QueueFullRejected", "QueueReason", "QueueState", "QueueStep", "QueuedSignal", "RankedEntry",
    "Skipped", "Stopped", "apply_plan", "blocking_reason", "drop_on_exit", "enqueue",
    "find", "is_continuation", "loss_percent", "plan_promotion", "promote_one",
    "rank", "remove", "slots_for", "validate_priority", "without",
]
