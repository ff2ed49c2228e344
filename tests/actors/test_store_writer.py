"""The group-commit writer's threaded COMMIT and background checkpoints (actors/store/writer.py,
actors/store/checkpointer.py), on real SQLite files."""

import threading
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from actors.store.checkpointer import CHECKPOINT_EVERY
from actors.store.writer import Store


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "engine.db")
    yield s
    s.close()


def _put(i: int):
    def fn(conn):
        conn.execute("INSERT INTO meta VALUES (?, ?)", (f"k{i}", str(i)))
        return i

    return fn


async def test_write_now_on_the_trio_thread_during_a_threaded_commit(store: Store):
    """A synchronous write_now while a batch's COMMIT is in its worker thread waits for it
    (the thread is started before the writer yields), then commits after it."""
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)

        async def writer():
            assert await store.write(_put(1)) == 1

        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()  # the writer's COMMIT thread is running
        store.write_now(_put(2))
        await trio.testing.wait_all_tasks_blocked()
        store.stop_writer()
    assert {r["key"] for r in store.query("SELECT key FROM meta WHERE key LIKE 'k%'")} == {
        "k1", "k2"}


async def test_the_event_loop_runs_while_a_batch_commits(store: Store):
    ticks = 0
    done = trio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        nursery.start_soon(ticker)
        for i in range(20):
            await store.write(_put(i))
        done.set()
        store.stop_writer()
    # with the fsync on the trio thread the ticker would never run during a write
    assert ticks > 20


async def test_background_checkpoints_replace_the_automatic_one(store: Store):
    assert store.pragma("wal_autocheckpoint") == 1000
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        assert store.pragma("wal_autocheckpoint") == 0
        for i in range(CHECKPOINT_EVERY * 2 + 1):
            await store.write(_put(i))
        await trio.testing.wait_all_tasks_blocked()
        store.stop_writer()
    assert store.pragma("wal_autocheckpoint") == 1000
    assert store.checkpoints == 2
    count = store.query("SELECT count(*) AS n FROM meta WHERE key LIKE 'k%'")[0]["n"]
    assert count == CHECKPOINT_EVERY * 2 + 1


async def test_a_writer_that_never_pauses_keeps_the_wal_bounded(store: Store):
    """Back-to-back commits leave a concurrent checkpoint no gap to finish in, so the WAL
    never restarts by itself; past ``wal_limit`` frames the writer waits for one."""
    store.checkpointer.every, store.checkpointer.wal_limit = 10, 60
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        for i in range(300):  # at least 2 frames each: 600 without a restart
            await store.write(_put(i))
        store.stop_writer()
    _busy, frames, _copied = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 150


async def test_under_mockclock_the_writer_stays_on_the_trio_thread(store: Store,
                                                                  autojump_clock):
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        assert store.pragma("wal_autocheckpoint") == 1000  # SQLite keeps checkpointing
        for i in range(10):
            await store.write(_put(i))
        store.stop_writer()
    # no worker thread: autojump never moved virtual time during the commits
    assert trio.current_time() == start


async def test_ran_starts_dependent_work_before_the_commit_and_it_commits_after(store: Store):
    """``write(fn, ran=...)``: the callback sees the result while the batch is not yet
    committed; a write it queues lands in a later batch, so it is never durable first."""
    seen: list[tuple[int, int, int]] = []
    follow_ups: list = []

    async def follow_up(value: int) -> None:
        await store.write(_put(100 + value))
        follow_ups.append(store.batches)

    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)

        def ran(value: int) -> None:
            committed = len(store.query("SELECT key FROM meta WHERE key = 'k1'"))  # own tx
            seen.append((value, committed, store.batches))
            nursery.start_soon(follow_up, value)

        assert await store.write(_put(1), ran=ran) == 1
        first_batch = store.batches
        await trio.testing.wait_all_tasks_blocked()
        store.stop_writer()
    assert seen == [(1, 1, first_batch - 1)]  # called inside the batch, before it counted
    assert follow_ups == [first_batch + 1]
    assert store.query("SELECT value FROM meta WHERE key = 'k101'") == [{"value": "101"}]


async def test_ran_is_not_called_for_a_write_that_fails(store: Store):
    calls: list[object] = []

    def broken(conn):
        raise ValueError("no")

    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        with pytest.raises(ValueError):
            await store.write(broken, ran=calls.append)
        store.stop_writer()
    assert calls == []


class _Watched(Store):
    """Records where each batch's COMMIT ran and that every batch passed ``_commit_batch``."""

    batches_seen = 0
    commit_threads: list[int] = []

    async def _commit_batch(self, batch, *, threaded: bool) -> None:
        self.batches_seen += 1
        await super()._commit_batch(batch, threaded=threaded)

    def _commit_and_release(self) -> None:
        self.commit_threads.append(threading.get_ident())
        super()._commit_and_release()


async def _three_writes(path: Path) -> _Watched:
    watched = _Watched.open(path)
    watched.commit_threads = []
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(watched.run_writer)
            for i in range(3):
                await watched.write(_put(i))
            watched.stop_writer()
    finally:
        watched.close()
    return watched


async def test_with_the_real_clock_every_commit_runs_in_a_worker_thread(tmp_path: Path):
    watched = await _three_writes(tmp_path / "engine.db")
    assert watched.batches_seen == 3 and len(watched.commit_threads) == 3
    assert threading.get_ident() not in watched.commit_threads


def test_under_mockclock_the_same_batch_path_commits_on_the_trio_thread(tmp_path: Path):
    seen = trio.run(_three_writes, tmp_path / "engine.db", clock=MockClock(autojump_threshold=0))
    assert seen.batches_seen == 3 and seen.commit_threads == [threading.get_ident()] * 3
