"""Promotion (SPEC 6.4, 6.5): strict rank order, skips, stop, Promote/Force Add refusals."""

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.queue import (
    PRIORITY_NAMES,
    ActionRefused,
    EntryPromoted,
    KeyState,
    PoolView,
    QueueState,
    Skipped,
    Stopped,
    apply_plan,
    plan_promotion,
    promote_one,
    rank,
)
from tests.engine.test_queue_rank import D6_ENTRIES, D6_LIVE, D6_PRICES, entry

DEFAULT = list(PRIORITY_NAMES)
ALL_SYMBOLS = frozenset({"ETHUSDT", "SOLUSDT", "XRPUSDT", "BTCUSDT", "AAAUSDT", "BBBUSDT"})


def pool(used, mx=10, **kw):
    kw.setdefault("symbols_with_rules", ALL_SYMBOLS)
    return PoolView(used=used, max_open_groups=mx, **kw)


def test_d6_full_pool_counting_pyramids_promotes_nothing():
    p = pool(10, count_pyramids_toward_pool=True, live_groups=D6_LIVE)
    plan = plan_promotion(D6_ENTRIES, prices=D6_PRICES, priority=DEFAULT, pool=p)
    assert plan.promote == () and plan.stopped == Stopped(entry_id=4, needed=1, free=0)


def test_d6_continuation_needs_no_slot_then_stop():
    plan = plan_promotion(D6_ENTRIES, prices=D6_PRICES, priority=DEFAULT,
                          pool=pool(10, live_groups=D6_LIVE))
    assert [(p.entry.id, p.slots, p.continuation) for p in plan.promote] == [(4, 0, True)]
    assert plan.stopped == Stopped(entry_id=3, needed=1, free=0)


def test_two_free_slots_follow_rank():
    plan = plan_promotion(D6_ENTRIES, prices=D6_PRICES, priority=DEFAULT,
                          pool=pool(8, live_groups=D6_LIVE))
    assert [p.entry.id for p in plan.promote] == [4, 3, 2]
    assert plan.stopped == Stopped(entry_id=1, needed=1, free=0)
    step = apply_plan(QueueState(entries=tuple(D6_ENTRIES), next_id=5), plan)
    assert [e.id for e in step.state.entries] == [1]
    assert [ev.entry_id for ev in step.events] == [4, 3, 2]


def test_skips_non_slot_reasons_and_continues():
    entries = [
        entry(1, "AAAUSDT", 15, "100", 0, repl=3),  # opposite side live
        entry(2, "BBBUSDT", 15, "100", 1, repl=2),  # same side closing
        entry(3, "NOMETA", 15, "100", 2, repl=1),  # precision missing
        entry(4, "ETHUSDT", 15, "100", 3),
    ]
    live = {
        ("binance", "AAAUSDT", 15): KeyState(side="short"),
        ("binance", "BBBUSDT", 15): KeyState(side="long", closing=True),
    }
    plan = plan_promotion(entries, prices={}, priority=DEFAULT, pool=pool(9, live_groups=live))
    assert plan.skipped == (
        Skipped(entry_id=1, reason="opposite_side"),
        Skipped(entry_id=2, reason="group_closing"),
        Skipped(entry_id=3, reason="precision_missing"),
    )
    assert [p.entry.id for p in plan.promote] == [4] and plan.stopped is None


def test_paused_engine_holds_everything():
    plan = plan_promotion(D6_ENTRIES, prices=D6_PRICES, priority=DEFAULT,
                          pool=pool(0, paused=True))
    assert {s.reason for s in plan.skipped} == {"engine_paused"} and plan.promote == ()


def test_promoted_new_group_holds_the_opposite_entry_of_its_key():
    entries = [entry(1, "AAAUSDT", 15, "100", 0, side="long"),
               entry(2, "AAAUSDT", 15, "100", 1, side="short")]
    plan = plan_promotion(entries, prices={}, priority=DEFAULT, pool=pool(0))
    assert [p.entry.id for p in plan.promote] == [1]
    assert plan.skipped == (Skipped(entry_id=2, reason="opposite_side"),)


