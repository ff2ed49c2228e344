"""The queue actor: every change recorded (journal + queue_entries) before it is current, and
the queue restored from its table at start."""

from decimal import Decimal as D

import pytest
import trio

from actors.pool.queue_actor import QueueActor, decode_payload, encode_payload
from actors.store.writer import Store
from engine.queue import PoolView, QueuedSignal
from tests.actors.engine_kit import HOUR_MS, START_MS, signal


def queued(tf: int = 15, ts: int = START_MS, ref: str = "100", side: str = "long"):
    sig = signal(timeframe=tf, ts_ms=ts, entry_price=ref, side=side)
    return QueuedSignal(exchange="paper", symbol="LTCUSDT", timeframe=tf, side=side,
                        intent="signal", payload=encode_payload(sig, 7, 5),
                        reference_price=D(ref), order_size=D(1000), size_type="quote",
                        signal_timestamp_ms=ts, expected_profit=D("12"), entry_legs=5)


async def _with_queue(tmp_path, body):
    store = Store.open(tmp_path / "e.db")
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            actor = QueueActor(store=store, clock_ms=lambda: int(trio.current_time() * 1000))
            actor.restore()
            await body(store, actor)
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def test_changes_are_persisted_with_their_journal_rows_and_restored(tmp_path,
                                                                          autojump_clock):
    async def first(store, actor):
        await actor.enqueue(queued(), reason="pool_full", live_side=None, replace=True, limit=0)
        await trio.sleep(60)
        step = await actor.enqueue(queued(ts=START_MS + HOUR_MS, ref="95"), reason="pool_full",
                                   live_side=None, replace=True, limit=0)
        assert type(step.events[0]).__name__ == "EntryReplaced"
        await actor.enqueue(queued(tf=30), reason="engine_paused", live_side=None,
                            replace=True, limit=0)
        rows = store.query("SELECT id, timeframe, reason, replacement_count, reference_price,"
                           " queued_at, updated_at, inbox_id FROM queue_entries ORDER BY id")
        assert [(r["id"], r["timeframe"], r["reason"], r["replacement_count"],
                 r["reference_price"], r["inbox_id"]) for r in rows] == \
            [(1, 15, "pool_full", 1, "95", 7), (2, 30, "engine_paused", 0, "100", 7)]
        assert rows[0]["updated_at"] - rows[0]["queued_at"] == 60_000  # queued_at kept
        kinds = [r["kind"] for r in store.query("SELECT kind FROM journal WHERE actor = 'queue'"
                                                " ORDER BY seq")]
        assert kinds == ["EntryQueued", "EntryReplaced", "EntryQueued"]
        await actor.remove(2, user="admin")

    await _with_queue(tmp_path, first)

    async def second(store, actor):
        assert [(e.id, e.timeframe, e.replacement_count, e.entry_legs) for e in actor.entries] \
            == [(1, 15, 1, 5)]
        assert decode_payload(actor.entries[0].payload).signal.entry_price == D("95")
        step = await actor.enqueue(queued(tf=240), reason="pool_full", live_side=None,
                                   replace=True, limit=0)
        assert step.events[0].entry.id == 3  # a removed entry's id is never reused
        dropped = await actor.drop_on_exit(("paper", "LTCUSDT", 15), enabled=True)
        assert dropped.events[0].entry_ids == (1,)
        assert [r["id"] for r in store.query("SELECT id FROM queue_entries")] == [3]

    await _with_queue(tmp_path, second)


async def test_queue_limit_and_same_candle_duplicates_change_nothing(tmp_path, autojump_clock):
    async def body(store, actor):
        await actor.enqueue(queued(), reason="pool_full", live_side=None, replace=True, limit=1)
        full = await actor.enqueue(queued(tf=30), reason="pool_full", live_side=None,
                                   replace=True, limit=1)
        dup = await actor.enqueue(queued(ts=START_MS + 1), reason="pool_full", live_side=None,
                                  replace=True, limit=1)
        assert [type(e).__name__ for e in full.events + dup.events] == \
            ["QueueFullRejected", "DuplicateIgnored"]
        assert len(store.query("SELECT id FROM queue_entries")) == 1

    await _with_queue(tmp_path, body)


async def test_a_staged_promotion_reaches_the_disk_only_with_its_callers_write(tmp_path,
                                                                            autojump_clock):
    """The removal of a promoted entry is written in the transaction of what the promotion
    did; a crash before that transaction keeps the entry queued (no lost signal)."""
    pool = PoolView(used=0, max_open_groups=1, symbols_with_rules=frozenset({"LTCUSDT"}))

    def ids(store):
        return [r["id"] for r in store.query("SELECT id FROM queue_entries ORDER BY id")]

    async def body(store, actor):
        await actor.enqueue(queued(), reason="pool_full", live_side=None, replace=True, limit=0)
        _, taken, promotion = await actor.plan_promote_one(1, pool=pool, forced=False)
        assert promotion is not None and taken is not None
        assert ids(store) == [1] and [e.id for e in actor.entries] == [1]  # nothing yet

        def crashed(conn):
            taken.write(conn)
            raise RuntimeError("killed before the commit")

        with pytest.raises(RuntimeError):
            await store.write(crashed)
        assert ids(store) == [1] and [e.id for e in actor.entries] == [1]
        await actor.enqueue(queued(ts=START_MS + HOUR_MS), reason="pool_full", live_side=None,
                            replace=False, limit=0, after=taken)  # back in the same commit
        assert ids(store) == [2] and [e.id for e in actor.entries] == [2]
        kinds = [r["kind"] for r in store.query("SELECT kind FROM journal WHERE actor = "
                                                "'queue' ORDER BY seq")]
        assert kinds == ["EntryQueued", "EntryPromoted", "EntryQueued"]
        _, refused, none = await actor.plan_promote_one(9, pool=pool, forced=False)
        assert refused is None and none is None

    await _with_queue(tmp_path, body)
