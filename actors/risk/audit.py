"""The Risk Engine's records: ``risk_actions`` rows with their journal events, and the operator
flags (block, skip-once) in ``position_groups.risk_blocked`` / ``skip_once`` (SPEC 7.7, 12.3).

Owns: nothing between calls — the risk actor is the only writer of these rows and columns; the
write functions here run inside one ``Store.write`` transaction handed in by it.
Receives: the cycle's plan and the execution's results from ``actors/risk/actor.py``.
Sends: rows to ``risk_actions`` and one ``journal`` row (actor ``risk``) per change, so every
step of an action — inputs, plan, orders sent, outcomes, realized net, stop reason — can be
replayed from the journal.
Fails how: SQL errors propagate to the caller's write (its savepoint is rolled back and the risk
actor does not act on an action it could not record).

Row layout: ``winners`` is the list of planned winner closes, each later completed with what the
group answered (``sent_qty``, ``accepted_qty``, ``result``, ``reason``, ``realized_usd``);
``realized`` is ``{"groups": {id: usd}, "net": usd | null, "reason": text | null,
"fees_est", "slippage_est", "loser_qty", "loser_notional"}`` — what happened, and why an action
stopped.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import msgspec

from actors.store.writer import Store
from engine.decimals import cents
from engine.risk import NoAction, OffsetPlan, PlanStep, SkippedWinner

_json = msgspec.json.Encoder(enc_hook=str)
_decode = msgspec.json.decode
OUTCOMES = ("executing", "executed", "insufficient", "aborted", "failed")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def step_dict(step: PlanStep) -> dict[str, Any]:
    return {"group_id": step.group_id, "symbol": step.symbol, "qty": str(step.qty),
            "price": str(step.price), "notional": str(step.notional),
            "estimated_usd": str(step.estimated_usd), "full": step.full, "raised": step.raised,
            "sent_qty": None, "accepted_qty": None, "result": "planned", "reason": None,
            "realized_usd": None}


def skipped_dict(s: SkippedWinner) -> dict[str, Any]:
    return {"group_id": s.group_id, "reason": s.reason, "needed_qty": str(s.needed_qty),
            "open_qty": str(s.open_qty)}


class ActionRecord:
    """One ``risk_actions`` row as the risk actor keeps it while executing (mutable, local)."""

    def __init__(self, *, ts: int, trigger: str, outcome: OffsetPlan | NoAction,
                 loser_usd: Decimal, loser_percent: Decimal):
        self.id: int | None = None
        self.ts = ts
        self.trigger = trigger
        self.loser_id = outcome.loser_id
        self.loss_percent = cents(loser_percent)  # compared and shown at 0.01 (SPEC 7.4)
        self.loss_usd = loser_usd
        self.required_usd = outcome.required_usd
        self.winners = [step_dict(s) for s in outcome.steps]
        self.skipped = [skipped_dict(s) for s in outcome.skipped]
        self.outcome = "executing" if isinstance(outcome, OffsetPlan) else "insufficient"
        self.realized: dict[str, Any] = {"groups": {}, "net": None, "reason": None}
        if isinstance(outcome, OffsetPlan):
            self.realized.update(fees_est=str(outcome.fees_est),
                                 slippage_est=str(outcome.slippage_est),
                                 loser_qty=str(outcome.loser_qty),
                                 loser_notional=str(outcome.loser_notional))
        else:
            self.realized.update(reason="insufficient offsets",
                                 available_usd=str(outcome.available_usd))

    def winner(self, group_id: int) -> dict[str, Any]:
        return next(w for w in self.winners if w["group_id"] == group_id)

    def book_realized(self, group_id: int, usd: Decimal) -> None:
        groups = self.realized["groups"]
        groups[str(group_id)] = str(usd)
        self.realized["net"] = str(sum((Decimal(v) for v in groups.values()), Decimal(0)))

    def row(self, now_ms: int) -> dict[str, Any]:
        return {"ts": self.ts, "trigger": self.trigger, "loser_group_id": self.loser_id,
                "loser_loss_percent": _text(self.loss_percent),
                "loser_loss_usd": _text(self.loss_usd), "required_usd": _text(self.required_usd),
                "winners": _json.encode(self.winners).decode(),
                "skipped": _json.encode(self.skipped).decode(), "outcome": self.outcome,
                "realized": _json.encode(self.realized).decode(), "updated_at": now_ms}


def save_action(conn: sqlite3.Connection, store: Store, record: ActionRecord, *, now_ms: int,
                kind: str) -> int:
    """Insert or update the row of ``record`` and journal ``kind`` (RiskPlanned, RiskStep,
    RiskActionEnded, RiskRealized, RiskInsufficient) with the whole row as its body."""
    row = record.row(now_ms)
    if record.id is None:
        cols = ", ".join(row)
        cursor = conn.execute(f"INSERT INTO risk_actions ({cols}) VALUES"
                              f" ({', '.join('?' * len(row))})", tuple(row.values()))
        record.id = int(cursor.lastrowid)
    else:
        sets = ", ".join(f"{c} = ?" for c in row)
        conn.execute(f"UPDATE risk_actions SET {sets} WHERE id = ?", (*row.values(), record.id))
    store.journal(conn, actor="risk", kind=kind, key=f"risk:{record.id}",
                  body={"id": record.id, **row, "winners": record.winners,
                        "skipped": record.skipped, "realized": record.realized})
    return record.id


def book_late_realized(conn: sqlite3.Connection, store: Store, action_id: int, group_id: int,
                       usd: Decimal, *, now_ms: int) -> None:
    """A close that ended after its action finished (a loser still retrying, an aborted winner
    full close): its realized USD joins the action's row."""
    rows = conn.execute("SELECT realized, winners FROM risk_actions WHERE id = ?",
                        (action_id,)).fetchall()
    if not rows:
        raise LookupError(f"risk_actions row {action_id} is missing")
    realized = _decode(rows[0][0])
    winners = _decode(rows[0][1])
    realized["groups"][str(group_id)] = str(usd)
    realized["net"] = str(sum((Decimal(v) for v in realized["groups"].values()), Decimal(0)))
    for w in winners:
        if w["group_id"] == group_id:
            w["realized_usd"] = str(usd)
    conn.execute("UPDATE risk_actions SET realized = ?, winners = ?, updated_at = ? WHERE id = ?",
                 (_json.encode(realized).decode(), _json.encode(winners).decode(), now_ms,
                  action_id))
    store.journal(conn, actor="risk", kind="RiskRealized", key=f"risk:{action_id}",
                  body={"id": action_id, "group_id": group_id, "realized_usd": str(usd)})


