"""The real-exchange implementation of the port: ccxt's synchronous client in worker threads.

Owns: a small pool of ccxt client instances (one worker thread each, handed out through a trio
memory channel), the shared rate budget (``limiter.py``), the cached market rules with their
last sync time, and the map exchange order id -> client order id (trades lack the latter).
Receives: port calls from the order gateway, market refresh, streams (``stream``).
Sends: REST requests through ccxt; nothing else.
Fails how: every ccxt exception is translated into the port taxonomy (``ccxt_errors.py``) with
secrets masked. A thread cannot be cancelled: a cancelled caller waits for the call to end, so
an order's answer is never dropped half-way. Missing credentials or a missing sandbox are
refused at construction with ``ExchangeSetupError`` naming what is missing.

Values are sent as the decimal text of what ``engine/`` rounded; before a create the adapter
checks that ccxt's own ``amount_to_precision``/``price_to_precision`` leave that text unchanged
and refuses the order (``InvalidOrder``) instead of letting ccxt re-round it.
"""

import logging
import time
from decimal import Decimal, localcontext
from functools import partial
from typing import Any, AsyncIterator

import ccxt
import msgspec
import trio

from actors.exchange import ccxt_convert as conv
from actors.exchange.binance_stream import run_binance
from actors.exchange.ccxt_markets import VENUES, Venue, rules_from_markets
from actors.exchange.ccxt_pool import ClientPool, ExchangeSetupError
from actors.exchange.limiter import DEFAULT_ORDER_LIMITS, Budget, limits_from_binance
from actors.exchange.port import (
    Balance,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderState,
    StreamEvent,
    Trade,
    UnknownSymbol,
)
from actors.exchange.streams import EventStream, Tracker, run_polling
from engine.masking import Masker
from engine.types import MarketRules

log = logging.getLogger("engine.order")
__all__ = ["CcxtExchange", "ExchangeSetupError"]


def _now_ms() -> int:
    return int(time.time() * 1000)


