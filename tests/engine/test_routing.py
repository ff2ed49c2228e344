"""route_entry: where an entry signal goes, decided from plain facts (engine/routing.py)."""

from decimal import Decimal as D

import msgspec
import pytest

from engine.grid_settings import GridSettings
from engine.orders import INDEXES
from engine.precision import MetadataMissing, ResolvedRules
from engine.routing import (
    Duplicate, EntryFacts, Enqueue, GroupFacts, Ignore, Open, PoolFacts, Pyramid, Refuse,
    entry_notional, route_entry,
)
from engine.signals import Signal
from tests.engine.group_kit import RULES

T0 = 1_700_000_100_000  # a 15-minute candle starts 100 s before this
GRID = GridSettings()
SIG = Signal(
    intent="signal", side="long", symbol="TESTUSDT", ccxt_symbol="TEST/USDT", timeframe=15,
    timestamp_ms=T0, source="tradingview", tv_exchange="BINANCE", action="buy",
    market_position="long", market_position_size=D("1"), prev_market_position="flat",
    prev_market_position_size=D("0"), entry_price=D("100"), close_price=D("100"),
    order_size=D("1000"), position_size_type="quote", precision_mode="auto",
    max_slippage_percent=None, stop_loss=None, take_profit=None, trade_id="1", alert_name="",
    alert_message="", idempotency_key="k")
RESOLVED = ResolvedRules(rules=RULES, source="cache")
GROUP = GroupFacts(group_id=7, side="long", closing=False, pyramid_count=1, max_pyramids=5,
                   next_index=1, latest_signal_ts=T0 - 15 * 60_000, open_orders=5)
POOL = PoolFacts(used=1, max_open_groups=10, count_pyramids_toward_pool=False,
                 count_dca_toward_pool=False)


def facts(**changes) -> EntryFacts:
    base = EntryFacts(signal=SIG, grid=GRID, group=None, pool=POOL, rules=RESOLVED,
                      symbol_unknown=False, exchange="binance", current_price=D("100"))
    return msgspec.structs.replace(base, **changes)


def group(**changes) -> GroupFacts:
    return msgspec.structs.replace(GROUP, **changes)


FULL_POOL = msgspec.structs.replace(POOL, used=10)
MISSING = MetadataMissing(reason="no rules")
CASES = [
    # (name, facts, expected type, expected detail)
    ("new key opens a group", facts(), Open, None),
    ("live group takes a pyramid", facts(group=GROUP), Pyramid, 1),
    ("failed key is refused first", facts(key_failed=True, paused=True), Refuse, "failed"),
    ("opposite side waits", facts(group=group(side="short")), Enqueue, "opposite_side"),
    ("closing group waits", facts(group=group(closing=True)), Enqueue, "group_closing"),
    ("paused engine queues", facts(paused=True), Enqueue, "engine_paused"),
    ("paused beats duplicate", facts(group=group(latest_signal_ts=T0), paused=True),
     Enqueue, "engine_paused"),
    ("same candle is a duplicate", facts(group=group(latest_signal_ts=T0)), Duplicate, None),
    ("a promotion skips the candle check",
     facts(group=group(latest_signal_ts=T0), promoted=True), Pyramid, 1),
    ("unknown symbol is refused", facts(rules=MISSING, symbol_unknown=True), Refuse,
     "unknown symbol TESTUSDT on binance"),
    ("missing rules wait", facts(rules=MISSING), Enqueue, "precision_missing"),
    ("full group is told, not grown", facts(group=group(pyramid_count=5)), Ignore, "is full"),
    ("no pyramid index left", facts(group=group(next_index=INDEXES)), Ignore, "no pyramid index"),
    ("no size is refused", facts(signal=msgspec.structs.replace(SIG, order_size=None)),
     Refuse, "order_size"),
    ("full pool queues", facts(pool=FULL_POOL), Enqueue, "pool_full"),
    ("force-add ignores the pool", facts(pool=FULL_POOL, forced=True), Open, None),
    ("a pyramid needs no slot by default", facts(group=GROUP, pool=FULL_POOL), Pyramid, 1),
    ("pyramids may count toward the pool",
     facts(group=GROUP, pool=msgspec.structs.replace(FULL_POOL, count_pyramids_toward_pool=True)),
     Enqueue, "pool_full"),
]


