"""The risk actor's live views in the running engine: re-priced in place between cycles, they
always equal views built from nothing on the same states, prices, rules and flags, and the
cycle decides on them exactly as the pure core decides on such fresh views (SPEC 7.2-7.5)."""

from decimal import Decimal as D

import msgspec
import trio

from actors.market.prices import FRESH_PRICE_MS
from actors.risk.views import ViewCache
from engine.group import unrealized
from engine.risk import evaluate_cycle, panel_rows
from tests.actors.engine_kit import START_MS, running, signal
from tests.actors.risk_kit import L_SYM, W1_SYM, W2_SYM, d4_groups, risk_config, state

D4_PRICES = {L_SYM: "100", W1_SYM: "100", W2_SYM: "50"}
MANUAL = {"enable_post_full_wait": False, "evaluate_interval_sec": 86_400,
          "evaluate_on_fill": False}  # cycles only when the test asks


def fresh_views(kit, prices):
    """Views of the running groups built by a new cache: nothing carried over."""
    risk = kit.core.risk
    views = ViewCache().build(kit.sup.directory.groups.values(), prices, risk._rules,
                              blocked=risk.blocked, skip_once=risk.skip_once,
                              market_close=risk.settings.slippage_action == "warn")
    return [v.snapshot() for v in views]


def latest_prices(kit):
    return {s: p for s, (p, _) in kit.core.market.prices().items()}


async def check(kit):
    """Live views == fresh views == SPEC 3.5 PnL; the cycle's outcome == the core's on them."""
    risk = kit.core.risk
    prices = latest_prices(kit)
    live = [v.snapshot() for v in risk.latest_views()]
    fresh = fresh_views(kit, prices)
    assert live == fresh
    for v in live:
        assert (v.unrealized_usd, v.unrealized_percent) == unrealized(state(kit, v.id),
                                                                      prices[v.symbol])
    fee = risk.taker_fee_rate()
    assert panel_rows(risk.latest_views(), risk.settings, START_MS, taker_fee_rate=fee) == \
        panel_rows(fresh, risk.settings, START_MS, taker_fee_rate=fee)
    decision = await risk.evaluate("run_now")
    assert decision.outcome == evaluate_cycle(fresh, risk.settings, decision.at,
                                              taker_fee_rate=fee)
    if decision.loser is not None:
        assert decision.loser == next(v for v in fresh if v.id == decision.loser.id)
    return decision


async def test_live_views_follow_prices_flags_rules_and_states(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        risk = kit.core.risk
        first = await check(kit)
        assert first.outcome.loser_id == loser and first.loser.unrealized_usd == -120
        kept = first.loser
        for price, symbol in (("93", L_SYM), ("93", L_SYM), ("111.5", W1_SYM), ("54", W2_SYM),
                              ("95", L_SYM)):
            await kit.price(price, symbol)
            await check(kit)
        assert kept.price == 94 and kept.unrealized_usd == -120  # a snapshot never moves
        for group_id, op in ((w1, "block"), (loser, "skip-once"), (w1, "unblock"),
                             (loser, "block")):
            await risk.control(group_id, op)
            await check(kit)
        await risk.control(loser, "unblock")
        # another close order type changes the market rules of every view
        cfg = kit.sup.config
        kit.sup.reconfigure(msgspec.structs.replace(cfg, risk_engine=msgspec.structs.replace(
            cfg.risk_engine, slippage_action="reject")))
        await check(kit)
        kit.sup.reconfigure(cfg)
        # a new pyramid for W1: a new state, a new average
        await kit.price("100", W1_SYM)
        await kit.send(signal(symbol=W1_SYM, entry_price="100", order_size="400",
                              ts_ms=START_MS + 3_600_000))
        await kit.price("112", W1_SYM)
        assert state(kit, w1).pyramid_count == 2
        decision = await check(kit)
        assert decision.outcome.loser_id == loser
        # a group that ends leaves the views
        await kit.core.close_group(w2, user="root")
        await kit.settle()
        await check(kit)
        assert {v.id for v in risk.latest_views()} == {loser, w1}
        assert set(risk._views._cache) == {loser, w1}  # the ended group's view is forgotten


async def test_stale_prices_are_fetched_before_the_views_are_priced(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        market = kit.core.market
        await trio.sleep(FRESH_PRICE_MS / 1000 + 5)  # no price update since: all stale
        before = {s: market.price(s)[1] for s in (L_SYM, W1_SYM, W2_SYM)}
        decision = await check(kit)
        assert all(market.price(s)[1] > before[s] for s in before)  # fetched by the cycle
        assert decision.outcome.loser_id == loser and decision.unpriced == []


async def test_a_fetched_price_reprices_the_views(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", risk_config(risk=MANUAL), prices=D4_PRICES) as kit:
        loser, w1, w2 = await d4_groups(kit)
        risk = kit.core.risk
        assert [v.price for v in risk.latest_views() if v.id == w1] == [110]
        await trio.sleep(FRESH_PRICE_MS / 1000 + 5)
        kit.paper.book.prices[W1_SYM] = D(120)  # the exchange moved; no stream update reached us
        decision = await risk.evaluate("run_now")
        assert kit.core.market.price(W1_SYM)[0] == 120
        fresh = fresh_views(kit, latest_prices(kit))
        assert decision.outcome == evaluate_cycle(
            fresh, risk.settings, decision.at, taker_fee_rate=risk.taker_fee_rate())
        assert [(s.group_id, s.price, s.estimated_usd) for s in decision.outcome.steps][0] == \
            (w1, 120, 120)  # 6 of its 8 at +20 cover the 120
