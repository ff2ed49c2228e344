"""The group actor with the real paper exchange and a real Store: decide → record → act.

SPEC 13 D2 (ladder at 100, tick 0.01, step 0.001, notional 1000) on LTCUSDT of the bundled
Binance exchange info, fees 0 (the vectors' assumption).
"""

from decimal import Decimal as D

import pytest
import trio

from actors.group.projection import decode_state
from engine.messages import SignalAccepted
from tests.actors.engine_kit import paper_config, running, signal

D2_ENTRIES = [("buy", "100", "2"), ("buy", "99.5", "2.01"), ("buy", "99", "2.02"),
              ("buy", "98.5", "2.03"), ("buy", "98", "2.04")]


async def test_d2_ladder_is_placed_with_the_exact_prices_and_quantities(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", prices={"LTCUSDT": "100.5"}) as kit:
        inbox_id = await kit.send(signal())
        assert kit.inbox_row(inbox_id) == {"state": "processed", "outcome": "group 1 opened"}
        assert kit.open_orders() == sorted(D2_ENTRIES)
        rows = kit.store.query("SELECT pyramid, leg, purpose, state, quantity, price FROM orders"
                               " ORDER BY leg")
        assert [(r["leg"], r["purpose"], r["state"], r["quantity"], r["price"]) for r in rows] \
            == [(0, "e", "open", "2.000", "100.00"), (1, "e", "open", "2.010", "99.50"),
                (2, "e", "open", "2.020", "99.00"), (3, "e", "open", "2.030", "98.50"),
                (4, "e", "open", "2.040", "98.00")]
        group = kit.groups()[0]
        assert (group["status"], group["pyramid_count"]) == ("live", 1)


async def test_fills_place_per_leg_tps_from_the_actual_fill_price(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:  # price 100: DCA0 fills at once at 100.00
        await kit.send(signal())
        await kit.price("99.4")  # DCA1 (99.50) fills at its own price
        assert ("sell", "101", "2") in kit.open_orders()  # DCA0's TP: 100 × 1.01
        assert ("sell", "99.99", "2.01") in kit.open_orders()  # DCA1's TP: 99.9975 → 99.99
        legs = kit.store.query("SELECT leg, entry_state, fill_vwap, tp_price, tp_state FROM"
                               " dca_orders ORDER BY leg")
        assert [(r["leg"], r["entry_state"], r["tp_price"], r["tp_state"]) for r in legs[:3]] \
            == [(0, "filled", "101.00", "placed"), (1, "filled", "99.99", "placed"),
                (2, "open", None, "none")]
        fills = kit.store.query("SELECT side, price, quantity FROM fills ORDER BY id")
        assert [(f["side"], D(f["price"]), D(f["quantity"])) for f in fills] == [
            ("buy", D("100"), D("2")), ("buy", D("99.5"), D("2.01"))]
        await kit.price("99.99")  # DCA1's TP is hit; DCA0's stays
        assert ("sell", "99.99", "2.01") not in kit.open_orders()
        state = decode_state(kit.store.query("SELECT state FROM position_groups")[0]["state"])
        assert state.leg(0, 1).tp_state == "hit"
        assert state.realized_pnl == D("0.49") * D("2.01")  # (99.99 − 99.50) × 2.010


async def test_partial_fill_gets_a_tp_for_its_filled_part_at_once(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", paper=paper_config(partial_fill_ratio=D("0.5"))) \
            as kit:
        await kit.send(signal(entry_price="99.5"))  # DCA0 at 99.50 rests (price 100)
        await kit.price("99.5")  # half of DCA0 (1.005 of 2.010) fills
        state = decode_state(kit.store.query("SELECT state FROM position_groups")[0]["state"])
        leg = state.leg(0, 0)
        assert (leg.entry_state, leg.filled_qty, leg.fill_vwap) == \
            ("partially_filled", D("1.005"), D("99.5"))
        tps = [o for o in kit.open_orders() if o[0] == "sell"]
        assert tps == [("sell", "100.49", "1.005")]  # 99.5 × 1.01 = 100.495 → 100.49
        await kit.price("99.5")  # the rest fills: the TP is replaced by one for the whole lot
        tps = [o for o in kit.open_orders() if o[0] == "sell"]
        assert tps == [("sell", "100.49", "2.01")]
        assert kit.store.query("SELECT status FROM position_groups")[0]["status"] \
            == "partially_filled"


async def test_exit_cancels_every_resting_order_and_market_closes(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        await kit.price("99.4")  # DCA0 and DCA1 filled; their TPs and DCA2..4 rest
        assert len(kit.open_orders()) == 5
        inbox_id = await kit.send(signal("exit", ts_ms=signal().timestamp_ms + 60_000))
        assert kit.inbox_row(inbox_id) == {"state": "processed",
                                           "outcome": "exit sent to group 1"}
        assert kit.open_orders() == []
        closes = [o for o in kit.orders("filled") if o["type"] == "market"]
        assert [(c["side"], c["quantity"]) for c in closes] == [("sell", "4.01")]
        group = kit.groups()[0]
        assert (group["status"], group["close_reason"], group["open_qty"]) == \
            ("closed", "exit_signal", "0.000")
        trade = kit.store.query("SELECT realized_pnl, close_reason FROM closed_trades")[0]
        # (99.4 − 100) × 2 + (99.4 − 99.5) × 2.01
        assert (D(trade["realized_pnl"]), trade["close_reason"]) == (D("-1.401"), "exit_signal")
        assert kit.sup.used() == 0
        assert kit.paper.state()["balances"]["LTC"] == {"free": "0", "locked": "0"}


async def test_restored_state_column_round_trips(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        await kit.price("99.4")
        live = kit.sup.directory.groups[1].state
        stored = decode_state(kit.store.query("SELECT state FROM position_groups")[0]["state"])
        assert stored == live


@pytest.mark.parametrize("checkpoints", [0, 1, 2, 3, 5, 8, 13, 21])
async def test_a_tp_fill_racing_an_exit_never_sells_twice(tmp_path, autojump_clock, checkpoints):
    """SPEC 4.6: resting orders are cancelled first, their fills booked, then only what
    remains is market-sold — wherever the TP fill lands in the exit's sequence."""
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())  # DCA0 filled at 100; its TP rests at 101
        exit_signal = signal("exit", ts_ms=signal().timestamp_ms + 1)
        outcome, inbox_id = await kit.inbox.accept(exit_signal, "{}", None, 0)
        await kit.sup.inbox.send(SignalAccepted(inbox_id=inbox_id, received_ms=0,
                                                source_ip=None, signal=exit_signal))
        for _ in range(checkpoints):
            await trio.lowlevel.checkpoint()
        await kit.paper.push_price("LTCUSDT", D("101"))  # the TP fills somewhere in the exit
        await kit.settle(5)
        trades = kit.paper.state()["trades"]
        bought = sum(D(t["quantity"]) for t in trades if t["side"] == "buy")
        sold = sum(D(t["quantity"]) for t in trades if t["side"] == "sell")
        assert bought == sold == D(2)
        assert kit.paper.state()["balances"]["LTC"] == {"free": "0", "locked": "0"}
        assert not [o for o in kit.orders() if o["status"] == "rejected"]
        group = kit.groups()[0]
        assert group["status"] == "closed"
        assert group["close_reason"] in ("exit_signal", "all_legs_tp")


async def test_a_stopped_actor_releases_queued_commands_and_refuses_later_ones(
        tmp_path, autojump_clock):
    """A group that crashes with a command waiting behind the bad message tells its sender
    ``False`` (nothing recorded) and closes its door: no sender ever waits on a dead group."""
    from engine.group.messages import CloseGroup, TradeFilled
    from engine.group.state import OrderRef

    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        actor = kit.sup.directory.groups[1].actor
        answers: list[bool] = []
        async with trio.open_nursery() as nursery:
            # a trade naming a leg the group does not have (a bug: the reducer refuses it),
            # then a close queued behind it
            actor.deliver(TradeFilled(ref=OrderRef(pyramid=7, leg=7, purpose="e", attempt=0),
                                      trade_id="x", price=D(1), qty=D(1), fee=D(0),
                                      fee_asset="USDT", ts_ms=0))

            async def close() -> None:
                answers.append(await actor.command(CloseGroup(reason="manual")))

            nursery.start_soon(close)
        assert answers == [False]
        assert await actor.command(CloseGroup(reason="manual")) is False
        assert await actor.send(CloseGroup(reason="manual")) is False
        assert kit.groups()[0]["status"] != "closing"  # no close was ever recorded
