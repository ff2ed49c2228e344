"""Queue ranking (SPEC 6.3): D6, D13, validation, and the strict-total-order property."""

import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.queue import (
    PRIORITY_NAMES,
    KeyState,
    QueueEntry,
    loss_percent,
    rank,
    validate_priority,
)
from engine.ladder import expected_profit
from engine.types import Level

DEFAULT = list(PRIORITY_NAMES)
MIN = 60_000


def entry(eid, symbol, tf, ref, queued_min, repl=0, side="long", ep="0"):
    return QueueEntry(
        id=eid, exchange="binance", symbol=symbol, timeframe=tf, side=side, intent="signal",
        payload="{}", reference_price=D(ref), order_size=None, size_type="quote",
        signal_timestamp_ms=0, expected_profit=D(ep), entry_legs=5, reason="pool_full",
        queued_at_ms=queued_min * MIN, updated_at_ms=queued_min * MIN, replacement_count=repl,
    )


D6_ENTRIES = [
    entry(1, "ETHUSDT", 15, "2000", 600, repl=0),  # Q1 10:00
    entry(2, "SOLUSDT", 60, "100", 605, repl=1),  # Q2 10:05
    entry(3, "XRPUSDT", 15, "0.5000", 607, repl=4),  # Q3 10:07
    entry(4, "BTCUSDT", 60, "60000", 609, repl=0),  # Q4 10:09, continuation
]
D6_PRICES = {"ETHUSDT": D("1958"), "SOLUSDT": D("96.60"), "XRPUSDT": D("0.4830"),
             "BTCUSDT": D("60000")}
D6_LIVE = {("binance", "BTCUSDT", 60): KeyState(side="long")}


def test_d6_order_and_loss_values():
    ranked = rank(D6_ENTRIES, prices=D6_PRICES, live_groups=D6_LIVE, priority=DEFAULT)
    assert [r.entry.id for r in ranked] == [4, 3, 2, 1]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    losses = {r.entry.id: r.loss_percent for r in ranked}
    assert losses[1] == D("-2.10") and losses[2] == D("-3.40") and losses[3] == D("-3.40")
    assert [r.continuation for r in ranked] == [True, False, False, False]


@pytest.mark.parametrize(
    "price, expected",
    [("96.596", "-3.40"), ("96.604", "-3.40"), ("96.595", "-3.41"), ("103.405", "3.41")],
)
def test_d6_loss_rounding_half_up(price, expected):
    assert loss_percent("long", D("100"), D(price)) == D(expected)


def test_short_loss_is_mirrored():
    assert loss_percent("short", D("100"), D("103.40")) == D("-3.40")
    with pytest.raises(InvalidInput) as exc:
        loss_percent("long", D(0), D(1))
    assert exc.value.field == "reference_price"


def test_d6_rounding_ties_fall_to_replacements_then_profit_then_fifo():
    a = entry(1, "AAAUSDT", 15, "100", 600, repl=1, ep="5")
    b = entry(2, "BBBUSDT", 15, "100", 601, repl=1, ep="9")
    c = entry(3, "CCCUSDT", 15, "100", 602, repl=1, ep="9")
    prices = {"AAAUSDT": D("96.596"), "BBBUSDT": D("96.604"), "CCCUSDT": D("96.600")}
    ranked = rank([a, b, c], prices=prices, live_groups={}, priority=DEFAULT)
    # all -3.40 after rounding; equal replacements; higher expected profit; then FIFO
    assert [r.entry.id for r in ranked] == [2, 3, 1]
    prices["AAAUSDT"] = D("96.595")  # -3.405 -> -3.41 wins outright
    assert rank([a, b, c], prices=prices, live_groups={}, priority=DEFAULT)[0].entry.id == 1


def test_d13_expected_profit_default_ladder():
    ladder = [
        Level(gap_percent=D(g), weight_percent=D(20), tp_percent=D(t))
        for g, t in [("0", "1"), ("-0.5", "0.5"), ("-1", "2"), ("-1.5", "1.5"), ("-2", "1")]
    ]
    assert expected_profit(D(1000), ladder) == D("12.00")
    assert expected_profit(D(500), ladder) == D("6.00")


