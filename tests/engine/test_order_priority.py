"""The order line's decision (engine/order_priority.py): classes, age, reserve, stale legs."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.order_priority import (
    DEEPER_LEG, FIRST_LEG, PROTECTIVE, Drop, Line, Send, Wait, Waiting, is_stale, next_step,
    order_class, reserve, stale_items,
)


@pytest.mark.parametrize("purpose,leg,cancel,expected", [
    ("t", 0, False, PROTECTIVE),   # a take-profit
    ("t", 3, False, PROTECTIVE),   # its replacement on a deeper leg
    ("x", None, False, PROTECTIVE),  # exit close
    ("a", None, False, PROTECTIVE),  # aggregate TP close
    ("r", None, False, PROTECTIVE),  # risk close
    ("d", None, False, PROTECTIVE),  # reduce
    ("m", None, False, PROTECTIVE),  # manual close
    ("e", 2, True, PROTECTIVE),    # any cancel, even of an entry leg
    ("e", 0, False, FIRST_LEG),
    ("e", 1, False, DEEPER_LEG),
    ("e", 9, False, DEEPER_LEG),
])
def test_classes(purpose, leg, cancel, expected):
    assert order_class(purpose, leg, cancel=cancel) == expected


@pytest.mark.parametrize("cls,limit,kept", [
    (PROTECTIVE, 100, 0), (FIRST_LEG, 100, 10), (DEEPER_LEG, 100, 10),
    (FIRST_LEG, 6000, 600), (DEEPER_LEG, 5, 1), (FIRST_LEG, 2, 1), (FIRST_LEG, 1, 0),
    (PROTECTIVE, 1, 0),
])
def test_reserve_kept_for_protective_orders(cls, limit, kept):
    assert reserve(cls, limit) == kept


@pytest.mark.parametrize("side,bound,price,stale", [
    ("buy", "103", "102.99", False), ("buy", "103", "103", True), ("buy", "103", "110", True),
    ("sell", "97", "97.01", False), ("sell", "97", "97", True), ("sell", "97", "90", True),
    ("buy", None, "1000", False), ("buy", "103", None, False),
])
def test_stale_leg_uses_the_groups_trigger_rule(side, bound, price, stale):
    item = Waiting(cls=DEEPER_LEG, seq=1, cid="c", entry_side=side,
                   stale_at=None if bound is None else D(bound))
    assert is_stale(item, None if price is None else D(price)) is stale


def _item(cls: int, seq: int, cid: str, **kw) -> Waiting:
    return Waiting(cls=cls, seq=seq, cid=cid, symbol="LTCUSDT", **kw)


def test_best_is_highest_class_then_oldest_then_client_id():
    line = Line()
    for item in (_item(DEEPER_LEG, 1, "d1"), _item(FIRST_LEG, 5, "f5"),
                 _item(PROTECTIVE, 9, "t9b"), _item(PROTECTIVE, 9, "t9a"),
                 _item(FIRST_LEG, 2, "f2")):
        assert line.put(item)
    assert [w.cid for w in line.in_order()] == ["t9a", "t9b", "f2", "f5", "d1"]
    assert len(line) == 5 and "f5" in line and "zz" not in line
    assert not line.put(_item(FIRST_LEG, 0, "f5"))  # already waiting: not queued twice
    assert line.remove("t9a") is not None and line.best().cid == "t9b"
    assert line.remove("nope") is None
    with pytest.raises(ValueError, match="cls"):
        line.put(_item(4, 1, "x"))


def test_next_step_sends_waits_or_drops_in_strict_priority():
    line = Line()
    line.put(_item(DEEPER_LEG, 1, "deep", entry_side="buy", stale_at=D("103")))
    line.put(_item(FIRST_LEG, 2, "first"))
    prices = {"LTCUSDT": D("100")}
    # nothing admitted: the best waits and the deeper leg may not pass it
    assert next_step(line, prices.get, lambda w: False) == Wait(line.best())
    assert next_step(line, prices.get, lambda w: True) == Send(_item(FIRST_LEG, 2, "first"))
    line.remove("first")
    prices["LTCUSDT"] = D("103.5")
    step = next_step(line, prices.get, lambda w: True)
    assert isinstance(step, Drop) and (step.item.cid, step.price) == ("deep", D("103.5"))
    line.remove("deep")
    assert next_step(line, prices.get, lambda w: True) is None


def test_the_sweep_finds_stale_legs_anywhere_in_the_line():
    line = Line()
    line.put(_item(PROTECTIVE, 1, "tp"))
    line.put(_item(DEEPER_LEG, 2, "a", entry_side="buy", stale_at=D("103")))
    line.put(_item(DEEPER_LEG, 3, "b", entry_side="buy", stale_at=D("105")))
    line.put(_item(FIRST_LEG, 4, "c", entry_side="sell", stale_at=D("97")))
    assert [(d.item.cid, d.price) for d in stale_items(line, {"LTCUSDT": D("104")}.get)] == [
        ("a", D("104"))]
    assert stale_items(line, {}.get) == []  # no price: nothing is stale
    assert [(c, n, h and h.cid) for c, n, h in line.by_class()] == [
        (PROTECTIVE, 1, "tp"), (FIRST_LEG, 1, "c"), (DEEPER_LEG, 2, "a")]


def test_a_rebuilt_line_has_the_same_order_whatever_the_insertion_order():
    items = [_item(c, s, f"o{c}{s}{k}") for c in (1, 2, 3) for s in (5, 1, 3) for k in "ab"]
    first, second = Line(), Line()
    for item in items:
        first.put(item)
    for item in reversed(items):
        second.put(item)
    assert [w.cid for w in first.in_order()] == [w.cid for w in second.in_order()]


# -- properties ------------------------------------------------------------------------------

events = st.lists(st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from([PROTECTIVE, FIRST_LEG, DEEPER_LEG])),
    st.tuples(st.just("tick"), st.integers(1, 4)),  # time passes: budget frees up
), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(events=events, limit=st.integers(2, 12))
def test_no_class_waits_behind_a_lower_one_fifo_within_a_class_and_reserve_kept(events, limit):
    """A fixed-window budget of ``limit`` per tick; lower classes leave the reserve."""
    line, now, used, low_used = Line(), 0, 0, 0
    arrived: dict[int, list[str]] = {1: [], 2: [], 3: []}
    sent: dict[int, list[str]] = {1: [], 2: [], 3: []}

    def admits(item: Waiting) -> bool:
        nonlocal used, low_used
        if used + 1 > limit - reserve(item.cls, limit):
            return False
        used += 1
        low_used += item.cls != PROTECTIVE
        return True

    def drain() -> None:
        while isinstance(step := next_step(line, lambda s: None, admits), Send):
            waiting = line.in_order()
            # strict priority: nothing of a higher class, nothing older in its class, waits
            assert waiting[0] == step.item
            line.remove(step.item.cid)
            sent[step.item.cls].append(step.item.cid)
            assert used <= limit and low_used <= limit - reserve(FIRST_LEG, limit)

    for n, (kind, value) in enumerate(events):
        if kind == "arrive":
            cid = f"o{n:03d}"
            line.put(Waiting(cls=value, seq=now, cid=cid))
            arrived[value].append(cid)
        else:
            now += value
            used = low_used = 0  # a new window
        drain()
        # a protective order is never left waiting while its reserve is unused
        if line.head(PROTECTIVE) is not None:
            assert used == limit
    for cls in arrived:
        assert sent[cls] == arrived[cls][:len(sent[cls])]  # FIFO within the class
