"""The risk actor inside the running engine: real Store, paper exchange, supervisor and group
actors; prices pushed through the paper exchange; time driven by trio's MockClock."""

from decimal import Decimal as D

import trio

from tests.actors.engine_kit import running
from tests.actors.risk_kit import (
    L_SYM, W1_SYM, W2_SYM, actions, d4_groups, group_row, risk_config, state,
)

D4_PRICES = {L_SYM: "100", W1_SYM: "100", W2_SYM: "50"}


async def test_d4_offset_through_the_running_engine(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        started = state(kit, loser).timer_started_at_ms
        used_before = kit.sup.used()
        await trio.sleep(3600 + 15)
        done = [a for a in actions(kit) if a["outcome"] == "executed"]
        assert len(done) == 1, actions(kit)
        a = done[0]
        assert started + 3_600_000 <= a["ts"] < started + 3_600_000 + 10_000
        assert a["trigger"] == "interval"
        assert a["loser"] == {"group_id": loser, "loss_percent": "-6.00", "loss_usd": "-120.000",
                              "qty": "20.000", "notional": "1880.000"}
        assert D(a["required_usd"]) == 120
        assert [(w["group_id"], D(w["qty"]), w["full"], w["result"]) for w in a["winners"]] == [
            (w1, D(8), True, "closed"), (w2, D(8), False, "partial_done")]
        assert {k: D(v) for k, v in a["realized"].items()} == {
            str(w1): D(80), str(w2): D(40), str(loser): D(-120)}
        assert D(a["realized_net"]) == 0
        print(a)
        assert group_row(kit, w1)["close_reason"] == "risk_winner_full"
        assert group_row(kit, loser)["close_reason"] == "risk_loser"
        w2_state = state(kit, w2)
        assert (w2_state.status, w2_state.open_qty) == ("active", D(2))
        # W2 keeps its slot and its structure: the older lot keeps 2 with a new TP at 57.50
        assert kit.open_orders(W2_SYM) == [("sell", "57.5", "2")]
        assert kit.sup.used() == used_before - 2
