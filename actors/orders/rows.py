"""The ``orders`` rows as the order gateway writes them, and what the gateway knows of them
without reading the database.

Owns: the client order ids that may exist on the exchange — sent or recorded by this process,
and an earlier run's unfinished orders read once at construction (``sent``), so a resend is
always preceded by a query without a database read; what the row of each unfinished order says
(``rows``: an update that would change nothing, like the open orders a stream replays when it
starts, is not written again).
Receives: the gateway's outcomes (``record``).
Sends: one ``UPDATE orders`` and one ``OrderOutcome`` journal entry per outcome, through the
store's group commit.
Fails how: a storage failure propagates (crash-only).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal

from actors.store.writer import Store

Row = tuple[str, str | None, str | None, str | None]  # state, exchange id, filled, average
FINAL = ("filled", "canceled", "expired", "rejected")


def _sql_list(states: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{state}'" for state in states) + ")"


_FINAL_SQL = _sql_list(FINAL)
_ENDED_SQL = _sql_list((*FINAL, "failed"))  # + the reconciler's
# a late answer never moves a finished order back (the stream may have told first)
_STALE = f"(state IN {_FINAL_SQL} AND :state NOT IN {_FINAL_SQL})"
_UPDATE = (
    "UPDATE orders SET updated_at = :now,"
    " state = CASE WHEN " + _STALE + " THEN state ELSE :state END,"
    " filled_qty = CASE WHEN " + _STALE + " THEN filled_qty"
    "   ELSE COALESCE(:filled, filled_qty) END,"
    " avg_price = CASE WHEN " + _STALE + " THEN avg_price"
    "   ELSE COALESCE(:avg, avg_price) END,"
    " exchange_order_id = COALESCE(:xid, exchange_order_id),"
    " response = COALESCE(:response, response), error = COALESCE(:error, error),"
    " sent_at = COALESCE(sent_at, :now) WHERE client_order_id = :cid")


def db_state(status: str) -> str:
    return "canceled" if status == "canceled" else status


def text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class OrderRows:
    def __init__(self, store: Store, clock_ms: Callable[[], int]):
        self._store = store
        self._clock_ms = clock_ms
        self.sent: set[str] = set()
        self.rows: dict[str, Row] = {}
        # An earlier run's orders with a recorded outcome that are not finished: only those
        # can be sent again (a group resends an order it still wants; a finished one never).
        for row in store.query(
                "SELECT client_order_id, state, exchange_order_id, filled_qty, avg_price"
                f" FROM orders WHERE sent_at IS NOT NULL AND state NOT IN {_ENDED_SQL}"):
            cid = row["client_order_id"]
            self.sent.add(cid)
            self.rows[cid] = (row["state"], row["exchange_order_id"], row["filled_qty"],
                              row["avg_price"])

    def sent_since(self, since_ms: int) -> int:
        """How many of our orders reached the exchange since ``since_ms`` (by the time their
        first outcome was recorded): an earlier run's share of the order-rate windows."""
        return self._store.query("SELECT count(*) AS n FROM orders WHERE sent_at >= ?",
                                 (since_ms,))[0]["n"]

    async def record(self, cid: str, *, state: str, exchange_order_id: str | None = None,
                     filled_qty: Decimal | None = None, avg_price: Decimal | None = None,
                     response: str | None = None, error: str | None = None) -> None:
        now = self._clock_ms()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_UPDATE, {
                "now": now, "state": state, "filled": text(filled_qty), "avg": text(avg_price),
                "xid": exchange_order_id, "response": response, "error": error, "cid": cid})
            self._store.journal(conn, actor="gateway", kind="OrderOutcome", key=cid,
                                body={"state": state, "exchange_order_id": exchange_order_id,
                                      "error": error})

        def wrote(_: None) -> None:  # in the order the writes run, so the last one counts
            self.sent.add(cid)  # the row's sent_at is set now
            self._remember(cid, (state, exchange_order_id, text(filled_qty), text(avg_price)))

        await self._store.write(write, ran=wrote)

    def _remember(self, cid: str, written: Row) -> None:
        """What the row says after a write of ``written`` (None: that column kept its value),
        as far as the gateway can tell. Forgotten once the order ends (a late update must
        still go through the guard of ``_STALE``) and while a column's value is not known."""
        before = self.rows.pop(cid, None)
        if written[0] in FINAL:
            return
        if before is not None:
            written = (written[0], *(new if new is not None else old
                                     for new, old in zip(written[1:], before[1:])))
        elif None in written[1:]:
            return
        self.rows[cid] = written