class CcxtExchange:
    """``ExchangePort`` for binance, bybit, okx, kucoin, mexc and gateio."""

    def __init__(self, cfg: Any, *, api_key: str | None, api_secret: str | None,
                 passphrase: str | None = None, rest_urls: dict[str, str] | None = None,
                 ws_url: str | None = None, pool_size: int = 3, timeout_ms: int = 10_000,
                 masker: Masker | None = None):
        self.name: str = cfg.name
        if self.name not in VENUES:
            raise ExchangeSetupError("exchange.name", f"{self.name!r} is not a ccxt exchange")
        self.venue: Venue = VENUES[self.name]
        self.cfg = cfg
        for field, value in (("exchange.api_key", api_key), ("exchange.api_secret", api_secret)):
            if not value:
                raise ExchangeSetupError(field, f"secret {field} is missing for {self.name}")
        if self.venue.needs_passphrase and not passphrase:
            raise ExchangeSetupError("exchange.passphrase",
                                     f"secret exchange.passphrase is missing ({self.name} needs it)")
        self.masker = masker or Masker()
        for secret in (api_key, api_secret, passphrase):
            self.masker.add(secret)
        self.ws_url = ws_url
        self.pool = ClientPool(self.name, self.venue, cfg, api_key=api_key, api_secret=api_secret,
                               passphrase=passphrase, rest_urls=rest_urls, size=pool_size,
                               timeout_ms=timeout_ms, masker=self.masker)
        self.limiter = self.pool.limiter
        self.weight = self.pool.weight  # per call: the gateway's line pays for its orders
        self._call = self.pool.call
        self._rules: dict[str, MarketRules] = {}
        self._by_ccxt: dict[str, str] = {}  # ccxt symbol -> our symbol (one lookup per order)
        self.last_markets_sync_ms: int | None = None
        self._cids: dict[str, str] = {}  # exchange order id -> client order id
        self._streams: list[Any] = []

    def _market(self, symbol: str) -> MarketRules:
        rules = self._rules.get(symbol)
        if rules is None:
            raise UnknownSymbol(f"{self.name}: Invalid symbol. ({symbol} is not a market here)",
                                code=-1121)
        return rules

    async def _rules_for(self, symbol: str) -> MarketRules:
        if symbol not in self._rules:
            await self.load_markets()
        return self._market(symbol)

    def _symbol_of(self, ccxt_symbol: str | None) -> str:
        sym = self._by_ccxt.get(ccxt_symbol or "")
        return sym if sym is not None else (ccxt_symbol or "").replace("/", "").split(":")[0]

    def _lookup(self, cid: str) -> tuple[str | None, dict]:
        wire = self.venue.cid_prefix + cid
        if self.venue.lookup_cid_param is None:
            return wire, {}
        return None, {self.venue.lookup_cid_param: wire}

    def _state(self, o: dict, symbol: str) -> OrderState:
        state = conv.order_state(o, symbol=symbol, cid_prefix=self.venue.cid_prefix)
        if state.exchange_order_id and state.client_order_id:
            self._cids[state.exchange_order_id] = state.client_order_id
        return state

    # -- the port -----------------------------------------------------------------------------

    @property
    def markets(self) -> dict[str, MarketRules]:
        return self._rules

    async def load_markets(self) -> dict[str, MarketRules]:
        def grab(client: Any, markets: dict) -> tuple[dict, Any]:
            return markets, client.last_json_response

        markets, raw = await self._call("load_markets", True, cost="load_markets", after=grab)
        now_ms = _now_ms()
        self.pool.set_markets(markets)
        self._rules = rules_from_markets(self.name, markets, market_type=self.cfg.market_type,
                                         precision_mode=self.pool.clients[0].precisionMode,
                                         fetched_at_ms=now_ms)
        self._by_ccxt = {r.ccxt_symbol: sym for sym, r in self._rules.items()}
        self.last_markets_sync_ms = now_ms
        if self.name == "binance" and isinstance(raw, dict) and raw.get("rateLimits"):
            weights, orders = limits_from_binance(raw["rateLimits"])
            if weights or orders:
                self.limiter.replace(Budget(weights, orders or DEFAULT_ORDER_LIMITS,
                                            conservative=self.pool.conservative))
        return self._rules

    async def run_market_refresh(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """SPEC 5.1: reload every ``precision_refresh_sec``; a failed refresh is logged and the
        previous rules stay in use."""
        task_status.started()
        while True:
            await trio.sleep(self.cfg.precision_refresh_sec)
            try:
                await self.load_markets()
            except Exception as exc:  # noqa: BLE001 - any failure leaves the old rules in place
                logging.getLogger("engine.precision").error(
                    "precision sync failure: %s", exc,
                    extra={"event": "precision_sync_failed", "exchange": self.name})

    async def fetch_prices(self, symbols: list[str] | None = None) -> dict[str, Decimal]:
        if not self._rules:
            await self.load_markets()
        wanted = [self._market(s).ccxt_symbol for s in symbols] if symbols else None
        client = self.pool.clients[0]
        if client.has.get("fetchLastPrices"):
            raw = await self._call("fetch_last_prices", wanted, cost="fetch_last_prices")
            pairs = ((k, v.get("price")) for k, v in raw.items())
        else:
            raw = await self._call("fetch_tickers", wanted, cost="fetch_last_prices")
            pairs = ((k, v.get("last")) for k, v in raw.items())
        out: dict[str, Decimal] = {}
        for ccxt_symbol, price in pairs:
            value = conv.dec(price)
            sym = self._symbol_of(ccxt_symbol)
            if value is not None and (symbols is None or sym in symbols):
                out[sym] = value
        return out

    async def create_order(self, request: OrderRequest) -> OrderState:
        rules = await self._rules_for(request.symbol)
        qty = conv.wire_text(request.quantity)
        price = conv.wire_text(request.price) if request.price is not None else None
        if request.type == "limit" and price is None:
            raise InvalidOrder(f"{self.name}: a limit order needs a price")
        self._refuse_off_grid(rules, qty, price if request.type == "limit" else None)
        params: dict[str, Any] = {self.venue.create_cid_param:
                                  self.venue.cid_prefix + request.client_order_id}
        if request.type == "limit":
            params["timeInForce"] = request.time_in_force
        params.update(self._position_params(request))
        log.info("create order %s", request.client_order_id,
                 extra={"event": "order_request", "exchange": self.name, "symbol": request.symbol,
                        "order_id": request.client_order_id,
                        "data": {"side": request.side, "type": request.type, "qty": qty,
                                 "price": price, "tif": request.time_in_force}})
        o = await self._call("create_order", rules.ccxt_symbol, request.type, request.side, qty,
                             price if request.type == "limit" else None, params,
                             cost="create_order", orders=1, mutating=True)
        state = self._state(o, request.symbol)
        if not state.client_order_id:  # some exchanges answer a create with the id only
            state = msgspec.structs.replace(state, client_order_id=request.client_order_id)
        return state

    def _refuse_off_grid(self, rules: MarketRules, qty: str, price: str | None) -> None:
        """Refuse, as the exchange would, what ccxt would otherwise silently re-round."""
        for text, places in ((qty, rules.base_precision), (price, rules.quote_precision)):
            if text is not None and places is not None and conv.decimals(text) > places:
                raise InvalidOrder(f"{self.name}: Precision is over the maximum defined for "
                                   f"this asset. ({text} has more than {places} decimals)",
                                   code=-1111)
        ccxt_symbol = rules.ccxt_symbol
        client = self.pool.clients[0]
        if self.pool.markets is None or ccxt_symbol not in self.pool.markets:
            raise UnknownSymbol(f"{self.name}: unknown symbol {ccxt_symbol}", code=-1121)
        market = self.pool.markets[ccxt_symbol]
        mode, pad = client.precisionMode, client.paddingMode
        # refused as the exchange would refuse an off-increment value (Binance -1013)
        checks = [("LOT_SIZE", qty, ccxt.TRUNCATE, market["precision"]["amount"])]
        if price is not None:
            checks.append(("PRICE_FILTER", price, ccxt.ROUND, market["precision"]["price"]))
        for filter_name, text, rounding, precision in checks:
            if precision is None:
                continue
            # ccxt's decimal_to_precision rewrites the calling thread's Decimal context
            # (HALF_UP, Underflow trap): keep the engine's context on this thread untouched
            with localcontext():
                shown = client.decimal_to_precision(text, rounding, precision, mode, pad)
            if Decimal(shown) != Decimal(text):
                raise InvalidOrder(f"{self.name}: Filter failure: {filter_name} ({text} is not "
                                   f"on the increment {precision}; not sent, ccxt would have "
                                   f"sent {shown})", code=-1013)

    def _position_params(self, request: OrderRequest) -> dict[str, Any]:
        if self.cfg.market_type == "spot":
            return {}
        params: dict[str, Any] = {}
        if request.position_side is not None:
            side = request.position_side
            if self.name == "binance":
                params["positionSide"] = side.upper()
            elif self.name == "okx":
                params["posSide"] = side
            elif self.name == "bybit":
                params["positionIdx"] = 1 if side == "long" else 2
        elif request.reduce_only:
            # hedge mode already makes closing orders closing-only (SPEC 12.5)
            params["reduceOnly"] = True
        return params

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        rules = await self._rules_for(symbol)
        order_id, params = self._lookup(client_order_id)
        log.info("cancel order %s", client_order_id,
                 extra={"event": "order_cancel_request", "exchange": self.name, "symbol": symbol,
                        "order_id": client_order_id})
        o = await self._call("cancel_order", order_id, rules.ccxt_symbol, params,
                             cost="cancel_order", mutating=True)
        # Binance names the cancel request itself in clientOrderId: the order is ours
        return self._state({**o, "clientOrderId": self.venue.cid_prefix + client_order_id},
                           symbol)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState:
        rules = await self._rules_for(symbol)
        order_id, params = self._lookup(client_order_id)
        if self.name == "bybit":
            params["acknowledged"] = True
        o = await self._call("fetch_order", order_id, rules.ccxt_symbol, params, cost="fetch_order")
        state = self._state(o, symbol)
        if state.client_order_id != client_order_id:
            raise OrderNotFound(f"{self.name}: order {client_order_id} does not exist", code=-2013)
        return state

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        if not self._rules:
            await self.load_markets()
        ccxt_symbol = self._market(symbol).ccxt_symbol if symbol else None
        cost = "fetch_open_orders" if symbol else "fetch_open_orders_all"
        if symbol is None and self.name == "binance" and self.cfg.market_type == "spot":
            # every open order at once (a restart): read raw, Binance's market id is our symbol
            raw = await self._call("privateGetOpenOrders", cost=cost)
            return [self._state(conv.binance_spot_order(o), o["symbol"]) for o in raw]
        orders = await self._call("fetch_open_orders", ccxt_symbol, cost=cost)
        return [self._state(o, symbol or self._symbol_of(o.get("symbol"))) for o in orders]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None = None) -> list[Trade]:
        rules = await self._rules_for(symbol)
        limit, out, seen = 1000, [], set()
        since = since_ms
        while True:
            page = await self._call("fetch_my_trades", rules.ccxt_symbol, since, limit,
                                    cost="fetch_my_trades")
            fresh = [t for t in page if str(t["id"]) not in seen]
            for t in fresh:
                seen.add(str(t["id"]))
                cid = await self._cid_of(symbol, str(t.get("order") or ""))
                out.append(conv.trade(t, symbol=symbol, client_order_id=cid))
            if len(page) < limit or not fresh:
                break
            since = max(int(t.get("timestamp") or 0) for t in page)
        out.sort(key=lambda t: (t.ts_ms, t.trade_id))
        return out

    async def _cid_of(self, symbol: str, exchange_order_id: str) -> str:
        if not exchange_order_id:
            return ""
        if exchange_order_id not in self._cids:
            rules = self._market(symbol)
            o = await self._call("fetch_order", exchange_order_id, rules.ccxt_symbol,
                                 cost="fetch_order")
            self._state(o, symbol)
        return self._cids.get(exchange_order_id, "")

    async def fetch_balances(self) -> dict[str, Balance]:
        raw = await self._call("fetch_balance", cost="fetch_balance")
        return conv.balances(raw)

    async def binance_listen_key(self, method: str, listen_key: str | None = None) -> str | None:
        """POST (new), PUT (keepalive) or DELETE the spot user-data listenKey."""
        params = {"listenKey": listen_key} if listen_key else {}
        call = {"POST": "publicPostUserDataStream", "PUT": "publicPutUserDataStream",
                "DELETE": "publicDeleteUserDataStream"}[method]
        raw = await self._call(call, params, cost="listen_key")
        return raw.get("listenKey") if isinstance(raw, dict) else None

    async def fetch_ohlcv(self, symbol: str, since_ms: int, until_ms: int) -> list:
        """1-minute bars (``public_client.Bar``) for the chart backfill (not a port call)."""
        from actors.exchange.public_client import ohlcv_bars

        rules = await self._rules_for(symbol)
        return ohlcv_bars(await self._call("fetch_ohlcv", rules.ccxt_symbol, "1m", since_ms,
                                           1000, {"until": until_ms}, cost="fetch_ohlcv"))

    @property
    def client(self) -> Any:
        return self.pool.clients[0]

    def stream(self, symbols: list[str], *, since_ms: int | None = None
               ) -> AsyncIterator[StreamEvent]:
        """Binance: user-data + price websockets; others: REST polling. Fills older than
        ``since_ms`` (default: now) are left to start-up reconciliation (SPEC 8.5)."""
        tracker = Tracker(list(symbols), since_ms if since_ms is not None else _now_ms())
        runner = run_binance if self.name == "binance" and self.cfg.market_type == "spot" \
            else run_polling
        s = EventStream(partial(runner, self, list(symbols), tracker, now_ms=_now_ms))
        self._streams.append(s)
        return s

    async def aclose(self) -> None:
        for s in self._streams:
            await s.aclose()
        self._streams.clear()
        for c in self.pool.clients:
            session = getattr(c, "session", None)
            if session is not None:
                await trio.to_thread.run_sync(session.close)

