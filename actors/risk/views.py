"""How the risk actor sees the groups: one ``LiveView`` per running group, built from the group
actors' current states and fresh prices, and the JSON of Panel C (SPEC 7.7, 11.5 C).

Owns: a live view per group, kept between cycles: rebuilt when the (immutable) state object,
the market rules or the close order type change, re-priced in place when only the price moved
(a live market moves every price between two cycles: no new object per group and cycle).
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

from engine.decimals import HUNDRED
from engine.display import Display, for_rules
from engine.group import GroupState, average_entry, open_cost, pnl_at
from engine.group.rules import min_qty
from engine.precision import order_step
from engine.risk import NoAction, OffsetPlan, RiskGroupView, RiskPanelRow
from engine.types import MarketRules

ZERO = Decimal(0)
_ENDED = ("closed", "failed")
_FIELDS = RiskGroupView.__struct_fields__
# a symbol's rules, the close order type (True: market) and the view fields they give
_Rules = tuple[MarketRules, bool, tuple[Decimal, Decimal, Decimal]]


class SlotLike(Protocol):
    crashed: bool

    @property
    def state(self) -> GroupState: ...


class LiveView:
    """A group as the Risk Engine sees it: every field of ``RiskGroupView`` (the engine reads
    views by attribute only), re-priced in place by the next build, so it is read within one
    synchronous step; ``snapshot()`` is the immutable value to keep beyond it."""

    __slots__ = (*_FIELDS, "state", "rules", "cost", "_snapshot")

    def __init__(self, state: GroupState, rules: _Rules):
        self.state = state
        self.rules = rules
        avg = average_entry(state) or ZERO
        qty = state.open_qty
        self.id = state.group_id
        self.symbol = state.symbol
        self.side = state.side
        self.status = state.status
        self.created_at_ms = state.created_at_ms
        self.pyramid_count = state.pyramid_count
        self.max_pyramids = state.config.max_pyramids
        self.timer_started_at_ms = state.timer_started_at_ms
        self.avg_entry = avg
        self.open_qty = qty
        self.cost = open_cost(state)  # exact: the fills' Σ price × qty
        self.step_size, self.min_qty, self.min_notional = rules[2]
        self.closing = state.status == "closing" or state.close is not None or \
            state.partial is not None
        self.blocked = self.skip_once = False
        self.price: Decimal | None = None
        self.unrealized_usd = self.unrealized_percent = ZERO
        self._snapshot: RiskGroupView | None = None

    def reprice(self, price: Decimal) -> None:
        if price is self.price or price == self.price:
            return
        qty = self.open_qty
        # engine.group.unrealized (SPEC 3.5) on the cached quantity and cost basis
        usd = pnl_at(self.side, qty, self.cost, price) if qty else ZERO
        self.unrealized_percent = usd / self.cost * HUNDRED if qty and self.cost else ZERO
        self.unrealized_usd = usd
        self.price = price
        self._snapshot = None

    def flag(self, blocked: bool, skip_once: bool) -> None:
        self.blocked, self.skip_once = blocked, skip_once
        self._snapshot = None

    def snapshot(self) -> RiskGroupView:
        if self._snapshot is None:
            self._snapshot = RiskGroupView(**{f: getattr(self, f) for f in _FIELDS})
        return self._snapshot


def _rule_fields(rules: MarketRules, market: bool) -> tuple[Decimal, Decimal, Decimal]:
    """``step_size``, ``min_qty``, ``min_notional`` of a close order (market or limit)."""
    applies = not market or rules.min_notional_applies_to_market
    return (order_step(rules, "market" if market else "limit"), min_qty(rules, market=market),
            rules.min_notional * rules.contract_size if applies else ZERO)


class ViewCache:
    def __init__(self) -> None:
        self._cache: dict[int, LiveView] = {}
        # per symbol, the last build's rules: the same object while they are equal (a view
        # compares its rules by identity)
        self._rules: dict[str, _Rules] = {}
        self.unpriced: list[int] = []
        self.symbols: set[str] = set()  # the last build's running groups', priced or not

    def clear(self) -> None:
        """Forget every view (the cold case of the benchmark)."""
        self._cache.clear()

    def build(self, slots: Iterable[SlotLike], prices: Mapping[str, Decimal],
              rules_for: Callable[[str], MarketRules | None], *, blocked: set[int],
              skip_once: set[int], market_close: bool) -> list[LiveView]:
        """A view of every running group on ``prices``; valid until the next build."""
        market_close = bool(market_close)
        views: list[LiveView] = []
        cache = self._cache
        rules_of: dict[str, _Rules | None] = {}  # one lookup per symbol and build
        unpriced = self.unpriced = []
        for slot in slots:
            if slot.crashed:
                continue
            state = slot.state
            if state.status in _ENDED:
                continue
            gid = state.group_id
            symbol = state.symbol
            price = prices.get(symbol)
            rules = rules_of.get(symbol, rules_of)  # itself: not looked up yet
            if rules is rules_of:
                rules = self._rules_of(symbol, rules_for, market_close, rules_of)
            if price is None or rules is None:
                unpriced.append(gid)
                continue
            view = cache.get(gid)
            # a refreshed rule set or another close order type also changes the view
            if view is None or view.state is not state or view.rules is not rules:
                view = cache[gid] = LiveView(state, rules)
            if price is not view.price:
                view.reprice(price)
            if (gid in blocked) is not view.blocked or (gid in skip_once) is not view.skip_once:
                view.flag(gid in blocked, gid in skip_once)
            views.append(view)
        if len(cache) != len(views):  # it holds every view: the others' groups are gone
            self._cache = {v.id: v for v in views}
        self.symbols = set(rules_of)
        return views

    def _rules_of(self, symbol: str, rules_for: Callable[[str], MarketRules | None],
                  market_close: bool, rules_of: dict[str, _Rules | None]) -> _Rules | None:
        rules = rules_for(symbol)
        last = self._rules.get(symbol)
        if rules is None:
            self._rules.pop(symbol, None)
            found = None
        elif last is not None and last[1] is market_close and last[0] == rules:
            found = last
        else:
            found = self._rules[symbol] = (rules, market_close, _rule_fields(rules, market_close))
        rules_of[symbol] = found
        return found


# --- JSON for the API / live push --------------------------------------------------------------

def _show(views: Mapping[int, LiveView], group_id: int) -> Display:
    """The display rules of a group's symbol (engine/display.py): the panel's numbers are
    rounded like every other API answer's."""
    view = views.get(group_id)
    return for_rules(view.rules[0] if view is not None else None)


