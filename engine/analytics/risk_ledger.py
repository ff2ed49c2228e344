"""The Risk Engine ledger (pure): what each offset action cost and returned.

Per action: the loss it closed (the loser's realized PnL from its close), the profit it spent
(the winners' realized PnL from their risk closes), the fees paid by those closing trades, the
slippage against the prices the plan was made at (positive = worse than planned: a sell below,
a buy above the plan price), and the net effect (loss closed + profit spent; both are already
net of fees). A closing trade of a group belongs to the latest action at or before it that
names the group.
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from engine.decimals import ZERO


class RiskActionFact(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    ts_ms: int
    outcome: str
    loser_id: int | None
    loser_price: Decimal | None  # the price the loser's close was planned at
    winner_prices: dict[int, Decimal]  # group id → plan price
    realized: dict[int, Decimal]  # group id → realized USD booked by the action's closes


class RiskFillFact(msgspec.Struct, frozen=True, kw_only=True):
    """A closing trade sent by the Risk Engine (purpose ``r``)."""

    group_id: int
    ts_ms: int
    side: str  # buy / sell
    price: Decimal
    qty: Decimal
    fee_usd: Decimal


def _slippage(f: RiskFillFact, plan: Decimal | None) -> Decimal:
    if plan is None:
        return ZERO
    return (plan - f.price) * f.qty if f.side == "sell" else (f.price - plan) * f.qty


def ledger(actions: Sequence[RiskActionFact], fills: Iterable[RiskFillFact]) -> dict[str, Any]:
    ordered = sorted(actions, key=lambda a: (a.ts_ms, a.id))
    rows = {a.id: {"id": a.id, "ts": a.ts_ms, "outcome": a.outcome, "loser_group_id": a.loser_id,
                   "loss_closed_usd": a.realized.get(a.loser_id, ZERO) if a.loser_id else ZERO,
                   "profit_spent_usd": sum((v for g, v in a.realized.items()
                                            if g != a.loser_id), ZERO),
                   "fees_usd": ZERO, "slippage_usd": ZERO} for a in ordered}
    for f in fills:
        owner = None
        for a in ordered:
            if a.ts_ms > f.ts_ms:
                break
            if f.group_id == a.loser_id or f.group_id in a.winner_prices:
                owner = a
        if owner is None:
            continue
        plan = owner.loser_price if f.group_id == owner.loser_id \
            else owner.winner_prices.get(f.group_id)
        row = rows[owner.id]
        row["fees_usd"] += f.fee_usd
        row["slippage_usd"] += _slippage(f, plan)
    out = []
    for row in rows.values():
        row["net_usd"] = row["loss_closed_usd"] + row["profit_spent_usd"]
        out.append(row)
    keys = ("loss_closed_usd", "profit_spent_usd", "fees_usd", "slippage_usd", "net_usd")
    totals: dict[str, Any] = {k: sum((r[k] for r in out), ZERO) for k in keys}
    totals["actions"] = len(out)
    totals["executed"] = sum(1 for r in out if r["outcome"] == "executed")
    out.reverse()  # newest first
    return {"actions": out, "total": totals}
