"""Signal → ladder → fills → TPs → close, through the running trading side (real Store, real
paper exchange), including a restart from the same database in the middle of a trade."""

from collections import Counter
from decimal import Decimal as D

from tests.actors.engine_kit import HOUR_MS, START_MS, config, running, signal


def _cids(kit) -> Counter:
    return Counter(o["client_order_id"] for o in kit.paper.state()["orders"])


async def test_every_leg_hits_its_tp_and_the_group_closes(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", config(execution_pool={"max_open_groups": 1})) as kit:
        await kit.send(signal())
        waiting = await kit.send(signal(timeframe=15))
        await kit.price("97.9")  # every leg fills: DCA4 at 98.00 is the last
        assert sorted(o for o in kit.open_orders() if o[0] == "sell") == sorted([
            ("sell", "101", "2"), ("sell", "99.99", "2.01"), ("sell", "100.98", "2.02"),
            ("sell", "99.97", "2.03"), ("sell", "98.98", "2.04")])
        await kit.price("101")  # every TP is reached
        group = kit.groups()[0]
        assert (group["status"], group["close_reason"]) == ("closed", "all_legs_tp")
        trade = kit.store.query("SELECT realized_pnl, legs_filled FROM closed_trades")[0]
        # Σ (tp − fill) × qty over the five lots of D2
        expected = (D("1") * 2 + D("0.49") * D("2.01") + D("1.98") * D("2.02")
                    + D("1.47") * D("2.03") + D("0.98") * D("2.04"))
        assert (D(trade["realized_pnl"]), trade["legs_filled"]) == (expected, 5)
        assert kit.inbox_row(waiting) == {"state": "processed", "outcome": "group 2 opened"}


async def test_restart_restores_groups_and_trading_continues_without_duplicates(
        tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    async with running(db) as kit:
        await kit.send(signal())
        await kit.price("99.4")  # DCA0, DCA1 filled; TPs rest
        before = kit.sup.directory.groups[1].state
        orders_before = _cids(kit)
    async with running(db, prices={"LTCUSDT": "99.4"}) as kit:
        assert kit.sup.directory.groups[1].state == before  # restored from the state column
        assert _cids(kit) == orders_before  # nothing re-sent at start
        await kit.price("99.99")  # DCA1's TP
        await kit.price("97.9")  # DCA2..4 fill, their TPs are placed
        assert len([o for o in kit.open_orders() if o[0] == "sell"]) == 4
        later = await kit.send(signal(ts_ms=START_MS + HOUR_MS, entry_price="97.9"))
        assert kit.inbox_row(later)["outcome"] == "pyramid 1 sent to group 1"
        await kit.send(signal("exit", ts_ms=START_MS + HOUR_MS + 1))
        assert kit.groups()[0]["status"] == "closed"
        assert kit.open_orders() == []
        cids = _cids(kit)
        assert max(cids.values()) == 1  # no client order id was ever used twice
        recorded = {r["client_order_id"] for r in kit.store.query(
            "SELECT client_order_id FROM orders")}
        assert recorded == set(cids)  # every order the exchange saw was recorded first
        fills = kit.store.query("SELECT trade_id FROM fills")
        assert sorted(f["trade_id"] for f in fills) == sorted(
            t["trade_id"] for t in kit.paper.state()["trades"])
        assert kit.paper.state()["balances"]["LTC"] == {"free": "0", "locked": "0"}


async def test_a_fill_while_the_engine_was_down_is_booked_at_start(tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    async with running(db) as kit:
        await kit.send(signal())  # DCA0 filled at 100; its TP rests at 101
    # the engine is down; the market trades through DCA1 (99.50) and DCA0's TP stays
    async with running(db, prices={"LTCUSDT": "99.4"}) as kit:
        state = kit.sup.directory.groups[1].state
        assert state.leg(0, 1).filled_qty == D("2.01")  # booked by start-up reconciliation
        assert ("sell", "99.99", "2.01") in kit.open_orders()  # and its TP placed
        assert max(_cids(kit).values()) == 1


async def test_the_handle_drives_the_core_pending_signals_first(tmp_path, autojump_clock):
    import trio

    from actors.runtime.clock import EngineClock
    from actors.settings.config_store import ConfigStore
    from actors.runtime.core import run_core
    from actors.exchange.paper import PaperExchange
    from actors.handle import ActionRefused, EngineHandle
    from actors.settings.secrets import SecretStore
    from actors.store.writer import Store
    from engine.config import DEFAULT_TOML
    from engine.masking import Masker
    from tests.actors.engine_kit import paper_config

    path = tmp_path / "engine.toml"
    path.write_text(DEFAULT_TOML)
    config_store = ConfigStore(path)
    cfg = config_store.load()
    store = Store.open(tmp_path / "e.db")
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock.following_trio(START_MS)
            handle = EngineHandle(store=store, config_store=config_store,
                                  secrets=SecretStore(tmp_path, cfg.security), masker=Masker(),
                                  clock_ms=clock.now_ms)
            paper = PaperExchange(db=store, config=paper_config(), clock_ms=clock.now_ms)
            await paper.push_price("LTCUSDT", D("100"))
            # accepted during start-up: in the inbox table AND on the live channel
            _, first = await handle.accept(signal(), "{}", None, clock.now_ms())
            assert handle.status == "starting"
            await nursery.start(lambda task_status: run_core(
                config=cfg, store=store, handle=handle, secrets=handle.secrets, clock=clock,
                port=paper, task_status=task_status))
            assert handle.status == "running"
            await trio.sleep(1)
            assert store.query("SELECT state, outcome FROM inbox WHERE id = ?", (first,)) == \
                [{"state": "processed", "outcome": "group 1 opened"}]
            assert len(store.query("SELECT id FROM position_groups")) == 1  # taken once
            await handle.pause(user="admin")
            assert handle.status == "paused"
            await handle.resume(user="admin")
            assert (await handle.close_group(1, user="admin"))["ok"]
            await trio.sleep(1)
            try:
                await handle.close_group(1, user="admin")
                raise AssertionError("a closed group cannot be closed again")
            except ActionRefused as refused:
                assert refused.code == "conflict"
            assert handle.views.groups(status="closed")["groups"][0]["id"] == 1
            nursery.cancel_scope.cancel()
    finally:
        store.close()
