"""The database: pragmas, migrations, group commit, durability, the one-live-group index."""

import sqlite3
from pathlib import Path

import pytest
import trio

from actors.store import schema
from actors.store.writer import Store, StorageError, WriterClosed, backup_database


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "engine.db", clock_ms=lambda: 1_700_000_000_000)
    yield s
    s.close()


def _insert_group(conn, *, symbol="BTCUSDT", tf=60, status="live") -> int:
    cur = conn.execute(
        "INSERT INTO position_groups (exchange, symbol, timeframe, side, status, created_at,"
        " updated_at) VALUES ('paper', ?, ?, 'long', ?, 1, 1)",
        (symbol, tf, status),
    )
    return cur.lastrowid


def test_pragmas_wal_full_foreign_keys(store: Store):
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("synchronous") == 2  # FULL
    assert store.pragma("foreign_keys") == 1


def test_migrations_recorded_and_idempotent(tmp_path: Path):
    path = tmp_path / "engine.db"
    first = Store.open(path)
    assert first.meta_get("schema_version") == str(len(schema.MIGRATIONS))
    tables = set(first.db.table_names())
    instance = first.instance_id()
    first.close()
    second = Store.open(path)  # nothing left to migrate: must not fail or duplicate
    assert set(second.db.table_names()) == tables
    assert second.instance_id() == instance
    assert len(instance) == 4 and instance.isalnum() and instance == instance.lower()
    for name in ("journal", "inbox", "position_groups", "orders", "fills", "events", "users",
                 "sessions", "login_failures", "idempotency_keys", "queue_entries"):
        assert name in tables
    second.close()


def test_newer_schema_refused(tmp_path: Path):
    path = tmp_path / "engine.db"
    s = Store.open(path)
    s.meta_set("schema_version", str(len(schema.MIGRATIONS) + 1))
    s.close()
    with pytest.raises(StorageError, match="newer"):
        Store.open(path)


def test_unopenable_database_is_storage_error(tmp_path: Path):
    (tmp_path / "engine.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError):
        Store.open(tmp_path / "engine.db")


def test_partial_unique_index_one_live_group_per_key(store: Store):
    store.write_now(lambda c: _insert_group(c))
    with pytest.raises(sqlite3.IntegrityError):
        store.write_now(lambda c: _insert_group(c))
    # a closed group does not hold the key; another timeframe is another key
    store.write_now(lambda c: c.execute("UPDATE position_groups SET status = 'closed'"))
    store.write_now(lambda c: _insert_group(c))
    store.write_now(lambda c: _insert_group(c, tf=15))
    rows = store.query("SELECT status FROM position_groups ORDER BY id")
    assert [r["status"] for r in rows] == ["closed", "live", "live"]


def test_journal_append_and_write_now_rollback(store: Store):
    def record(conn):
        return store.journal(conn, actor="group", kind="OrderIntended", key="paper:BTCUSDT:60",
                             body={"cid": "ee0000", "qty": "0.001"})

    seq = store.write_now(record)

    def fails(conn):
        record(conn)
        raise ValueError("decided not to")

    with pytest.raises(ValueError):
        store.write_now(fails)
    rows = store.query("SELECT seq, ts, kind, body FROM journal")
    assert rows == [{"seq": seq, "ts": 1_700_000_000_000, "kind": "OrderIntended",
                     "body": '{"cid":"ee0000","qty":"0.001"}'}]


async def test_group_commit_batches_and_isolates_a_failing_writer(store: Store):
    results: dict[int, object] = {}

    def insert(i):
        def fn(conn):
            if i == 7:
                conn.execute("INSERT INTO meta VALUES ('poison', 'x')")
                raise RuntimeError("boom")
            conn.execute("INSERT INTO meta VALUES (?, ?)", (f"k{i}", str(i)))
            return i * 10
        return fn

    async def writer(i):
        try:
            results[i] = await store.write(insert(i))
        except RuntimeError as exc:
            results[i] = exc

    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        before = store.batches
        async with trio.open_nursery() as writers:
            for i in range(20):
                writers.start_soon(writer, i)
        # 20 concurrent writers queued in the same scheduling round: one transaction
        assert store.batches - before == 1
        store.stop_writer()
    assert isinstance(results.pop(7), RuntimeError)
    assert results == {i: i * 10 for i in range(20) if i != 7}
    keys = {r["key"] for r in store.query("SELECT key FROM meta WHERE key LIKE 'k%'")}
    assert keys == {f"k{i}" for i in range(20) if i != 7}
    assert store.meta_get("poison") is None
    with pytest.raises(WriterClosed):
        await store.write(insert(1))


async def test_commit_failure_stops_writer_with_storage_error(store: Store):
    def deferred_fk_violation(conn):
        # a deferred foreign key is checked at COMMIT: the whole commit fails
        conn.execute("INSERT INTO pyramids (group_id, idx, state, created_at, updated_at)"
                     " VALUES (999, 0, 'x', 1, 1)")

    outcome = []

    async def writer():
        try:
            await store.write(deferred_fk_violation)
        except StorageError as exc:
            outcome.append(exc)

    with pytest.raises(BaseExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            nursery.start_soon(writer)
    assert info.group_contains(StorageError)
    assert len(outcome) == 1


async def test_durable_across_reopen(tmp_path: Path):
    path = tmp_path / "engine.db"
    s = Store.open(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run_writer)
        gid = await s.write(_insert_group)
        s.stop_writer()
    s.close()
    again = Store.open(path)
    assert again.query("SELECT id, symbol FROM position_groups") == [{"id": gid,
                                                                      "symbol": "BTCUSDT"}]
    again.close()


def test_backup_is_a_consistent_copy(store: Store, tmp_path: Path):
    store.write_now(_insert_group)
    live = tmp_path / "live.db"
    store.backup_to(live)
    offline = tmp_path / "offline.db"
    backup_database(store.path, offline)
    for copy in (live, offline):
        conn = sqlite3.connect(copy)
        assert conn.execute("SELECT count(*) FROM position_groups").fetchone()[0] == 1
        conn.close()
