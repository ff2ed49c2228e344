"""The waiting queue (SPEC 6.2–6.5): entries, replacement counts and ranking.

Owns: the ``QueueState`` (engine/queue) and its projection, the ``queue_entries`` table; the
next entry id (``meta.queue_next_id``, so a removed entry's id is never reused).
Receives: calls from the supervisor only (it serialises them in its own loop): ``enqueue``,
``drop_on_exit``, ``remove``, ``plan_promote_one`` / ``plan_take`` (promotion), and read-only
``ranked`` / ``entries`` from anyone (the API reads the current immutable state).
Sends: nothing; every change is recorded — the journal rows of its events and the insert /
update / delete of its ``queue_entries`` rows in ONE ``store.write`` — before it becomes the
current state, and each event is logged. A promotion is only staged (``Staged``): its removal
is written by the caller in the same transaction as what the promotion did (the group, the
inbox outcome, or the entry queued again), so a crash cannot lose the accepted signal.
Fails how: a storage failure propagates (the daemon stops); the pure functions raise
``InvalidInput`` on impossible input, which propagates to the supervisor (a bug).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import msgspec

from actors.store.writer import Store
from engine import queue as q
from engine.queue import Key, KeyState, PoolView, Promotion, QueueEntry, QueueState, QueueStep
from engine.signals import Signal

Also = Callable[[sqlite3.Connection, QueueStep], None]

log = logging.getLogger("engine.system")


class QueuedPayload(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """What a queue entry's ``payload`` column holds: the signal (no secret: a parsed Signal
    never carries it), its inbox row, and the number of entry legs it would open."""

    signal: Signal
    inbox_id: int | None = None
    entry_legs: int = 1  # slots it needs when DCA legs count toward the pool


_payload_decoder = msgspec.json.Decoder(QueuedPayload)


def encode_payload(signal: Signal, inbox_id: int | None, entry_legs: int = 1) -> str:
    payload = QueuedPayload(signal=signal, inbox_id=inbox_id, entry_legs=entry_legs)
    return msgspec.json.encode(payload).decode()


def decode_payload(text: str) -> QueuedPayload:
    return _payload_decoder.decode(text)


class QueueActor:
    def __init__(self, *, store: Store, clock_ms: Callable[[], int]):
        self._store = store
        self._clock_ms = clock_ms
        self.state = QueueState()

    # -- start-up -------------------------------------------------------------------------
    def restore(self) -> None:
        """Load the entries of the previous run (SPEC 8.5 step 3)."""
        rows = self._store.query("SELECT * FROM queue_entries ORDER BY id")
        entries = tuple(_entry(r) for r in rows)
        stored = int(self._store.meta_get("queue_next_id") or 1)
        top = max((e.id for e in entries), default=0)
        self.state = QueueState(entries=entries, next_id=max(stored, top + 1))

    # -- reads ----------------------------------------------------------------------------
    @property
    def entries(self) -> tuple[QueueEntry, ...]:
        return self.state.entries

    def find(self, entry_id: int) -> QueueEntry | None:
        return q.find(self.state, entry_id)

    def for_key(self, key: Key) -> list[QueueEntry]:
        return [e for e in self.state.entries if e.key == key]

    def ranked(self, *, prices: Mapping[str, Decimal], live_groups: Mapping[Key, KeyState],
               priority: Sequence[str]) -> list[q.RankedEntry]:
        return q.rank(self.state.entries, prices=prices, live_groups=live_groups,
                      priority=priority)

    # -- changes --------------------------------------------------------------------------
    async def enqueue(self, signal: q.QueuedSignal, *, reason: q.QueueReason,
                      live_side: str | None, replace: bool, limit: int,
                      after: Staged | None = None, also: Also | None = None) -> QueueStep:
        """``after``: a staged promotion whose entry goes back to the queue — both changes are
        one commit (the promoted entry's removal never reaches the disk alone). ``also``
        (here and below): the caller's rows for this step — the inbox outcomes of the signals
        it queued, replaced or dropped — written in the same transaction."""
        base = self.state if after is None else after.step.state
        step = q.enqueue(base, signal, reason=reason, now_ms=self._clock_ms(),
                         live_side=live_side, queue_replace_same_symbol=replace,
                         queue_limit=limit)
        if after is not None:
            step = QueueStep(state=step.state, events=after.step.events + step.events)
        return await self._commit(step, also)

    async def drop_on_exit(self, key: Key, *, enabled: bool, also: Also | None = None
                           ) -> QueueStep:
        return await self._commit(q.drop_on_exit(self.state, key, drop_on_exit=enabled), also)

    async def remove(self, entry_id: int, *, user: str, also: Also | None = None) -> QueueStep:
        return await self._commit(q.remove(self.state, entry_id, user=user), also)

    async def plan_promote_one(self, entry_id: int, *, pool: PoolView, forced: bool
                               ) -> tuple[QueueStep, Staged | None, Promotion | None]:
        """A refusal is committed at once; a promotion is staged for the caller's write."""
        step, promotion = q.promote_one(self.state, entry_id, pool=pool, forced=forced)
        if promotion is None:
            return await self._commit(step), None, None
        return step, self.stage(step), promotion

    def plan_take(self, promotion: Promotion) -> Staged:
        """Stage the removal of one entry chosen by ``plan_promotion``."""
        plan = q.PromotionPlan(promote=(promotion,), skipped=(), stopped=None)
        return self.stage(q.apply_plan(self.state, plan))

    def stage(self, step: QueueStep) -> Staged:
        return Staged(self, step)

    async def set_reason(self, entry_id: int, reason: q.QueueReason,
                         also: Also | None = None) -> bool:
        """Show the reason that holds the entry now (e.g. engine_paused → pool_full); ``also``
        writes its signal's inbox outcome in the same transaction. False: nothing changed."""
        entry = self.find(entry_id)
        if entry is None or entry.reason == reason:
            return False
        new = msgspec.structs.replace(entry, reason=reason, updated_at_ms=self._clock_ms())
        state = QueueState(entries=tuple(new if e.id == entry_id else e
                                         for e in self.state.entries),
                           next_id=self.state.next_id)
        await self._commit(QueueStep(state=state, events=()), also)
        return True

    async def _commit(self, step: QueueStep, also: Also | None = None) -> QueueStep:
        staged = self.stage(step)
        if staged.empty and also is None:
            return step

        def write(conn: sqlite3.Connection) -> None:
            if not staged.empty:
                staged.write(conn)
            if also is not None:
                also(conn, step)

        await self._store.write(write)
        staged.adopt()
        return step


class Staged:
    """A queue change computed but not yet written: ``write(conn)`` inside the caller's
    transaction, then ``adopt()`` once that transaction committed."""

    def __init__(self, actor: QueueActor, step: QueueStep):
        self.actor = actor
        self.step = step
        self._before = {e.id: e for e in actor.state.entries}
        self._next_id = actor.state.next_id

    @property
    def empty(self) -> bool:
        after = {e.id: e for e in self.step.state.entries}
        return (not self.step.events and self._before == after
                and self.step.state.next_id == self._next_id)

    def write(self, conn: sqlite3.Connection) -> None:
        store = self.actor._store
        after = {e.id: e for e in self.step.state.entries}
        for ev in self.step.events:
            store.journal(conn, actor="queue", kind=type(ev).__name__, key=_event_key(ev),
                          body=ev)
        for entry_id in self._before.keys() - after.keys():
            conn.execute("DELETE FROM queue_entries WHERE id = ?", (entry_id,))
        for entry in after.values():
            if self._before.get(entry.id) != entry:
                _upsert(conn, entry)
        store.meta_set("queue_next_id", str(self.step.state.next_id), conn)

    def adopt(self) -> None:
        self.actor.state = self.step.state
        for ev in self.step.events:
            _log(ev)


def _upsert(conn: sqlite3.Connection, e: QueueEntry) -> None:
    inbox_id = decode_payload(e.payload).inbox_id
    conn.execute(
        "INSERT INTO queue_entries (id, exchange, symbol, timeframe, side, intent, payload,"
        " inbox_id, signal_ts, reference_price, order_size, size_type, reason, queued_at,"
        " updated_at, replacement_count, expected_profit_usd)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET intent = excluded.intent, payload = excluded.payload,"
        " inbox_id = excluded.inbox_id, signal_ts = excluded.signal_ts,"
        " reference_price = excluded.reference_price, order_size = excluded.order_size,"
        " size_type = excluded.size_type, reason = excluded.reason,"
        " updated_at = excluded.updated_at, replacement_count = excluded.replacement_count,"
        " expected_profit_usd = excluded.expected_profit_usd",
        (e.id, e.exchange, e.symbol, e.timeframe, e.side, e.intent, e.payload, inbox_id,
         e.signal_timestamp_ms, str(e.reference_price),
         None if e.order_size is None else str(e.order_size), e.size_type, e.reason,
         e.queued_at_ms, e.updated_at_ms, e.replacement_count, str(e.expected_profit)))


def _entry(r: dict) -> QueueEntry:
    return QueueEntry(
        id=r["id"], exchange=r["exchange"], symbol=r["symbol"], timeframe=r["timeframe"],
        side=r["side"], intent=r["intent"], payload=r["payload"],
        reference_price=Decimal(r["reference_price"]),
        order_size=None if r["order_size"] is None else Decimal(r["order_size"]),
        size_type=r["size_type"], signal_timestamp_ms=r["signal_ts"],
        expected_profit=Decimal(r["expected_profit_usd"] or "0"),
        entry_legs=decode_payload(r["payload"]).entry_legs,
        reason=r["reason"], queued_at_ms=r["queued_at"], updated_at_ms=r["updated_at"],
        replacement_count=r["replacement_count"])


def _event_key(ev: object) -> str | None:
    entry = getattr(ev, "entry", None)
    if entry is not None:
        return f"queue:{entry.id}"
    entry_id = getattr(ev, "entry_id", None)
    return None if entry_id is None else f"queue:{entry_id}"


_MESSAGES = {
    "EntryQueued": "signal queued", "EntryReplaced": "queued signal replaced",
    "DuplicateIgnored": "duplicate entry signal", "EntrySuperseded": "queued signal superseded",
    "QueueFullRejected": "queue full: signal rejected", "EntriesDropped": "queued signals dropped on exit",
    "EntryRemoved": "queued signal removed", "EntryPromoted": "queued signal promoted",
    "ActionRefused": "queue action refused",
}


def _log(ev: object) -> None:
    kind = type(ev).__name__
    entry = getattr(ev, "entry", None)
    level = logging.WARNING if kind == "QueueFullRejected" else logging.INFO
    log.log(level, _MESSAGES.get(kind, kind), extra={
        "event": f"queue_{kind}", "symbol": getattr(entry or ev, "symbol", None),
        "timeframe": getattr(entry or ev, "timeframe", None),
        "data": msgspec.to_builtins(ev, enc_hook=str)})
