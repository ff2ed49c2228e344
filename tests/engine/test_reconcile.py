"""Reconciliation diff (SPEC 8.5): missed fills, resend/mark failed, adopt/cancel orphans,
balance shortfalls."""

from decimal import Decimal as D

import pytest

from engine.errors import InvalidInput
from engine.orders import encode_cid
from engine.reconcile import (
    Adopt,
    BookMissedFill,
    CancelOrphan,
    ExchangeOrder,
    ExchangeTrade,
    LotHolding,
    MarkFailed,
    OurOrder,
    ReduceLot,
    Resend,
    SyncOrder,
    balance_shortfalls,
    diff_orders,
    missed_fills,
)

I = "k3x9"


def cid(group: int, pyramid=0, leg=0, purpose="e", attempt=0, instance=I) -> str:
    return encode_cid(instance, group, pyramid, leg, purpose, attempt)


def trade(tid: str, c: str, ts: int, qty="1") -> ExchangeTrade:
    return ExchangeTrade(trade_id=tid, cid=c, price=D(100), qty=D(qty), fee=D(0),
                         fee_asset="USDT", ts_ms=ts)


def test_missed_fills_are_ours_unseen_once_and_in_exchange_order():
    a, b = cid(42, leg=1), cid(42, leg=2)
    trades = [trade("t3", a, 30), trade("t1", b, 10), trade("t2", a, 10), trade("t1", b, 10),
              trade("seen", a, 5), trade("x", "manual-order-1", 1),
              trade("o", cid(42, instance="zzzz"), 2)]
    out = missed_fills(instance=I, trades=trades, seen_trade_ids={"seen"})
    assert [f.trade.trade_id for f in out] == ["t1", "t2", "t3"]
    assert all(isinstance(f, BookMissedFill) and f.group_id == 42 for f in out)
    with pytest.raises(InvalidInput) as err:
        missed_fills(instance=I, trades=[trade("z", a, 1, qty="0")], seen_trade_ids=set())
    assert err.value.field == "trades.qty"


def test_diff_orders_table():
    pend_wanted, pend_dead, acked_gone = cid(1, leg=0), cid(1, leg=1), cid(1, leg=2)
    acked_filled, acked_same, pend_found = cid(1, leg=3), cid(1, leg=4), cid(1, leg=5)
    adopt, orphan = cid(1, 2, 0, "t", 3), cid(99, None, None, "x", 0)
    ours = [
        OurOrder(cid=pend_wanted, group_id=1, state="pending", still_wanted=True),
        OurOrder(cid=pend_dead, group_id=1, state="pending", still_wanted=False),
        OurOrder(cid=acked_gone, group_id=1, state="open"),
        OurOrder(cid=acked_filled, group_id=1, state="partially_filled"),
        OurOrder(cid=acked_same, group_id=1, state="open"),
        OurOrder(cid=pend_found, group_id=1, state="pending"),
    ]
    found = {
        acked_filled: ExchangeOrder(cid=acked_filled, status="filled", filled_qty=D(2)),
        acked_same: ExchangeOrder(cid=acked_same, status="open"),
    }
    open_orders = [
        ExchangeOrder(cid=pend_found, status="open"),
        ExchangeOrder(cid=acked_same, status="open"),
        ExchangeOrder(cid=adopt, status="open"),
        ExchangeOrder(cid=orphan, status="open"),
        ExchangeOrder(cid="web_123", status="open"),
        ExchangeOrder(cid=cid(1, instance="aaaa"), status="open"),
    ]
    actions = diff_orders(instance=I, ours=ours, found=found, open_orders=open_orders,
                          known_groups={1})
    assert actions == [
        Resend(group_id=1, cid=pend_wanted),
        MarkFailed(group_id=1, cid=pend_dead),
        SyncOrder(group_id=1, cid=acked_gone, status="canceled", filled_qty=D(0)),
        SyncOrder(group_id=1, cid=acked_filled, status="filled", filled_qty=D(2)),
        SyncOrder(group_id=1, cid=pend_found, status="open", filled_qty=D(0)),
        Adopt(group_id=1, order=open_orders[2]),
        CancelOrphan(cid=orphan),
    ]


def test_balance_shortfall_reduces_newest_group_and_most_recent_lots_first():
    holdings = [
        LotHolding(group_id=1, group_created_ms=100, asset="BTC", pyramid=0, leg=0,
                   open_qty=D("0.5"), last_fill_ms=110),
        LotHolding(group_id=2, group_created_ms=200, asset="BTC", pyramid=0, leg=0,
                   open_qty=D("0.2"), last_fill_ms=210),
        LotHolding(group_id=2, group_created_ms=200, asset="BTC", pyramid=1, leg=0,
                   open_qty=D("0.1"), last_fill_ms=250),
        LotHolding(group_id=3, group_created_ms=300, asset="ETH", pyramid=0, leg=0,
                   open_qty=D("1"), last_fill_ms=310),
    ]
    out = balance_shortfalls(holdings=holdings, balances={"BTC": D("0.45"), "ETH": D("5")})
    assert out == [
        ReduceLot(group_id=2, pyramid=1, leg=0, qty=D("0.1")),
        ReduceLot(group_id=2, pyramid=0, leg=0, qty=D("0.2")),
        ReduceLot(group_id=1, pyramid=0, leg=0, qty=D("0.05")),
    ]
    assert balance_shortfalls(holdings=holdings, balances={"BTC": D(9), "ETH": D(1)}) == []
    with pytest.raises(InvalidInput) as err:
        balance_shortfalls(holdings=[LotHolding(group_id=1, group_created_ms=0, asset="X",
                                                pyramid=0, leg=0, open_qty=D(-1),
                                                last_fill_ms=0)], balances={})
    assert err.value.field == "holdings.open_qty"


def test_wants_order_after_the_missed_fills():
    from engine.group import wants_order
    from engine.group.messages import CloseGroup
    from tests.engine.group_kit import Sim

    sim = Sim()
    ref = sim.entry(0, 0)
    assert wants_order(sim.state, ref)
    sim.send(CloseGroup(reason="exit_signal"))  # a cancel is wanted once acknowledged
    assert not wants_order(sim.state, ref)
    assert not wants_order(sim.state, sim.entry(0, 0, attempt=1))