def test_dca_counting_uses_entry_legs():
    plan = plan_promotion([entry(1, "AAAUSDT", 15, "100", 0)], prices={}, priority=DEFAULT,
                          pool=pool(6, count_dca_toward_pool=True))
    assert plan.stopped == Stopped(entry_id=1, needed=5, free=4)


def test_promote_one_and_force_add():
    state = QueueState(entries=tuple(D6_ENTRIES), next_id=5)
    step, prom = promote_one(state, 1, pool=pool(10))
    assert prom is None
    assert step.events == (ActionRefused(entry_id=1, action="promote", reason="pool_full"),)
    step, prom = promote_one(state, 1, pool=pool(10), forced=True)
    assert prom is not None and prom.slots == 1
    assert step.events == (EntryPromoted(entry_id=1, slots=1, forced=True),)
    assert [e.id for e in step.state.entries] == [2, 3, 4]
    step, prom = promote_one(state, 2, pool=pool(3))
    assert prom is not None and step.events == (EntryPromoted(entry_id=2, slots=1, forced=False),)


def test_force_add_refused_for_safety_holds():
    state = QueueState(entries=tuple(D6_ENTRIES), next_id=5)
    for p, reason in [
        (pool(10, paused=True), "engine_paused"),
        (pool(10, symbols_with_rules=frozenset()), "precision_missing"),
        (pool(10, live_groups={("binance", "ETHUSDT", 15): KeyState(side="short")}),
         "opposite_side"),
    ]:
        step, prom = promote_one(state, 1, pool=p, forced=True)
        assert prom is None and step.state is state
        assert step.events == (ActionRefused(entry_id=1, action="force_add", reason=reason),)
    step, prom = promote_one(state, 42, pool=pool(0))
    assert step.events == (ActionRefused(entry_id=42, action="promote", reason="not_found"),)


# ---- property: promotion never exceeds the pool and never overtakes a waiting entry ----


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=0, max_value=10),
    used=st.integers(min_value=0, max_value=12),
    mx=st.integers(min_value=1, max_value=10),
    count_pyr=st.booleans(),
    count_dca=st.booleans(),
)
def test_promotion_never_exceeds_pool(data, n, used, mx, count_pyr, count_dca):
    syms = ["AAAUSDT", "BBBUSDT", "ETHUSDT", "NOMETA"]
    entries = []
    for eid in range(1, n + 1):
        e = entry(eid, data.draw(st.sampled_from(syms)), data.draw(st.sampled_from([15, 60])),
                  "100", data.draw(st.integers(0, 5)), repl=data.draw(st.integers(0, 2)),
                  side=data.draw(st.sampled_from(["long", "short"])))
        entries.append(msgspec.structs.replace(e, entry_legs=data.draw(st.integers(1, 4))))
    live_side = data.draw(st.sampled_from(["long", "short"]))
    live = {("binance", "AAAUSDT", 15): KeyState(side=live_side)}
    p = pool(used, mx, count_pyramids_toward_pool=count_pyr, count_dca_toward_pool=count_dca,
             live_groups=live)
    plan = plan_promotion(entries, prices={"AAAUSDT": D(99)}, priority=DEFAULT, pool=p)
    taken = sum(pr.slots for pr in plan.promote)
    assert used + taken <= mx or taken == 0
    ids = [pr.entry.id for pr in plan.promote] + [s.entry_id for s in plan.skipped]
    assert len(ids) == len(set(ids))
    if plan.stopped is not None:
        assert used + taken + plan.stopped.needed > mx
        # nothing ranked below the entry waiting for slots was promoted past it
        order = [r.entry.id for r in rank(entries, prices={"AAAUSDT": D(99)},
                                          live_groups=live, priority=DEFAULT)]
        stop_pos = order.index(plan.stopped.entry_id)
        assert all(order.index(pr.entry.id) < stop_pos for pr in plan.promote)
