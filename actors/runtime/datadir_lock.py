"""The exclusive lock on a data directory (SPEC 12.3: one engine per data directory).

Owns: an open, ``flock``-ed ``data_dir/engine.lock`` holding the owner's pid.
Receives: ``acquire()`` / ``release()`` from the root and from ``engine restore``.
Sends: nothing.
Fails how: ``acquire()`` returns False when another process holds the lock (exit code 4 for
``engine run``, a refusal for ``engine restore``); ``OSError`` when the file cannot be created.
The kernel drops the lock when the process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DataDirLock:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "engine.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder_pid(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
