"""Stream chaos for the Binance emulator: user-data events delivered twice or out of order.

The emulator (``app.py``) can already fail REST calls and drop websockets; a real exchange also
repeats events and delivers them late. ``ChaosEmulator`` is the emulator with that ability, as
a subclass (no change to the app): its ``_push_user`` passes every batch of user-data events
through ``StreamChaos`` first, and one more control endpoint arms it:

``POST /_emulator/chaos {kind, count}`` with kind ``dup`` (the next ``count`` events are sent
twice), ``reorder`` (each of the next ``count`` events is held back and sent after the event
that follows it — so it arrives late, after a newer state of the same order, or with the
next batch), or ``flush`` (send what is held now). ``GET /_emulator/book`` returns every order
and trade of the account (the shapes of the paper exchange's ``state()``), for invariant checks.
A ``reset`` clears the chaos.
"""

from __future__ import annotations

from decimal import Decimal

from tests.emulator.app import Emulator
from tests.emulator.server import EmulatorThread, make_emulator


class StreamChaos:
    def __init__(self) -> None:
        self.dup = 0
        self.reorder = 0
        self.held: list[dict] = []
        self.applied = 0  # events duplicated or moved, for the caller's summary

    def arm(self, kind: str, count: int) -> None:
        if kind == "dup":
            self.dup += count
        elif kind == "reorder":
            self.reorder += count
        else:
            raise ValueError(f"chaos kind: expected dup, reorder or flush, got {kind!r}")

    def user_events(self, events: list[dict]) -> list[dict]:
        out: list[dict] = []
        for ev in events:
            if self.reorder > 0 and not self.held:
                self.reorder -= 1
                self.applied += 1
                self.held.append(ev)
                continue
            out.append(ev)
            if self.dup > 0:
                self.dup -= 1
                self.applied += 1
                out.append(ev)
            out += self.held
            self.held = []
        return out

    def flush(self) -> list[dict]:
        out, self.held = self.held, []
        return out


class ChaosEmulator(Emulator):
    def reset(self, *args, **kwargs) -> None:
        super().reset(*args, **kwargs)
        self.chaos = StreamChaos()

    def _push_user(self, events: list[dict]) -> None:
        super()._push_user(self.chaos.user_events(events))

    def _control(self, method: str, path: str, query: str, body: str):
        if (method, path) == ("POST", "/_emulator/chaos"):
            import json

            data = json.loads(body) if body else {}
            if data.get("kind") == "flush":
                super()._push_user(self.chaos.flush())
            else:
                self.chaos.arm(data.get("kind", ""), int(data.get("count", 1)))
            return 200, {"ok": True}, {}
        if (method, path) == ("GET", "/_emulator/book"):
            return 200, book_state(self), {}
        return super()._control(method, path, query, body)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def book_state(emulator: Emulator) -> dict:
    book = emulator.account.book
    return {
        "orders": [{"client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side,
                    "type": o.type, "price": _text(o.price), "quantity": _text(o.quantity),
                    "filled_quantity": _text(o.filled_quantity), "status": o.status}
                   for o in book.orders.values()],
        "trades": [{"trade_id": str(f.trade_id), "client_order_id": f.client_order_id,
                    "symbol": f.symbol, "side": f.side, "price": _text(f.price),
                    "quantity": _text(f.quantity), "fee": _text(f.fee),
                    "fee_asset": f.fee_asset} for f in book.fills],
    }


class ChaosEmulatorThread(EmulatorThread):
    """``EmulatorThread`` serving a ``ChaosEmulator``."""

    def __init__(self) -> None:
        super().__init__()
        base = make_emulator()
        self.emulator = ChaosEmulator(base._served_info, api_key=base.api_key,
                                      api_secret=base.api_secret)

    def chaos(self, kind: str, count: int = 1) -> None:
        self.control("chaos", {"kind": kind, "count": count})

    def book(self) -> dict:
        return self.control("book")  # type: ignore[return-value]
