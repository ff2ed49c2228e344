"""The pool supervisor with real group actors, the real paper exchange and a real Store:
routing (SPEC 2.6/2.7), pool and queue (SPEC 6, V14/V15), operator actions, supervision."""

from decimal import Decimal as D

import msgspec

from engine.group.messages import TradeFilled
from engine.group.state import OrderRef
from engine.messages import ConfigChanged, SignalAccepted
from tests.actors.engine_kit import HOUR_MS, START_MS, config, running, signal


def pool(n: int, **more):
    return config(execution_pool={"max_open_groups": n, **more})


async def test_v14_pool_9_of_10_two_new_keys_one_opens_one_queued(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        for tf in range(1, 10):
            await kit.send(signal(timeframe=tf))
        assert kit.sup.used() == 9
        first = await kit.send(signal(timeframe=10))
        second = await kit.send(signal(timeframe=11))
        assert kit.inbox_row(first) == {"state": "processed", "outcome": "group 10 opened"}
        assert kit.inbox_row(second) == {"state": "queued", "outcome": "queued: pool_full"}
        assert kit.sup.used() == 10
        assert [(q["timeframe"], q["reason"]) for q in kit.queue()] == [(11, "pool_full")]
        entries = [o for o in kit.orders() if o["side"] == "buy"]
        assert len(entries) == 50  # ten ladders, nothing for the queued key


async def test_v15_pyramid_at_full_pool_uses_no_slot(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", pool(1)) as kit:
        await kit.send(signal())
        inbox_id = await kit.send(signal(ts_ms=START_MS + HOUR_MS, entry_price="99"))
        assert kit.inbox_row(inbox_id) == {"state": "processed",
                                           "outcome": "pyramid 1 sent to group 1"}
        assert kit.groups()[0]["pyramid_count"] == 2
        entries = [o for o in kit.orders() if o["side"] == "buy"]
        assert (kit.sup.used(), len(entries)) == (1, 10)


async def test_same_candle_repeat_is_a_duplicate(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        again = await kit.send(signal(ts_ms=START_MS + 60_000))  # same 1 h candle
        assert kit.inbox_row(again) == {"state": "duplicate", "outcome": (
            "duplicate entry signal: its time 2025-11-10T12:01:00Z falls in the same 60-minute "
            "candle as the group's latest entry (2025-11-10T12:00:00Z); a new pyramid needs a "
            "later candle")}
        assert kit.groups()[0]["pyramid_count"] == 1


async def test_replacement_raises_the_count_and_keeps_queued_at(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", pool(1)) as kit:
        await kit.send(signal())
        first = await kit.send(signal(timeframe=15))
        queued_at = kit.queue()[0]["queued_at"]
        for n in range(1, 5):  # V11: replaced 4 times, each in a later 15-minute candle
            await kit.settle(30)
            await kit.send(signal(timeframe=15, ts_ms=START_MS + n * 15 * 60_000,
                                  entry_price=str(100 - n)))
        entry = kit.queue()[0]
        assert (entry["replacement_count"], entry["queued_at"]) == (4, queued_at)
        assert entry["updated_at"] > queued_at and D(entry["reference_price"]) == 96
        assert kit.inbox_row(first)["outcome"] == "replaced by a newer signal"
        same = await kit.send(signal(timeframe=15, ts_ms=START_MS + 4 * 15 * 60_000 + 1))
        assert kit.inbox_row(same)["state"] == "duplicate"


async def test_exit_frees_the_slot_and_promotes_the_queue(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", pool(1)) as kit:
        await kit.send(signal())
        waiting = await kit.send(signal(timeframe=15))
        await kit.send(signal("exit", ts_ms=START_MS + 1))
        assert kit.inbox_row(waiting) == {"state": "processed", "outcome": "group 2 opened"}
        assert [(g["timeframe"], g["status"]) for g in kit.groups()] == \
            [(60, "closed"), (15, "partially_filled")]  # its DCA0 filled at 100 at once
        assert kit.queue() == [] and kit.sup.used() == 1


async def test_exit_drops_queued_entries_of_its_key(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", pool(1)) as kit:
        await kit.send(signal())
        waiting = await kit.send(signal(timeframe=15))
        exit_id = await kit.send(signal("exit", timeframe=15))
        assert kit.queue() == []
        assert kit.inbox_row(waiting)["outcome"] == "queued entry dropped by exit"
        assert kit.inbox_row(exit_id)["outcome"] == "queued entries dropped by exit"
        nothing = await kit.send(signal("exit", timeframe=240))
        assert kit.inbox_row(nothing)["outcome"] == "exit ignored: nothing live or queued"


async def test_refusals_are_visible_in_the_inbox(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        short = await kit.send(signal(side="short"))
        unknown = await kit.send(signal(symbol="NOPEUSDT"))
        small = await kit.send(signal(order_size="20"))  # 4 USDT a leg < min notional 5
        nosize = await kit.send(signal(order_size=None))
        assert kit.inbox_row(short) == {"state": "processed", "outcome":
                                        "ignored: short signals need a futures market type"}
        assert kit.inbox_row(unknown)["state"] == "rejected"
        assert "unknown symbol NOPEUSDT" in kit.inbox_row(unknown)["outcome"]
        assert kit.inbox_row(small)["state"] == "rejected"
        assert "min_notional" in kit.inbox_row(small)["outcome"]
        assert kit.inbox_row(nosize)["outcome"].startswith("rejected: no size")
        assert kit.groups() == [] and kit.orders() == []


async def test_pause_queues_entries_and_resume_promotes_them(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        assert (await kit.core.pause(user="admin")).ok
        paused = await kit.send(signal(timeframe=15))
        pyramid = await kit.send(signal(ts_ms=START_MS + HOUR_MS))
        assert kit.inbox_row(paused) == {"state": "queued", "outcome": "queued: engine_paused"}
        assert kit.inbox_row(pyramid)["outcome"] == "queued: engine_paused"
        await kit.send(signal("exit"))  # exits continue while paused (and drop tf 60's entry)
        assert kit.groups()[0]["status"] == "closed"
        assert kit.inbox_row(pyramid)["outcome"] == "queued entry dropped by exit"
        await kit.settle(20)  # the 10 s promotion pass leaves paused entries queued
        assert [q["reason"] for q in kit.queue()] == ["engine_paused"]
        assert (await kit.core.resume(user="admin")).ok
        await kit.settle()
        assert kit.queue() == []
        assert [(g["timeframe"], g["status"]) for g in kit.groups()] == \
            [(60, "closed"), (15, "partially_filled")]
        kinds = [r["kind"] for r in kit.store.query(
            "SELECT kind FROM journal WHERE kind LIKE 'Engine%' ORDER BY seq")]
        assert kinds == ["EnginePaused", "EngineResumed"]


async def test_queue_actions_promote_force_add_remove(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db", pool(1)) as kit:
        await kit.send(signal())
        await kit.send(signal(timeframe=15))
        await kit.send(signal(timeframe=30))
        ids = [q["id"] for q in kit.queue()]
        refused = await kit.core.queue_action(ids[0], "promote", user="admin")
        assert (refused.ok, refused.code, refused.message) == (False, "conflict", "pool_full")
        forced = await kit.core.queue_action(ids[0], "force_add", user="admin")
        assert forced.ok and kit.sup.used() == 2  # over the limit until slots free
        removed = await kit.core.queue_action(ids[1], "remove", user="admin")
        assert removed.ok and kit.queue() == []
        missing = await kit.core.queue_action(ids[1], "remove", user="admin")
        assert (missing.ok, missing.code) == (False, "not_found")


async def test_manual_close_and_its_refusals(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        assert (await kit.core.close_group(1, user="admin")).ok
        await kit.settle()
        assert kit.groups()[0]["close_reason"] == "manual"
        again = await kit.core.close_group(1, user="admin")
        assert (again.ok, again.code) == (False, "conflict")
        assert (await kit.core.close_group(99, user="admin")).code == "not_found"


async def test_hot_reload_raises_the_pool_and_promotes(tmp_path, autojump_clock):
    cfg = pool(1)
    async with running(tmp_path / "e.db", cfg) as kit:
        await kit.send(signal())
        await kit.send(signal(timeframe=15))
        bigger = msgspec.structs.replace(cfg, execution_pool=msgspec.structs.replace(
            cfg.execution_pool, max_open_groups=2))
        await kit.core.apply(ConfigChanged(version_id=1, config=bigger,
                                           changed=("execution_pool.max_open_groups",),
                                           restart_required=(), user="admin", applied_ms=0))
        await kit.settle()
        assert kit.queue() == [] and kit.sup.used() == 2


async def test_a_crashing_group_is_contained(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        await kit.send(signal(timeframe=15))
        resting = kit.open_orders()
        # an update naming a leg the group does not have: the reducer refuses it (a bug)
        kit.sup.directory.deliver(1, TradeFilled(ref=OrderRef(pyramid=7, leg=7, purpose="e", attempt=0),
                                       trade_id="x", price=D(1), qty=D(1), fee=D(0),
                                       fee_asset="USDT", ts_ms=0))
        await kit.settle()
        assert [r["key"] for r in kit.journal("GroupFailed")] == ["group:1"]
        refused = await kit.send(signal(ts_ms=START_MS + HOUR_MS))
        assert kit.inbox_row(refused)["state"] == "rejected"
        assert kit.open_orders() == resting  # its orders stay on the exchange
        other = await kit.send(signal(timeframe=15, ts_ms=START_MS + HOUR_MS))
        assert kit.inbox_row(other)["outcome"] == "pyramid 1 sent to group 2"


def futures(**pool_keys):
    return config(exchange={"market_type": "swap"},
                  execution_pool={"max_open_groups": 10, **pool_keys})


async def test_opposite_side_waits_until_the_group_is_closed(tmp_path, autojump_clock):
    from tests.actors.engine_kit import paper_config
    async with running(tmp_path / "e.db", futures(), paper=paper_config(hold_base=True),
                       hedge=True) as kit:
        await kit.send(signal())
        short = await kit.send(signal(side="short", ts_ms=START_MS + HOUR_MS))
        assert kit.inbox_row(short) == {"state": "queued", "outcome": "queued: opposite_side"}
        await kit.settle(30)  # promotion passes skip it while the long group lives
        assert [q["reason"] for q in kit.queue()] == ["opposite_side"]
        assert (await kit.core.close_group(1, user="admin")).ok  # (an exit would drop it)
        await kit.settle()
        assert [(g["side"], g["status"]) for g in kit.groups()] == \
            [("long", "closed"), ("short", "partially_filled")]
        assert ("sell", "100", "2") in [(o["side"], o["price"], o["quantity"])
                                         for o in kit.orders("filled")]


async def test_reverse_exits_then_the_entry_takes_the_freed_slot_first(tmp_path, autojump_clock):
    from tests.actors.engine_kit import paper_config
    async with running(tmp_path / "e.db", futures(max_open_groups=1),
                       paper=paper_config(hold_base=True), hedge=True) as kit:
        await kit.send(signal())
        waiting = await kit.send(signal(timeframe=15))  # queued first: pool_full
        rev = await kit.send(signal("reverse", side="short", ts_ms=START_MS + HOUR_MS))
        assert [(g["timeframe"], g["side"], g["status"]) for g in kit.groups()] == \
            [(60, "long", "closed"), (60, "short", "partially_filled")]
        assert kit.inbox_row(rev) == {"state": "processed", "outcome": "group 2 opened"}
        assert kit.inbox_row(waiting)["state"] == "queued"


async def test_reverse_to_short_on_spot_runs_the_exit_only(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        rev = await kit.send(signal("reverse", side="short", ts_ms=START_MS + HOUR_MS))
        assert [g["status"] for g in kit.groups()] == ["closed"]
        assert "short entry ignored" in kit.inbox_row(rev)["outcome"]


async def test_pyramids_sent_faster_than_the_actor_decides_get_their_own_indexes(
        tmp_path, autojump_clock):
    """The supervisor plans the next pyramid while the previous AddPyramid still waits in the
    actor's inbox (its state lags): the index must follow the one sent, not the state — and
    a same-candle repeat of the waiting one is a duplicate."""
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        ids = []
        for n, ts in enumerate((START_MS + HOUR_MS, START_MS + 2 * HOUR_MS,
                                START_MS + 2 * HOUR_MS + 60_000)):
            sig = signal(ts_ms=ts, entry_price=str(99 - n))
            _, inbox_id = await kit.inbox.accept(sig, "{}", "127.0.0.1", kit.clock.now_ms())
            kit.sup.inbox.send_nowait(SignalAccepted(inbox_id=inbox_id, received_ms=0,
                                                     source_ip=None, signal=sig))
            ids.append(inbox_id)
        await kit.settle()
        assert not kit.sup.directory.failed_keys
        outcomes = [kit.inbox_row(i)["outcome"] for i in ids]
        assert outcomes[:2] == ["pyramid 1 sent to group 1", "pyramid 2 sent to group 1"]
        assert outcomes[2].startswith("duplicate entry signal: ")
        assert kit.groups()[0]["pyramid_count"] == 3


async def test_an_operator_pause_survives_a_restart(tmp_path, autojump_clock):
    """A crash or restart must not silently resume trading that an operator paused."""
    db = tmp_path / "e.db"
    async with running(db) as kit:
        assert (await kit.core.pause(user="admin")).ok
    async with running(db) as kit:
        assert kit.core.supervisor.paused
        queued = await kit.send(signal())
        assert kit.inbox_row(queued) == {"state": "queued", "outcome": "queued: engine_paused"}
        assert (await kit.core.resume(user="admin")).ok
    async with running(db) as kit:
        assert not kit.core.supervisor.paused
        await kit.settle()
        assert kit.queue() == [] and kit.groups()[0]["status"] in ("live", "partially_filled")
