"""How the risk actor sees the groups: ``RiskGroupView`` values built from the group actors'
current states and fresh prices, and the JSON of Panel C (SPEC 7.7, 11.5 C).

Owns: a cache of the last view per group: its price-independent part keyed by the (immutable)
state object, the market rules and the close order type; a new price only re-prices it.
Receives: the supervisor's registry (``Slot.state`` / ``Slot.crashed``), prices, market rules,
the operator flags.
Sends: nothing; pure functions of what it is given apart from the cache.
Fails how: a group without a price or without market rules is left out (it can be neither
loser nor winner this cycle: its PnL is unknown) and counted in ``unpriced``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from engine.decimals import HUNDRED
from engine.group import GroupState, average_entry
from engine.group.lots import per_unit
from engine.group.rules import min_qty
from engine.precision import order_step
from engine.risk import NoAction, OffsetPlan, RiskGroupView, RiskPanelRow
from engine.types import MarketRules

ZERO = Decimal(0)


class SlotLike(Protocol):
    crashed: bool

    @property
    def state(self) -> GroupState: ...


class _Entry:
    """One group's cached view: the price-independent part is rebuilt only when the state (or
    the rules) change; a new price only re-prices it (a live market moves every price between
    two cycles, so that is the common case)."""

    __slots__ = ("state", "rules_key", "template", "avg", "qty", "cost", "price", "view")

    def __init__(self, state: GroupState, rules: MarketRules, market_close: bool):
        self.state = state
        self.rules_key = (rules, market_close)
        self.avg = average_entry(state) or ZERO
        self.qty = state.open_qty
        self.cost = self.avg * self.qty
        self.template = _view(state, self.avg, self.qty, rules, market_close)
        self.price: Decimal | None = None
        self.view = self.template

    def priced(self, price: Decimal) -> RiskGroupView:
        if price != self.price:
            # engine.group.unrealized (SPEC 3.5) on the cached average and quantity
            usd = per_unit(self.state.side, price, self.avg) * self.qty if self.qty else ZERO
            pct = usd / self.cost * HUNDRED if self.qty else ZERO
            self.view = msgspec.structs.replace(self.template, price=price, unrealized_usd=usd,
                                                unrealized_percent=pct)
            self.price = price
        return self.view


class ViewCache:
    def __init__(self) -> None:
        self._cache: dict[int, _Entry] = {}
        self.unpriced: list[int] = []

    def clear(self) -> None:
        """Forget every view (the cold case of the benchmark)."""
        self._cache.clear()

    def build(self, slots: Iterable[SlotLike], prices: Mapping[str, Decimal],
              rules_for: Callable[[str], MarketRules | None], *, blocked: set[int],
              skip_once: set[int], market_close: bool) -> list[RiskGroupView]:
        views: list[RiskGroupView] = []
        seen: set[int] = set()
        rules_of: dict[str, MarketRules | None] = {}  # one lookup per symbol and build
        self.unpriced = []
        for slot in slots:
            state = slot.state
            if slot.crashed or state.status in ("closed", "failed"):
                continue
            gid = state.group_id
            seen.add(gid)
            symbol = state.symbol
            if symbol not in rules_of:
                rules_of[symbol] = rules_for(symbol)
            price, rules = prices.get(symbol), rules_of[symbol]
            if price is None or rules is None:
                self.unpriced.append(gid)
                continue
            entry = self._cache.get(gid)
            # a refreshed rule set or another close order type also changes the view
            if entry is None or entry.state is not state or entry.rules_key != (rules,
                                                                                market_close):
                entry = self._cache[gid] = _Entry(state, rules, market_close)
            view = entry.priced(price)
            if view.blocked != (gid in blocked) or view.skip_once != (gid in skip_once):
                view = msgspec.structs.replace(view, blocked=gid in blocked,
                                               skip_once=gid in skip_once)
            views.append(view)
        for gid in [g for g in self._cache if g not in seen]:
            del self._cache[gid]
        return views


def _view(s: GroupState, avg: Decimal, qty: Decimal, rules: MarketRules,
          market: bool) -> RiskGroupView:
    """The price-independent fields (priced at the average until ``_Entry.priced``)."""
    applies = not market or rules.min_notional_applies_to_market
    return RiskGroupView(
        id=s.group_id, symbol=s.symbol, side=s.side, status=s.status,
        created_at_ms=s.created_at_ms, pyramid_count=s.pyramid_count,
        max_pyramids=s.config.max_pyramids, timer_started_at_ms=s.timer_started_at_ms,
        avg_entry=avg, open_qty=qty, price=avg, unrealized_usd=ZERO, unrealized_percent=ZERO,
        step_size=order_step(rules, "market" if market else "limit"),
        min_qty=min_qty(rules, market=market),
        min_notional=rules.min_notional * rules.contract_size if applies else ZERO,
        closing=s.status == "closing" or s.close is not None or s.partial is not None)


# --- JSON for the API / live push --------------------------------------------------------------

def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def plan_json(plan: OffsetPlan | NoAction) -> dict[str, Any]:
    steps = [{"group_id": s.group_id, "symbol": s.symbol, "qty": _num(s.qty),
              "price": _num(s.price), "notional": _num(s.notional),
              "estimated_usd": _num(s.estimated_usd), "full": s.full, "raised": s.raised}
             for s in plan.steps]
    skipped = [{"group_id": s.group_id, "reason": s.reason, "needed_qty": _num(s.needed_qty),
                "open_qty": _num(s.open_qty)} for s in plan.skipped]
    if isinstance(plan, NoAction):
        return {"sufficient": False, "outcome": "insufficient",
                "required_usd": _num(plan.required_usd),
                "available_usd": _num(plan.available_usd), "winners": steps, "skipped": skipped}
    return {"sufficient": True, "outcome": "plan", "required_usd": _num(plan.required_usd),
            "fees_est": _num(plan.fees_est), "slippage_est": _num(plan.slippage_est),
            "covered_usd": _num(plan.covered_usd), "winners": steps, "skipped": skipped}


def row_json(row: RiskPanelRow, view: RiskGroupView) -> dict[str, Any]:
    return {"group_id": row.group_id, "symbol": row.symbol, "side": row.side,
            "status": view.status, "loss_percent": _num(row.loss_percent),
            "loss_usd": _num(row.loss_usd), "timer_started_at": view.timer_started_at_ms,
            "timer_remaining_ms": row.timer_remaining_ms,
            "timer_running": view.timer_started_at_ms is not None,
            "pyramids": f"{view.pyramid_count} / {view.max_pyramids}",
            "pyramids_reached": row.pyramids_reached, "age_filter_passed": row.age_filter_passed,
            "eligible": row.eligible, "failures": list(row.failures),
            "blocked": view.blocked, "skip_once": view.skip_once,
            "available_offsets": {"count": row.offsets_count, "usd": _num(row.offsets_usd)},
            "projected_plan": plan_json(row.projected)}
