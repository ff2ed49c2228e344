"""The durable webhook inbox and the transport idempotency window (SPEC 2.1, 2.5, 12.3).

Owns: the ``inbox`` and ``idempotency_keys`` tables.
Receives: ``accept`` from the webhook (through the handle); reads from the API and, at restart,
from the engine core (``pending``); ``set_state`` runs inside the engine core's write functions.
Sends: nothing itself — ``accept`` hands the ``SignalAccepted`` to its caller's ``stored``
callback once the row is written, while its COMMIT is still in flight.
Fails how: storage errors (``StorageError``, ``WriterClosed``) propagate before anything is
acknowledged; the handle turns them into HTTP 503. A webhook is answered 200 only once its
inbox row, its idempotency key and its ``SignalAccepted`` journal row are durable together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from actors.store.writer import Store
from engine.messages import SignalAccepted
from engine.signals import Signal

IDEMPOTENCY_WINDOW_MS = 60_000
INBOX_STATES = ("accepted", "processing", "processed", "rejected", "duplicate", "queued")
MAX_PAGE = 500
Outcome = Literal["accepted", "duplicate"]

_encode = msgspec.json.Encoder().encode
_decode_signal = msgspec.json.Decoder(Signal).decode
_decode_any = msgspec.json.Decoder().decode


class Inbox:
    def __init__(self, store: Store):
        self.store = store

    async def accept(self, signal: Signal, raw_masked: str, source_ip: str | None,
                     received_ms: int, *, journal_key: str | None = None,
                     stored: Callable[[SignalAccepted], None] | None = None
                     ) -> tuple[Outcome, int]:
        """Store a validated webhook unless it repeats an idempotency key accepted in the last
        60 s (measured from that acceptance; a duplicate does not extend the window).

        ``stored(message)``: an accepted signal, as soon as its row is written and before its
        COMMIT (``Store.write``'s ``ran``) — the engine may plan it during the fsync.
        Returns ``("accepted", inbox id)`` or ``("duplicate", the first acceptance's id)``."""

        def fn(conn: sqlite3.Connection) -> tuple[Outcome, int]:
            horizon = received_ms - IDEMPOTENCY_WINDOW_MS
            conn.execute("DELETE FROM idempotency_keys WHERE accepted_at < ?", (horizon,))
            first = conn.execute("SELECT inbox_id FROM idempotency_keys WHERE key = ?",
                                 (signal.idempotency_key,)).fetchone()
            if first is not None:
                return "duplicate", first[0]
            inbox_id = conn.execute(
                "INSERT INTO inbox (received_at, source_ip, idempotency_key, raw_body, parsed,"
                " state) VALUES (?, ?, ?, ?, ?, 'accepted')",
                (received_ms, source_ip, signal.idempotency_key, raw_masked,
                 _encode(signal).decode()),
            ).lastrowid
            conn.execute("INSERT INTO idempotency_keys (key, inbox_id, accepted_at)"
                         " VALUES (?, ?, ?)", (signal.idempotency_key, inbox_id, received_ms))
            message = SignalAccepted(inbox_id=inbox_id, received_ms=received_ms,
                                     source_ip=source_ip, signal=signal)
            self.store.journal(conn, actor="inbox", kind="SignalAccepted", key=journal_key,
                               body=message)
            written.append(message)
            return "accepted", inbox_id

        written: list[SignalAccepted] = []

        def ran(_: object) -> None:
            if written and stored is not None:
                stored(written[0])

        return await self.store.write(fn, ran=ran)

    def pending(self) -> list[SignalAccepted]:
        """Accepted signals the engine core has not taken yet, in arrival order (restart)."""
        rows = self.store.query("SELECT id, received_at, source_ip, parsed FROM inbox"
                                " WHERE state = 'accepted' ORDER BY id")
        return [SignalAccepted(inbox_id=r["id"], received_ms=r["received_at"],
                               source_ip=r["source_ip"], signal=_decode_signal(r["parsed"]))
                for r in rows]

    def count(self, state: str = "accepted") -> int:
        return self.store.query("SELECT count(*) AS n FROM inbox WHERE state = ?", (state,))[0]["n"]

    def get(self, inbox_id: int) -> dict[str, Any] | None:
        """One inbox row as ``entries`` shows it (None: no such row)."""
        rows = self.store.query("SELECT * FROM inbox WHERE id = ?", (inbox_id,))
        return _entry(rows[0]) if rows else None

    def entries(self, *, state: str | None = None, cursor: int | None = None,
                limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
        """A page of inbox rows, newest first, and the cursor of the next page (None = last)."""
        if state is not None and state not in INBOX_STATES:
            raise ValueError(f"state: expected one of {', '.join(INBOX_STATES)}, got {state!r}")
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        if cursor is not None:
            clauses.append("id < ?")
            params.append(cursor)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = max(1, min(limit, MAX_PAGE))
        rows = self.store.query(f"SELECT * FROM inbox {where} ORDER BY id DESC LIMIT ?",
                                [*params, limit + 1])
        page = [_entry(r) for r in rows[:limit]]
        return page, (page[-1]["id"] if len(rows) > limit else None)


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    parsed = _decode_any(row["parsed"]) if row["parsed"] else {}
    return {
        "id": row["id"],
        "received_at": row["received_at"],
        "source_ip": row["source_ip"],
        "state": row["state"],
        "outcome": row["outcome"],
        "processed_at": row["processed_at"],
        "idempotency_key": row["idempotency_key"],
        "intent": parsed.get("intent"),
        "symbol": parsed.get("symbol"),
        "timeframe": parsed.get("timeframe"),
        "side": parsed.get("side"),
        "signal_time": parsed.get("timestamp_ms"),
        "raw_body": row["raw_body"],
    }


def set_state(conn: sqlite3.Connection, inbox_id: int, state: str, *,
              outcome: str | None = None, processed_ms: int | None = None) -> None:
    """Move an inbox row on (inside the engine core's write function, with its journal row)."""
    if state not in INBOX_STATES:
        raise ValueError(f"state: expected one of {', '.join(INBOX_STATES)}, got {state!r}")
    updated = conn.execute(
        "UPDATE inbox SET state = ?, outcome = coalesce(?, outcome),"
        " processed_at = coalesce(?, processed_at) WHERE id = ?",
        (state, outcome, processed_ms, inbox_id)).rowcount
    if updated != 1:
        raise LookupError(f"inbox row {inbox_id} does not exist")
