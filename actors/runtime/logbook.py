"""The log sink of SPEC 12.1: every ``engine.<category>`` record as one JSON line.

Owns: the ``engine`` stdlib logger's handler, the log files ``data_dir/logs/engine-YYYY-MM-DD
[.N].jsonl`` (or ``engine[.N].jsonl`` with ``rotate_daily = false``) and the buffer of ``events``
rows not yet committed.
Receives: ``logging`` records from any task or thread (``log.info("msg", extra={"event": ...,
"symbol": ..., "timeframe": ..., "group_id": ..., "order_id": ..., "exchange": ..., "data":
{...}})``).
Sends: each event, scrubbed by the Masker, to the file, to stderr and — batched through the
store's group commit by ``run_flusher`` — to the ``events`` table.
Fails how: a record that cannot be formatted or written goes to ``logging.Handler.handleError``
(the caller never sees it, never blocks); a failed ``events`` commit raises ``StorageError`` from
the flusher, which stops the engine (exit 3). Rows beyond ``MAX_PENDING`` are dropped and counted.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec
import trio

from actors.store.writer import Store, WriterClosed
from engine.masking import Masker

CATEGORIES = ("system", "webhook", "precision", "order", "risk", "config", "security")
FIELDS = ("ts", "level", "category", "event", "exchange", "symbol", "timeframe", "group_id",
          "order_id", "message", "data")
LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
               logging.ERROR: "error", logging.CRITICAL: "critical"}
LEVEL_NUMBERS = {name: number for number, name in LEVEL_NAMES.items()}
MAX_PENDING = 100_000
DAY_MS = 86_400_000
_EXTRAS = ("event", "exchange", "symbol", "timeframe", "group_id", "order_id")
_DAILY = re.compile(r"^engine-(\d{4}-\d{2}-\d{2})(?:\.\d+)?\.jsonl$")
_PLAIN = re.compile(r"^engine(?:\.\d+)?\.jsonl$")
_encode = msgspec.json.Encoder(enc_hook=str).encode

INSERT_EVENT = (
    "INSERT INTO events (ts, level, category, event, exchange, symbol, timeframe, group_id,"
    " order_id, message, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_last_second: tuple[int, str] = (-1, "")  # strftime was a fifth of a log line's cost


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds: ``2024-03-01T12:00:00.123Z``."""
    global _last_second
    second, cached = ms // 1000, _last_second  # one read: threads log too
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _last_second = cached
    return f"{cached[1]}.{ms % 1000:03d}Z"


def level_name(levelno: int) -> str:
    if levelno in LEVEL_NAMES:
        return LEVEL_NAMES[levelno]
    below = [n for n in LEVEL_NAMES if n <= levelno]
    return LEVEL_NAMES[max(below)] if below else "debug"


def category_of(logger_name: str) -> str:
    parts = logger_name.split(".")
    if len(parts) >= 2 and parts[0] == "engine" and parts[1] in CATEGORIES:
        return parts[1]
    return "system"


def record_to_event(record: logging.LogRecord) -> dict[str, Any]:
    """The SPEC 12.1 fields of one record, ``ts`` as epoch milliseconds (absent = None)."""
    data = getattr(record, "data", None)
    if data is not None and not isinstance(data, dict):
        data = {"value": data}
    if record.exc_info:
        data = dict(data or {})
        data["traceback"] = "".join(traceback.format_exception(*record.exc_info))
    elif record.stack_info:
        data = dict(data or {})
        data["traceback"] = record.stack_info
    event: dict[str, Any] = {
        "ts": round(record.created * 1000),
        "level": level_name(record.levelno),
        "category": category_of(record.name),
    }
    for name in _EXTRAS:
        event[name] = getattr(record, name, None)
    event["message"] = record.getMessage()
    event["data"] = data
    return {name: event[name] for name in FIELDS}


