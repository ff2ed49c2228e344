"""The visible results of signals (SPEC 2.1, 8.1): each inbox row's final state and outcome
text, journaled and logged — written in the same transaction as the change that decides it.

Owns: nothing — helpers of the supervisor's routing (``signal_router``, ``pool_actions``).
Receives: the outcome of one signal (``outcome``), a command for a group whose step decides a
signal (``told``: the rows ride in the group's transaction), or the marks a queue step decides
(``marking`` → the queue actor's ``also``).
Sends: ``inbox`` rows' state/outcome and ``SignalOutcome`` journal entries; one log line each.
Fails how: storage failures propagate (the engine stops); a group that stopped before it
recorded a command gets its signal refused (logged), never left waiting.
"""

from __future__ import annotations

import logging
import sqlite3

from actors.pool.context import PoolContext
from actors.pool.directory import Slot
from actors.pool import inbox as inbox_rows
from actors.pool.queue_actor import Staged, decode_payload
from engine.group.messages import GroupInput
from engine.signals import Signal


log = logging.getLogger("engine.webhook")
alerts = logging.getLogger("engine.system")  # a pinned alert: the signal will not trade


async def outcome(sup: PoolContext, inbox_id: int | None, state: str, text: str,
                  level: int = logging.INFO, sig: Signal | None = None,
                  taken: Staged | None = None, *, alerted: bool = False) -> None:
    """The signal's visible result: its inbox row (state + text), journaled and logged —
    in the same transaction as ``taken``, the removal of the queue entry it came from.
    ``alerted``: the caller already pinned an alert saying why (a refused ladder)."""
    write = outcome_write(sup, inbox_id, state, text, taken)
    outcome_log(level, text, state, inbox_id, sig, alerted=alerted)
    if write is None:
        return
    await sup.store.write(write)
    if taken is not None:
        taken.adopt()


async def told(sup: PoolContext, slot: Slot, msg: GroupInput, inbox_id: int | None, state: str,
               text: str, level: int = logging.INFO, sig: Signal | None = None,
               taken: Staged | None = None) -> None:
    """``msg`` to the group, its outcome written in the SAME transaction as the group's step:
    a crash never keeps one without the other (a pyramid recorded while its queue entry stays
    queued, or a signal marked processed whose pyramid or reduce was never recorded)."""
    write = outcome_write(sup, inbox_id, state, text, taken)
    if not await slot.actor.command(msg, also=write):
        text = f"refused: group {slot.group_id} stopped before it recorded the signal"
        await outcome(sup, inbox_id, "rejected", text, logging.WARNING, sig, taken)
        return
    outcome_log(level, text, state, inbox_id, sig)
    if taken is not None:
        taken.adopt()


def outcome_write(sup: PoolContext, inbox_id: int | None, state: str, text: str,
                   taken: Staged | None):
    if inbox_id is None and taken is None:
        return None
    now = sup.clock_ms()

    def write(conn: sqlite3.Connection) -> None:
        if taken is not None:
            taken.write(conn)
        if inbox_id is not None:
            mark(conn, sup, inbox_id, state, text, now)

    return write


def dropped(state: str, text: str) -> bool:
    """A signal answered ``accepted`` that will not trade: refused, a duplicate, an entry
    ignored (short on spot, a full group). Queued or replaced signals are not dropped."""
    return state in ("rejected", "duplicate") or text.startswith("ignored")


def outcome_log(level: int, text: str, state: str, inbox_id: int | None,
                 sig: Signal | None, *, alerted: bool = False) -> None:
    log.log(level, text, extra={"event": f"signal_{state}", "symbol": sig and sig.symbol,
                                "timeframe": sig and sig.timeframe,
                                "data": {"inbox_id": inbox_id}})
    if dropped(state, text) and not alerted:
        which = "a signal" if inbox_id is None else f"signal {inbox_id}"
        alerts.warning(f"{which} will not trade: {text}", extra={
            "event": "signal_dropped", "symbol": sig and sig.symbol,
            "timeframe": sig and sig.timeframe,
            "data": {"inbox_id": inbox_id, "state": state, "outcome": text}})


def mark(conn: sqlite3.Connection, sup: PoolContext, inbox_id: int, state: str, text: str,
          now: int) -> None:
    inbox_rows.set_state(conn, inbox_id, state, outcome=text, processed_ms=now)
    sup.store.journal(conn, actor="supervisor", kind="SignalOutcome", key=f"inbox:{inbox_id}",
                      body={"inbox_id": inbox_id, "state": state, "outcome": text})


Mark = tuple[int | None, str, str, int]  # inbox id, state, outcome text, log level


def entry_mark(entry, text: str) -> Mark:
    """The outcome of a queued entry's own signal (None: an entry without one)."""
    return (None if entry is None else decode_payload(entry.payload).inbox_id, "processed",
            text, logging.INFO)


def marking(sup: PoolContext, marks):
    """The queue step's ``also``: its signals' inbox outcomes, in the queue's transaction —
    a crash never leaves an inbox row "queued" that no entry holds any more."""
    now = sup.clock_ms()

    def write(conn: sqlite3.Connection, step) -> None:
        for inbox_id, state, text, _ in marks(step):
            if inbox_id is not None:
                mark(conn, sup, inbox_id, state, text, now)

    return write


def log_marks(marks: list[Mark], sig: Signal | None) -> None:
    for inbox_id, state, text, level in marks:
        if inbox_id is not None:
            outcome_log(level, text, state, inbox_id, sig)
