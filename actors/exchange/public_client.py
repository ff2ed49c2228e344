"""Public market data of a real exchange through ccxt, with no API key (paper ``feed = "live"``,
``engine markets fetch``, chart backfill).

Owns: one credential-less ccxt client in a worker thread (``ClientPool`` of size 1: its rate
budget, its error translation) and the market table it loaded.
Receives: ``exchange_info`` / ``markets`` / ``prices`` / ``ohlcv`` calls.
Sends: public REST requests only, to the exchange's own hosts or to the origin given as
``rest_url`` (``exchange.paper.live.rest_url`` or ``$ENGINE_PUBLIC_REST_URL``): every URL of
ccxt's ``urls["api"]`` keeps its path and takes that scheme and host, so a regional host or
the loopback emulator serves every call.
Fails how: ccxt failures become the port's errors (``Unavailable``, ``RateLimited``, ...);
``UnknownSymbol`` for a symbol the exchange does not list; ``PublicSetupError`` names the
key of a bad URL or exchange name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from actors.exchange.ccxt_markets import VENUES, market_symbol, rules_from_markets
from actors.exchange.ccxt_pool import ClientPool
from actors.exchange.port import UnknownSymbol
from engine.config import ExchangeConfig
from engine.decimals import plain
from engine.markets import load_exchange_info
from engine.masking import Masker
from engine.types import MarketRules

REST_URL_ENV = "ENGINE_PUBLIC_REST_URL"
WS_URL_ENV = "ENGINE_PUBLIC_WS_URL"
WS_BASE = {"binance": "wss://stream.binance.com:9443"}
Bar = tuple[int, Decimal, Decimal, Decimal, Decimal]  # t_ms, open, high, low, close


class PublicSetupError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def public_endpoints(live: Any, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(REST origin, websocket base); "" = the exchange's own. The environment wins over the
    configuration (``exchange.paper.live.rest_url`` / ``ws_url``)."""
    env = os.environ if env is None else env
    out = []
    for var, key, schemes in ((REST_URL_ENV, "rest_url", ("http", "https")),
                              (WS_URL_ENV, "ws_url", ("ws", "wss"))):
        field, url = (var, env[var]) if env.get(var) else (
            f"exchange.paper.live.{key}", getattr(live, key))
        if url and (urlsplit(url).scheme not in schemes or not urlsplit(url).netloc):
            raise PublicSetupError(field, f"expected a {schemes[0]}(s):// URL, got {url!r}")
        out.append(url.rstrip("/"))
    return out[0], out[1]


def rebased(urls: Any, origin: str) -> Any:
    """ccxt's ``urls["api"]`` (a URL, or dicts of them) with every scheme + host replaced."""
    if isinstance(urls, dict):
        return {k: rebased(v, origin) for k, v in urls.items()}
    if not isinstance(urls, str):
        return urls
    head, target = urlsplit(origin), urlsplit(urls)
    return urlunsplit((head.scheme, head.netloc, target.path, target.query, target.fragment))


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    out = Decimal(str(value))
    return plain(out) if out.is_finite() and out > 0 else None


