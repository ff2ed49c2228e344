"""``python -m tests.emulator --port 9443``: serve the loopback Binance emulator until Ctrl-C."""

import argparse
from functools import partial
from pathlib import Path

import trio

from tests.emulator.server import API_KEY, API_SECRET, INFO_FILE, make_emulator, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--api-key", default=API_KEY)
    parser.add_argument("--api-secret", default=API_SECRET)
    parser.add_argument("--exchange-info", type=Path, default=INFO_FILE,
                        help="the exchangeInfo JSON to serve (default: %(default)s)")
    args = parser.parse_args()
    emulator = make_emulator(api_key=args.api_key, api_secret=args.api_secret,
                             info_file=args.exchange_info)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(partial(serve, emulator, host=args.host, port=args.port))
            print(f"Binance emulator on {url} (api key {args.api_key})", flush=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