class LogFiles:
    """Appends lines to the current file, continuing in ``.1``, ``.2`` … at ``max_bytes``."""

    def __init__(self, log_dir: Path, *, rotate_daily: bool, max_bytes: int):
        self.log_dir = log_dir
        self.rotate_daily = rotate_daily
        self.max_bytes = max_bytes
        self._stem: str | None = None
        self._day = -1  # the UTC day (ms // DAY_MS) of the open daily file
        self._index = 0
        self._file: IO[bytes] | None = None
        self._size = 0

    def path(self, stem: str, index: int) -> Path:
        return self.log_dir / (f"{stem}.jsonl" if index == 0 else f"{stem}.{index}.jsonl")

    def write(self, ts_ms: int, line: bytes) -> None:
        day = ts_ms // DAY_MS if self.rotate_daily else -1
        if day != self._day or self._stem is None:
            self._open(f"engine-{iso_ms(ts_ms)[:10]}" if self.rotate_daily else "engine")
            self._day = day
        if self._size and self._size + len(line) > self.max_bytes:
            self._index += 1
            self._reopen()
        assert self._file is not None
        self._file.write(line)
        self._file.flush()
        self._size += len(line)

    def _open(self, stem: str) -> None:
        self._stem = stem
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # After a restart, continue in the highest-numbered file of the day.
        index = 0
        while self.path(stem, index + 1).exists():
            index += 1
        self._index = index
        self._reopen()

    def _reopen(self) -> None:
        self.close()
        assert self._stem is not None
        self._file = open(self.path(self._stem, self._index), "ab")
        self._size = self._file.tell()

    def current_path(self) -> Path | None:
        return None if self._stem is None else self.path(self._stem, self._index)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LogbookHandler(logging.Handler):
    def __init__(self, files: LogFiles, masker: Masker, stream: IO[str] | None):
        super().__init__()
        self.files = files
        self.masker = masker
        self.stream = stream
        self.pending: list[tuple] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:  # runs under self.lock
        try:
            event = self._scrubbed(record_to_event(record))
            ts_ms = event["ts"]
            line = _encode({**event, "ts": iso_ms(ts_ms)}) + b"\n"
            self.files.write(ts_ms, line)
            if self.stream is not None:
                self.stream.write(line.decode())
                self.stream.flush()
            if len(self.pending) >= MAX_PENDING:
                self.dropped += 1
                return
            data = None if event["data"] is None else _encode(event["data"]).decode()
            self.pending.append(tuple(event[f] for f in FIELDS[:-1]) + (data,))
        except Exception:
            self.handleError(record)

    def _scrubbed(self, event: dict[str, Any]) -> dict[str, Any]:
        """``Masker.scrub_obj`` of the event, without rebuilding it: the field names are ours,
        so only the values are scrubbed (in place) — the same result for a fraction of it."""
        masker = self.masker
        for name, value in event.items():
            if isinstance(value, str):
                event[name] = masker.scrub(value)
            elif isinstance(value, (dict, list, tuple)):
                event[name] = masker.scrub_obj(value)
        return event

    def take_pending(self) -> list[tuple]:
        with self.lock:
            rows, self.pending = self.pending, []
            return rows

    def put_back(self, rows: list[tuple]) -> None:
        """Rows taken but not written go back in front of what arrived since."""
        with self.lock:
            self.pending = rows + self.pending

    def close(self) -> None:
        with self.lock:
            self.files.close()
        super().close()


# SPEC 11.2 alerts: API rejects, precision sync failures, rate-limit hits, rejected orders,
# credential errors, slippage breaches, external cancellations — every warning or error of these
# categories is also a dismissable alert (webhook/security warnings are routine, not alerts)
ALERT_CATEGORIES = frozenset({"system", "order", "precision", "risk"})
ALERT_LEVELS = frozenset({"warning", "error", "critical"})
INSERT_ALERT = ("INSERT INTO alerts (ts, level, category, event, message, data)"
                " VALUES (?, ?, ?, ?, ?, ?)")


def _insert_rows(rows: list[tuple]):
    def fn(conn: sqlite3.Connection) -> int:
        conn.executemany(INSERT_EVENT, rows)
        conn.executemany(INSERT_ALERT, [
            (r[0], r[1], r[2], r[3], r[9], r[10]) for r in rows
            if r[1] in ALERT_LEVELS and r[2] in ALERT_CATEGORIES])
        return len(rows)

    return fn


class Logbook:
    """Installed once per engine run; ``close()`` detaches it (flushing what is buffered)."""

    def __init__(self, handler: LogbookHandler, logger: logging.Logger, store: Store | None,
                 keep_days: int):
        self.handler = handler
        self.logger = logger
        self.store = store
        self.keep_days = keep_days

    @classmethod
    def install(cls, *, data_dir: Path, logging_cfg: Any, level: str, masker: Masker,
                store: Store | None = None, stream: IO[str] | None = sys.stderr) -> Logbook:
        files = LogFiles(data_dir / "logs", rotate_daily=logging_cfg.rotate_daily,
                         max_bytes=logging_cfg.max_file_mb * 1024 * 1024)
        handler = LogbookHandler(files, masker, stream)
        logger = logging.getLogger("engine")
        logger.addHandler(handler)
        logger.propagate = False
        book = cls(handler, logger, store, logging_cfg.keep_days)
        book.set_level(level)
        return book

    @property
    def log_dir(self) -> Path:
        return self.handler.files.log_dir

    def set_level(self, level: str) -> None:
        number = LEVEL_NUMBERS[level.lower()]
        self.logger.setLevel(number)
        self.handler.setLevel(number)

    def reconfigure(self, logging_cfg: Any, level: str) -> None:
        """Apply of ``logging.*`` / ``app.log_level`` (SPEC 10.1: immediately)."""
        with self.handler.lock:
            files = self.handler.files
            files.rotate_daily = logging_cfg.rotate_daily
            files.max_bytes = logging_cfg.max_file_mb * 1024 * 1024
            files.close()
            files._stem = None  # reopened (under the new naming) by the next write
        self.keep_days = logging_cfg.keep_days
        self.set_level(level)

    async def run_flusher(self, *, interval: float = 0.2,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit buffered ``events`` rows every ``interval`` s through the group commit."""
        assert self.store is not None
        task_status.started()
        while True:
            await trio.sleep(interval)
            rows = self.handler.take_pending()
            if not rows:
                continue
            try:
                await self.store.write(_insert_rows(rows))
            except WriterClosed:
                # the writer stopped first (shutdown): the final flush writes them
                self.handler.put_back(rows)
                return

    def flush(self) -> int:
        """Commit what is buffered now (shutdown, tests); returns the number of rows."""
        rows = self.handler.take_pending()
        if rows and self.store is not None:
            self.store.write_now(_insert_rows(rows))
        return len(rows)

    async def prune(self, now_ms: int) -> dict[str, int]:
        """Delete log files and ``events`` rows older than ``keep_days`` (daily housekeeping)."""
        cutoff = now_ms - self.keep_days * DAY_MS
        removed = 0
        if self.store is not None:
            removed = await self.store.write(prune_events(cutoff))
        current = self.handler.files.current_path()
        files = prune_files(self.log_dir, cutoff, keep=current)
        return {"events": removed, "files": len(files)}

    def close(self) -> None:
        if self.store is not None:
            try:
                self.flush()
            finally:
                self._detach()
        else:
            self._detach()

    def _detach(self) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()


def prune_events(cutoff_ms: int):
    """A write function deleting ``events`` rows older than ``cutoff_ms``; returns the count."""

    def fn(conn: sqlite3.Connection) -> int:
        return conn.execute("DELETE FROM events WHERE ts < ?", (cutoff_ms,)).rowcount

    return fn


def prune_files(log_dir: Path, cutoff_ms: int, keep: Path | None = None) -> list[Path]:
    """Remove log files whose content is entirely older than ``cutoff_ms`` (never ``keep``)."""
    if not log_dir.is_dir():
        return []
    cutoff_day = datetime.fromtimestamp(cutoff_ms // 1000, UTC).date()
    removed = []
    for path in sorted(log_dir.iterdir()):
        daily = _DAILY.match(path.name)
        if daily:
            # a daily file holds events up to the end of its day
            old = date.fromisoformat(daily.group(1)) + timedelta(days=1) <= cutoff_day
        elif _PLAIN.match(path.name):
            old = path.stat().st_mtime * 1000 < cutoff_ms
        else:
            continue
        if old and path != keep:
            path.unlink()
            removed.append(path)
    return removed
