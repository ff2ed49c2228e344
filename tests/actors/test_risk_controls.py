"""Operator controls and the actor's rules of engagement, in the running engine: Block / Skip
Once, Run Now (force), coalesced requests, no action while paused, refusals recorded with their
reason and not retried, and the realized net of an offset with real fees (SPEC 7.5-7.7, D4b)."""

from decimal import Decimal as D

import pytest
import trio

from actors.risk.actor import RiskRefused
from tests.actors.engine_kit import paper_config, running
from tests.actors.risk_kit import (
    L_SYM, W1_SYM, W2_SYM, actions, d4_groups, group_row, open_group, risk_config, state,
)

D4_PRICES = {L_SYM: "100", W1_SYM: "100", W2_SYM: "50"}
MANUAL = {"enable_post_full_wait": False, "evaluate_interval_sec": 86_400,
          "evaluate_on_fill": False}  # cycles only when the test asks


async def test_block_and_skip_once_exclude_losers_and_winners(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        risk = kit.core.risk
        await risk.control(loser, "block", user="root")
        cycle = await risk.run_now()
        assert (cycle["outcome"], cycle["reason"], risk.status) == \
            ("blocked", "losers_excluded", "blocked")
        assert not actions(kit)
        await risk.control(loser, "unblock")
        await risk.control(w1, "block")
        cycle = await risk.run_now()  # W2's +50 alone cannot cover 120
        assert cycle["outcome"] == "insufficient"
        assert [w["group_id"] for w in actions(kit)[-1]["winners"]] == [w2]
        cycle = await risk.run_now()  # blocked until unblocked: still insufficient
        assert cycle["outcome"] == "insufficient"
        await risk.control(w1, "unblock")
        await risk.control(w1, "skip-once")
        assert group_row(kit, w1)["skip_once"] == 1
        cycle = await risk.run_now()
        assert cycle["outcome"] == "insufficient" and group_row(kit, w1)["skip_once"] == 0
        assert risk.panel()["skip_once"] == []
        cycle = await risk.run_now()  # the skip was spent by the previous cycle
        assert (cycle["outcome"], cycle["loser_id"]) == ("executed", loser)
        flags = kit.store.query("SELECT kind FROM journal WHERE actor = 'risk' AND kind LIKE"
                                " 'RiskFlag%' ORDER BY seq")
        assert len(flags) == 5


async def test_controls_refuse_unknown_and_closed_groups(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        risk = kit.core.risk
        with pytest.raises(RiskRefused) as unknown:
            await risk.control(999, "block")
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        await kit.core.close_group(w1, user="root")
        await kit.settle()
        with pytest.raises(RiskRefused) as closed:
            await risk.control(w1, "skip-once")
        assert (closed.value.status, closed.value.code) == (409, "group_closed")
        assert "closed" in closed.value.message


async def test_refused_winner_close_aborts_and_is_not_retried(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        risk = kit.core.risk
        decision = await risk.evaluate("run_now")
        await kit.core.close_group(w1, user="root")  # W1 closes by hand after the plan
        await kit.settle()
        summary = await risk.act(decision)
        assert summary["outcome"] == "aborted"
        assert summary["reason"] == f"winner {w1}: refused (group is closed)"
        [a] = actions(kit)
        assert [(w["group_id"], w["result"]) for w in a["winners"]] == [
            (w1, "refused"), (w2, "planned")]
        assert group_row(kit, loser)["status"] == "active"
        await trio.sleep(60)
        outcomes = kit.store.query("SELECT body FROM journal WHERE kind = 'RiskCloseOutcome'")
        assert len(outcomes) == 1  # asked once, answered once, never resent
        ended = kit.store.query("SELECT body FROM journal WHERE kind = 'RiskActionEnded'")
        assert "refused (group is closed)" in ended[0]["body"]


async def test_no_action_while_paused(tmp_path, autojump_clock):
    risk_cfg = {"enable_post_full_wait": False}
    async with running(tmp_path / "e.db", risk_config(risk=risk_cfg), prices=D4_PRICES) as kit:
        await open_group(kit, L_SYM, "100", "400", pyramids=5)
        await open_group(kit, W1_SYM, "100", "800")
        await open_group(kit, W2_SYM, "50", "250", pyramids=2)
        assert (await kit.core.pause(user="root")).ok
        for symbol, price in ((L_SYM, "94"), (W1_SYM, "110"), (W2_SYM, "55")):
            await kit.price(price, symbol)
        await trio.sleep(30)  # three interval cycles: eligible, but paused
        assert kit.core.risk.last_cycle["reason"] == "engine_paused"
        assert kit.core.risk.status == "blocked" and not actions(kit)
        with pytest.raises(RiskRefused) as paused:
            await kit.core.risk.run_now(force=True)
        assert (paused.value.status, paused.value.code) == (409, "engine_paused")
        assert (await kit.core.resume(user="root")).ok
        await trio.sleep(11)
        assert [a["outcome"] for a in actions(kit)] == ["executed"]


async def test_requests_during_a_cycle_make_one_follow_up(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        await d4_groups(kit)
        risk = kit.core.risk
        before = risk.cycles
        merged = risk.request("interval")
        assert risk.request("fill") is merged and risk.request("run_now") is merged
        assert merged.trigger == "run_now"  # the highest-ranked trigger names the cycle
        async with trio.open_nursery() as nursery:
            nursery.start_soon(merged.done.wait)
            while not risk.executor.watches:  # the action is executing: a close is outstanding
                await trio.sleep(0)
            follow = [risk.request("fill") for _ in range(5)]
            assert all(f is follow[0] for f in follow) and follow[0] is not merged
        await follow[0].done.wait()
        await kit.settle(5)
        # the executed cycle, then ONE follow-up for the five fills and the repeat rule
        assert risk.cycles == before + 2
        assert merged.result["outcome"] == "executed"
        assert follow[0].result["outcome"] == "idle"


async def test_d4b_realized_net_with_fees(tmp_path, autojump_clock):
    """0.1 % fees on the paper exchange: the plan grows to cover them (D4b) and the realized
    net of the executed offset is at least −(fees + one step of rounding)."""
    fees = paper_config(maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"))
    cfg = risk_config(risk=MANUAL, paper=fees)
    async with running(tmp_path / "e.db", cfg, prices=D4_PRICES, paper=fees) as kit:
        loser, w1, w2 = await d4_groups(kit)
        before = {g: state(kit, g).fees_paid for g in (loser, w1, w2)}
        cycle = await kit.core.risk.run_now()
        assert cycle["outcome"] == "executed"
        [a] = actions(kit)
        assert D(a["fees_est"]) == D("3.2355872")  # 0.001 × (1880 + 880 + 475.5872)
        assert [(w["group_id"], D(w["qty"])) for w in a["winners"]] == [
            (w1, D(8)), (w2, D("8.64712"))]  # D4b: 43.2356 / 5 rounded up to the step
        close_fees = sum(state(kit, g).fees_paid - before[g] for g in (loser, w1, w2))
        assert close_fees > 0
        one_step = D("0.00001") * D(55)
        net = D(a["realized_net"])
        assert net >= -(close_fees + one_step), (net, close_fees)
        assert sum(D(v) for v in a["realized"].values()) == net
