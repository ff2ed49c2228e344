"""``engine markets fetch [--exchange binance] [--out PATH]``: download an exchange's market
rules (every symbol, public endpoints, no API key) for the paper exchange.

The file goes to ``<data_dir>/markets/<exchange>_spot.json`` unless ``--out`` names another;
``exchange.paper.markets_file`` must point at it for the paper exchange to use it. The REST
origin is ``$ENGINE_PUBLIC_REST_URL``, else ``exchange.paper.live.rest_url``, else the
exchange's own. When the file written is the one the engine uses, every symbol with an open
group, a queue entry or a resting paper order must be in the download, or nothing is written.
Exit codes: 0 written, 1 refused or failed (the stored file is left as it was), 2 invalid
configuration.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import trio

from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path

EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2
EXCHANGES = ("binance", "bybit", "okx", "kucoin", "mexc", "gateio")


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    markets = subparsers.add_parser("markets", help="real market rules for the paper exchange")
    actions = markets.add_subparsers(dest="markets_command", required=True)
    fetch = actions.add_parser("fetch", parents=[common],
                               help="download every symbol's rules (public endpoints, no key)")
    fetch.add_argument("--exchange", default="binance", metavar="NAME",
                       help=f"one of {', '.join(EXCHANGES)} (default: binance)")
    fetch.add_argument("--out", metavar="PATH", default=None,
                       help="file to write (default: <data_dir>/markets/<exchange>_spot.json)")
    fetch.set_defaults(func=cmd_markets_fetch)


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_markets_fetch(args: argparse.Namespace) -> int:
    from actors.exchange.factory import markets_path
    from actors.exchange.public_client import PublicSetupError, public_endpoints
    from actors.market.markets_fetch import fetch_markets
    from actors.market.markets_file import MarketsFileError, default_path, in_use
    from engine.config import Config, ConfigInvalid

    if args.exchange not in EXCHANGES:
        return _fail(f"--exchange: unknown exchange {args.exchange!r}; expected one of "
                     f"{', '.join(EXCHANGES)}")
    store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    try:
        cfg = store.load()
    except ConfigUnreadable as exc:
        if store.path.exists():
            return _fail(f"configuration {exc}", EXIT_CONFIG)
        cfg = Config()  # no engine.toml yet: the defaults (data in ./engine_data)
    except ConfigInvalid as exc:
        return _fail(f"configuration {store.path} is invalid: " + "; ".join(
            f"{p.path}: {p.message}" for p in exc.problems), EXIT_CONFIG)
    data_dir = store.data_dir_of(cfg)
    out = Path(args.out).absolute() if args.out else default_path(data_dir, args.exchange)
    used = markets_path(cfg, store.base_dir).absolute() == out
    try:
        rest, _ = public_endpoints(cfg.exchange.paper.live)
        fetched = trio.run(partial(
            fetch_markets, args.exchange, out, rest_url=rest, now_ms=int(time.time() * 1000),
            required=in_use(data_dir / "engine.db") if used else ()))
    except PublicSetupError as exc:
        return _fail(str(exc))
    except (MarketsFileError, OSError) as exc:
        return _fail(str(exc))
    when = datetime.fromtimestamp(fetched.fetched_at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"wrote {fetched.symbols} {fetched.exchange} symbols to {out} "
          f"(from {fetched.source}, fetched {when} UTC)")
    if fetched.unknown_filters:
        print(f"note: {fetched.exchange}'s public market list does not say "
              f"{', '.join(fetched.unknown_filters)}; the paper exchange does not enforce them")
    if not used:
        try:
            shown = out.relative_to(store.base_dir.absolute())
        except ValueError:
            shown = out
        print(f'to use it, set exchange.paper.markets_file = "{shown}" in {store.path}')
    return EXIT_OK
