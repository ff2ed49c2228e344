"""The analytics roll-ups through the running trading side (real Store, real paper exchange with
fees): every step books what it realized, in its own transaction; equity is snapshotted every
5 minutes and at the day boundary of ``app.timezone``; a rebuild from the record gives the same
rows as the incremental updates."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from actors.analytics import rebuild, rows
from engine.analytics.rollup import Bucket
from tests.actors.engine_kit import HOUR_MS, START_MS, config, paper_config, running, signal

TZ = "Asia/Tokyo"  # START_MS is 21:00 in Tokyo: the local day ends three hours later
MIDNIGHT_MS = START_MS + 3 * HOUR_MS
FIVE_MIN = 300_000
_bucket = msgspec.json.Decoder(Bucket).decode


def rollup_rows(store) -> dict:
    return {(r["period"], r["period_start"], r["dimension"], r["dim_value"]):
            _bucket(r["metrics"]) for r in store.query("SELECT * FROM trade_analytics")}


def day_rows(store) -> dict:
    return {r["day"]: {k: v for k, v in r.items() if k != "updated_at"}
            for r in store.query("SELECT * FROM daily_stats")}


def snapshot_rows(store) -> list:
    return store.query("SELECT * FROM equity_snapshots ORDER BY ts")


async def trade_through_midnight(kit) -> None:
    await kit.send(signal())  # LTCUSDT 60, the D2 ladder from 100
    await kit.price("99.4")  # DCA0, DCA1 fill (maker fee 0.1 %)
    await kit.price("100")  # DCA1's TP at 99.99 fills: a realization before the close
    await kit.send(signal("reduce", ts_ms=START_MS + 60_000, order_size="50"))  # partial
    await kit.settle(HOUR_MS / 1000)
    await kit.send(signal("exit", ts_ms=START_MS + HOUR_MS + 60_000))  # closes on the 10th
    await kit.send(signal(timeframe=15, ts_ms=START_MS + 2 * HOUR_MS))
    await kit.price("98.9")
    await kit.settle(2 * HOUR_MS / 1000)  # past Tokyo's midnight
    await kit.send(signal("exit", timeframe=15, ts_ms=MIDNIGHT_MS + HOUR_MS))  # closes on 11th
    await kit.settle(600)


async def test_rollups_follow_every_step_and_a_rebuild_gives_the_same_rows(
        tmp_path, autojump_clock):
    cfg = config(app={"timezone": TZ})
    fees = paper_config(maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"))
    async with running(tmp_path / "e.db", cfg, paper=fees) as kit:
        await trade_through_midnight(kit)
        store = kit.store
        groups = store.query("SELECT id, status, realized_pnl FROM position_groups")
        assert [g["status"] for g in groups] == ["closed", "closed"]
        # every group's realizations add up to its realized PnL, fee by fee
        for g in groups:
            fills = store.query("SELECT realized FROM fills WHERE group_id = ?", (g["id"],))
            adjustments = store.query("SELECT amount FROM pnl_adjustments WHERE group_id = ?",
                                      (g["id"],))
            booked = sum((D(f["realized"]) for f in fills), D(0)) + sum(
                (D(a["amount"]) for a in adjustments), D(0))
            assert booked == D(g["realized_pnl"]) and len(fills) >= 4
        incremental = rollup_rows(store)
        total = sum((D(g["realized_pnl"]) for g in groups), D(0))
        every = incremental[("all", "*", "all", "*")]
        assert every.realized == total == every.trade_pnl and every.trades == 2
        assert store.query("SELECT count(*) AS n FROM closed_trades WHERE strategy = 'a'"
                           )[0]["n"] == 2  # alert_name of the first signal
        days = day_rows(store)
        assert set(days) == {"2025-11-10", "2025-11-11"}
        assert (days["2025-11-10"]["trades_closed"], days["2025-11-11"]["trades_closed"]) == (1, 1)
        assert days["2025-11-10"]["fills"] + days["2025-11-11"]["fills"] == \
            store.query("SELECT count(*) AS n FROM fills")[0]["n"]
        # snapshots: every 5 minutes of engine time, the boundary among them
        snaps = snapshot_rows(store)
        times = [s["ts"] for s in snaps]
        assert all(b - a == FIVE_MIN for a, b in zip(times, times[1:]))
        assert times[0] <= START_MS + FIVE_MIN and times[-1] > MIDNIGHT_MS + FIVE_MIN
        boundary = [s for s in snaps if s["day_boundary"]]
        assert [s["ts"] for s in boundary] == [MIDNIGHT_MS]
        assert days["2025-11-10"]["finalised"] == 1 and days["2025-11-11"]["finalised"] == 0
        assert days["2025-11-10"]["end_equity"] == boundary[0]["total_equity"] == \
            days["2025-11-11"]["start_equity"]
        c0 = D(store.meta_get("capital_base_usd"))
        assert c0 == D(100_000)
        assert D(snaps[-1]["realized_equity"]) == c0 + total == D(snaps[-1]["total_equity"])
        before_rebuild = (incremental, days, snapshot_rows(store))
        counts = store.write_now(lambda conn: rebuild.rebuild(conn, rows.zone(TZ), TZ,
                                                              kit.clock.now_ms()))
        assert counts["trades"] == 2
        assert (rollup_rows(store), day_rows(store), snapshot_rows(store)) == before_rebuild


async def test_engine_analytics_rebuild_restores_the_rows_and_refuses_a_running_engine(
        tmp_path, autojump_clock, capsys):
    from actors.runtime.datadir_lock import DataDirLock
    from actors.settings.config_edit import set_values
    from engine.config import DEFAULT_TOML
    from ops.cli import main

    config_path = tmp_path / "engine.toml"
    config_path.write_text(set_values(DEFAULT_TOML, {"app.timezone": TZ,
                                                     "app.data_dir": str(tmp_path / "data")}))
    fees = paper_config(maker_fee_percent=D("0.1"), taker_fee_percent=D("0.1"))
    async with running(tmp_path / "data" / "engine.db", config(app={"timezone": TZ}),
                       paper=fees) as kit:
        await trade_through_midnight(kit)
        kept = (rollup_rows(kit.store), day_rows(kit.store), snapshot_rows(kit.store))
        kit.store.write_now(lambda conn: conn.execute("DELETE FROM trade_analytics"))
        kit.store.write_now(lambda conn: conn.execute("UPDATE daily_stats SET fills = 0"))
        lock = DataDirLock(tmp_path / "data")
        assert lock.acquire()  # as a running engine holds it
        assert main(["analytics", "rebuild", "--config", str(config_path)]) == 1
        assert "the engine is running" in capsys.readouterr().err
        lock.release()
        assert main(["analytics", "rebuild", "--config", str(config_path)]) == 0
        assert "2 closed trade(s)" in capsys.readouterr().out
        assert (rollup_rows(kit.store), day_rows(kit.store), snapshot_rows(kit.store)) == kept


async def test_snapshots_after_a_stop_invent_no_history(tmp_path, autojump_clock):
    """Wall clock: a check finds the engine was stopped for three days — only today's start
    (day_boundary 2, no end for the day before) and the latest 5-minute mark are recorded."""
    import trio

    from actors.analytics.snapshots import EquitySnapshots
    from actors.store.writer import Store

    store = Store.open(tmp_path / "e.db")
    now = [START_MS + 2 * FIVE_MIN + 1_000]  # 12:10:01 UTC
    store.meta_set("capital_base_usd", "1000")
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            snaps = EquitySnapshots(store=store, config=lambda: config(), now_ms=lambda: now[0],
                                    feed_mode=False, prices=dict)
            await nursery.start(snaps.run)
            await trio.sleep(2)
            now[0] += 3 * 24 * HOUR_MS + 7 * HOUR_MS  # back three days and 7 hours later
            await trio.sleep(2)
            now[0] += FIVE_MIN
            await trio.sleep(2)
            nursery.cancel_scope.cancel()
        found = [(r["ts"] - START_MS, r["day_boundary"]) for r in snapshot_rows(store)]
        days = day_rows(store)
    finally:
        store.close()
    later = 3 * 24 * HOUR_MS + 7 * HOUR_MS
    assert found == [(2 * FIVE_MIN, 0),  # 12:10 UTC, the first check
                     (3 * 24 * HOUR_MS - 12 * HOUR_MS, 2),  # 2025-11-13 00:00 UTC: a start
                     (later + 2 * FIVE_MIN, 0), (later + 3 * FIVE_MIN, 0)]
    assert days == {"2025-11-13": {**days["2025-11-13"], "start_equity": "1000",
                                   "end_equity": None, "finalised": 0}}


def test_the_sql_strategy_label_is_the_definitions_one():
    import json
    import sqlite3

    from actors.analytics.facts import LABEL_SQL
    from engine.analytics.definitions import UNLABELLED, strategy_label

    conn = sqlite3.connect(":memory:")
    for signal in ({"alert_name": " BTC Long ", "trade_id": "7"}, {"alert_name": "", "trade_id":
                   "7"}, {"alert_name": "  ", "trade_id": " 9 "}, {"trade_id": ""}, {}, None):
        text = None if signal is None else json.dumps(signal)
        found = conn.execute(f"SELECT {LABEL_SQL} FROM (SELECT ? AS first_signal)",
                             (text,)).fetchone()[0]
        assert (found or UNLABELLED) == strategy_label(signal), signal
