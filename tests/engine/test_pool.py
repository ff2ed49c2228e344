"""Pool counting (SPEC 6.1): V10, V14, V15, V16, D19."""

import pytest

from engine.errors import InvalidInput
from engine.pool import (
    GroupSlots,
    fits,
    force_add_refusal,
    slot_effect,
    slots_held,
    slots_needed,
    used_slots,
)

FLAGS = {
    "default": dict(count_pyramids_toward_pool=False, count_dca_toward_pool=False),
    "pyramids": dict(count_pyramids_toward_pool=True, count_dca_toward_pool=False),
    "dca": dict(count_pyramids_toward_pool=False, count_dca_toward_pool=True),
    "both": dict(count_pyramids_toward_pool=True, count_dca_toward_pool=True),
}


def g(gid, pyramids=1, legs=5, status="active"):
    return GroupSlots(group_id=gid, status=status, pyramid_count=pyramids, entry_leg_count=legs)


@pytest.mark.parametrize(
    "mode, group, held",
    [
        ("default", g(1, 5, 25), 1),
        ("pyramids", g(1, 3, 15), 3),
        ("dca", g(1, 2, 10), 10),
        ("both", g(1, 2, 10), 10),  # DCA counting wins when both are on
        ("dca", g(1, 2, 10, "closed"), 0),
        ("pyramids", g(1, 3, 15, "failed"), 0),
        ("default", g(1, 1, 5, "closing"), 1),  # closing still holds its slot
        ("default", g(1, 1, 5, "live"), 1),
    ],
)
def test_slots_held(mode, group, held):
    assert slots_held(group, **FLAGS[mode]) == held


def test_d19_defaults_tenth_group_then_queue():
    groups = [g(i) for i in range(9)]
    used = used_slots(groups, **FLAGS["default"])
    assert used == 9
    k = slots_needed(new_group=True, entry_legs=5, **FLAGS["default"])
    assert fits(used, k, 10)  # the new key opens the 10th group
    assert not fits(used + k, k, 10)  # the next new key is queued (V14: pool_full)


def test_d19_pyramids_counting():
    groups = [g(1, pyramids=3), g(2, pyramids=1)]
    used = used_slots(groups, **FLAGS["pyramids"])
    assert used == 4
    k = slots_needed(new_group=False, entry_legs=5, **FLAGS["pyramids"])
    assert k == 1 and fits(used, k, 10) and used + k == 5


def test_d19_dca_counting_fills_pool():
    used = used_slots([g(1, pyramids=2, legs=10)], **FLAGS["dca"])
    assert used == 10
    assert not fits(used, slots_needed(new_group=True, entry_legs=5, **FLAGS["dca"]), 10)
    assert slots_needed(new_group=False, entry_legs=5, **FLAGS["dca"]) == 5


def test_v10_ten_groups_however_many_pyramids():
    groups = [g(i, pyramids=5, legs=25) for i in range(10)]
    used = used_slots(groups, **FLAGS["default"])
    assert used == 10 and not fits(used, 1, 10)


def test_v15_pyramid_needs_no_slot_on_full_pool():
    k = slots_needed(new_group=False, entry_legs=5, **FLAGS["default"])
    assert k == 0 and fits(10, k, 10)


def test_v16_partial_close_keeps_usage():
    before = [g(1), g(2)]
    assert slot_effect("risk_partial_close") == "none"
    assert slot_effect("leg_tp") == "none" and slot_effect("reduce") == "none"
    # a partial close changes neither pyramids nor legs, so usage is unchanged
    assert used_slots(before, **FLAGS["default"]) == 2


@pytest.mark.parametrize(
    "event, effect",
    [
        ("group_created", "takes"),
        ("pyramid_added", "takes"),
        ("group_closed", "releases_all"),
        ("group_failed", "releases_all"),
    ],
)
def test_slot_effects(event, effect):
    assert slot_effect(event) == effect


def test_lowering_max_below_used_closes_nothing():
    assert not fits(12, 0, 10)  # even 0-slot work waits while used > max
    assert fits(10, 0, 10)


def test_force_add_only_for_pool_full():
    assert force_add_refusal("pool_full") is None
    for reason in ("precision_missing", "opposite_side", "group_closing", "engine_paused"):
        assert force_add_refusal(reason) == reason


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: fits(1, 1, 0), "execution_pool.max_open_groups"),
        (lambda: fits(-1, 1, 10), "pool.used"),
        (lambda: slots_needed(new_group=True, entry_legs=0, **FLAGS["dca"]), "entry_legs"),
        (lambda: slot_effect("bogus"), "pool.event"),
        (lambda: slots_held(g(1, pyramids=-1), **FLAGS["default"]), "pool.group"),
    ],
)
def test_impossible_input_names_field(call, field):
    with pytest.raises(InvalidInput) as exc:
        call()
    assert exc.value.field == field
