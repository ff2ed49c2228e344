"""Background WAL checkpoints for the store's writer (actors/store/writer.py).

Owns: a second SQLite connection to ``engine.db``, used only to checkpoint.
Receives: ``run(batches)`` from the writer every ``CHECKPOINT_EVERY`` group commits.
Sends: nothing; the WAL frames are copied into the database file, so the WAL restarts.
Fails how: a checkpoint that fails raises ``sqlite3.Error`` (the store turns it into
``StorageError``, exit 3).

Why: SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages and fsyncs
the database file too — several ms on the writer, every ~0.5 s at 200 webhooks/s, the slowest
durable acknowledgements. The writer turns it off and asks for a PASSIVE checkpoint here
instead, in a worker thread beside it (SQLite lets one checkpointer and one writer work at once).
The WAL restarts from its beginning only when a checkpoint has copied every frame before the
next write begins; a writer that never pauses would let it grow, so past ``wal_limit`` frames
the writer waits for one checkpoint (nothing is appended meanwhile) — rare, and bounded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

CHECKPOINT_EVERY = 100  # group commits between checkpoints (a webhook's commit: ~5-10 pages)
WAL_LIMIT = 10_000  # frames (4 KiB pages, 40 MB) before the writer waits for a checkpoint


class Checkpointer:
    def __init__(self, path: Path, *, every: int = CHECKPOINT_EVERY, wal_limit: int = WAL_LIMIT):
        self.path = path
        self.every = every
        self.wal_limit = wal_limit
        self.conn: sqlite3.Connection | None = None
        self.running = False
        self.last = 0  # the writer's batch count when the last checkpoint started
        self.wal_frames = 0  # the WAL's length seen by the last checkpoint
        self.limiter = trio.CapacityLimiter(1)

    def due(self, batches: int) -> bool:
        return not self.running and batches - self.last >= self.every

    def overdue(self) -> bool:
        return not self.running and self.wal_frames >= self.wal_limit

    async def run(self, batches: int) -> None:
        self.running, self.last = True, batches
        try:
            self.wal_frames = await trio.to_thread.run_sync(self._checkpoint,
                                                            limiter=self.limiter)
        finally:
            self.running = False

    def _checkpoint(self) -> int:
        if self.conn is None:
            self.conn = sqlite3.connect(str(self.path), check_same_thread=False,
                                        isolation_level=None)
            self.conn.execute("PRAGMA synchronous=FULL")
        _busy, frames, _copied = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
