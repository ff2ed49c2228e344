"""A signal's outcome commits with the change it causes (actors/pool/router.py): with the
group's step (``told``) — a crash can never leave a promoted queue entry queued while its
pyramid was recorded (promoted again → a second pyramid), nor a signal marked processed whose
pyramid was not — and with the queue change (``marking``) — never an inbox row "queued" that
no entry holds any more."""

import sqlite3

import pytest

from actors.store.writer import StorageError, Store
from tests.actors.engine_kit import HOUR_MS, START_MS, running, signal


def _fail_commit_of(store: Store, kind: str, body: str = "") -> None:
    """The disk dies at the COMMIT of the first transaction holding a ``kind`` journal row
    whose body contains ``body`` (a fault injected into the real store: its transaction is
    rolled back, the writer stops)."""
    commit = store._commit
    sql = "SELECT count(*) AS n FROM journal WHERE kind = ? AND instr(body, ?) > 0"
    before = store.query(sql, (kind, body))[0]["n"]

    def failing() -> None:
        n = store.conn.execute(sql, (kind, body)).fetchone()
        if n[0] > before:
            store.conn.execute("ROLLBACK")
            raise StorageError("injected: the disk died at this COMMIT")
        commit()

    store._commit = failing


def _facts(db) -> dict:
    conn = sqlite3.connect(db)
    try:
        return {
            "pyramids": conn.execute("SELECT count(*) FROM pyramids").fetchone()[0],
            "queued": conn.execute("SELECT count(*) FROM queue_entries").fetchone()[0],
            "inbox": conn.execute("SELECT state FROM inbox ORDER BY id").fetchall(),
        }
    finally:
        conn.close()


async def test_a_crash_at_the_promoted_pyramids_commit_keeps_it_queued(tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    with pytest.raises(BaseException) as raised:
        async with running(db) as kit:
            await kit.send(signal())
            assert (await kit.core.pause(user="admin")).ok
            await kit.send(signal(ts_ms=START_MS + HOUR_MS))  # queued: engine_paused
            _fail_commit_of(kit.store, "PyramidAdded")
            assert (await kit.core.resume(user="admin")).ok  # promotes it: a pyramid
            await kit.settle()
    assert raised.group_contains(StorageError) if isinstance(raised.value, BaseExceptionGroup) \
        else isinstance(raised.value, StorageError)
    # nothing of the promotion is durable: still queued, the signal still waiting in it
    assert _facts(db) == {"pyramids": 1, "queued": 1,
                          "inbox": [("processed",), ("queued",)]}

    async with running(db) as kit:  # the next start promotes it once, as pyramid 1
        assert (await kit.core.resume(user="admin")).ok or kit.sup.paused is False
        await kit.settle(15)
        assert _facts(db) == {"pyramids": 2, "queued": 0,
                              "inbox": [("processed",), ("processed",)]}
        assert kit.groups()[0]["pyramid_count"] == 2


async def test_a_group_that_crashes_with_a_command_queued_releases_its_sender(
        tmp_path, autojump_clock):
    """The supervisor waits for the group to record a pyramid; a group that dies first must
    not leave it waiting forever: the signal is refused and the next one is routed."""
    from decimal import Decimal as D

    from engine.group.messages import TradeFilled
    from engine.group.state import OrderRef

    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        # an update naming a leg the group does not have: the reducer refuses it (a bug) —
        # delivered right before the pyramid, so the pyramid waits behind it in the inbox
        kit.sup.directory.deliver(1, TradeFilled(ref=OrderRef(pyramid=7, leg=7, purpose="e", attempt=0),
                                       trade_id="x", price=D(1), qty=D(1), fee=D(0),
                                       fee_asset="USDT", ts_ms=0))
        pyramid = await kit.send(signal(ts_ms=START_MS + HOUR_MS))
        assert kit.inbox_row(pyramid)["state"] == "rejected"
        other = await kit.send(signal(timeframe=15))
        assert kit.inbox_row(other) == {"state": "processed", "outcome": "group 2 opened"}



async def test_a_crash_at_a_replacements_commit_keeps_the_queue_and_inbox_agreeing(
        tmp_path, autojump_clock):
    from tests.actors.engine_kit import config

    db = tmp_path / "e.db"
    with pytest.raises(BaseException):
        async with running(db, config(execution_pool={"max_open_groups": 1})) as kit:
            await kit.send(signal())
            await kit.send(signal(timeframe=15))  # queued: pool_full
            _fail_commit_of(kit.store, "SignalOutcome", "replaced by a newer signal")
            await kit.send(signal(timeframe=15, ts_ms=START_MS + HOUR_MS))  # replaces it
    conn = sqlite3.connect(db)
    try:
        held = [r[0] for r in conn.execute("SELECT payload FROM queue_entries")]
        inbox = conn.execute("SELECT id, state FROM inbox ORDER BY id").fetchall()
    finally:
        conn.close()
    # the replacement is all or nothing: entry 1 still holds signal 2, signal 3 waits
    assert len(held) == 1 and '"inbox_id":2' in held[0]
    assert inbox == [(1, "processed"), (2, "queued"), (3, "accepted")]  # 3: taken up again

