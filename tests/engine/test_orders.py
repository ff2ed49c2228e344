"""Client order ids (SPEC 8.4, vector D15) and the exchange-order state machine."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.orders import (
    MAX_ATTEMPT,
    MAX_GROUP_ID,
    TERMINAL_STATES,
    CidParts,
    decode_cid,
    encode_cid,
    is_terminal,
    next_order_state,
)

D15 = [
    # (pyramid, leg, purpose, attempt, expected)
    (2, 3, "e", 0, "eek3x9000001623e000"),
    (2, 3, "t", 1, "eek3x9000001623t001"),
    (None, None, "r", 1, "eek3x90000016zzr001"),
]


@pytest.mark.parametrize("pyramid,leg,purpose,attempt,expected", D15)
def test_d15_client_order_ids(pyramid, leg, purpose, attempt, expected):
    cid = encode_cid("k3x9", 42, pyramid, leg, purpose, attempt)
    assert cid == expected
    assert len(cid) == 19 and cid.isalnum()
    assert decode_cid(cid) == CidParts(
        instance="k3x9", group_id=42, pyramid=pyramid, leg=leg, purpose=purpose, attempt=attempt
    )


def test_extremes_encode():
    assert encode_cid("zzzz", MAX_GROUP_ID, 9, 9, "m", MAX_ATTEMPT) == "eezzzzzzzzzzz99mzzz"
    assert encode_cid("0000", 0, 0, 0, "x", 0) == "ee" + "0000" + "0000000" + "00x000"


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(instance="K3X9"), "instance"),
        (dict(instance="k3x"), "instance"),
        (dict(instance=1234), "instance"),
        (dict(group_id=-1), "group_id"),
        (dict(group_id=MAX_GROUP_ID + 1), "group_id"),
        (dict(group_id=True), "group_id"),
        (dict(pyramid=10), "pyramid"),
        (dict(pyramid=-1), "pyramid"),
        (dict(leg="3"), "leg"),
        (dict(purpose="q"), "purpose"),
        (dict(purpose="et"), "purpose"),
        (dict(purpose=None), "purpose"),
        (dict(attempt=MAX_ATTEMPT + 1), "attempt"),
        (dict(attempt=-1), "attempt"),
    ],
)
def test_encode_refuses_bad_fields(kwargs, field):
    args = dict(instance="k3x9", group_id=42, pyramid=2, leg=3, purpose="e", attempt=0) | kwargs
    with pytest.raises(InvalidInput) as err:
        encode_cid(**args)
    assert err.value.field == field


@pytest.mark.parametrize(
    "cid",
    [
        None,
        42,
        "",
        "x-abc123",  # ccxt's own random ids
        "web_3f9a0c",
        "eek3x9000001623e00",  # 18 characters
        "eek3x9000001623e0000",  # 20 characters
        "efk3x9000001623e000",  # another prefix
        "eeK3X9000001623E000",  # upper case
        "eek3x90000016a3e000",  # pyramid must be a digit or z
        "eek3x900000162ye000",  # leg must be a digit or z
        "eek3x9000001623q000",  # unknown purpose
        "eek3x9000001-23e000",
    ],
)
def test_decode_ignores_foreign_or_garbage(cid):
    assert decode_cid(cid) is None


@given(
    instance=st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=4),
    group_id=st.integers(0, MAX_GROUP_ID),
    pyramid=st.none() | st.integers(0, 9),
    leg=st.none() | st.integers(0, 9),
    purpose=st.sampled_from("etaxrdm"),
    attempt=st.integers(0, MAX_ATTEMPT),
)
def test_cid_round_trip(instance, group_id, pyramid, leg, purpose, attempt):
    cid = encode_cid(instance, group_id, pyramid, leg, purpose, attempt)
    assert len(cid) == 19 and cid.isalnum() and cid == cid.lower()
    assert decode_cid(cid) == CidParts(
        instance=instance, group_id=group_id, pyramid=pyramid, leg=leg, purpose=purpose,
        attempt=attempt,
    )


ALLOWED = [
    ("pending", "ack", "open"),
    ("pending", "partial_fill", "partially_filled"),
    ("pending", "fill", "filled"),
    ("pending", "reject", "rejected"),
    ("pending", "fail", "failed"),
    ("pending", "timeout", "unknown"),
    ("pending", "expire", "expired"),
    ("open", "ack", "open"),
    ("open", "partial_fill", "partially_filled"),
    ("open", "fill", "filled"),
    ("open", "cancel_ack", "canceled"),
    ("open", "expire", "expired"),
    ("partially_filled", "partial_fill", "partially_filled"),
    ("partially_filled", "fill", "filled"),
    ("partially_filled", "cancel_ack", "canceled"),
    ("unknown", "ack", "open"),
    ("unknown", "fill", "filled"),
    ("unknown", "cancel_ack", "canceled"),
    ("unknown", "reject", "rejected"),
    ("unknown", "not_found", "pending"),
    ("unknown", "timeout", "unknown"),
    ("unknown", "fail", "failed"),
    ("filled", "fill", "filled"),
    ("canceled", "cancel_ack", "canceled"),
    ("canceled", "partial_fill", "canceled"),
    ("expired", "partial_fill", "expired"),
]


@pytest.mark.parametrize("state,event,expected", ALLOWED)
def test_allowed_transitions(state, event, expected):
    assert next_order_state(state, event) == expected


@pytest.mark.parametrize(
    "state,event",
    [
        ("filled", "cancel_ack"),
        ("filled", "ack"),
        ("canceled", "fill"),
        ("rejected", "ack"),
        ("failed", "fill"),
        ("open", "reject"),
        ("open", "timeout"),
        ("open", "not_found"),
        ("pending", "not_found"),
        ("pending", "bogus"),
        ("nonsense", "ack"),
    ],
)
def test_impossible_transitions_raise(state, event):
    with pytest.raises(InvalidInput) as err:
        next_order_state(state, event)
    assert err.value.field == "order_event"


def test_terminal_states():
    assert TERMINAL_STATES == {"filled", "canceled", "rejected", "expired", "failed"}
    assert is_terminal("filled") and not is_terminal("unknown") and not is_terminal("open")


def test_lifecycle_timeout_resolved_by_cid_then_filled():
    state = "pending"
    for event in ("timeout", "not_found", "ack", "partial_fill", "fill"):
        state = next_order_state(state, event)
    assert state == "filled"