# --- operator flags ---------------------------------------------------------------------------

def set_flag(conn: sqlite3.Connection, store: Store, group_id: int, *, column: str, value: bool,
             user: str | None) -> None:
    if column not in ("risk_blocked", "skip_once"):
        raise ValueError(f"column: expected risk_blocked or skip_once, got {column!r}")
    conn.execute(f"UPDATE position_groups SET {column} = ? WHERE id = ?", (int(value), group_id))
    store.journal(conn, actor="risk", kind="RiskFlagSet", key=f"group:{group_id}",
                  body={"group_id": group_id, "flag": column, "value": value, "user": user})


def clear_skip_once(conn: sqlite3.Connection, store: Store, group_ids: list[int]) -> None:
    """Skip Once is spent by the cycle that excluded the groups (SPEC 7.7)."""
    conn.executemany("UPDATE position_groups SET skip_once = 0 WHERE id = ?",
                     [(g,) for g in group_ids])
    store.journal(conn, actor="risk", kind="RiskSkipOnceSpent", key=None,
                  body={"group_ids": group_ids})


def load_flags(store: Store) -> tuple[set[int], set[int]]:
    """(blocked, skip_once) group ids of the groups that are not closed or failed."""
    rows = store.query("SELECT id, risk_blocked, skip_once FROM position_groups WHERE status NOT"
                       " IN ('closed', 'failed') AND (risk_blocked = 1 OR skip_once = 1)")
    return ({r["id"] for r in rows if r["risk_blocked"]},
            {r["id"] for r in rows if r["skip_once"]})


def group_status(store: Store, group_id: int) -> str | None:
    rows = store.query("SELECT status FROM position_groups WHERE id = ?", (group_id,))
    return rows[0]["status"] if rows else None


# --- reading ----------------------------------------------------------------------------------

def action_dict(row: dict[str, Any]) -> dict[str, Any]:
    realized = _decode(row["realized"])
    return {"id": row["id"], "ts": row["ts"], "trigger": row["trigger"],
            "loser": {"group_id": row["loser_group_id"],
                      "loss_percent": row["loser_loss_percent"],
                      "loss_usd": row["loser_loss_usd"],
                      "qty": realized.get("loser_qty"),
                      "notional": realized.get("loser_notional")},
            "required_usd": row["required_usd"], "winners": _decode(row["winners"]),
            "skipped": _decode(row["skipped"]), "outcome": row["outcome"],
            "reason": realized.get("reason"), "realized": realized.get("groups", {}),
            "realized_net": realized.get("net"), "fees_est": realized.get("fees_est"),
            "slippage_est": realized.get("slippage_est"), "updated_at": row["updated_at"]}


def recent_actions(store: Store, *, limit: int = 50, before_id: int | None = None
                   ) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages backwards."""
    if before_id is None:
        rows = store.query("SELECT * FROM risk_actions ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = store.query("SELECT * FROM risk_actions WHERE id < ? ORDER BY id DESC LIMIT ?",
                           (before_id, limit))
    return [action_dict(r) for r in rows]


def last_action_at(store: Store) -> int | None:
    return store.query("SELECT MAX(ts) AS ts FROM risk_actions")[0]["ts"]