@pytest.mark.parametrize("name,f,kind,detail", CASES, ids=[c[0] for c in CASES])
def test_route_entry(name, f, kind, detail):
    route = route_entry(f)
    assert type(route) is kind, route
    if kind is Enqueue:
        assert route.reason == detail
    elif kind in (Refuse, Ignore):
        assert detail in route.text
    elif kind is Pyramid:
        assert (route.plan.index, route.group_id) == (detail, GROUP.group_id)


def test_an_open_plans_the_whole_ladder_at_the_reference_price():
    route = route_entry(facts())
    assert isinstance(route, Open)
    assert route.plan.reference == D("100") and route.plan.notional == D("1000")
    assert sum(leg.qty * leg.price for leg in route.plan.legs) <= D("1000")


def test_a_ladder_the_filters_refuse_carries_the_planners_problems():
    tiny = msgspec.structs.replace(SIG, order_size=D("6"))  # legs under the 5 USDT minimum
    route = route_entry(facts(signal=tiny))
    assert isinstance(route, Refuse) and route.problems and route.rules_used


def test_rules_used_marks_decisions_past_the_market_rules():
    assert not route_entry(facts(paused=True)).rules_used
    assert not route_entry(facts(group=group(latest_signal_ts=T0))).rules_used
    assert route_entry(facts(pool=FULL_POOL)).rules_used
    assert route_entry(facts()).rules_used


def test_entry_notional_falls_back_to_the_grids_capital():
    no_size = msgspec.structs.replace(SIG, order_size=None)
    assert entry_notional(no_size, GRID, D("100")) == (D("100"), None)
    grid = msgspec.structs.replace(GRID, capital_per_pyramid_usd=D("250"))
    assert entry_notional(no_size, grid, D("100")) == (D("100"), D("250"))


def test_a_refused_ladder_says_which_leg_fails_by_how_much_and_what_size_passes():
    tiny = msgspec.structs.replace(SIG, order_size=D("20"))  # 4 USDT legs, 5 USDT minimum
    route = route_entry(facts(signal=tiny))
    assert isinstance(route, Refuse)
    assert route.text.startswith("rejected: DCA0 fails min_notional: it would be 4.00 USDT, "
                                 "below the 5.00 USDT minimum (short by 1.00)")
    assert route.minimum_order_size == D("25.48")  # DCA4 at 98.00 needs 0.052 on the step
    assert route.text.endswith("an order_size of at least 25.48 USDT would pass")
    passing = msgspec.structs.replace(SIG, order_size=route.minimum_order_size)
    assert isinstance(route_entry(facts(signal=passing)), Open)
    short = msgspec.structs.replace(SIG, order_size=route.minimum_order_size - D("0.01"))
    assert isinstance(route_entry(facts(signal=short)), Refuse)


def test_a_duplicate_names_both_alert_times_and_the_candle():
    later = msgspec.structs.replace(SIG, timestamp_ms=T0 + 120_000)  # two minutes on, same bar
    route = route_entry(facts(signal=later, group=group(latest_signal_ts=T0)))
    assert isinstance(route, Duplicate)
    assert route.text == ("duplicate entry signal: its time 2023-11-14T22:17:00Z falls in the "
                          "same 15-minute candle as the group's latest entry "
                          "(2023-11-14T22:15:00Z); a new pyramid needs a later candle")
    stale = route_entry(facts(group=group(latest_signal_ts=T0 + 900_000)))
    assert "falls in an earlier 15-minute candle" in stale.text
