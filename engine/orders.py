"""Client order ids (SPEC 8.4) and the exchange-order state machine (SPEC 3.2, 9.2).

A cid is ``"ee" + instance(4) + group(7) + pyramid(1) + leg(1) + purpose(1) + attempt(3)``:
19 lowercase letters and digits, deterministic so that a retry or a restart re-uses the id of
the order it means instead of creating a second one.
"""

from enum import StrEnum
from typing import Literal

import msgspec

from engine.errors import InvalidInput

CID_PREFIX = "ee"
CID_LENGTH = 19


class Purpose(StrEnum):
    """What an order is for: one letter of its client order id, so the id alone says it."""

    ENTRY = "e"  # a DCA leg's entry order
    TAKE_PROFIT = "t"  # a leg's take-profit (per-leg TP, and hybrid before its aggregate close)
    AGGREGATE_TP = "a"  # the full close when the aggregate target is reached
    EXIT = "x"  # the full close of an exit signal, or of the old side of a reverse
    RISK = "r"  # a Risk Engine close: the loser's full close, a winner's full or partial one
    REDUCE = "d"  # a reduce signal's partial or full close
    MANUAL = "m"  # an operator's Close group


PURPOSES = frozenset(Purpose)
GROUP_LEVEL = "z"  # pyramid/leg character of group-level orders (closes)
# pyramids and legs are one decimal digit each in a cid: a group has at most ten of either
INDEXES = 10
MAX_ATTEMPT = 36**3 - 1  # 46,655: "zzz"; the attempt counter never wraps
MAX_GROUP_ID = 36**7 - 1

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DIGIT_SET = frozenset(_DIGITS)


class CidParts(msgspec.Struct, frozen=True, kw_only=True):
    """The decoded fields of one of our client order ids. ``None`` pyramid/leg = group level."""

    instance: str
    group_id: int
    pyramid: int | None
    leg: int | None
    purpose: str
    attempt: int


def _base36(n: int, width: int) -> str:
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out)).rjust(width, "0")


def _index_char(value: int | None, field: str) -> str:
    if value is None:
        return GROUP_LEVEL
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < INDEXES:
        raise InvalidInput(field, f"must be 0-{INDEXES - 1} or None, got {value!r}")
    return str(value)


def _check_int(value: object, field: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise InvalidInput(field, f"must be an integer 0..{high}, got {value!r}")
    return value


def encode_cid(
    instance: str, group_id: int, pyramid: int | None, leg: int | None, purpose: str, attempt: int
) -> str:
    """The 19-character client order id; every field is validated (InvalidInput names it)."""
    if not isinstance(instance, str) or len(instance) != 4 or not set(instance) <= _DIGIT_SET:
        raise InvalidInput("instance", f"must be 4 lowercase base-36 characters, got {instance!r}")
    _check_int(group_id, "group_id", MAX_GROUP_ID)
    if not isinstance(purpose, str) or purpose not in PURPOSES:
        raise InvalidInput("purpose", f"must be one of {','.join(Purpose)}, got {purpose!r}")
    _check_int(attempt, "attempt", MAX_ATTEMPT)
    return (
        CID_PREFIX
        + instance
        + _base36(group_id, 7)
        + _index_char(pyramid, "pyramid")
        + _index_char(leg, "leg")
        + purpose
        + _base36(attempt, 3)
    )


def _decode_index(ch: str) -> tuple[bool, int | None]:
    if ch == GROUP_LEVEL:
        return True, None
    if ch.isdigit():
        return True, int(ch)
    return False, None


def decode_cid(cid: object) -> CidParts | None:
    """The fields of one of *our* ids; None for foreign ids, other shapes or garbage.

    The caller compares ``instance`` with its own to ignore another engine's orders (SPEC 9.1).
    """
    if not isinstance(cid, str) or len(cid) != CID_LENGTH or not cid.startswith(CID_PREFIX):
        return None
    if not set(cid) <= _DIGIT_SET:
        return None
    ok_p, pyramid = _decode_index(cid[13])
    ok_l, leg = _decode_index(cid[14])
    purpose = cid[15]
    if not (ok_p and ok_l) or purpose not in PURPOSES:
        return None
    return CidParts(
        instance=cid[2:6],
        group_id=int(cid[6:13], 36),
        pyramid=pyramid,
        leg=leg,
        purpose=purpose,
        attempt=int(cid[16:19], 36),
    )


# --- exchange order state machine -------------------------------------------------------------

OrderState = Literal[
    "pending", "open", "partially_filled", "filled", "canceled", "rejected", "expired", "failed",
    "unknown",
]
OrderEvent = Literal[
    "ack",  # the exchange accepted the order (it rests)
    "partial_fill",  # some quantity traded, some remains
    "fill",  # fully traded
    "cancel_ack",  # the exchange confirms the cancel (possibly after partial fills)
    "reject",  # the exchange refused it (InvalidOrder, InsufficientFunds, ...)
    "expire",  # IOC remainder / exchange expiry
    "fail",  # never reached the exchange: blocked locally or proven absent after retries
    "timeout",  # no answer to the placement: the outcome is unknown until resolved by cid
    "not_found",  # a lookup by cid proved the order absent: resend with the same cid
]

TERMINAL_STATES: frozenset[str] = frozenset({"filled", "canceled", "rejected", "expired", "failed"})

# (state, event) -> next state. An "unknown" order is resolved by querying it by cid; the answer
# is fed back as the event the exchange reports (ack, fill, cancel_ack, ...) or "not_found".
# Fills can overtake the placement answer (user-data stream before REST reply), so a pending
# order may go straight to (partially) filled.
_LIVE_EVENTS: dict[str, str] = {
    "partial_fill": "partially_filled",
    "fill": "filled",
    "cancel_ack": "canceled",
    "expire": "expired",
}
_TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "ack"): "open",
    ("pending", "reject"): "rejected",
    ("pending", "fail"): "failed",
    ("pending", "timeout"): "unknown",
    **{("pending", e): s for e, s in _LIVE_EVENTS.items()},
    ("open", "ack"): "open",  # the REST answer arriving after the stream's "new" report
    **{("open", e): s for e, s in _LIVE_EVENTS.items()},
    ("partially_filled", "ack"): "partially_filled",
    **{("partially_filled", e): s for e, s in _LIVE_EVENTS.items()},
    ("unknown", "ack"): "open",
    ("unknown", "reject"): "rejected",
    ("unknown", "fail"): "failed",
    ("unknown", "timeout"): "unknown",
    ("unknown", "not_found"): "pending",
    **{("unknown", e): s for e, s in _LIVE_EVENTS.items()},
    # Repeated final reports (stream + REST both tell us) are harmless.
    ("filled", "fill"): "filled",
    ("canceled", "cancel_ack"): "canceled",
    ("rejected", "reject"): "rejected",
    ("expired", "expire"): "expired",
    ("failed", "fail"): "failed",
    # A trade report can arrive after the cancel/expiry answer that already counted it; the
    # fill itself is booked by trade id, the order stays final.
    ("canceled", "partial_fill"): "canceled",
    ("expired", "partial_fill"): "expired",
}


def next_order_state(current: str, event: str) -> str:
    """The state after ``event``; impossible transitions raise InvalidInput("order_event")."""
    try:
        return _TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidInput("order_event", f"{event!r} is impossible in state {current!r}") from None


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES
