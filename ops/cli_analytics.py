"""``engine analytics rebuild``: recompute the performance roll-ups (``trade_analytics``,
``daily_stats``, the snapshots' running drawdown) from the record — closed trades, fills with
what each realized, PnL adjustments — in ``app.timezone``.

Only while the engine is stopped (the data-directory lock is held for the duration): the
running engine keeps the roll-ups current itself, and rebuilds them at start-up when
``app.timezone`` changed. Exit codes: 0 done, 1 refused or failed.
"""

from __future__ import annotations

import argparse
import sys

from actors.analytics import rebuild, rows
from actors.runtime.datadir_lock import DataDirLock
from actors.settings.config_store import ConfigStore, resolve_config_path
from actors.store.writer import Store, StorageError, wall_clock_ms

EXIT_OK, EXIT_ERROR = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    analytics = subparsers.add_parser("analytics", help="performance analytics maintenance")
    actions = analytics.add_subparsers(dest="analytics_command", required=True)
    build = actions.add_parser("rebuild", parents=[common],
                               help="recompute the roll-ups from closed trades and fills "
                                    "(the engine must be stopped)")
    build.set_defaults(func=cmd_rebuild)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_rebuild(args: argparse.Namespace) -> int:
    from actors.runtime.root import load_config

    config_store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    cfg = load_config(config_store)
    if cfg is None:
        return EXIT_ERROR
    data_dir = config_store.data_dir_of(cfg)
    lock = DataDirLock(data_dir)
    if not lock.acquire():
        return _fail(f"the engine is running on {data_dir} (pid {lock.holder_pid()}); stop it "
                     "first — while it runs it keeps the roll-ups current")
    try:
        try:
            store = Store.open(data_dir / "engine.db")
        except StorageError as exc:
            return _fail(str(exc))
        try:
            name = cfg.app.timezone
            counts = store.write_now(lambda conn: rebuild.rebuild(
                conn, rows.zone(name), name, wall_clock_ms()))
        finally:
            store.close()
    finally:
        lock.release()
    print(f"analytics rebuilt in {name}: {counts['trades']} closed trade(s), "
          f"{counts['realizations']} realization(s), {counts['fills']} fill(s), "
          f"{counts['days']} day(s), {counts['snapshots']} equity snapshot(s)")
    return EXIT_OK
