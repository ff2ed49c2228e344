"""The order gateway: the only road from group actors to the exchange port.

Owns: the ids whose end has been reported (or waits for its trades), and the trade ids already
passed on (a fast first filter; each group's state is the authority on what it booked); its
``OrderRows`` (actors/orders/rows.py): the ids that may exist on the exchange, so a resend is
always preceded by a query, and what each unfinished row says; its ``OrderLine``
(actors/orders/line.py): the orders waiting for the rate budget, by purpose then age.
Receives: ``PlaceOrder`` / ``CancelOrder`` / ``WithdrawOrder`` commands from group actors
(awaited sends into its inbox, so a full inbox is backpressure; ``submit`` for the reconciler's
resends) and ``OrderUpdate`` events from the stream actor. Every command waits in the line; a
withdrawn or stale entry leg leaves it without an exchange call, recorded ``canceled``. A
group's ``free_balance(asset)`` question (the spot close cap) is asked through here too.
Sends: ``OrderAccepted`` / ``OrderRejected`` / ``TradeFilled`` / ``OrderEnded`` to the owning
group through ``deliver(group_id, msg)`` (never blocks); outcomes are written to the ``orders``
table and the journal before they are delivered.
Fails how: exchange errors are outcomes, never exceptions (SPEC 9.2): a network failure or 5xx
is retried 3 times (1 s, 2 s, 4 s) with a query by client id before every resend; still unknown
after that, the group is told ``retryable`` and re-sends the same id on a later tick; a cancel
still unsettled is asked again every 30 s until the order ends, and an order's end waits until
its trades are passed on (both: its group waits for that end). A storage failure propagates and
stops the engine (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import trio

from actors.exchange.port import (
    AuthFailed, DuplicateOrder, ExchangeError, ExchangePort, InvalidOrder, OrderNotFound,
    OrderRejected as PortRejected, OrderRequest, OrderState, OutcomeUnknown, RateLimited, Trade,
    Unavailable, OrderUpdate,
)
from actors.orders.rows import FINAL as _FINAL, OrderRows, db_state as _db_state, text as _text
from actors.store.writer import Store
from actors.exchange.limiter import TrioLimiter
from actors.orders.line import OrderLine
from engine.group.messages import (
    CancelOrder, OrderAccepted, OrderEnded, OrderRejected, PlaceOrder, TradeFilled,
    WithdrawOrder,
)
from engine.group.state import OrderRef
from engine.orders import decode_cid, encode_cid

log = logging.getLogger("engine.order")

BACKOFF_S = (1.0, 2.0, 4.0)  # SPEC 9.2: three retries
CATCH_UP_MAX_S = 30.0  # a missing trade is asked for at growing intervals up to this
CATCH_UP_EMPTY = 5  # listings answered without the missing trades before the end is told anyway
GatewayCommand = PlaceOrder | CancelOrder | WithdrawOrder
Deliver = Callable[[int, object], None]


class OrderGateway:
    def __init__(self, *, port: ExchangePort, store: Store, instance: str, deliver: Deliver,
                 clock_ms: Callable[[], int],
                 on_invalid_order: Callable[[str], None] = lambda symbol: None,
                 on_auth_failure: Callable[[str], None] = lambda message: None,
                 max_concurrent: int = 32,
                 price_of: Callable[[str], Decimal | None] = lambda symbol: None,
                 alert_after_ms: Callable[[], int] = lambda: 5_000, priority: bool = True):
        self._port = port
        self._instance = instance
        self._deliver = deliver
        self._on_invalid_order = on_invalid_order  # precision refresh for the symbol (SPEC 9.2)
        self._on_auth_failure = on_auth_failure
        # the port's shared budget (the ccxt adapter); the paper exchange has none
        limiter = getattr(port, "limiter", None)
        self.line = OrderLine(limiter=limiter if isinstance(limiter, TrioLimiter) else None,
                              weight_of=getattr(port, "weight", lambda call: 1.0),
                              price_of=price_of, clock_ms=clock_ms, priority=priority,
                              alert_after_ms=alert_after_ms, max_in_flight=max_concurrent)
        self._waited: dict[str, int] = {}  # cid -> ms it waited in the line, for the log
        self._orders = OrderRows(store, clock_ms)  # an earlier run's rows read once, here
        self.line.seed(self._orders.sent_since)
        self._ended: set[str] = set()
        self._acked: set[str] = set()
        self._seen_trades: set[str] = set()
        self._passed: dict[str, Decimal] = {}  # cid -> quantity of the trades passed on
        self._catching_up: set[str] = set()  # ended orders whose end waits for their trades
        self._nursery: trio.Nursery | None = None  # run()'s: the catch-up tasks live there

    def cid(self, group_id: int, ref: OrderRef) -> str:
        return encode_cid(self._instance, group_id, ref.pyramid, ref.leg, ref.purpose, ref.attempt)

    async def run(self, inbox: trio.MemoryReceiveChannel[GatewayCommand], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.line.run, self._execute, self._dropped)
            task_status.started()
            async for command in inbox:
                self.submit(command)

    def submit(self, command: GatewayCommand) -> None:
        """Into the line (never blocks); a withdrawal takes its order back out if it waits."""
        cid = self.cid(command.group_id, command.ref)
        match command:
            case PlaceOrder():
                self.line.put(cid, command)
            case CancelOrder():
                self.line.put(f"cancel:{cid}", command)
            case WithdrawOrder():
                if self.line.withdraw(cid) is not None and self._nursery is not None:
                    why = f" ({command.why})" if command.why else ""
                    self._nursery.start_soon(self._left_unsent, command.group_id, command.ref,
                                             cid, f"withdrawn before sending{why}")
            case _:
                raise TypeError(f"gateway cannot handle {command!r}")

    async def _execute(self, command: PlaceOrder | CancelOrder, waited_ms: int) -> None:
        """One command the line let go, its budget paid (``OrderLine``)."""
        if isinstance(command, CancelOrder):
            await self.cancel(command)
            return
        cid = self.cid(command.group_id, command.ref)
        self._waited[cid] = waited_ms
        try:
            await self.place(command)
        finally:
            self._waited.pop(cid, None)

    async def _dropped(self, cmd: PlaceOrder, price: Decimal) -> None:
        await self._left_unsent(cmd.group_id, cmd.ref, self.cid(cmd.group_id, cmd.ref),
                                f"dropped before sending: price {price} reached the"
                                f" stale-ladder price {cmd.stale_at}")

    async def _left_unsent(self, group_id: int, ref: OrderRef, cid: str, why: str) -> None:
        """An order that left the line without reaching the exchange: recorded, then ended."""
        await self._orders.record(cid, state="canceled", error=why)
        log.info(f"order {why}", extra={"event": "order_dropped", "group_id": group_id,
                                         "order_id": cid, "data": {"reason": why}})
        self._report_end(group_id, ref, cid, "canceled", dropped=True)

    # -- placing ------------------------------------------------------------------------

    async def place(self, cmd: PlaceOrder) -> None:
        cid = self.cid(cmd.group_id, cmd.ref)
        request = OrderRequest(
            client_order_id=cid, symbol=cmd.symbol, side=cmd.side, type=cmd.order_type,
            quantity=cmd.qty, price=cmd.price, time_in_force=cmd.time_in_force,
            reduce_only=cmd.reduce_only, position_side=cmd.position_side)
        try:
            await self._place(cmd, cid, request)
        except _CannotSay as e:  # the group sends the same id again later: a query first
            await self._rejected(cmd, cid, e, retryable=True)

    async def _place(self, cmd: PlaceOrder, cid: str, request: OrderRequest) -> None:
        # sent before (this run, or an earlier one that recorded an outcome): query first
        resend = cid in self._orders.sent
        error: ExchangeError | None = None
        for attempt in range(len(BACKOFF_S) + 1):
            if resend:  # never send twice what may already exist (SPEC 8.4)
                existing = await self._query(cmd.symbol, cid)
                if existing is not None:
                    await self._accepted(cmd, existing, adopted=True)
                    return
            self._orders.sent.add(cid)
            try:
                state = await self._port.create_order(request)
            except DuplicateOrder:
                existing = await self._query(cmd.symbol, cid)
                if existing is not None:
                    await self._accepted(cmd, existing, adopted=True)
                    return
                resend = True
                continue
            except RateLimited as e:
                error = e
                await trio.sleep(e.retry_after_s)
                resend = True
                continue
            except (OutcomeUnknown, Unavailable) as e:
                error = e
                if attempt < len(BACKOFF_S):
                    log.warning("order send failed, retrying", extra=_extra(cmd, cid, {
                        "error": str(e), "retry_in_s": BACKOFF_S[attempt]}))
                    await trio.sleep(BACKOFF_S[attempt])
                resend = True
                continue
            except AuthFailed as e:
                self._on_auth_failure(str(e))
                await self._rejected(cmd, cid, e, retryable=True)
                return
            except PortRejected as e:
                if isinstance(e, InvalidOrder):
                    self._on_invalid_order(cmd.symbol)
                await self._rejected(cmd, cid, e, retryable=False)
                return
            except ExchangeError as e:  # unclassified: the action fails, its owner retries later
                await self._rejected(cmd, cid, e, retryable=True)
                return
            await self._accepted(cmd, state, adopted=False)
            return
        # still unknown after every retry: one last query decides; otherwise the group retries
        existing = await self._query(cmd.symbol, cid)
        if existing is not None:
            await self._accepted(cmd, existing, adopted=True)
        else:
            await self._rejected(cmd, cid, error or ExchangeError("unresolved"), retryable=True)

    async def _query(self, symbol: str, cid: str) -> OrderState | None:
        """The order by client id, or None when the exchange never saw it. An exchange that
        cannot say (every retry failed) raises ``_CannotSay``: that is no licence to send —
        the order may exist (fault search seed 2160: placed twice)."""
        error: ExchangeError | None = None
        for delay in (0.0, *BACKOFF_S):
            await trio.sleep(delay)
            try:
                return await self._port.fetch_order(symbol, cid)
            except OrderNotFound:
                return None
            except RateLimited as e:
                error = e
                await trio.sleep(e.retry_after_s)
            except (OutcomeUnknown, Unavailable) as e:
                error = e
        raise _CannotSay(f"order query failed: {error}")

    async def _accepted(self, cmd: PlaceOrder, state: OrderState, *, adopted: bool) -> None:
        await self._orders.record(
            state.client_order_id, state=_db_state(state.status),
            exchange_order_id=state.exchange_order_id,
            response=f"{'adopted' if adopted else 'acknowledged'} {state.status}")
        log.info("order adopted" if adopted else "order acknowledged",
                 extra=_extra(cmd, state.client_order_id, {
                     "status": state.status, "exchange_order_id": state.exchange_order_id,
                     "waited_ms": self._waited.get(state.client_order_id)}))
        self._acknowledge(cmd.group_id, cmd.ref, state)
        if state.status in _FINAL:
            await self._finish(cmd.group_id, cmd.ref, state)

    async def _rejected(self, cmd: PlaceOrder, cid: str, error: ExchangeError, *,
                        retryable: bool) -> None:
        await self._orders.record(cid, state="unknown" if retryable else "rejected",
                                  error=str(error))
        log.warning("order rejected" if not retryable else "order failed, will retry",
                    extra=_extra(cmd, cid, {"error": str(error), "code": error.code,
                                            "retryable": retryable,
                                            "waited_ms": self._waited.get(cid)}))
        self._deliver(cmd.group_id, OrderRejected(ref=cmd.ref, retryable=retryable,
                                                  reason=str(error), code=error.code))

    # -- cancelling ---------------------------------------------------------------------

    async def free_balance(self, asset: str) -> Decimal | None:
        """The free balance of ``asset`` now — a spot close sells at most this (groups ask
        here: the gateway is their one road to the exchange); None when it cannot say."""
        try:
            balances = await self._port.fetch_balances()
        except ExchangeError as e:
            logging.getLogger("engine.system").warning(f"free {asset} balance unknown: {e}", extra={
                "event": "balance_unavailable", "data": {"asset": asset, "error": str(e)}})
            return None
        held = balances.get(asset)
        return held.free if held is not None else Decimal(0)

    async def cancel(self, cmd: CancelOrder) -> None:
        """Cancel; its end reaches the group as ``OrderEnded``. A cancel the exchange does not
        settle within the SPEC 9.2 retries is asked again every ``CATCH_UP_MAX_S`` until the
        order ends: its group waits for that end (a close stays in ``cancelling``)."""
        cid = self.cid(cmd.group_id, cmd.ref)
        if await self._try_cancel(cmd, cid):
            return
        log.error("cancel unresolved after retries: asked again later", extra={
            "event": "cancel_failed", "symbol": cmd.symbol, "order_id": cid,
            "data": {"retry_in_s": CATCH_UP_MAX_S}})
        if self._nursery is not None:
            self._nursery.start_soon(self._cancel_until_ended, cmd, cid)

    async def _cancel_until_ended(self, cmd: CancelOrder, cid: str) -> None:
        while cid not in self._ended:
            await trio.sleep(CATCH_UP_MAX_S)
            if cid in self._ended or await self._try_cancel(cmd, cid):
                return

    async def _try_cancel(self, cmd: CancelOrder, cid: str) -> bool:
        """One cancel with the SPEC 9.2 retries: whether its outcome was settled."""
        for delay in (0.0, *BACKOFF_S):
            await trio.sleep(delay)
            try:
                state = await self._port.cancel_order(cmd.symbol, cid)
            except OrderNotFound:
                try:
                    state = await self._query(cmd.symbol, cid)
                except _CannotSay:
                    return False
                if state is None:  # never reached the exchange: nothing can fill any more
                    await self._orders.record(cid, state="canceled", response="cancel: not found")
                    self._report_end(cmd.group_id, cmd.ref, cid, "canceled")
                    return True
            except RateLimited as e:
                await trio.sleep(e.retry_after_s)
                continue
            except (OutcomeUnknown, Unavailable):
                continue
            except ExchangeError as e:
                log.error("cancel failed", extra={"event": "cancel_failed", "symbol": cmd.symbol,
                                                  "order_id": cid, "data": {"error": str(e)}})
                return False
            await self._finish(cmd.group_id, cmd.ref, state)
            return True
        return False

    async def _finish(self, group_id: int, ref: OrderRef, state: OrderState) -> None:
        """An order ended: book any trades not yet passed on, then report the end (SPEC 4.6).
        The end waits while trades are missing: a group told "ended" with less booked than the
        exchange filled would buy or sell again what was already traded (fault search seed
        513: a close that sold everything was sold again, then written off)."""
        cid = state.client_order_id
        if cid in self._catching_up:
            if self._missing(state):
                return  # its catch-up task reports the end
            self._catching_up.discard(cid)  # this update brought them: the end is told now
        if self._missing(state) and not await self._catch_up_trades(group_id, ref, state):
            self._catching_up.add(cid)
            if self._nursery is None:  # not running (a direct call): wait here
                await self._catch_up_then_finish(group_id, ref, state)
            else:
                self._nursery.start_soon(self._catch_up_then_finish, group_id, ref, state)
            return
        await self._orders.record(cid, state=_db_state(state.status),
                                  exchange_order_id=state.exchange_order_id or None,
                                  filled_qty=state.filled_quantity, avg_price=state.average_price)
        self._report_end(group_id, ref, cid, state.status)

    def _missing(self, state: OrderState) -> bool:
        cid = state.client_order_id
        return cid not in self._ended and state.filled_quantity > self._passed.get(cid, 0)

    async def _catch_up_trades(self, group_id: int, ref: OrderRef, state: OrderState
                               ) -> bool | None:
        """Pass on the order's trades from the exchange's listing: whether none is missing
        now, or None when the listing failed."""
        try:
            trades = await self._port.fetch_my_trades(state.symbol, state.created_at_ms)
        except ExchangeError as e:
            log.warning("trade catch-up failed", extra={"event": "trade_catch_up_failed",
                                                       "order_id": state.client_order_id,
                                                       "data": {"error": str(e)}})
            return None
        for trade in trades:
            if trade.client_order_id == state.client_order_id:
                self._pass_trade(group_id, ref, trade)
        return not self._missing(state)

    async def _catch_up_then_finish(self, group_id: int, ref: OrderRef,
                                    state: OrderState) -> None:
        """Ask for the missing trades until they come (from the listing or the stream) or the
        exchange has listed without them ``CATCH_UP_EMPTY`` times; then report the end."""
        cid, delay, empty = state.client_order_id, BACKOFF_S[0], 0
        while empty < CATCH_UP_EMPTY and self._missing(state):
            await trio.sleep(delay)
            delay = min(delay * 2, CATCH_UP_MAX_S)
            if cid not in self._catching_up:
                return  # a stream update brought the trades and told the end
            if self._missing(state):
                empty += await self._catch_up_trades(group_id, ref, state) is False
        if cid not in self._catching_up:
            return
        if self._missing(state):
            log.error("order filled more than its listed trades: its end is reported anyway",
                      extra={"event": "trade_catch_up_incomplete", "order_id": cid,
                             "symbol": state.symbol, "group_id": group_id, "data": {
                                 "filled": str(state.filled_quantity),
                                 "passed": str(self._passed.get(cid, 0))}})
        self._catching_up.discard(cid)
        await self._finish(group_id, ref, state)

    def _report_end(self, group_id: int, ref: OrderRef, cid: str, status: str, *,
                    dropped: bool = False) -> None:
        if status not in _FINAL or cid in self._ended:
            return
        self._ended.add(cid)
        self._passed.pop(cid, None)
        self._deliver(group_id, OrderEnded(ref=ref, status=status, dropped=dropped))

    # -- updates from the exchange stream -------------------------------------------------

    async def on_update(self, update: OrderUpdate) -> None:
        """Route one pushed order update to its group; orders of other instances are ignored."""
        order = update.order
        parts = decode_cid(order.client_order_id)
        if parts is None or parts.instance != self._instance:
            return
        ref = OrderRef(pyramid=parts.pyramid, leg=parts.leg, purpose=parts.purpose,
                       attempt=parts.attempt)
        if update.trade is not None:
            self._pass_trade(parts.group_id, ref, update.trade)
        if order.status in _FINAL:  # every trade before the end, even if the stream lost one
            await self._finish(parts.group_id, ref, order)
            return
        row = (_db_state(order.status), order.exchange_order_id or None,
               _text(order.filled_quantity), _text(order.average_price))
        if self._orders.rows.get(order.client_order_id) == row:
            # recorded so already (the stream's start replays every open order), and the
            # acknowledgement went with that record: delivered after it by ``_accepted``, before
            # it below, or — an earlier run's record — by the start-up reconciliation to a group
            # that lacked it (SPEC 8.5)
            return
        # the stream may be the only one to report the acknowledgement (a lost response)
        self._acknowledge(parts.group_id, ref, order)
        # recorded after the trade is passed on: the group's own write books the fill durably
        await self._orders.record(order.client_order_id, state=row[0], exchange_order_id=row[1],
                                  filled_qty=order.filled_quantity, avg_price=order.average_price)

    def _acknowledge(self, group_id: int, ref: OrderRef, state: OrderState) -> None:
        if state.client_order_id in self._acked:
            return
        self._acked.add(state.client_order_id)
        self._deliver(group_id, OrderAccepted(ref=ref, exchange_order_id=state.exchange_order_id))

    def _pass_trade(self, group_id: int, ref: OrderRef, trade: Trade) -> None:
        if trade.trade_id in self._seen_trades:
            return
        self._seen_trades.add(trade.trade_id)
        cid = self.cid(group_id, ref)
        self._passed[cid] = self._passed.get(cid, Decimal(0)) + trade.quantity
        self._deliver(group_id, TradeFilled(
            ref=ref, trade_id=trade.trade_id, price=trade.price, qty=trade.quantity,
            fee=trade.fee, fee_asset=trade.fee_asset, ts_ms=trade.ts_ms))

class _CannotSay(ExchangeError):
    """Every query of an order failed: whether it exists is not known."""


def _extra(cmd: PlaceOrder, cid: str, data: dict) -> dict:
    return {"event": "order_outcome", "symbol": cmd.symbol,
            "group_id": cmd.group_id, "order_id": cid, "data": data}