def test_priority_order_is_configurable_and_fifo_always_last():
    ranked = rank(D6_ENTRIES, prices=D6_PRICES, live_groups=D6_LIVE,
                  priority=["highest_replacement_count"])
    assert [r.entry.id for r in ranked] == [3, 2, 1, 4]  # 4 then 1 tie at 0 -> fifo: 1 first
    ranked = rank(D6_ENTRIES, prices=D6_PRICES, live_groups=D6_LIVE, priority=[])
    assert [r.entry.id for r in ranked] == [1, 2, 3, 4]
    ranked = rank(D6_ENTRIES, prices=D6_PRICES, live_groups=D6_LIVE,
                  priority=["fifo", "highest_loss_percent"])
    assert [r.entry.id for r in ranked] == [1, 2, 3, 4]


def test_unknown_price_ranks_last_on_loss_rule_and_closing_is_no_continuation():
    prices = dict(D6_PRICES)
    del prices["XRPUSDT"]
    live = {("binance", "BTCUSDT", 60): KeyState(side="long", closing=True)}
    ranked = rank(D6_ENTRIES, prices=prices, live_groups=live, priority=DEFAULT)
    assert [r.entry.id for r in ranked] == [2, 1, 4, 3]
    assert ranked[-1].loss_percent is None and not any(r.continuation for r in ranked)


@pytest.mark.parametrize(
    "priority, field",
    [
        (["fifo", "bogus"], "waiting_rule.selection_priority[1]"),
        (["fifo", "fifo"], "waiting_rule.selection_priority[1]"),
        ("fifo", "waiting_rule.selection_priority"),
    ],
)
def test_priority_validation_names_field(priority, field):
    with pytest.raises(InvalidInput) as exc:
        validate_priority(priority)
    assert exc.value.field == field


def test_priority_validation_accepts_subsets():
    assert validate_priority(["fifo"]) == ("fifo",)
    assert validate_priority(DEFAULT) == tuple(DEFAULT)


# ---- property: the ranking is a strict total order ----

symbols = st.sampled_from(["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"])


@st.composite
def queues(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    out = []
    for eid in range(1, n + 1):
        out.append(entry(
            eid,
            draw(symbols),
            draw(st.sampled_from([15, 60])),
            str(draw(st.integers(min_value=95, max_value=105))),
            draw(st.integers(min_value=0, max_value=3)),  # few values: many ties
            repl=draw(st.integers(min_value=0, max_value=2)),
            side=draw(st.sampled_from(["long", "short"])),
            ep=str(draw(st.integers(min_value=0, max_value=2))),
        ))
    return out


@settings(max_examples=150, deadline=None)
@given(
    entries=queues(),
    prices=st.dictionaries(symbols, st.integers(min_value=90, max_value=110).map(D)),
    live_side=st.sampled_from([None, "long", "short"]),
    priority=st.permutations(PRIORITY_NAMES).flatmap(
        lambda p: st.integers(min_value=0, max_value=5).map(lambda k: list(p[:k]))
    ),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_ranking_is_strict_total_order(entries, prices, live_side, priority, seed):
    live = {} if live_side is None else {("binance", "AAAUSDT", 15): KeyState(side=live_side)}
    ranked = [r.entry.id for r in rank(entries, prices=prices, live_groups=live, priority=priority)]
    assert sorted(ranked) == sorted(e.id for e in entries)  # no entry lost or duplicated
    shuffled = entries[:]
    random.Random(seed).shuffle(shuffled)
    # independent of input order: no ties are left to the sort's stability
    assert [r.entry.id for r in rank(shuffled, prices=prices, live_groups=live,
                                     priority=priority)] == ranked
    by_id = {e.id: e for e in entries}
    pos = {eid: i for i, eid in enumerate(ranked)}
    for a in ranked:
        for b in ranked:
            if a == b:
                continue
            pair = rank([by_id[b], by_id[a]], prices=prices, live_groups=live, priority=priority)
            first = pair[0].entry.id
            # antisymmetric and consistent with the full order (hence transitive)
            assert first == (a if pos[a] < pos[b] else b)
