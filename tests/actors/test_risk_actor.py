"""The risk actor inside the running engine: real Store, paper exchange, supervisor and group
actors; prices pushed through the paper exchange; time driven by trio's MockClock."""

from decimal import Decimal as D

import trio

from engine.group import unrealized
from tests.actors.engine_kit import START_MS, running, signal
from tests.actors.risk_kit import (
    L_SYM, W1_SYM, W2_SYM, actions, d4_groups, group_row, open_group, risk_config, state,
)

D4_PRICES = {L_SYM: "100", W1_SYM: "100", W2_SYM: "50"}


async def test_d4_offset_through_the_running_engine(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        started = state(kit, loser).timer_started_at_ms
        used_before = kit.sup.used()
        views = kit.core.risk.latest_views()  # re-priced views = the reducer's own read-out
        assert {v.id: (v.unrealized_usd, v.unrealized_percent) for v in views} == {
            g: unrealized(state(kit, g), p) for g, p in ((loser, 94), (w1, 110), (w2, 55))}
        assert {v.id: v.unrealized_usd for v in views} == {loser: -120, w1: 80, w2: 50}
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
        assert group_row(kit, w1)["close_reason"] == "risk_winner_full"
        assert group_row(kit, loser)["close_reason"] == "risk_loser"
        w2_state = state(kit, w2)
        assert (w2_state.status, w2_state.open_qty) == ("active", D(2))
        # W2 keeps its slot and its structure: the older lot keeps 2 with a new TP at 57.50
        assert kit.open_orders(W2_SYM) == [("sell", "57.5", "2")]
        assert kit.sup.used() == used_before - 2


MANUAL = {"enable_post_full_wait": False, "evaluate_interval_sec": 86_400,
          "evaluate_on_fill": False}  # cycles only when the test asks


def sells(kit, symbol: str) -> D:
    return sum((D(t["quantity"]) for t in kit.paper.state()["trades"]
                if t["symbol"] == symbol and t["side"] == "sell"), D(0))


async def test_d20_insufficient_winners_no_action_logged_once_a_minute(tmp_path, autojump_clock):
    cfg = risk_config(risk={"max_winners_to_combine": 1})
    async with running(tmp_path / "e.db", cfg, prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        start = state(kit, loser).timer_started_at_ms + 3_600_000
        await trio.sleep(3600 + 125)
        rows = actions(kit)
        assert [r["outcome"] for r in rows] == ["insufficient"] * 3  # every 10 s, logged 1/min
        assert [r["ts"] - rows[0]["ts"] for r in rows] == [0, 60_000, 120_000]
        assert start <= rows[0]["ts"]
        first = rows[0]
        assert (D(first["required_usd"]), first["reason"]) == (D(120), "insufficient offsets")
        assert [(w["group_id"], D(w["estimated_usd"])) for w in first["winners"]] == [(w1, 80)]
        assert kit.core.risk.status == "blocked"
        assert [group_row(kit, g)["status"] for g in (loser, w1, w2)] == ["active"] * 3
        assert sells(kit, L_SYM) == sells(kit, W1_SYM) == sells(kit, W2_SYM) == 0


async def test_d20_winners_short_of_the_loss(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        await kit.price("53", W2_SYM)  # W2 at +30: 80 + 30 = 110 < 120
        cycle = await kit.core.risk.run_now()
        assert (cycle["outcome"], cycle["loser_id"], cycle["status"]) == \
            ("insufficient", loser, "blocked")
        [row] = actions(kit)
        assert D(row["required_usd"]) == 120 and row["outcome"] == "insufficient"
        assert sells(kit, W1_SYM) == sells(kit, W2_SYM) == 0


async def test_winner_tp_between_plan_and_execution_shrinks_the_plan(tmp_path, autojump_clock):
    """W2: 5 @ 50 (TP 57.50) then 5 @ 48 (TP 55.20), price 55 → the plan takes 6.66667 of it.
    The newer lot's TP fills before the risk close arrives: W2 holds 5, closes those 5 (its
    part shrank), and the loser is not closed; nothing is sold twice."""
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser = await open_group(kit, L_SYM, "100", "400", pyramids=5)
        w1 = await open_group(kit, W1_SYM, "100", "800")
        w2 = await open_group(kit, W2_SYM, "50", "250")
        await kit.price("48", W2_SYM)
        await kit.send(signal(symbol=W2_SYM, entry_price="48", order_size="240",
                              ts_ms=START_MS + 3_600_000))
        for symbol, price in ((L_SYM, "94"), (W1_SYM, "110"), (W2_SYM, "55")):
            await kit.price(price, symbol)
        risk = kit.core.risk
        decision = await risk.evaluate("run_now")
        plan = decision.outcome
        assert [(s.group_id, s.qty, s.full) for s in plan.steps] == [
            (w1, D(8), True), (w2, D("6.66667"), False)]
        await kit.price("55.2", W2_SYM)  # the newer lot's TP (5 @ 55.20) fills
        assert state(kit, w2).open_qty == 5
        summary = await risk.act(decision)
        assert summary["outcome"] == "aborted"
        assert "shrank its part from 6.66667 to 5" in summary["reason"]
        [a] = actions(kit)
        assert [(w["result"], w["accepted_qty"]) for w in a["winners"]] == [
            ("closed", "8.0000"), ("closed", "5.00000")]
        assert group_row(kit, w2)["status"] == "closed"
        assert group_row(kit, loser)["status"] == "active" and sells(kit, L_SYM) == 0
        assert sells(kit, W2_SYM) == 10  # 5 by its TP + 5 by the risk close, no more
