"""The order gateway: the only road from group actors to the exchange port.

Owns: the client order ids that may exist on the exchange — sent or recorded by this process,
and an earlier run's unfinished orders read once at construction — so a resend is always
preceded by a query without a database read; what the row of each unfinished order says (an
update that would change nothing, like the open orders a stream replays when it starts, is not
written again); the ids whose end has been reported, and the trade ids already passed on (a
fast first filter; each group's state is the authority on what it booked).
Receives: ``PlaceOrder`` / ``CancelOrder`` commands from group actors (awaited sends into its
inbox, so a full inbox is backpressure) and ``OrderUpdate`` events from the stream actor.
Sends: ``OrderAccepted`` / ``OrderRejected`` / ``TradeFilled`` / ``OrderEnded`` to the owning
group through ``deliver(group_id, msg)`` (never blocks); outcomes are written to the ``orders``
table and the journal before they are delivered.
Fails how: exchange errors are outcomes, never exceptions (SPEC 9.2): a network failure or 5xx
is retried 3 times (1 s, 2 s, 4 s) with a query by client id before every resend; still unknown
after that, the group is told ``retryable`` and re-sends the same id on a later tick. A storage
failure propagates and stops the engine (crash-only).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from decimal import Decimal

import trio

from actors.exchange.port import (
    AuthFailed, DuplicateOrder, ExchangeError, ExchangePort, InvalidOrder, OrderNotFound,
    OrderRejected as PortRejected, OrderRequest, OrderState, OutcomeUnknown, RateLimited, Trade,
    Unavailable, OrderUpdate,
)
from actors.store import Store
from engine.group.messages import (
    CancelOrder, OrderAccepted, OrderEnded, OrderRejected, PlaceOrder, TradeFilled,
)
from engine.group.state import OrderRef
from engine.orders import decode_cid, encode_cid

log = logging.getLogger("engine.order")

BACKOFF_S = (1.0, 2.0, 4.0)  # SPEC 9.2: three retries
GatewayCommand = PlaceOrder | CancelOrder
Deliver = Callable[[int, object], None]


class OrderGateway:
    def __init__(self, *, port: ExchangePort, store: Store, instance: str, deliver: Deliver,
                 clock_ms: Callable[[], int],
                 on_invalid_order: Callable[[str], None] = lambda symbol: None,
                 on_auth_failure: Callable[[str], None] = lambda message: None,
                 max_concurrent: int = 32):
        self._port = port
        self._store = store
        self._clock_ms = clock_ms
        self._instance = instance
        self._deliver = deliver
        self._on_invalid_order = on_invalid_order  # precision refresh for the symbol (SPEC 9.2)
        self._on_auth_failure = on_auth_failure
        self._slots = trio.CapacityLimiter(max_concurrent)
        # ids that may exist on the exchange, so a (re)send must query first: what this run
        # sent or recorded, and an earlier run's unfinished orders (read once, here, so that
        # placing never waits for the database); and what each of those rows says
        self._sent: set[str] = set()
        self._rows: dict[str, _Row] = {}
        self._load_sent()
        self._ended: set[str] = set()
        self._acked: set[str] = set()
        self._seen_trades: set[str] = set()
        self._passed: dict[str, Decimal] = {}  # cid -> quantity of the trades passed on

    def cid(self, group_id: int, ref: OrderRef) -> str:
        return encode_cid(self._instance, group_id, ref.pyramid, ref.leg, ref.purpose, ref.attempt)

    async def run(self, inbox: trio.MemoryReceiveChannel[GatewayCommand], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started()
            async for command in inbox:
                # a token per command: two equal (frozen, value-equal) commands are two borrowers
                token = object()
                await self._slots.acquire_on_behalf_of(token)
                nursery.start_soon(self._execute, command, token)

    async def _execute(self, command: GatewayCommand, token: object) -> None:
        try:
            match command:
                case PlaceOrder():
                    await self.place(command)
                case CancelOrder():
                    await self.cancel(command)
                case _:
                    raise TypeError(f"gateway cannot handle {command!r}")
        finally:
            self._slots.release_on_behalf_of(token)

    # -- placing ------------------------------------------------------------------------

    async def place(self, cmd: PlaceOrder) -> None:
        cid = self.cid(cmd.group_id, cmd.ref)
        request = OrderRequest(
            client_order_id=cid, symbol=cmd.symbol, side=cmd.side, type=cmd.order_type,
            quantity=cmd.qty, price=cmd.price, time_in_force=cmd.time_in_force,
            reduce_only=cmd.reduce_only, position_side=cmd.position_side)
        # sent before (this run, or an earlier one that recorded an outcome): query first
        resend = cid in self._sent
        error: ExchangeError | None = None
        for attempt in range(len(BACKOFF_S) + 1):
            if resend:  # never send twice what may already exist (SPEC 8.4)
                existing = await self._query(cmd.symbol, cid)
                if existing is not None:
                    await self._accepted(cmd, existing, adopted=True)
                    return
            self._sent.add(cid)
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

    def _load_sent(self) -> None:
        """An earlier run's orders with a recorded outcome that are not finished: only those
        can be sent again (a group resends an order it still wants; a finished one it never
        resends)."""
        for row in self._store.query(
                "SELECT client_order_id, state, exchange_order_id, filled_qty, avg_price"
                f" FROM orders WHERE sent_at IS NOT NULL AND state NOT IN {_ENDED_SQL}"):
            cid = row["client_order_id"]
            self._sent.add(cid)
            self._rows[cid] = (row["state"], row["exchange_order_id"], row["filled_qty"],
                               row["avg_price"])

    async def _query(self, symbol: str, cid: str) -> OrderState | None:
        """The order by client id, or None when the exchange never saw it (or cannot say)."""
        for delay in (0.0, *BACKOFF_S):
            await trio.sleep(delay)
            try:
                return await self._port.fetch_order(symbol, cid)
            except OrderNotFound:
                return None
            except RateLimited as e:
                await trio.sleep(e.retry_after_s)
            except (OutcomeUnknown, Unavailable):
                continue
        return None

    async def _accepted(self, cmd: PlaceOrder, state: OrderState, *, adopted: bool) -> None:
        await self._record(state.client_order_id, state=_db_state(state.status),
                           exchange_order_id=state.exchange_order_id,
                           response=f"{'adopted' if adopted else 'acknowledged'} {state.status}")
        log.info("order adopted" if adopted else "order acknowledged",
                 extra=_extra(cmd, state.client_order_id, {"status": state.status,
                                                           "exchange_order_id": state.exchange_order_id}))
        self._acknowledge(cmd.group_id, cmd.ref, state)
        if state.status in ("canceled", "expired", "rejected", "filled"):
            await self._finish(cmd.group_id, cmd.ref, state)

    async def _rejected(self, cmd: PlaceOrder, cid: str, error: ExchangeError, *,
                        retryable: bool) -> None:
        await self._record(cid, state="unknown" if retryable else "rejected", error=str(error))
        log.warning("order rejected" if not retryable else "order failed, will retry",
                    extra=_extra(cmd, cid, {"error": str(error), "code": error.code,
                                            "retryable": retryable}))
        self._deliver(cmd.group_id, OrderRejected(ref=cmd.ref, retryable=retryable,
                                                  reason=str(error), code=error.code))

    # -- cancelling ---------------------------------------------------------------------

    async def cancel(self, cmd: CancelOrder) -> None:
        cid = self.cid(cmd.group_id, cmd.ref)
        for delay in (0.0, *BACKOFF_S):
            await trio.sleep(delay)
            try:
                state = await self._port.cancel_order(cmd.symbol, cid)
            except OrderNotFound:
                state = await self._query(cmd.symbol, cid)
                if state is None:  # never reached the exchange: nothing can fill any more
                    await self._record(cid, state="canceled", response="cancel: not found")
                    self._report_end(cmd.group_id, cmd.ref, cid, "canceled")
                    return
            except RateLimited as e:
                await trio.sleep(e.retry_after_s)
                continue
            except (OutcomeUnknown, Unavailable):
                continue
            except ExchangeError as e:
                log.error("cancel failed", extra={"event": "cancel_failed", "symbol": cmd.symbol,
                                                  "order_id": cid, "data": {"error": str(e)}})
                return
            await self._finish(cmd.group_id, cmd.ref, state)
            return
        log.error("cancel unresolved after retries", extra={
            "event": "cancel_failed", "symbol": cmd.symbol, "order_id": cid, "data": {}})

    async def _finish(self, group_id: int, ref: OrderRef, state: OrderState) -> None:
        """An order ended: book any trades not yet passed on, then report the end (SPEC 4.6)."""
        cid = state.client_order_id
        if cid not in self._ended and state.filled_quantity > self._passed.get(cid, 0):
            await self._catch_up_trades(group_id, ref, state)
        await self._record(cid, state=_db_state(state.status),
                           exchange_order_id=state.exchange_order_id or None,
                           filled_qty=state.filled_quantity, avg_price=state.average_price)
        self._report_end(group_id, ref, cid, state.status)

    async def _catch_up_trades(self, group_id: int, ref: OrderRef, state: OrderState) -> None:
        try:
            trades = await self._port.fetch_my_trades(state.symbol, state.created_at_ms)
        except ExchangeError as e:  # the stream or the reconciler will still bring them
            log.warning("trade catch-up failed", extra={"event": "trade_catch_up_failed",
                                                       "order_id": state.client_order_id,
                                                       "data": {"error": str(e)}})
            return
        for trade in trades:
            if trade.client_order_id == state.client_order_id:
                self._pass_trade(group_id, ref, trade)

    def _report_end(self, group_id: int, ref: OrderRef, cid: str, status: str) -> None:
        if status not in _FINAL or cid in self._ended:
            return
        self._ended.add(cid)
        self._passed.pop(cid, None)
        self._deliver(group_id, OrderEnded(ref=ref, status=status))

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
        if self._rows.get(order.client_order_id) == row:
            # recorded so already (the stream's start replays every open order), and the
            # acknowledgement went with that record: delivered after it by ``_accepted``, before
            # it below, or — an earlier run's record — by the start-up reconciliation to a group
            # that lacked it (SPEC 8.5)
            return
        # the stream may be the only one to report the acknowledgement (a lost response)
        self._acknowledge(parts.group_id, ref, order)
        # recorded after the trade is passed on: the group's own write books the fill durably
        await self._record(order.client_order_id, state=row[0], exchange_order_id=row[1],
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

    # -- the record ---------------------------------------------------------------------

    async def _record(self, cid: str, *, state: str, exchange_order_id: str | None = None,
                      filled_qty: Decimal | None = None, avg_price: Decimal | None = None,
                      response: str | None = None, error: str | None = None) -> None:
        now = self._clock_ms()

        def write(conn: sqlite3.Connection) -> None:
            # a late answer never moves a finished order back (the stream may have told first)
            conn.execute(
                "UPDATE orders SET updated_at = :now,"
                " state = CASE WHEN " + _STALE + " THEN state ELSE :state END,"
                " filled_qty = CASE WHEN " + _STALE + " THEN filled_qty"
                "   ELSE COALESCE(:filled, filled_qty) END,"
                " avg_price = CASE WHEN " + _STALE + " THEN avg_price"
                "   ELSE COALESCE(:avg, avg_price) END,"
                " exchange_order_id = COALESCE(:xid, exchange_order_id),"
                " response = COALESCE(:response, response), error = COALESCE(:error, error),"
                " sent_at = COALESCE(sent_at, :now) WHERE client_order_id = :cid",
                {"now": now, "state": state, "filled": _text(filled_qty),
                 "avg": _text(avg_price), "xid": exchange_order_id, "response": response,
                 "error": error, "cid": cid})
            self._store.journal(conn, actor="gateway", kind="OrderOutcome", key=cid,
                                body={"state": state, "exchange_order_id": exchange_order_id,
                                      "error": error})

        def wrote(_: None) -> None:  # in the order the writes run, so the last one counts
            self._sent.add(cid)  # the row's sent_at is set now
            self._remember(cid, (state, exchange_order_id, _text(filled_qty), _text(avg_price)))

        await self._store.write(write, ran=wrote)

    def _remember(self, cid: str, written: _Row) -> None:
        """What the row says after a write of ``written`` (None: that column kept its value),
        as far as this gateway can tell. Forgotten once the order ends (a late update must
        still go through the guard above) and while a column's value is not known."""
        before = self._rows.pop(cid, None)
        if written[0] in _FINAL:
            return
        if before is not None:
            written = (written[0], *(new if new is not None else old
                                     for new, old in zip(written[1:], before[1:])))
        elif None in written[1:]:
            return
        self._rows[cid] = written


_Row = tuple[str, str | None, str | None, str | None]  # state, exchange id, filled, average
_FINAL = ("filled", "canceled", "expired", "rejected")


def _sql_list(states: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{state}'" for state in states) + ")"


_FINAL_SQL = _sql_list(_FINAL)
_ENDED_SQL = _sql_list((*_FINAL, "failed"))  # + the reconciler's
_STALE = f"(state IN {_FINAL_SQL} AND :state NOT IN {_FINAL_SQL})"


def _db_state(status: str) -> str:
    return "canceled" if status == "canceled" else status


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _extra(cmd: PlaceOrder, cid: str, data: dict) -> dict:
    return {"event": "order_outcome", "symbol": cmd.symbol,
            "group_id": cmd.group_id, "order_id": cid, "data": data}
