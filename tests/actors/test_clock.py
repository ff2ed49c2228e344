"""The engine clock: wall time, trio-following time under MockClock, the paper feed's time."""

import time

import trio

from actors.runtime.clock import EngineClock


def test_wall_clock_reads_the_real_time():
    before = time.time_ns() // 1_000_000
    now = EngineClock().now_ms()
    assert before <= now <= time.time_ns() // 1_000_000


async def test_following_trio_moves_with_virtual_sleeps(autojump_clock):
    clock = EngineClock.following_trio(1_700_000_000_000)
    assert clock.now_ms() == 1_700_000_000_000
    await trio.sleep(3600)
    assert clock.now_ms() == 1_700_000_000_000 + 3_600_000


async def test_feed_clock_follows_the_feed_and_never_runs_backwards(autojump_clock):
    clock = EngineClock.following_trio(1_700_000_000_000, mode="feed")
    assert clock.now_ms() == 1_700_000_000_000  # no feed event yet: wall time
    clock.on_feed_time(1_600_000_000_000)
    assert clock.now_ms() == 1_600_000_000_000
    clock.on_feed_time(1_600_000_300_000)
    await trio.sleep(50)  # wall time passing does not move a feed clock
    assert clock.now_ms() == 1_600_000_300_000
    assert clock.wall_ms() == 1_700_000_050_000
    # an older stamp (an API push behind the replay) never moves engine time back
    clock.on_feed_time(1_600_000_000_000)
    assert clock.now_ms() == 1_600_000_300_000
    clock.advance(1_600_000_360_000)  # the CSV replay's name for it
    assert clock.now_ms() == 1_600_000_360_000


def test_wall_mode_ignores_feed_times():
    clock = EngineClock("wall", wall_ms=lambda: 42)
    clock.on_feed_time(7)
    assert clock.now_ms() == 42