class PublicClient:
    def __init__(self, exchange: str, *, rest_url: str = "", timeout_ms: int = 10_000):
        if exchange not in VENUES:
            raise PublicSetupError("exchange", f"unknown exchange {exchange!r}; expected one "
                                   f"of {', '.join(sorted(VENUES))}")
        self.name = exchange
        self.pool = ClientPool(exchange, VENUES[exchange], ExchangeConfig(name=exchange,
                               testnet=False), api_key=None, api_secret=None,
                               passphrase=None, rest_urls=None, size=1,
                               timeout_ms=timeout_ms, masker=Masker())
        self.client = self.pool.clients[0]
        if rest_url:
            self.client.urls["api"] = rebased(self.client.urls["api"], rest_url)
        self.hosts = sorted({urlsplit(u).netloc for u in _leaves(self.client.urls["api"])})
        self._ccxt_of: dict[str, str] = {}  # our symbol (BTCUSDT) -> ccxt's (BTC/USDT)
        self._ours: dict[str, str] = {}

    # -- markets ----------------------------------------------------------------------------
    async def markets(self) -> dict[str, dict]:
        """ccxt's spot markets (loaded once; ``reload()`` forgets them)."""
        if self.pool.markets is None:
            markets = await self.pool.call("load_markets", True, cost="load_markets")
            self.pool.set_markets(markets)
            spot = {k: m for k, m in markets.items() if m.get("spot")}
            self._ccxt_of = {self.symbol_of(m): k for k, m in spot.items()}
            self._ours = {k: s for s, k in self._ccxt_of.items()}
        return self.pool.markets

    def symbol_of(self, market: dict) -> str:
        return str(market["id"]) if self.name == "binance" else market_symbol(market)

    async def exchange_info(self) -> dict:
        """Binance: its own ``/api/v3/exchangeInfo``, every number exact (parsed from the raw
        text, not from ccxt's floats)."""
        def raw(client: Any, _: Any) -> str:
            return client.last_http_response

        text = await self.pool.call("publicGetExchangeInfo", cost="load_markets", after=raw)
        return load_exchange_info(text)

    async def unified_rules(self, *, fetched_at_ms: int) -> dict[str, MarketRules]:
        """Other exchanges: ccxt's unified precision and limits as ``MarketRules``."""
        markets = await self.markets()
        return rules_from_markets(self.name, markets, market_type="spot",
                                  precision_mode=self.client.precisionMode,
                                  fetched_at_ms=fetched_at_ms)

    async def _ccxt_symbols(self, symbols: list[str], *, strict: bool = True) -> list[str]:
        await self.markets()
        unknown = [s for s in symbols if s not in self._ccxt_of]
        if unknown and strict:
            raise UnknownSymbol(f"{self.name} does not list {', '.join(unknown)}", code=-1121)
        return [self._ccxt_of[s] for s in symbols if s in self._ccxt_of]

    async def unlisted(self, symbols: list[str]) -> list[str]:
        await self.markets()
        return [s for s in symbols if s not in self._ccxt_of]

    # -- prices -----------------------------------------------------------------------------
    async def prices(self, symbols: list[str], *, kind: str) -> dict[str, Decimal]:
        """The newest price of each symbol: the mid of the best bid and ask (``bookTicker``)
        or the last trade (``ticker``). Symbols the exchange does not list or gave no price
        for are absent."""
        wanted = await self._ccxt_symbols(symbols, strict=False)
        if not wanted:
            return {}
        if self.name == "binance":  # the light endpoints: ticker/bookTicker, ticker/price
            method = "fetch_bids_asks" if kind == "bookTicker" else "fetch_last_prices"
        else:
            method = "fetch_tickers"
        raw = await self.pool.call(method, wanted, cost="fetch_last_prices")
        out: dict[str, Decimal] = {}
        for key, t in raw.items():
            ours = self._ours.get(key)
            if ours is None or ours not in symbols:
                continue
            bid, ask = _dec(t.get("bid")), _dec(t.get("ask"))
            last = _dec(t.get("price") if "price" in t else t.get("last"))
            price = plain((bid + ask) / 2) if kind == "bookTicker" and bid and ask else last
            if price is not None:
                out[ours] = price
        return out

    async def ohlcv(self, symbol: str, *, since_ms: int, until_ms: int,
                    limit: int = 1000) -> list[Bar]:
        """1-minute bars from ``since_ms`` to ``until_ms`` (at most ``limit``)."""
        (ccxt_symbol,) = await self._ccxt_symbols([symbol])
        return ohlcv_bars(await self.pool.call("fetch_ohlcv", ccxt_symbol, "1m", since_ms, limit,
                                               {"until": until_ms}, cost="fetch_ohlcv"))

    async def aclose(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None:
            session.close()


def ohlcv_bars(rows: list[list]) -> list[Bar]:
    """ccxt's ``fetch_ohlcv`` rows as exact bars (rows with a missing price are skipped)."""
    out = []
    for row in rows:
        values = [_dec(v) for v in row[1:5]]
        if all(v is not None for v in values):
            out.append((int(row[0]), *values))  # type: ignore[arg-type]
    return out


def _leaves(urls: Any) -> list[str]:
    if isinstance(urls, dict):
        return [u for v in urls.values() for u in _leaves(v)]
    return [urls] if isinstance(urls, str) else []
