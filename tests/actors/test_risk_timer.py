"""SPEC 7.3 / 13 D7 through the running engine: the group actor keeps the timer, the risk actor
judges eligibility — a loser becomes eligible exactly when the spec says, and the first cycle
after that acts on it (no winners here, so the action is an ``insufficient`` record).

Times are driven by trio's MockClock in steps of 0.5 s, so engine milliseconds stay exact."""

from decimal import Decimal as D

import trio

from tests.actors.engine_kit import START_MS, running, signal
from tests.actors.risk_kit import L_SYM, actions, open_group, risk_config, state

MIN = 60_000
HOUR = 60 * MIN


async def until(kit, engine_ms: int) -> None:
    await trio.sleep((engine_ms - kit.clock.now_ms()) / 1000)


def row(kit, group_id: int) -> dict | None:
    found = [r for r in kit.core.risk.panel()["groups"] if r["group_id"] == group_id]
    return found[0] if found else None


async def assert_eligible_from(kit, group_id: int, eligible_ms: int, waiting: str) -> None:
    """Not eligible 0.5 s before ``eligible_ms`` (failing only ``waiting``); eligible from it;
    the risk actor's first record for the loser falls in the first interval after it."""
    await until(kit, eligible_ms - 500)
    r = row(kit, group_id)
    assert r["failures"] == [waiting], r
    assert not actions(kit)
    await until(kit, eligible_ms)
    assert row(kit, group_id)["eligible"]
    await until(kit, eligible_ms + 10_500)
    [first] = actions(kit)
    assert (first["loser"]["group_id"], first["outcome"]) == (group_id, "insufficient")
    assert eligible_ms <= first["ts"] <= eligible_ms + 10_000


async def test_d7_after_5_pyramids_eligible_60_minutes_after_the_fifth(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(), prices={L_SYM: "100"}) as kit:
        loser = await open_group(kit, L_SYM, "100", "400", pyramids=4)
        fifth_at = kit.clock.now_ms()
        await kit.send(signal(symbol=L_SYM, entry_price="100", order_size="400",
                              ts_ms=START_MS + 4 * HOUR))
        started = state(kit, loser).timer_started_at_ms
        assert fifth_at <= started <= fifth_at + 500
        await kit.price("94", L_SYM)
        assert row(kit, loser)["timer_remaining_ms"] == started + HOUR - kit.clock.now_ms()
        await assert_eligible_from(kit, loser, started + HOUR, "timer_waiting")


async def test_d7_replacement_pyramid_restarts_a_running_timer(tmp_path, autojump_clock):
    cfg = risk_config(risk={"reset_timer_on_replacement": True})
    async with running(tmp_path / "e.db", cfg, prices={L_SYM: "100"}) as kit:
        loser = await open_group(kit, L_SYM, "100", "400", pyramids=5)
        started = state(kit, loser).timer_started_at_ms
        await kit.price("94", L_SYM)
        await until(kit, started + 40 * MIN)
        replaced_at = kit.clock.now_ms()
        await kit.send(signal(symbol=L_SYM, entry_price="94", order_size="400",
                              ts_ms=START_MS + 5 * HOUR))
        s = state(kit, loser)
        assert s.pyramid_count == 5 and s.open_qty == D(20)  # ignored: the group is full
        restarted = s.timer_started_at_ms
        assert replaced_at <= restarted <= replaced_at + 500
        await until(kit, started + HOUR + 30_000)  # the original hour has passed: still waiting
        assert row(kit, loser)["failures"] == ["timer_waiting"] and not actions(kit)
        await assert_eligible_from(kit, loser, restarted + HOUR, "timer_waiting")


async def test_d7_after_all_dca_filled_clears_on_a_new_pyramid(tmp_path, autojump_clock):
    cfg = risk_config(risk={"timer_start_condition": "after_all_dca_filled",
                            "require_full_pyramids": False})
    async with running(tmp_path / "e.db", cfg, prices={L_SYM: "101"}) as kit:
        loser = await open_group(kit, L_SYM, "100", "400", pyramids=2)  # both rest at 100
        assert state(kit, loser).timer_started_at_ms is None
        await until(kit, START_MS + 30 * MIN)
        await kit.price("100", L_SYM)  # every leg filled: the timer starts
        first = state(kit, loser).timer_started_at_ms
        assert START_MS + 30 * MIN <= first <= START_MS + 30 * MIN + 500
        await until(kit, START_MS + 50 * MIN)
        await kit.send(signal(symbol=L_SYM, entry_price="99", order_size="400",
                              ts_ms=START_MS + 2 * HOUR))  # a third pyramid: cleared
        assert state(kit, loser).timer_started_at_ms is None
        await until(kit, START_MS + 70 * MIN)
        await kit.price("99", L_SYM)  # its leg fills: the timer restarts
        restarted = state(kit, loser).timer_started_at_ms
        assert START_MS + 70 * MIN <= restarted <= START_MS + 70 * MIN + 500
        await kit.price("94", L_SYM)
        assert D(row(kit, loser)["loss_percent"]) <= D(-5)
        await assert_eligible_from(kit, loser, restarted + HOUR, "timer_waiting")


async def test_after_all_dca_submitted_starts_on_acceptance(tmp_path, autojump_clock):
    cfg = risk_config(risk={"timer_start_condition": "after_all_dca_submitted",
                            "require_full_pyramids": False})
    async with running(tmp_path / "e.db", cfg, prices={L_SYM: "101"}) as kit:
        sent_at = kit.clock.now_ms()
        loser = await open_group(kit, L_SYM, "100", "400")  # rests at 100: accepted, open
        first = state(kit, loser).timer_started_at_ms
        assert sent_at <= first <= sent_at + 500
        await until(kit, START_MS + 30 * MIN)
        second_at = kit.clock.now_ms()
        await kit.send(signal(symbol=L_SYM, entry_price="100", order_size="400",
                              ts_ms=START_MS + HOUR))  # cleared, restarted once accepted
        restarted = state(kit, loser).timer_started_at_ms
        assert second_at <= restarted <= second_at + 500
        await kit.price("94", L_SYM)
        await assert_eligible_from(kit, loser, restarted + HOUR, "timer_waiting")


async def test_age_filter_counts_from_group_creation(tmp_path, autojump_clock):
    cfg = risk_config(risk={"use_trade_age_filter": True, "age_threshold_minutes": 200,
                            "require_full_pyramids": False, "enable_post_full_wait": False,
                            "timer_start_condition": "after_all_dca_filled"})
    async with running(tmp_path / "e.db", cfg, prices={L_SYM: "100"}) as kit:
        loser = await open_group(kit, L_SYM, "100", "400")
        await kit.price("94", L_SYM)
        s = state(kit, loser)
        assert s.timer_started_at_ms is not None  # the wait is disabled: running suffices
        await assert_eligible_from(kit, loser, s.created_at_ms + 200 * MIN, "too_young")
        assert row(kit, loser)["age_filter_passed"] is True
