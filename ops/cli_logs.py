"""``engine logs``: print the engine's JSONL log files (``ops/log_tail.py``), optionally
following them across daily and size rotation.

Readable one-line events (the export's ``.txt`` line, coloured by level on a terminal) or, with
``--json``, the original JSON lines for ``jq``. Problems with the files (a line that is not an
event, a file removed while being read) go to stderr and the reading goes on. Exit codes: 0, 1
when the configuration cannot be read, 2 for a bad option value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
FOLLOW_POLL_S = 0.5
FOLLOW_BACKLOG = 20  # events shown before following when neither --since nor -n is given
_COLOURS = {"debug": "\x1b[2m", "warning": "\x1b[33m", "error": "\x1b[31m",
            "critical": "\x1b[1;31m"}
_RESET = "\x1b[0m"
_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TXT_FIELDS = ("ts", "level", "category", "symbol", "timeframe", "group_id", "order_id",
               "message")


def register(subparsers: argparse._SubParsersAction) -> None:
    from actors.runtime.logbook import CATEGORIES, LEVEL_NUMBERS

    p = subparsers.add_parser("logs", help="print (and follow) the engine's log files")
    p.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                   help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new events (across daily and size rotation)")
    p.add_argument("--category", action="append", default=[], metavar="NAME",
                   help=f"only these categories (repeat or comma-separate): {', '.join(CATEGORIES)}")
    p.add_argument("--level", choices=list(LEVEL_NUMBERS), metavar="LEVEL",
                   help="this level and above: " + ", ".join(LEVEL_NUMBERS))
    p.add_argument("--symbol", metavar="SYMBOL", help="only events of this symbol")
    p.add_argument("--since", metavar="WHEN",
                   help="from this time: 2024-03-01, 2024-03-01T12:00 (UTC), or 30m / 2h / 7d ago")
    p.add_argument("-n", "--lines", type=int, metavar="N",
                   help=f"only the last N events (with -f and no --since: {FOLLOW_BACKLOG})")
    p.add_argument("--json", action="store_true", help="print the JSON lines as written")
    p.set_defaults(func=cmd_logs)


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """An absolute UTC time or a duration back from ``now``; ValueError says what is accepted."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - dt.timedelta(seconds=int(relative.group(1)) * _UNITS[relative.group(2)])
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since: expected a date, a date and time (UTC) or a duration such "
                         f"as 30m, 2h, 7d; got {text!r}") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


class Filter:
    def __init__(self, args: argparse.Namespace, since: dt.datetime | None):
        from actors.runtime.logbook import CATEGORIES, LEVEL_NUMBERS

        self.levels = LEVEL_NUMBERS
        self.min_level = LEVEL_NUMBERS[args.level] if args.level else 0
        self.categories = {c.strip() for arg in args.category for c in arg.split(",") if c.strip()}
        unknown = self.categories - set(CATEGORIES)
        if unknown:
            raise ValueError(f"--category: unknown {', '.join(sorted(unknown))}; expected "
                             f"{', '.join(CATEGORIES)}")
        self.symbol = args.symbol.upper() if args.symbol else None
        # the files' ts is ISO-8601 UTC with milliseconds: text order is time order
        self.since = since.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if since else ""

    def __call__(self, event: dict[str, Any]) -> bool:
        if self.levels.get(event.get("level"), 0) < self.min_level:
            return False
        if self.categories and event.get("category") not in self.categories:
            return False
        if self.symbol and str(event.get("symbol") or "").upper() != self.symbol:
            return False
        return str(event.get("ts", "")) >= self.since


class Printer:
    def __init__(self, out: IO[str], *, as_json: bool, colour: bool):
        from actors.read.log_query import format_txt

        self.out, self.as_json, self.colour, self.format_txt = out, as_json, colour, format_txt

    def __call__(self, event: dict[str, Any], raw: bytes) -> None:
        if self.as_json:
            line = raw.decode("utf-8", "replace") + "\n"
        else:
            fields = {k: event.get(k) for k in _TXT_FIELDS}
            fields["level"] = str(fields["level"])
            line = self.format_txt([fields])
            colour = _COLOURS.get(event.get("level")) if self.colour else None
            if colour:
                line = f"{colour}{line[:-1]}{_RESET}\n"
        self.out.write(line)


def _log_dir(args: argparse.Namespace, err: IO[str]) -> Path | None:
    from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path
    from engine.config import ConfigInvalid

    store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    try:
        return store.data_dir_of(store.load()) / "logs"
    except (ConfigUnreadable, ConfigInvalid) as exc:
        print(f"error: configuration {store.path}: {exc}", file=err)
        return None


def cmd_logs(args: argparse.Namespace, *, out: IO[str] | None = None,
             err: IO[str] | None = None, now: dt.datetime | None = None) -> int:
    from ops.log_tail import Tail

    out, err = out or sys.stdout, err or sys.stderr
    now = now or dt.datetime.now(dt.UTC)
    try:
        since = parse_since(args.since, now) if args.since else None
        keep = Filter(args, since)
        if args.lines is not None and args.lines < 0:
            raise ValueError(f"--lines: expected 0 or more, got {args.lines}")
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    log_dir = _log_dir(args, err)
    if log_dir is None:
        return EXIT_ERROR
    if args.follow and since is None and args.lines is None:
        since, args.lines = now.replace(hour=0, minute=0, second=0, microsecond=0), FOLLOW_BACKLOG
    colour = out.isatty() and not os.environ.get("NO_COLOR")
    show = Printer(out, as_json=args.json, colour=colour)
    tail = Tail(log_dir, report=lambda m: print(f"engine logs: {m}", file=err, flush=True),
                since_day=since.date().isoformat() if since else "")
    if not log_dir.is_dir():
        print(f"engine logs: no log files yet in {log_dir}", file=err)
    try:
        first = (item for item in tail.read_available(final=not args.follow) if keep(item[0]))
        for event, raw in (deque(first, maxlen=args.lines) if args.lines is not None else first):
            show(event, raw)
        out.flush()
        while args.follow:
            time.sleep(FOLLOW_POLL_S)
            for event, raw in tail.read_available(final=False):
                if keep(event):
                    show(event, raw)
            out.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `engine logs | head`: the reader left
        sys.stdout = None  # type: ignore[assignment]  # no flush error at exit
    return EXIT_OK
