"""The emulator's ASGI application: Binance spot REST + websockets + the control endpoints.

Requests are checked like Binance does: API key (-2014/-2015), HMAC-SHA256 signature over
query string + body (-1022), ``timestamp`` within ``recvWindow`` (-1021), request weight and
order count per fixed window (429 -1003/-1015 with Retry-After; usage headers on every answer:
``tests/emulator/control.py``). Faults registered through
``POST /_emulator/fault`` are applied before (or, for "timeout"/"5xx_after", after) the effect.
"""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import parse_qsl

import trio

from tests.emulator.account import Account, BinanceError
from tests.emulator.control import DEFAULT_MESSAGES, Counters, Fault, weight_of
from tests.emulator.public import PublicMarket

SIGNED = {("POST", "/api/v3/order"), ("DELETE", "/api/v3/order"), ("GET", "/api/v3/order"),
          ("GET", "/api/v3/openOrders"), ("GET", "/api/v3/myTrades"), ("GET", "/api/v3/account")}
KEYED = {"/api/v3/userDataStream"}


class Emulator:
    def __init__(self, exchange_info: dict, *, api_key: str, api_secret: str,
                 clock_ms=lambda: int(time.time() * 1000)):
        self._served_info = exchange_info
        self.info = exchange_info
        self.api_key, self.api_secret = api_key, api_secret
        self.clock_ms = clock_ms
        self.public: PublicMarket | None = None  # tickers, klines, the /ws market streams
        self.reset()

    def reset(self, rate_limits: list[dict] | None = None, *,
              partial_fill_ratio: Decimal = Decimal(1),
              balances: dict[str, Decimal] | None = None) -> None:
        self.info = {**self._served_info,
                     "rateLimits": rate_limits or self._served_info["rateLimits"]}
        self.account = Account(self.info, partial_fill_ratio=partial_fill_ratio,
                               balances=balances)
        if self.public is None:
            self.public = PublicMarket(self.account, self.clock_ms)
        self.public.reset(self.account)
        self.counters = Counters.from_rate_limits(self.info["rateLimits"])
        self.faults: list[Fault] = []
        # every POST /api/v3/order that reached us, "_result": placed / rejected <code> / fault
        self.order_requests: list[dict] = []
        self.service_ns: list[int] = []  # time inside the app for each order placement
        self.listen_keys: set[str] = set()
        self.user_ws: dict[int, tuple[str, trio.MemorySendChannel]] = {}
        self.market_ws: dict[int, tuple[set[str], trio.MemorySendChannel]] = {}
        self._ws_seq = 0
        self._drop = trio.Event()

    # -- pushing ----------------------------------------------------------------------------

    def _push_user(self, events: list[dict]) -> None:
        for key, chan in list(self.user_ws.values()):
            for ev in events:
                _offer(chan, ev)

    def _push_prices(self, symbol: str, price: Decimal, now_ms: int) -> None:
        ticker = {"e": "24hrMiniTicker", "E": now_ms, "s": symbol, "c": str(price)}
        name = f"{symbol.lower()}@miniticker"
        for streams, chan in list(self.market_ws.values()):
            if name in streams:
                _offer(chan, {"stream": f"{symbol.lower()}@miniTicker", "data": ticker})

    def set_price(self, symbol: str, price: Decimal) -> None:
        now = self.clock_ms()
        self._push_user(self.account.set_price(symbol, price, now))
        self._push_prices(symbol, price, now)
        self.public.on_price(symbol, price, now)

    def drop_websockets(self) -> None:
        self._drop.set()
        self._drop = trio.Event()

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        started = time.perf_counter_ns()
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        status, payload, headers = await self._http(scope, body.decode())
        raw = json.dumps(payload).encode()
        if (scope["method"], scope["path"]) == ("POST", "/api/v3/order"):
            self.service_ns.append(time.perf_counter_ns() - started)
        hdrs = [(b"content-type", b"application/json")] + [
            (k.encode(), str(v).encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": raw})

    async def _http(self, scope, body: str) -> tuple[int, object, dict]:
        method, path = scope["method"], scope["path"]
        query = scope["query_string"].decode()
        if path.startswith("/_emulator/"):
            return self._control(method, path, query, body)
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        now_ms = self.clock_ms()
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        placing = (method, path) == ("POST", "/api/v3/order")
        if placing:
            self.order_requests.append({**params, "_result": "received"})
        if fault is not None and fault.kind not in ("timeout", "5xx_after"):
            fault.count -= 1
            if placing:
                self.order_requests[-1]["_result"] = f"fault {fault.kind}"
            return _fault_answer(fault)
        refused = self.counters.admit_weight(weight_of(method, path, params), now_ms / 1000)
        out_headers = self.counters.headers(placing)
        if refused is not None:
            if placing:
                self.order_requests[-1]["_result"] = "rejected -1003"
            return 429, {"code": -1003, "msg": f"Too much request weight used; current limit is "
                         f"{refused.limit} request weight per {refused.label}."}, {
                "retry-after": refused.retry_after(now_ms / 1000), **out_headers}
        try:
            self._authenticate(method, path, headers, query, body, params, now_ms)
            answer = self._route(method, path, params, now_ms)
        except BinanceError as e:
            if placing:
                self.order_requests[-1]["_result"] = f"rejected {e.code}"
            return e.http_status, {"code": e.code, "msg": e.msg}, {
                **self.counters.headers(placing), **e.headers}
        if placing:
            self.order_requests[-1]["_result"] = "placed"
        if fault is not None:  # effect done, answer lost or late
            fault.count -= 1
            if fault.kind == "timeout":
                await trio.sleep(fault.delay_s)
            return 500, {"code": -1001, "msg": "Internal error; unable to process your request. "
                         "Please try again."}, self.counters.headers(placing)
        return 200, answer, self.counters.headers(placing)

    def _authenticate(self, method, path, headers, query, body, params, now_ms) -> None:
        if (method, path) not in SIGNED and path not in KEYED:
            return
        key = headers.get("x-mbx-apikey")
        if not key or len(key) < 8:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if key != self.api_key:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if path in KEYED:
            return
        signed = _without_signature(query) + _without_signature(body)
        expected = hmac.new(self.api_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        ts = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        if ts > now_ms + 1000:
            raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the "
                               "server's time.")
        if now_ms - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _route(self, method: str, path: str, p: dict, now_ms: int) -> object:
        acc = self.account
        match method, path:
            case "GET", "/api/v3/ping":
                return {}
            case "GET", "/api/v3/time":
                return {"serverTime": now_ms}
            case "GET", "/api/v3/exchangeInfo":
                return {**self.info, "serverTime": now_ms}
            case "GET", "/api/v3/ticker/price":
                return acc.ticker_prices(p.get("symbol"))
            case "POST", "/api/v3/order":
                if (w := self.counters.admit_order(now_ms / 1000)) is not None:
                    raise BinanceError(-1015, f"Too many new orders; current limit is {w.limit} "
                                       f"orders per {w.label}.", 429,
                                       {"retry-after": w.retry_after(now_ms / 1000)})
                answer, events = acc.place(p, now_ms)
                self._push_user(events)
                return answer
            case "DELETE", "/api/v3/order":
                answer, events = acc.cancel(p, now_ms)
                self._push_user(events)
                return answer
            case "GET", "/api/v3/order":
                return acc.query(p)
            case "GET", "/api/v3/openOrders":
                return acc.open_orders(p.get("symbol"))
            case "GET", "/api/v3/myTrades":
                return acc.my_trades(p)
            case "GET", "/api/v3/account":
                return acc.account(now_ms)
            case "POST", "/api/v3/userDataStream":
                key = f"lk{len(self.listen_keys) + 1:04d}{now_ms}"
                self.listen_keys.add(key)
                return {"listenKey": key}
            case ("PUT" | "DELETE"), "/api/v3/userDataStream":
                if p.get("listenKey") not in self.listen_keys:
                    raise BinanceError(-1125, "This listenKey does not exist.")
                if method == "DELETE":
                    self.listen_keys.discard(p["listenKey"])
                return {}
        if (answer := self.public.route(method, path, p, now_ms)) is not None:
            return answer
        raise BinanceError(-1100, f"Unknown endpoint {method} {path}", 404)

    def _control(self, method: str, path: str, query: str, body: str) -> tuple[int, object, dict]:
        data = json.loads(body) if body else {}
        match method, path:
            case "POST", "/_emulator/fault":
                fault = Fault(**data)
                if fault.kind == "drop_ws":
                    self.drop_websockets()
                else:
                    self.faults.append(fault)
                return 200, {"ok": True}, {}
            case "POST", "/_emulator/price":
                self.set_price(data["symbol"], Decimal(str(data["price"])))
                return 200, {"ok": True}, {}
            case "POST", "/_emulator/prices":
                # many moves in one request (a benchmark's market feed), applied in order
                for symbol, price in data["prices"]:
                    self.set_price(symbol, Decimal(str(price)))
                return 200, {"ok": True, "applied": len(data["prices"])}, {}
            case "POST", "/_emulator/reset":
                balances = data.get("balances")
                self.reset(data.get("rate_limits"),
                           partial_fill_ratio=Decimal(str(data.get("partial_fill_ratio", 1))),
                           balances=None if balances is None else
                           {k: Decimal(str(v)) for k, v in balances.items()})
                self.counters.enforce = data.get("enforce_limits", True)
                return 200, {"ok": True}, {}
            case "GET", "/_emulator/orders":
                return 200, self.order_requests, {}
            case "GET", "/_emulator/stats":
                ns = self.service_ns
                return 200, {**self.counters.snapshot(), "service_ns": ns,
                             "user_ws": len(self.user_ws), "market_ws": len(self.market_ws),
                             "open_orders": len(self.account.book.open_orders()),
                             "faults_left": sum(f.count for f in self.faults)}, {}
        return self.public.control(method, path, data) or (
            404, {"error": f"unknown control {method} {path}"}, {})

    # -- websockets -------------------------------------------------------------------------

    async def _websocket(self, scope, receive, send) -> None:
        msg = await receive()
        if msg["type"] != "websocket.connect":
            return
        path = scope["path"]
        if path == "/ws":  # the public market streams (SUBSCRIBE / UNSUBSCRIBE)
            await self.public.serve_ws(receive, send, self._drop)
            return
        query = dict(parse_qsl(scope["query_string"].decode()))
        send_chan, recv_chan = trio.open_memory_channel[dict](1000)
        self._ws_seq += 1
        seq = self._ws_seq
        if path.startswith("/ws/") and path[4:] in self.listen_keys:
            self.user_ws[seq] = (path[4:], send_chan)
        elif path == "/stream" and "streams" in query:
            self.market_ws[seq] = ({s.lower() for s in query["streams"].split("/")}, send_chan)
        else:
            await send({"type": "websocket.close", "code": 4004})
            return
        await send({"type": "websocket.accept"})
        drop = self._drop
        try:
            async with trio.open_nursery() as nursery:
                async def pump() -> None:
                    async for ev in recv_chan:
                        await send({"type": "websocket.send", "text": json.dumps(ev)})

                async def watch_drop() -> None:
                    await drop.wait()
                    nursery.cancel_scope.cancel()

                async def read() -> None:
                    while (await receive())["type"] != "websocket.disconnect":
                        pass
                    nursery.cancel_scope.cancel()

                nursery.start_soon(pump)
                nursery.start_soon(watch_drop)
                nursery.start_soon(read)
        finally:
            self.user_ws.pop(seq, None)
            self.market_ws.pop(seq, None)
        if drop.is_set():
            # an abnormal close (no clean handshake reason) as a network drop would look
            await send({"type": "websocket.close", "code": 1011})


def _offer(chan: trio.MemorySendChannel, ev: dict) -> None:
    try:
        chan.send_nowait(ev)
    except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
        pass  # a slow or gone consumer loses events, as on the real exchange


def _without_signature(text: str) -> str:
    return "&".join(part for part in text.split("&") if part and not part.startswith("signature="))


def _fault_answer(fault: Fault) -> tuple[int, object, dict]:
    if fault.kind == "5xx":
        return 503, {"code": -1001, "msg": "Service unavailable."}, {}
    if fault.kind in ("429", "418"):
        code = -1003
        msg = fault.msg or ("Way too many requests; IP banned." if fault.kind == "418"
                            else "Too much request weight used.")
        return int(fault.kind), {"code": code, "msg": msg}, {"retry-after": fault.retry_after_s}
    code = int(fault.kind)
    return 400, {"code": code, "msg": fault.msg or DEFAULT_MESSAGES.get(code, "Rejected.")}, {}

