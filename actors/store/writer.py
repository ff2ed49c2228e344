"""The database: one SQLite writer connection and the group-commit writer task.

Owns: ``data_dir/engine.db`` and its single connection (WAL, ``synchronous=FULL``, foreign keys
on), the schema version, the instance id.
Receives: write functions ``fn(conn) -> T`` through ``write`` (awaited) or ``write_now`` (sync).
Sends: each caller its own result (or its own exception) after the durable COMMIT.
Fails how: a database that cannot be opened, migrated or committed raises ``StorageError``; the
writer task re-raises it so the root stops the engine with exit code 3 (SPEC 3.2, 12.4). A write
function that raises is rolled back to its own savepoint; the rest of its batch still commits.

Group commit: every ``write`` queued while the previous batch was being committed is run in ONE
``BEGIN IMMEDIATE … COMMIT`` (one fsync for all of them), each inside its own SAVEPOINT. The
write functions run on the trio thread; only the COMMIT — the fsync, the bulk of a durable
webhook answer — runs in a worker thread, so the event loop keeps serving meanwhile.
``_tx_lock`` is held from BEGIN until that COMMIT returns, so ``query`` and ``write_now`` see
committed data only. WAL checkpoints run beside the writer (actors/store/checkpointer.py). Under
trio's ``MockClock`` the writer commits on the trio thread and leaves checkpoints to SQLite: a
worker thread lets ``autojump`` skip virtual time (ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import outcome
import sqlite_utils
import trio
from trio.testing import MockClock

from actors.store.checkpointer import Checkpointer
from actors.store.schema import BOOTSTRAP, MIGRATIONS

T = TypeVar("T")
MAX_BATCH = 512
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default, restored when the writer stops
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_json = msgspec.json.Encoder(enc_hook=str)


class StorageError(Exception):
    """The database cannot be opened, migrated or written (exit code 3)."""


class WriterClosed(Exception):
    """``write`` was called after the writer stopped (the engine is shutting down)."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class _Job:
    __slots__ = ("fn", "ran", "done", "result", "error")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any],
                 ran: Callable[[Any], None] | None = None):
        self.fn = fn
        self.ran = ran
        self.done = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Store:
    """Open with ``Store.open(path)``; start ``run_writer`` in the root nursery for ``write``."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock_ms: Callable[[], int]):
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self._clock_ms = clock_ms
        self._tx_lock = threading.Lock()  # around every transaction: nothing interleaves
        self._send, self._receive = trio.open_memory_channel[_Job](10_000)
        self._closed = False
        self._owner: int | None = None  # the thread running write functions (lock held)
        self.batches = 0  # committed group-commit transactions, for tests and /api/status
        self.checkpointer = Checkpointer(path)  # used by ``run_writer`` off MockClock
        self.checkpoints = 0  # background checkpoints done, for tests

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, clock_ms: Callable[[], int] = wall_clock_ms) -> Store:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: the driver never opens transactions behind our back.
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StorageError(f"cannot switch {path} to WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            store = cls(conn, path, clock_ms)
            store._migrate()
            store._ensure_identity()
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        except StorageError:
            conn.close()
            raise
        return store

    def _migrate(self) -> None:
        self.conn.execute(BOOTSTRAP)
        version = int(self.meta_get("schema_version") or 0)
        if version > len(MIGRATIONS):
            raise StorageError(
                f"database schema version {version} is newer than this engine "
                f"({len(MIGRATIONS)}); refusing to run an older engine on it"
            )
        for number in range(version, len(MIGRATIONS)):
            script = (
                "BEGIN IMMEDIATE;\n"
                + MIGRATIONS[number]
                + f"\n;INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', "
                f"'{number + 1}');\nCOMMIT;"
            )
            try:
                self.conn.executescript(script)
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StorageError(f"migration {number + 1} failed: {exc}") from exc

    def _ensure_identity(self) -> None:
        def init(conn: sqlite3.Connection) -> None:
            if self.meta_get("instance_id", conn) is None:
                instance = "".join(secrets.choice(_BASE36) for _ in range(4))
                self.meta_set("instance_id", instance, conn)
                self.meta_set("first_start_ms", str(self._clock_ms()), conn)

        self.write_now(init)

    # --- writing -------------------------------------------------------------------------
    def write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in its own committed transaction, synchronously (start-up, CLI, tests)."""
        with self._tx_lock:
            self._begin()
            self._owner = threading.get_ident()
            try:
                result = fn(self.conn)
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            finally:
                self._owner = None
            self._commit()
            return result

    async def write(self, fn: Callable[[sqlite3.Connection], T], *,
                    ran: Callable[[T], None] | None = None) -> T:
        """Queue ``fn`` for the next group commit; return its result once it is durable.
        Once queued, the write is committed even if this caller is cancelled meanwhile.

        ``ran(result)`` is called on the trio thread as soon as ``fn`` succeeded, before the
        COMMIT: work that depends on the row may start during the fsync, because anything it
        writes lands in a later batch — durable only after this one (it must not raise)."""
        if self._closed:
            raise WriterClosed("the database writer has stopped")
        job = _Job(fn, ran)
        try:
            await self._send.send(job)
        except trio.ClosedResourceError:
            raise WriterClosed("the database writer has stopped") from None
        await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    async def run_writer(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED):
        """Commit queued writes in batches until ``stop_writer`` closes the queue."""
        threaded = not isinstance(trio.lowlevel.current_clock(), MockClock)
        if threaded:
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
        checkpointer = self.checkpointer
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                async with self._receive:
                    while True:
                        try:
                            batch = [await self._receive.receive()]
                        except trio.EndOfChannel:
                            break
                        while len(batch) < MAX_BATCH:
                            try:
                                batch.append(self._receive.receive_nowait())
                            except (trio.WouldBlock, trio.EndOfChannel):
                                break
                        await self._commit_batch(batch, threaded=threaded)
                        if not threaded:
                            continue
                        # the writers just told run before the next batch's functions: an
                        # acknowledgement waiting on this COMMIT is not queued behind them
                        await trio.lowlevel.checkpoint()
                        await trio.lowlevel.checkpoint()
                        if checkpointer.overdue():  # nothing appends meanwhile: the WAL restarts
                            await self._checkpoint(checkpointer)
                        elif checkpointer.due(self.batches):
                            nursery.start_soon(self._checkpoint, checkpointer)
        finally:
            checkpointer.close()
            if threaded:
                with contextlib.suppress(sqlite3.ProgrammingError):  # already closed by close()
                    self.conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")

    def stop_writer(self) -> None:
        """Refuse new writes; ``run_writer`` commits what is already queued, then returns."""
        self._closed = True
        self._send.close()

    async def _commit_batch(self, batch: Sequence[_Job], *, threaded: bool) -> None:
        """One batch: the write functions on this thread, then the COMMIT — in a worker thread
        when ``threaded`` (the real clock), here under MockClock. The one place every batch
        passes, whichever the clock (the fault search kills a life around it)."""
        with self._settling(batch):
            self._tx_lock.acquire()
            try:
                self._run_batch(batch)
            except BaseException:
                self._tx_lock.release()
                raise
            if threaded:
                await self._commit_in_thread()
            else:
                self._commit_and_release()

    @contextlib.contextmanager
    def _settling(self, batch: Sequence[_Job]) -> Iterator[None]:
        """Every writer of the batch is told: its result, its own error or the StorageError."""
        try:
            yield
        except StorageError as exc:
            for job in batch:
                job.error = exc
            raise
        finally:
            for job in batch:
                job.done.set()
        self.batches += 1

    async def _commit_in_thread(self) -> None:
        """COMMIT and release ``_tx_lock`` in a worker thread that is started before this task
        yields — a ``write_now`` blocking the trio thread on the lock cannot starve it — and
        that cannot be cancelled: once begun, a batch is committed and its writers told."""
        token = trio.lowlevel.current_trio_token()
        task = trio.lowlevel.current_task()

        def deliver(result: outcome.Outcome) -> None:
            token.run_sync_soon(trio.lowlevel.reschedule, task, result)

        trio.lowlevel.start_thread_soon(self._commit_and_release, deliver)
        await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)

    async def _checkpoint(self, checkpointer: Checkpointer) -> None:
        try:
            await checkpointer.run(self.batches)
        except sqlite3.Error as exc:
            raise StorageError(f"checkpoint failed: {exc}") from exc
        self.checkpoints += 1

    def _commit_and_release(self) -> None:
        try:
            self._commit()
        finally:
            self._tx_lock.release()

    def _run_batch(self, batch: Sequence[_Job]) -> None:
        """BEGIN and every write function (the caller holds ``_tx_lock``)."""
        self._begin()
        self._owner = threading.get_ident()
        try:
            for job in batch:
                self._run_in_savepoint(job)
        finally:
            self._owner = None

    def _run_in_savepoint(self, job: _Job) -> None:
        self.conn.execute("SAVEPOINT job")
        try:
            job.result = job.fn(self.conn)
        except Exception as exc:  # the caller gets its own exception; the batch goes on
            if not self.conn.in_transaction:
                # An error that destroys the whole transaction (disk full, I/O) loses the
                # batch's earlier work too: that is a storage failure, not the caller's.
                raise StorageError(f"transaction aborted by the database: {exc}") from exc
            self.conn.execute("ROLLBACK TO job")
            self.conn.execute("RELEASE job")
            job.error = exc
            return
        self.conn.execute("RELEASE job")
        if job.ran is not None:
            job.ran(job.result)

    def _begin(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot begin a transaction: {exc}") from exc

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StorageError(f"commit failed: {exc}") from exc

    # --- helpers used inside write functions ---------------------------------------------
    def journal(
        self, conn: sqlite3.Connection, *, actor: str, kind: str, key: str | None, body: object
    ) -> int:
        """Append one journal row (inside a write function); returns its ``seq``."""
        cursor = conn.execute(
            "INSERT INTO journal (ts, actor, kind, key, body) VALUES (?, ?, ?, ?, ?)",
            (self._clock_ms(), actor, kind, key, _json.encode(body).decode()),
        )
        return cursor.lastrowid

    def meta_get(self, key: str, conn: sqlite3.Connection | None = None) -> str | None:
        with contextlib.nullcontext() if conn else self._reading():
            row = (conn or self.conn).execute("SELECT value FROM meta WHERE key = ?",
                                              (key,)).fetchone()
        return None if row is None else row[0]

    def meta_set(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        """Inside a write function pass its ``conn``; without one this commits on its own."""

        def put(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))

        if conn is None:
            self.write_now(put)
        else:
            put(conn)

    def instance_id(self) -> str:
        """The 4 base-36 characters of SPEC 8.4, generated at the first start."""
        return self.meta_get("instance_id") or ""

    # --- reading -------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict]:
        with self._reading():
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def pragma(self, name: str) -> Any:
        with self._reading():
            return self.conn.execute(f"PRAGMA {name}").fetchone()[0]

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Committed data only: wait for a COMMIT in flight (a few hundred µs at most); inside
        a write function the transaction is the caller's own."""
        if self._owner == threading.get_ident():
            yield
        else:
            with self._tx_lock:
                yield

    # --- backup and close ----------------------------------------------------------------
    def backup_to(self, dest: Path) -> None:
        """A consistent copy of the live database (SQLite online backup)."""
        with self._tx_lock:
            _backup(self.conn, dest)

    def close(self) -> None:
        self._closed = True
        self._send.close()
        self.conn.close()


def backup_database(source: Path, dest: Path) -> None:
    """Online backup of a database file that another process may be writing (WAL)."""
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {source}: {exc}") from exc
    try:
        _backup(src, dest)
    finally:
        src.close()


def _backup(src: sqlite3.Connection, dest: Path) -> None:
    target = sqlite3.connect(str(dest))
    try:
        # pages=-1 copies everything in one step, so the copy is one consistent snapshot.
        src.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StorageError(f"backup to {dest} failed: {exc}") from exc
    finally:
        target.close()


__all__ = ["Store", "StorageError", "WriterClosed", "backup_database", "wall_clock_ms"]
