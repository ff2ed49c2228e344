"""``engine paper reset`` (SPEC 12.4, 12.6): restore the paper start balances and cancel every
open paper order, in the data directory's database.

Only while the engine is stopped (the data-directory lock is taken for the duration; a
running engine owns the paper state — use ``POST /api/paper/reset`` then). ``refuse`` is the
runtime's check "a group is not Closed/Failed or the queue is not empty": it gets the open
Store and returns the reason to refuse (exit code 1), or None.
"""

import argparse
from collections.abc import Callable
from functools import partial

from actors.exchange.paper_store import reset_rows
from actors.store.writer import Store, wall_clock_ms
from ops.offline_store import Refused, offline_store, refused

EXIT_OK = 0
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


def cmd_paper_reset(args: argparse.Namespace, *, refuse: RefuseCheck | None = None) -> int:
    try:
        with offline_store(args, while_running="use POST /api/paper/reset") as (cfg, store):
            reason = refuse(store) if refuse is not None else None
            if reason:
                raise Refused(f"paper reset refused: {reason}")
            balances = cfg.exchange.paper.start_balances
            cancelled = store.write_now(lambda conn: reset_rows(conn, balances, wall_clock_ms()))
    except Refused as exc:
        return refused(exc)
    shown = ", ".join(f"{asset} {amount}" for asset, amount in sorted(balances.items()))
    print(f"paper exchange reset: {cancelled} open order(s) cancelled; balances {shown or 'none'}")
    return EXIT_OK
