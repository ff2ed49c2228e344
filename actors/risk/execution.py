"""Executing one Risk Engine offset plan, step by step, through the group actors (SPEC 7.5, 8.3).

Owns (``PlanExecutor``): while an action runs, the "watch" of the one group it is waiting for
(only one close is outstanding at a time: no lock, no wait, spans two groups), and the closes
still running when their action ended, whose realized USD is booked later ("late").
Receives: every group step from ``RiskActor.on_group_events`` (``offer``)
(``RiskCloseOutcome`` for our request id, then ``PartialCloseDone`` / ``GroupClosed`` /
``CloseRetry`` / ``GroupFailed``).
Sends: ``RiskClose`` to each winner in plan order (awaited: commands go down), then to the loser;
the action's row after every step (``actors/risk/audit.py``), recorded BEFORE the next step.
Fails how: a winner that refuses, shrinks its part, fills only partly, or does not finish within
``STEP_TIMEOUT_S`` stops the action (``aborted``, reason recorded; the next cycle re-plans from
fresh numbers; nothing is retried blindly). A loser that refuses ends it as ``failed``. A close
still running when the action ends (a loser retrying its remainder) books its realized USD into
the row later (``late``). Storage errors propagate (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import trio

from actors.risk import audit
from engine.group import GroupState
from engine.group.messages import (
    CloseRetry,
    GroupClosed,
    GroupFailed,
    PartialCloseDone,
    RiskClose,
    RiskCloseOutcome,
)
from engine.risk import OffsetPlan

log = logging.getLogger("engine.risk")

STEP_TIMEOUT_S = 60.0
WATCH_SIZE = 256  # one close's events: outcome, retries, the end; far below this bound
WATCHED = (RiskCloseOutcome, PartialCloseDone, GroupClosed, CloseRetry, GroupFailed)


class CloseResult(msgspec.Struct, kw_only=True):
    """What one group did with one RiskClose."""

    accepted: bool = False
    full: bool = False
    accepted_qty: Decimal = Decimal(0)
    closed_qty: Decimal = Decimal(0)  # what the close really took off the group
    done: bool = False  # the close finished completely (flat, or the partial sold all of Q)
    realized: Decimal | None = None
    realized_before: Decimal = Decimal(0)
    reason: str = ""


class Watch:
    def __init__(self, group_id: int, request_id: str):
        self.group_id = group_id
        self.request_id = request_id
        self.send, self.receive = trio.open_memory_channel[tuple[GroupState, object]](WATCH_SIZE)

    def offer(self, state: GroupState, events) -> None:
        for ev in events:
            if isinstance(ev, WATCHED):
                self.send.send_nowait((state, ev))  # a WouldBlock here is a bug: raised


class PlanExecutor:
    """Runs one offset plan at a time; ``group(id)`` finds a running group's slot."""

    def __init__(self, *, group: Callable[[int], Any],
                 save: Callable[[audit.ActionRecord, str], Awaitable[int]]):
        self._group = group
        self._save = save
        self.watches: dict[int, Watch] = {}
        self._late: dict[int, tuple[int, Decimal]] = {}  # group → (action id, realized before)
        self._late_done: list[tuple[int, int, Decimal]] = []

    def offer(self, state: GroupState, events) -> bool:
        """A recorded group step. True when a late close ended (its USD is ready to book)."""
        watch = self.watches.get(state.group_id)
        if watch is not None:
            watch.offer(state, events)
            return False
        late = self._late.pop(state.group_id, None) if any(
            isinstance(ev, GroupClosed) for ev in events) else None
        if late is None:
            return False
        closed = next(ev for ev in events if isinstance(ev, GroupClosed))
        self._late_done.append((late[0], state.group_id, closed.realized - late[1]))
        return True

    def take_late(self) -> list[tuple[int, int, Decimal]]:
        """(action id, group id, realized USD) of the late closes that ended."""
        done, self._late_done = self._late_done, []
        return done

    async def close_group(self, group_id: int, *, role: str, qty: Decimal | None,
                          request_id: str) -> CloseResult:
        """Send one RiskClose and follow it to its end (or to the first sign it will not end)."""
        slot = self._group(group_id)
        if slot is None or slot.crashed:  # an ended group still answers while it lingers
            return CloseResult(reason="group is not running")
        watch = Watch(group_id, request_id)
        self.watches[group_id] = watch
        result = CloseResult(reason=f"no answer within {STEP_TIMEOUT_S:g} s")
        try:
            await slot.actor.send(RiskClose(request_id=request_id, role=role, qty=qty))
            with trio.move_on_after(STEP_TIMEOUT_S):
                await _follow(watch, result)
        finally:
            del self.watches[group_id]
        return result

    async def execute(self, plan: OffsetPlan, record: audit.ActionRecord) -> None:
        """Winners in plan order, each awaited to its end, then the loser's full close."""
        for step in plan.steps:
            w = record.winner(step.group_id)
            w["sent_qty"] = None if step.full else str(step.qty)
            r = await self.close_group(step.group_id, role="winner",
                                       qty=None if step.full else step.qty,
                                       request_id=f"risk{record.id}-w{step.group_id}")
            w["accepted_qty"] = str(r.accepted_qty) if r.accepted else None
            w["result"] = _result(r)
            w["reason"] = r.reason or None
            if r.realized is not None:
                w["realized_usd"] = str(r.realized)
                record.book_realized(step.group_id, r.realized)
            elif r.accepted:
                self._late[step.group_id] = (record.id, r.realized_before)
            stop = _winner_stop(r, step.qty)
            if stop is not None:
                await self._finish(record, "aborted", f"winner {step.group_id}: {stop}")
                return
            await self._save(record, "RiskStep")
        r = await self.close_group(plan.loser_id, role="loser", qty=None,
                                   request_id=f"risk{record.id}-l{plan.loser_id}")
        record.realized["loser_result"] = _result(r)
        if not r.accepted:
            await self._finish(record, "failed", f"loser {plan.loser_id}: {r.reason}")
            return
        if r.realized is not None:
            record.book_realized(plan.loser_id, r.realized)
        else:
            self._late[plan.loser_id] = (record.id, r.realized_before)
        await self._finish(record, "executed", None if r.done else f"loser: {r.reason}")

    async def _finish(self, record: audit.ActionRecord, outcome: str, reason: str | None) -> None:
        record.outcome = outcome
        record.realized["reason"] = reason
        await self._save(record, "RiskActionEnded")
        level = logging.INFO if outcome == "executed" else logging.WARNING
        log.log(level, f"risk action {record.id} {outcome}: loser {record.loser_id}"
                + (f" ({reason})" if reason else ""), extra={
                    "event": f"risk_action_{outcome}", "group_id": record.loser_id,
                    "data": {"action_id": record.id, "required_usd": str(record.required_usd),
                             "realized": record.realized.get("groups"),
                             "realized_net": record.realized.get("net"), "reason": reason}})


