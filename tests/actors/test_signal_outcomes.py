"""A signal's inbox outcome follows its life: a queued entry held back for another reason after
a resume says so, in the same transaction as its queue row; a refused ladder says which leg
fails by how much and the smallest order size that passes."""

from tests.actors.engine_kit import config, running, signal


async def test_after_a_resume_the_inbox_says_what_holds_the_entry_now(tmp_path, autojump_clock):
    cfg = config(execution_pool={"max_open_groups": 1})
    async with running(tmp_path / "engine.db", cfg) as kit:
        opened = await kit.send(signal(timeframe=60))
        assert kit.inbox_row(opened)["outcome"].startswith("group ")
        assert (await kit.core.pause(user="admin")).ok
        waiting = await kit.send(signal(timeframe=15))  # another key: it needs a pool slot
        assert kit.inbox_row(waiting) == {"state": "queued", "outcome": "queued: engine_paused"}
        assert (await kit.core.resume(user="admin")).ok
        await kit.settle(15)  # the promotion pass after the resume finds the pool full
        assert [q["reason"] for q in kit.queue()] == ["pool_full"]
        assert kit.inbox_row(waiting) == {"state": "queued", "outcome": "queued: pool_full"}


async def test_a_refused_ladder_gives_the_numbers_and_the_size_that_passes(tmp_path,
                                                                          autojump_clock):
    async with running(tmp_path / "engine.db") as kit:
        # 20 USDT over the five-leg default ladder: 4 USDT legs, LTCUSDT's minimum is 5 USDT
        refused = await kit.send(signal(order_size="20"))
        row = kit.inbox_row(refused)
        assert row["state"] == "rejected"
        assert row["outcome"].startswith("rejected: DCA0 fails min_notional: it would be 4.00 "
                                         "USDT, below the 5.00 USDT minimum (short by 1.00)")
        minimum = row["outcome"].rsplit("an order_size of at least ", 1)[1].split()[0]
        assert row["outcome"].endswith(f"{minimum} USDT would pass")
        passes = await kit.send(signal(order_size=minimum, ts_ms=3_600_000 + 1_762_776_000_000))
        assert kit.inbox_row(passes)["outcome"].startswith("group ")
