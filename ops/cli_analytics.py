"""``engine analytics rebuild``: recompute the performance roll-ups (``trade_analytics``,
``daily_stats``, the snapshots' running drawdown) from the record — closed trades, fills with
what each realized, PnL adjustments — in ``app.timezone``.

Only while the engine is stopped (the data-directory lock is held for the duration): the
running engine keeps the roll-ups current itself, and rebuilds them at start-up when
``app.timezone`` changed. Exit codes: 0 done, 1 refused or failed.
"""

from __future__ import annotations

import argparse

from actors.analytics import rebuild, rows
from actors.store.writer import wall_clock_ms
from ops.offline_store import Refused, offline_store, refused

EXIT_OK = 0


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


def cmd_rebuild(args: argparse.Namespace) -> int:
    try:
        with offline_store(args, while_running="stop it first — while it runs it keeps the "
                           "roll-ups current") as (cfg, store):
            name = cfg.app.timezone
            counts = store.write_now(lambda conn: rebuild.rebuild(
                conn, rows.zone(name), name, wall_clock_ms()))
    except Refused as exc:
        return refused(exc)
    print(f"analytics rebuilt in {name}: {counts['trades']} closed trade(s), "
          f"{counts['realizations']} realization(s), {counts['fills']} fill(s), "
          f"{counts['days']} day(s), {counts['snapshots']} equity snapshot(s)")
    return EXIT_OK