async def _follow(watch: Watch, r: CloseResult) -> None:
    async for state, ev in watch.receive:
        if not r.accepted:
            if isinstance(ev, RiskCloseOutcome) and ev.request_id == watch.request_id:
                if not ev.accepted:
                    r.reason = ev.reason or "refused"
                    return
                r.accepted, r.full, r.accepted_qty = True, ev.full, ev.qty
                r.closed_qty = ev.qty if ev.full else Decimal(0)
                r.realized_before = state.realized_pnl
                r.reason = ev.reason or "running"
            continue  # events of the group's earlier steps are not ours
        match ev:
            case PartialCloseDone() if ev.request_id == watch.request_id:
                r.realized, r.closed_qty = ev.realized, ev.sold_qty
                r.done = ev.sold_qty >= ev.planned_qty and ev.sold_qty > 0
                r.reason = "" if r.done else f"sold {ev.sold_qty} of {ev.planned_qty}"
                return
            case GroupClosed():
                if not r.full:  # the partial turned into a full close (too little would stay)
                    r.closed_qty = r.accepted_qty
                r.full, r.done = True, True
                r.realized = ev.realized - r.realized_before
                r.reason = "" if ev.reason.startswith("risk_") else f"closed by {ev.reason}"
                return
            case CloseRetry():
                r.reason = "closing order did not fill completely; the group retries the rest"
                return
            case GroupFailed():
                r.reason = f"group failed: {ev.reason}"
                return


def _result(r: CloseResult) -> str:
    if not r.accepted:
        return "refused"
    if r.done:
        return "closed" if r.full else "partial_done"
    return "incomplete"


def _winner_stop(r: CloseResult, planned: Decimal) -> str | None:
    """Why a winner's step stops the action (SPEC 7.5 step 2, 8.3), or None to go on."""
    if not r.accepted:
        return f"refused ({r.reason})"
    if not r.done:
        return r.reason
    if r.closed_qty < planned:
        # the group changed since the plan (a TP filled, a reduce): it closed less than planned,
        # so the loss is no longer covered — the next cycle re-plans on fresh numbers
        return f"shrank its part from {planned} to {r.closed_qty}"
    return None