def plan_json(plan: OffsetPlan | NoAction,
              views: Mapping[int, LiveView] | None = None) -> dict[str, Any]:
    views = views or {}
    usd = for_rules(None).usd  # amounts in the quote asset

    def step(s: Any) -> dict[str, Any]:
        show = _show(views, s.group_id)
        return {"group_id": s.group_id, "symbol": s.symbol, "qty": show.qty(s.qty),
                "price": show.price(s.price), "notional": show.usd(s.notional),
                "estimated_usd": show.usd(s.estimated_usd), "full": s.full, "raised": s.raised}

    steps = [step(s) for s in plan.steps]
    skipped = [{"group_id": s.group_id, "reason": s.reason,
                "needed_qty": _show(views, s.group_id).qty(s.needed_qty),
                "open_qty": _show(views, s.group_id).qty(s.open_qty)} for s in plan.skipped]
    if isinstance(plan, NoAction):
        return {"sufficient": False, "outcome": "insufficient",
                "required_usd": usd(plan.required_usd),
                "available_usd": usd(plan.available_usd), "winners": steps, "skipped": skipped}
    return {"sufficient": True, "outcome": "plan", "required_usd": usd(plan.required_usd),
            "fees_est": usd(plan.fees_est), "slippage_est": usd(plan.slippage_est),
            "covered_usd": usd(plan.covered_usd), "winners": steps, "skipped": skipped}


def row_json(row: RiskPanelRow, view: LiveView,
             views: Mapping[int, LiveView] | None = None) -> dict[str, Any]:
    show = for_rules(view.rules[0])
    return {"group_id": row.group_id, "symbol": row.symbol, "side": row.side,
            "status": view.status, "loss_percent": show.percent(row.loss_percent),
            "loss_usd": show.usd(row.loss_usd), "timer_started_at": view.timer_started_at_ms,
            "timer_remaining_ms": row.timer_remaining_ms,
            "timer_running": view.timer_started_at_ms is not None,
            "pyramids": f"{view.pyramid_count} / {view.max_pyramids}",
            "pyramids_reached": row.pyramids_reached, "age_filter_passed": row.age_filter_passed,
            "eligible": row.eligible, "failures": list(row.failures),
            "blocked": view.blocked, "skip_once": view.skip_once,
            "available_offsets": {"count": row.offsets_count, "usd": show.usd(row.offsets_usd)},
            "projected_plan": plan_json(row.projected, views)}
