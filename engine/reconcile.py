"""Start-up reconciliation as a pure diff (SPEC 8.5): our records × the exchange → actions.

Two passes, because whether a never-sent order is still wanted depends on the fills found:
1. ``missed_fills`` — the exchange's trades of our orders not booked yet, oldest first; the
   actor applies them through the groups' normal fill handlers;
2. ``diff_orders`` — then, with ``still_wanted`` evaluated on the groups after those fills
   (``engine.group.reducer``'s state: the order is still in flight and not cancelled), every
   order of ours gets its exchange state, a resend with the same id, or is marked failed; open
   orders with our prefix that we do not know are adopted (group exists) or cancelled.
``balance_shortfalls`` reduces lots when the account holds less base asset than they do.
"""

from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from typing import Literal

import msgspec

from engine.errors import InvalidInput
from engine.orders import decode_cid

ExchangeStatus = Literal["open", "partially_filled", "filled", "canceled", "rejected", "expired"]


class OurOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order our records hold as not finished."""

    cid: str
    group_id: int
    state: Literal["pending", "open", "partially_filled"]
    still_wanted: bool = True  # pending only: the group's state after the missed fills wants it


class ExchangeOrder(msgspec.Struct, frozen=True, kw_only=True):
    cid: str
    status: ExchangeStatus
    filled_qty: Decimal = Decimal(0)


class ExchangeTrade(msgspec.Struct, frozen=True, kw_only=True):
    trade_id: str
    cid: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int


class LotHolding(msgspec.Struct, frozen=True, kw_only=True):
    """One open lot of a live group, with the base asset it holds."""

    group_id: int
    group_created_ms: int
    asset: str
    pyramid: int
    leg: int
    open_qty: Decimal
    last_fill_ms: int


# --- actions --------------------------------------------------------------------------------


class BookMissedFill(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    group_id: int
    trade: ExchangeTrade


class SyncOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Our order exists on the exchange in another state: deliver it (ack, end, cancel)."""

    group_id: int
    cid: str
    status: ExchangeStatus
    filled_qty: Decimal


class Resend(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Never reached the exchange and still wanted: send it again with the same id."""

    group_id: int
    cid: str


class MarkFailed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Never reached the exchange and no longer wanted: the group re-evaluates by its rules."""

    group_id: int
    cid: str


class Adopt(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An open order with our prefix unknown to the records, of an existing group (logged)."""

    group_id: int
    order: ExchangeOrder


class CancelOrphan(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An open order with our prefix whose group does not exist (logged)."""

    cid: str


class ReduceLot(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The account holds less than the lots: shrink this one (Error alert)."""

    group_id: int
    pyramid: int
    leg: int
    qty: Decimal


ReconcileAction = (
    BookMissedFill | SyncOrder | Resend | MarkFailed | Adopt | CancelOrphan | ReduceLot
)


def _ours(cid: str, instance: str) -> int | None:
    """The group id of one of our cids; None for foreign or malformed ids."""
    parts = decode_cid(cid)
    if parts is None or parts.instance != instance:
        return None
    return parts.group_id


def missed_fills(*, instance: str, trades: Sequence[ExchangeTrade],
                 seen_trade_ids: Set[str]) -> list[BookMissedFill]:
    """Our trades not booked yet, in exchange time order (ties: trade id), each once."""
    out: dict[str, BookMissedFill] = {}
    for t in sorted(trades, key=lambda t: (t.ts_ms, t.trade_id)):
        group = _ours(t.cid, instance)
        if group is None or t.trade_id in seen_trade_ids or t.trade_id in out:
            continue
        if t.qty <= 0:
            raise InvalidInput("trades.qty", f"trade {t.trade_id}: must be > 0, got {t.qty}")
        out[t.trade_id] = BookMissedFill(group_id=group, trade=t)
    return list(out.values())


def diff_orders(*, instance: str, ours: Sequence[OurOrder], found: Mapping[str, ExchangeOrder],
                open_orders: Sequence[ExchangeOrder], known_groups: Set[int],
                ) -> list[ReconcileAction]:
    """``found``: the answers of querying each of ``ours`` by cid (absent = not found)."""
    actions: list[ReconcileAction] = []
    on_book = {o.cid: o for o in open_orders}
    mine = set()
    for o in ours:
        mine.add(o.cid)
        ex = found.get(o.cid) or on_book.get(o.cid)
        if ex is None:
            if o.state == "pending":
                cls = Resend if o.still_wanted else MarkFailed
                actions.append(cls(group_id=o.group_id, cid=o.cid))
            else:
                # acknowledged once, unknown now: not filled (fills were booked first): cancelled
                actions.append(SyncOrder(group_id=o.group_id, cid=o.cid, status="canceled",
                                         filled_qty=Decimal(0)))
        elif ex.status != o.state:
            actions.append(SyncOrder(group_id=o.group_id, cid=o.cid, status=ex.status,
                                     filled_qty=ex.filled_qty))
    for ex in open_orders:
        if ex.cid in mine:
            continue
        group = _ours(ex.cid, instance)
        if group is None:
            continue  # not ours: another instance or manual trading
        if group in known_groups:
            actions.append(Adopt(group_id=group, order=ex))
        else:
            actions.append(CancelOrphan(cid=ex.cid))
    return actions


def balance_shortfalls(*, holdings: Sequence[LotHolding],
                       balances: Mapping[str, Decimal]) -> list[ReduceLot]:
    """Per base asset: when free + locked < Σ open lots, reduce the newest group's most recent
    lots first until the lots fit. A surplus is not the engine's and is ignored."""
    out: list[ReduceLot] = []
    by_asset: dict[str, list[LotHolding]] = {}
    for h in holdings:
        if h.open_qty < 0:
            raise InvalidInput("holdings.open_qty", f"must be >= 0, got {h.open_qty}")
        by_asset.setdefault(h.asset, []).append(h)
    for asset, lots in sorted(by_asset.items()):
        missing = sum((h.open_qty for h in lots), Decimal(0)) - balances.get(asset, Decimal(0))
        if missing <= 0:
            continue
        lots.sort(key=lambda h: (h.group_created_ms, h.group_id, h.last_fill_ms, h.pyramid,
                                 h.leg), reverse=True)
        for h in lots:
            if missing <= 0:
                break
            take = min(h.open_qty, missing)
            if take > 0:
                out.append(ReduceLot(group_id=h.group_id, pyramid=h.pyramid, leg=h.leg, qty=take))
                missing -= take
    return out
