"""Reading the JSONL log files of ``actors/runtime/logbook.py`` in order, and following them.

The logbook writes ``engine-YYYY-MM-DD.jsonl`` (UTC day), continued in ``.1``, ``.2`` … at
``logging.max_file_mb``, or ``engine[.N].jsonl`` with ``rotate_daily = false``. ``LogFiles``
orders them oldest first; ``Tail`` reads complete lines from one file after another and, when
following, keeps polling the newest: a file that stops growing is left once a later one exists
(daily or size rotation), a file that shrank was replaced and is read again from its start, a
file that vanished (retention) is reported. A line that is not one JSON object is reported and
skipped; the reading goes on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

_DAILY = re.compile(r"^engine-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$")
_PLAIN = re.compile(r"^engine(?:\.(\d+))?\.jsonl$")
_decode = msgspec.json.Decoder().decode


def sort_key(path: Path) -> tuple[str, int] | None:
    """(UTC day, continuation index) of a log file; None for any other file. A file of the
    size-only scheme counts as written on the day it was last modified."""
    daily = _DAILY.match(path.name)
    if daily:
        return daily.group(1), int(daily.group(2) or 0)
    plain = _PLAIN.match(path.name)
    if plain:
        day = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date().isoformat()
        return day, int(plain.group(1) or 0)
    return None


def log_files(log_dir: Path, since_day: str = "") -> list[Path]:
    """The log files of ``log_dir``, oldest first, skipping whole days before ``since_day``."""
    found = []
    for path in log_dir.iterdir() if log_dir.is_dir() else ():
        try:
            key = sort_key(path)
        except FileNotFoundError:  # pruned while we looked
            continue
        if key is not None and key[0] >= since_day:
            found.append((key, path))
    return [path for _, path in sorted(found)]


@dataclass
class _Open:
    path: Path
    offset: int = 0
    line_no: int = 0
    partial: bytes = b""
    inode: int = 0


@dataclass
class Tail:
    """Yields the events (dicts) of the files of ``log_dir``; ``report`` hears every problem."""

    log_dir: Path
    report: Callable[[str], None]
    since_day: str = ""
    _current: _Open | None = None
    _done: set[Path] = field(default_factory=set)

    def read_available(self, *, final: bool) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Every complete line written so far, file after file; ``final``: an incomplete last
        line is reported (a plain read) instead of kept for the next poll (following)."""
        while True:
            if self._current is None and not self._advance():
                return
            assert self._current is not None
            yield from self._drain(self._current)
            if self._current is None:  # removed meanwhile: on to the next file
                continue
            later = self._later_files()
            if not later:
                if final and self._current.partial:
                    self._bad(self._current, self._current.partial, "incomplete last line", 1)
                    self._current.partial = b""
                return
            # rotated: whatever the old file still had was read above
            if self._current.partial:
                self._bad(self._current, self._current.partial,
                          "incomplete line before rotation", 1)
            self._done.add(self._current.path)
            self._current = None

    def _later_files(self) -> list[Path]:
        assert self._current is not None
        files = log_files(self.log_dir, self.since_day)
        if self._current.path in files:
            return files[files.index(self._current.path) + 1:]
        return [f for f in files if f not in self._done]

    def _advance(self) -> bool:
        for path in log_files(self.log_dir, self.since_day):
            if path not in self._done:
                self._current = _Open(path)
                return True
        return False

    def _drain(self, state: _Open) -> Iterator[tuple[dict[str, Any], bytes]]:
        try:
            with open(state.path, "rb") as f:
                size, inode = f.seek(0, 2), os.fstat(f.fileno()).st_ino
                if state.inode and (inode != state.inode or size < state.offset):
                    self.report(f"{state.path.name}: replaced or truncated; reading it again")
                    state.offset, state.line_no, state.partial = 0, 0, b""
                state.inode = inode
                f.seek(state.offset)
                chunk = f.read()
        except FileNotFoundError:
            self.report(f"{state.path.name}: removed before it was read to the end")
            self._done.add(state.path)
            self._current = None
            return
        state.offset += len(chunk)
        data = state.partial + chunk
        lines = data.split(b"\n")
        state.partial = lines.pop()
        for raw in lines:
            state.line_no += 1
            if not raw.strip():
                continue
            try:
                event = _decode(raw)
            except msgspec.DecodeError:
                event = None
            if not isinstance(event, dict) or "level" not in event or "ts" not in event:
                self._bad(state, raw, "not a log event (skipped)")
                continue
            yield event, raw

    def _bad(self, state: _Open, raw: bytes, why: str, ahead: int = 0) -> None:
        excerpt = raw[:80].decode("utf-8", "replace")
        self.report(f"{state.path.name}:{state.line_no + ahead}: {why}: {excerpt!r}")
