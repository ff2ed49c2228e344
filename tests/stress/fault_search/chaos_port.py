"""The exchange as the fault search sees it: faults at the port, and a process that can be killed.

``FaultyPort`` wraps the one exchange of a run (the in-process paper exchange) for its whole
life: armed faults hit the next matching calls (5xx, timeouts before or after the effect, 429,
418, -2010, -1013), the stream can be dropped, and order updates duplicated or swapped. It
records every order request that reached it (the "no client id placed twice" check).

``LifePort`` and ``KillableStore`` belong to one process life. ``Life.kill()`` is the in-process
SIGKILL: the life's nursery is cancelled, queued-but-uncommitted writes are lost, and every
later port call or write of that life raises ``Killed`` — shielded code (the stream actor's
dispatch) cannot act on the exchange or the database any more either.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import trio

from actors.exchange.port import (
    DuplicateOrder, ExchangeError, InsufficientFunds, InvalidOrder, OrderUpdate, OutcomeUnknown,
    RateLimited, Unavailable,
)
from actors.store.writer import Store

REST_FAULTS = ("unavailable", "timeout_before", "timeout_after", "rate_limit", "ban",
               "reject_funds", "reject_filter")
STREAM_FAULTS = ("drop_stream", "dup_events", "reorder_events")
REORDER_WAIT_S = 0.5  # how long a held update waits for a successor to overtake it


class Killed(BaseException):
    """The process of this life was killed: nothing of it may reach the exchange or the disk."""


@dataclass
class Fault:
    kind: str
    method: str = ""  # port method name; "" = any
    count: int = 1
    retry_after_s: float = 1.0
    delay_s: float = 0.0  # timeout_after: the answer is held this long, then lost

    def hits(self, method: str) -> bool:
        if self.count <= 0 or (self.method and self.method != method):
            return False
        if self.kind in ("reject_funds", "reject_filter"):
            return method == "create_order"
        return True


class FaultyPort:
    """The exchange of a run, with faults. ``on_effect(method)`` is called after every call
    that changed the exchange (the kill trigger "killed after the exchange acted")."""

    def __init__(self, inner, *, on_effect: Callable[[str], None] = lambda method: None):
        self.inner = inner
        self.name = inner.name
        self.faults: list[Fault] = []
        self.stream_faults: deque[tuple[str, int]] = deque()
        self.placements: list[tuple[str, str]] = []  # (client id, placed / duplicate / ...)
        self.injected: list[str] = []  # what fired, for the run's summary
        self.on_effect = on_effect
        self._streams: dict[ChaosStream, None] = {}  # insertion-ordered: a replay drops alike

    def arm(self, fault: Fault) -> None:
        if fault.kind == "drop_stream":
            for s in list(self._streams):
                s.drop()
            self.injected.append("drop_stream")
        elif fault.kind in STREAM_FAULTS:
            self.stream_faults.append((fault.kind, fault.count))
        else:
            self.faults.append(fault)

    def _take(self, method: str) -> Fault | None:
        for f in self.faults:
            if f.hits(method):
                f.count -= 1
                self.injected.append(f"{f.kind}:{method}")
                return f
        self.faults = [f for f in self.faults if f.count > 0]
        return None

    async def _call(self, method: str, call, *, effect: bool, cid: str | None = None):
        fault = self._take(method)
        kind = fault.kind if fault else None
        if kind == "unavailable":
            raise Unavailable("503 Service Unavailable (injected)", code=-1001)
        if kind == "timeout_before":
            raise OutcomeUnknown("request timed out (injected, not executed)")
        if kind in ("rate_limit", "ban"):
            raise RateLimited(f"{'418' if kind == 'ban' else '429'} (injected)", code=-1003,
                              retry_after_s=fault.retry_after_s, banned=kind == "ban")
        if kind == "reject_funds":
            self.placements.append((cid or "", "rejected -2010 (injected)"))
            raise InsufficientFunds("Account has insufficient balance for requested action.",
                                    code=-2010)
        if kind == "reject_filter":
            self.placements.append((cid or "", "rejected -1013 (injected)"))
            raise InvalidOrder("Filter failure: LOT_SIZE", code=-1013)
        try:
            result = await call()
        except DuplicateOrder:
            if cid is not None:
                self.placements.append((cid, "duplicate"))
            raise
        except ExchangeError as e:
            if cid is not None:
                self.placements.append((cid, f"rejected {e.code}"))
            raise
        if cid is not None:
            self.placements.append((cid, "placed"))
        if effect:
            self.on_effect(method)
        if kind == "timeout_after":
            if fault.delay_s:
                await trio.sleep(fault.delay_s)
            raise OutcomeUnknown("answer lost (injected timeout after the effect)")
        return result

    # -- the port ---------------------------------------------------------------------------
    async def load_markets(self):
        return await self._call("load_markets", self.inner.load_markets, effect=False)

    async def fetch_prices(self, symbols=None):
        return await self._call("fetch_prices", lambda: self.inner.fetch_prices(symbols),
                                effect=False)

    async def create_order(self, request):
        return await self._call("create_order", lambda: self.inner.create_order(request),
                                effect=True, cid=request.client_order_id)

    async def cancel_order(self, symbol, client_order_id):
        return await self._call("cancel_order",
                                lambda: self.inner.cancel_order(symbol, client_order_id),
                                effect=True)

    async def fetch_order(self, symbol, client_order_id):
        return await self._call("fetch_order",
                                lambda: self.inner.fetch_order(symbol, client_order_id),
                                effect=False)

    async def fetch_open_orders(self, symbol=None):
        return await self._call("fetch_open_orders", lambda: self.inner.fetch_open_orders(symbol),
                                effect=False)

    async def fetch_my_trades(self, symbol, since_ms=None):
        return await self._call("fetch_my_trades",
                                lambda: self.inner.fetch_my_trades(symbol, since_ms),
                                effect=False)

    async def fetch_balances(self):
        return await self._call("fetch_balances", self.inner.fetch_balances, effect=False)

    def stream(self, symbols):
        s = ChaosStream(self.inner.stream(symbols), self)
        self._streams[s] = None
        return s

    def forget(self, s: ChaosStream) -> None:
        self._streams.pop(s, None)

    def next_stream_fault(self) -> str | None:
        if not self.stream_faults:
            return None
        kind, count = self.stream_faults.popleft()
        if count > 1:
            self.stream_faults.appendleft((kind, count - 1))
        self.injected.append(kind)
        return kind


class ChaosStream:
    """One subscription with stream faults: dropped (``Unavailable``, the consumer resubscribes
    and catches up), an order update delivered twice, or overtaken by the next event."""

    def __init__(self, inner, port: FaultyPort):
        self._inner = inner
        self._port = port
        self._out: deque = deque()
        self._dropped = False
        self._scope: trio.CancelScope | None = None

    def drop(self) -> None:
        self._dropped = True
        if self._scope is not None:
            self._scope.cancel()

    def __aiter__(self):
        return self

    async def _next_inner(self, timeout: float | None = None):
        with trio.CancelScope() as scope:
            self._scope = scope
            if timeout is not None:
                scope.deadline = trio.current_time() + timeout
            try:
                return await self._inner.__anext__()
            finally:
                self._scope = None
        if self._dropped:
            raise Unavailable("stream dropped (injected)")
        return None  # the timeout passed

    async def __anext__(self):
        if self._out:
            return self._out.popleft()
        if self._dropped:
            raise Unavailable("stream dropped (injected)")
        event = await self._next_inner()
        if event is None:
            raise Unavailable("stream dropped (injected)")
        if isinstance(event, OrderUpdate):
            kind = self._port.next_stream_fault()
            if kind == "dup_events":
                self._out.append(event)
            elif kind == "reorder_events":
                later = await self._next_inner(REORDER_WAIT_S)
                if later is not None:
                    self._out.append(event)
                    return later
        return event

    async def aclose(self) -> None:
        self._port.forget(self)
        await self._inner.aclose()


class LifePort:
    """The exchange as one process life sees it; dead once the life is killed."""

    def __init__(self, port: FaultyPort):
        self._port = port
        self.name = port.name
        self.killed = False
        self._streams: list[ChaosStream] = []

    async def _gate(self) -> None:
        if self.killed:
            await trio.lowlevel.checkpoint()  # cancelled here unless shielded
            raise Killed()

    def kill(self) -> None:
        self.killed = True
        for s in self._streams:
            s.drop()

    def __getattr__(self, method: str):
        target = getattr(self._port, method)

        async def call(*args, **kwargs):
            await self._gate()
            out = await target(*args, **kwargs)
            await self._gate()  # the process died while the call was out: the answer is lost
            return out

        return call

    def stream(self, symbols):
        if self.killed:
            raise Killed()
        s = self._port.stream(symbols)
        self._streams.append(s)
        return _LifeStream(s, self)

    async def aclose(self) -> None:
        for s in self._streams:
            await s.aclose()
        self._streams.clear()


class _LifeStream:
    def __init__(self, inner: ChaosStream, life: LifePort):
        self._inner = inner
        self._life = life

    def __aiter__(self):
        return self

    async def __anext__(self):
        await self._life._gate()
        try:
            event = await self._inner.__anext__()
        except Unavailable:
            await self._life._gate()
            raise
        await self._life._gate()
        return event

    async def aclose(self) -> None:
        await self._inner.aclose()


class KillableStore(Store):
    """The engine database of one life. ``before_commit`` (set by the run) may kill the life
    just before a group commit (that batch is lost) or right after it (nothing of it acted)."""

    killed = False
    before_commit: Callable[[], str | None] = staticmethod(lambda: None)
    on_kill: Callable[[], None] = staticmethod(lambda: None)

    async def _commit_batch(self, batch, *, threaded: bool) -> None:
        if self.killed:
            self._fail(batch)
            return
        when = self.before_commit()
        if when == "before_commit":
            self.on_kill()
            self._fail(batch)
            return
        await super()._commit_batch(batch, threaded=threaded)
        if when == "after_commit":
            self.on_kill()

    def _fail(self, batch) -> None:
        for job in batch:
            job.error = Killed()
            job.done.set()

    def kill(self) -> None:
        """Refuse every later write and lose the queued ones (their writers never learn)."""
        self.killed = True
        while True:
            try:
                job = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            self._fail([job])

    async def write(self, fn, *, ran=None):
        if self.killed:
            await trio.lowlevel.checkpoint()
            raise Killed()
        return await super().write(fn, ran=ran)

    def write_now(self, fn):
        if self.killed:
            raise Killed()
        return super().write_now(fn)
