"""``engine markets fetch``: download an exchange's market rules over its public REST endpoints
(no API key) into the paper exchange's markets format.

Owns: one ``PublicClient`` for the duration of the download.
Receives: the exchange name, the REST origin ("" = the exchange's own), the file to write,
the symbols that must be in it.
Sends: Binance: ``GET /api/v3/exchangeInfo`` (every symbol with Binance's own filters: tick,
step, min/max quantity, min notional, percent-price, max orders); other exchanges: ccxt's
``load_markets``, whose unified precision and limits are mapped into Binance's filter
shapes (``engine/markets_format.py``: percent-price bands, the max open orders, the market
lot step and the assets' decimal places are then unknown, so not enforced). Then the file,
through ``markets_file.write_markets`` (checked, new file renamed into place).
Fails how: ``MarketsFileError`` naming the exchange, the source, the file or the symbol:
an unknown exchange, a failed download (network, HTTP error, unreadable answer), a partial
one, a required symbol missing. Nothing stored is replaced then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from actors.exchange.port import ExchangeError
from actors.exchange.public_client import PublicClient, PublicSetupError
from actors.market.markets_file import MarketsFileError, write_markets
from engine.errors import InvalidInput
from engine.markets_format import UNKNOWN_FROM_UNIFIED, binance_entry


@dataclass
class Fetched:
    path: Path
    exchange: str
    symbols: int
    fetched_at_ms: int
    source: str
    unknown_filters: tuple[str, ...]


async def fetch_markets(exchange: str, path: Path, *, rest_url: str, now_ms: int,
                        required: Iterable[str] = ()) -> Fetched:
    try:
        client = PublicClient(exchange, rest_url=rest_url)
    except PublicSetupError as exc:
        raise MarketsFileError(f"--exchange: {str(exc).split(': ', 1)[-1]}") from None
    source = rest_url or ", ".join(f"https://{h}" for h in client.hosts if "{" not in h)
    unknown: tuple[str, ...] = ()
    try:
        if exchange == "binance":
            info = await client.exchange_info()
        else:
            rules = await client.unified_rules(fetched_at_ms=now_ms)
            info = {"timezone": "UTC", "symbols": [binance_entry(rules[s]) for s in sorted(rules)]}
            unknown = UNKNOWN_FROM_UNIFIED
    except (ExchangeError, InvalidInput) as exc:
        raise MarketsFileError(f"download of the {exchange} markets from {source} failed: "
                               f"{exc}; {path} was left as it was") from None
    finally:
        await client.aclose()
    count = write_markets(path, info, exchange=exchange, fetched_at_ms=now_ms, origin=source,
                          unknown_filters=unknown, required=required)
    return Fetched(path=path, exchange=exchange, symbols=count, fetched_at_ms=now_ms,
                   source=source, unknown_filters=unknown)
