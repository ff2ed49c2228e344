"""``engine paper reset`` (SPEC 12.4, 12.6): restore the paper start balances and cancel every
open paper order, in the data directory's database.

Only while the engine is stopped (the data-directory lock is taken for the duration; a
running engine owns the paper state — use ``POST /api/paper/reset`` then). ``refuse`` is the
runtime's check "a group is not Closed/Failed or the queue is not empty": it gets the open
Store and returns the reason to refuse (exit code 1), or None.
"""

import argparse
import sys
from collections.abc import Callable
from functools import partial

from actors.settings.config_store import ConfigStore, resolve_config_path
from actors.runtime.datadir_lock import DataDirLock
from actors.exchange.paper_store import reset_rows
from actors.store.writer import Store, StorageError, wall_clock_ms

EXIT_OK, EXIT_ERROR = 0, 1
RefuseCheck = Callable[[Store], str | None]


def register(subparsers: argparse._SubParsersAction, *, refuse: RefuseCheck | None = None) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    paper = subparsers.add_parser("paper", help="paper exchange maintenance")
    actions = paper.add_subparsers(dest="paper_command", required=True)
    reset = actions.add_parser("reset", parents=[common],
                               help="restore the start balances and cancel all paper orders")
    reset.set_defaults(func=partial(cmd_paper_reset, refuse=refuse))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_paper_reset(args: argparse.Namespace, *, refuse: RefuseCheck | None = None) -> int:
    from actors.runtime.root import load_config

    config_store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    cfg = load_config(config_store)
    if cfg is None:
        return EXIT_ERROR
    data_dir = config_store.data_dir_of(cfg)
    lock = DataDirLock(data_dir)
    if not lock.acquire():
        return _fail(f"the engine is running on {data_dir} (pid {lock.holder_pid()}); "
                     "use POST /api/paper/reset")
    try:
        try:
            store = Store.open(data_dir / "engine.db")
        except StorageError as exc:
            return _fail(str(exc))
        try:
            reason = refuse(store) if refuse is not None else None
            if reason:
                return _fail(f"paper reset refused: {reason}")
            balances = cfg.exchange.paper.start_balances
            cancelled = store.write_now(lambda conn: reset_rows(conn, balances, wall_clock_ms()))
        finally:
            store.close()
    finally:
        lock.release()
    shown = ", ".join(f"{asset} {amount}" for asset, amount in sorted(balances.items()))
    print(f"paper exchange reset: {cancelled} open order(s) cancelled; balances {shown or 'none'}")
    return EXIT_OK
