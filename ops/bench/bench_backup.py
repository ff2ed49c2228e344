"""Benchmark: ``GET /api/backup`` of a 200 MB database — the engine process's peak resident
memory while it streams the archive, against the floor: the same process idle, in the same run.

``python -m ops.bench.bench_backup``:

1. ``engine run`` starts once on a fresh data directory (schema created) and stops; the
   database is then filled to ``TARGET_MB`` with log events (``events`` rows carrying 4 KB of
   hex each, half-compressible like real JSON lines), every one timestamped now, so no
   retention pass prunes them.
2. ``engine run`` starts again. Idle RSS (VmRSS) is sampled for ``IDLE_S`` seconds: the floor.
3. An admin downloads ``/api/backup`` to a file, reading the stream as it comes; VmRSS of the
   engine is sampled every 10 ms meanwhile. Reported: the floor, the peak during the download,
   the peak over the process's whole life (VmHWM), the archive size, the time to the first
   byte (the database copy) and the total time.
4. The archive is opened to check it holds the whole database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ops.bench.daemon import Daemon

TARGET_MB = 200
ROW_BYTES = 4096
IDLE_S = 5.0
ADMIN_PASSWORD = "bench-admin-password-0123"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _fill(db: Path, target_mb: int) -> int:
    conn = sqlite3.connect(db)
    try:
        now = int(time.time() * 1000)
        rows = 0
        while db.stat().st_size < target_mb * 1024 * 1024:
            # per row: 2 KB of random hex (compresses ~2:1) and 2 KB repeating its number
            batch = [(now, "info", "system", "bench_filler", f"row {rows + i}",
                      os.urandom(ROW_BYTES // 4).hex() + f"{rows + i:08d}" * (ROW_BYTES // 16))
                     for i in range(2000)]
            conn.executemany("INSERT INTO events (ts, level, category, event, message, data)"
                             " VALUES (?, ?, ?, ?, ?, ?)", batch)
            conn.commit()
            rows += len(batch)
        return rows
    finally:
        conn.close()


def _sample_idle(pid: int, seconds: float) -> int:
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, _status_kb(pid, "VmRSS"))
        time.sleep(0.05)
    return peak


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        daemon = Daemon(work, {})
        daemon.env["ENGINE_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        url = f"http://127.0.0.1:{daemon.port}"
        daemon.start()
        daemon.wait_running()
        daemon.stop()
        rows = _fill(daemon.db, TARGET_MB)
        db_mb = daemon.db.stat().st_size / 1024 / 1024
        daemon.start()
        daemon.wait_running()
        pid = daemon.proc.pid
        time.sleep(2.0)  # let start-up work settle before the floor is taken
        floor_kb = _sample_idle(pid, IDLE_S)
        client = httpx.Client(base_url=url, timeout=600)
        client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                    ).raise_for_status()
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _status_kb(pid, "VmRSS"))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        archive = work / "download.tar.gz"
        started = time.monotonic()
        first_byte = None
        try:
            with client.stream("GET", "/api/backup") as r, archive.open("wb") as out:
                r.raise_for_status()
                for chunk in r.iter_bytes(1024 * 1024):
                    if first_byte is None:
                        first_byte = time.monotonic() - started
                    out.write(chunk)
            total_s = time.monotonic() - started
        finally:
            done.set()
            sampler.join()
        hwm_kb = _status_kb(pid, "VmHWM")
        with tarfile.open(archive, "r:gz") as tar:
            db_member = tar.getmember("engine.db").size / 1024 / 1024
        client.close()
        daemon.stop()
        return {
            "database_mb": round(db_mb, 1), "filler_rows": rows,
            "archived_db_mb": round(db_member, 1),
            "archive_mb": round(archive.stat().st_size / 1024 / 1024, 1),
            "idle_rss_mb_floor": round(floor_kb / 1024, 1),
            "download_peak_rss_mb": round(peak[0] / 1024, 1),
            "download_rss_above_floor_mb": round((peak[0] - floor_kb) / 1024, 1),
            "process_hwm_mb": round(hwm_kb / 1024, 1),
            "first_byte_s": round(first_byte or 0.0, 2), "total_s": round(total_s, 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<30} {value}")
