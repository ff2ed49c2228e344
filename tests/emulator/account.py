"""One emulated Binance spot account: F1's matching core (``engine/matching.py``) behind
Binance's REST shapes and ``executionReport`` events. No matching logic of its own."""

import json
from decimal import Decimal

import msgspec

from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.matching import Book, BookOrder, Change, Fill, NewOrder, Outcome, Rejection

_STATUS = {"open": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED",
           "canceled": "CANCELED", "expired": "EXPIRED"}
_EIGHT = Decimal("0.00000001")


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, http_status: int = 400,
                 headers: dict | None = None):
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.http_status = code, msg, http_status
        self.headers = headers or {}  # e.g. Retry-After of a 429


def s8(d: Decimal | None) -> str:
    """Binance's number format: 8 decimals."""
    return "0.00000000" if d is None else format(d.quantize(_EIGHT), "f")


def default_balances(info: dict) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for s in info["symbols"]:
        out.setdefault(s["quoteAsset"], Decimal(10) ** 9)
        out.setdefault(s["baseAsset"], Decimal(10) ** 6)
    return out


class Account:
    def __init__(self, info: dict, *, partial_fill_ratio: Decimal = Decimal(1),
                 balances: dict[str, Decimal] | None = None):
        # numbers exact: round-trip the info through F1's Decimal-preserving loader
        exact = load_exchange_info(json.dumps(info))
        self.book = Book(rules_from_binance_exchange_info(exact, fetched_at_ms=0),
                         partial_fill_ratio=partial_fill_ratio,
                         balances=default_balances(info) if balances is None else balances)
        self._cancel_seq = 0

    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> list[dict]:
        return self._reports(self.book.price_event(symbol, price, now_ms), now_ms)

    # -- REST -------------------------------------------------------------------------------

    def ticker_prices(self, symbol: str | None) -> object:
        if symbol is not None:
            if symbol not in self.book.prices:
                raise BinanceError(-1121, "Invalid symbol.")
            return {"symbol": symbol, "price": s8(self.book.prices[symbol])}
        return [{"symbol": s, "price": s8(p)} for s, p in sorted(self.book.prices.items())]

    def place(self, p: dict, now_ms: int) -> tuple[dict, list[dict]]:
        try:
            new = NewOrder(
                client_order_id=p.get("newClientOrderId") or f"emu{now_ms}",
                symbol=p["symbol"], side=p["side"].lower(), type=p["type"].lower(),
                quantity=Decimal(p["quantity"]),
                price=Decimal(p["price"]) if "price" in p else None,
                time_in_force=p.get("timeInForce", "GTC"))
        except (KeyError, ArithmeticError, ValueError) as exc:
            raise BinanceError(-1102, f"Mandatory parameter was not sent or malformed: {exc}")
        outcome = self._do(lambda: self.book.place(new, now_ms))
        order = outcome.changes[-1].order if outcome.changes else self.book.order(
            new.symbol, new.client_order_id)
        answer = {**self._order_json(order), "transactTime": now_ms, "fills": [
            {"price": s8(c.fill.price), "qty": s8(c.fill.quantity),
             "commission": s8(c.fill.fee), "commissionAsset": c.fill.fee_asset,
             "tradeId": c.fill.trade_id}
            for c in outcome.changes if c.fill is not None]}
        new_event = self._report(Change(order=_as_new(order, now_ms)), now_ms)
        later = [c for c in outcome.changes if c.fill is not None or c.order.status != "open"]
        return answer, [new_event] + [self._report(c, now_ms) for c in later]

    def cancel(self, p: dict, now_ms: int) -> tuple[dict, list[dict]]:
        symbol, cid, oid = p.get("symbol", ""), p.get("origClientOrderId"), p.get("orderId")
        outcome = self._do(lambda: self.book.cancel(
            symbol, cid, order_id=int(oid) if oid else None, now_ms=now_ms))
        order = outcome.changes[0].order
        self._cancel_seq += 1
        answer = {**self._order_json(order), "origClientOrderId": order.client_order_id,
                  "clientOrderId": f"cancel{self._cancel_seq:08d}", "transactTime": now_ms}
        return answer, self._reports(outcome, now_ms)

    def query(self, p: dict) -> dict:
        cid, oid = p.get("origClientOrderId"), p.get("orderId")
        order = self._do(lambda: self.book.order(p.get("symbol", ""), cid,
                                                 order_id=int(oid) if oid else None))
        return self._order_json(order)

    def open_orders(self, symbol: str | None) -> list[dict]:
        if symbol is not None and symbol not in self.book.markets:
            raise BinanceError(-1121, "Invalid symbol.")
        return [self._order_json(o) for o in self.book.open_orders(symbol)]

    def my_trades(self, p: dict) -> list[dict]:
        symbol = p.get("symbol", "")
        if symbol not in self.book.markets:
            raise BinanceError(-1121, "Invalid symbol.")
        fills = self.book.fills_since(symbol, int(p["startTime"]) if "startTime" in p else None)
        if "endTime" in p:
            fills = [f for f in fills if f.ts_ms <= int(p["endTime"])]
        if "fromId" in p:
            fills = [f for f in fills if f.trade_id >= int(p["fromId"])]
        if "orderId" in p:
            fills = [f for f in fills if f.order_id == int(p["orderId"])]
        limit = min(int(p.get("limit", 500)), 1000)
        # without a start, Binance answers the most recent trades
        fills = fills[:limit] if ("startTime" in p or "fromId" in p) else fills[-limit:]
        return [_trade_json(f) for f in fills]

    def account(self, now_ms: int) -> dict:
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0, "canTrade": True, "canWithdraw": True,
                "canDeposit": True, "brokered": False, "updateTime": now_ms,
                "accountType": "SPOT", "permissions": ["SPOT"], "uid": 1,
                "balances": [{"asset": a, "free": s8(h.free), "locked": s8(h.locked)}
                             for a, h in sorted(self.book.balances.items())]}

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _do(fn):
        try:
            return fn()
        except Rejection as r:
            raise BinanceError(r.code, r.message) from None

    @staticmethod
    def _order_json(o: BookOrder) -> dict:
        return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
                "clientOrderId": o.client_order_id, "price": s8(o.price),
                "origQty": s8(o.quantity), "executedQty": s8(o.filled_quantity),
                "cummulativeQuoteQty": s8(o.cumulative_quote), "status": _STATUS[o.status],
                "timeInForce": o.time_in_force, "type": o.type.upper(), "side": o.side.upper(),
                "stopPrice": s8(None), "icebergQty": s8(None), "time": o.created_at_ms,
                "updateTime": o.updated_at_ms, "isWorking": o.is_open,
                "workingTime": o.created_at_ms, "origQuoteOrderQty": s8(None),
                "selfTradePreventionMode": "NONE"}

    def _reports(self, outcome: Outcome, now_ms: int) -> list[dict]:
        return [self._report(c, now_ms) for c in outcome.changes]

    @staticmethod
    def _report(change: Change, now_ms: int) -> dict:
        o, f = change.order, change.fill
        kind = "TRADE" if f is not None else {"open": "NEW", "canceled": "CANCELED",
                                               "expired": "EXPIRED"}.get(o.status, "NEW")
        return {"e": "executionReport", "E": now_ms, "s": o.symbol, "c": o.client_order_id,
                "S": o.side.upper(), "o": o.type.upper(), "f": o.time_in_force,
                "q": s8(o.quantity), "p": s8(o.price), "P": s8(None), "F": s8(None), "g": -1,
                "C": o.client_order_id if kind == "CANCELED" else "", "x": kind,
                "X": _STATUS[o.status], "r": "NONE", "i": o.order_id,
                "l": s8(f.quantity if f else None), "z": s8(o.filled_quantity),
                "L": s8(f.price if f else None), "n": s8(f.fee if f else None),
                "N": f.fee_asset if f else None, "T": f.ts_ms if f else o.updated_at_ms,
                "t": f.trade_id if f else -1, "w": o.is_open, "m": bool(f and f.is_maker),
                "M": False, "O": o.created_at_ms, "Z": s8(o.cumulative_quote),
                "Y": s8(f.quote_quantity if f else None), "Q": s8(None)}


def _as_new(o: BookOrder, now_ms: int) -> BookOrder:
    """The order as it was accepted, before any immediate fill (Binance sends NEW first)."""
    return msgspec.structs.replace(o, status="open", filled_quantity=Decimal(0),
                                   cumulative_quote=Decimal(0), updated_at_ms=now_ms)


def _trade_json(f: Fill) -> dict:
    return {"symbol": f.symbol, "id": f.trade_id, "orderId": f.order_id, "orderListId": -1,
            "price": s8(f.price), "qty": s8(f.quantity), "quoteQty": s8(f.quote_quantity),
            "commission": s8(f.fee), "commissionAsset": f.fee_asset, "time": f.ts_ms,
            "isBuyer": f.side == "buy", "isMaker": f.is_maker, "isBestMatch": True}
