"""The engine clock: the one ``now_ms()`` every actor passes to ``engine/`` as its time input.

Owns: the current engine time in UTC epoch milliseconds (in feed mode: the newest feed time).
Receives: ``advance(ts_ms)`` from the CSV replay (``paper_feed.run_csv_feed(clock=...)``) and
``on_feed_time(ts_ms)`` from the stream actor for every price event (API-pushed prices too) when
``exchange.paper.clock = "feed"``.
Sends: nothing; readers call ``now_ms()``.
Fails how: never raises; an older feed timestamp is ignored, so timers only ever see time moving
forward (the replay itself shifts a looping pass past the previous one).

Decision (wall mode): production reads the real wall clock (``time.time_ns``) at every call, so
engine time stays comparable with TradingView's and the exchange's timestamps even when NTP
steps the system clock. Tests that drive timers with trio's ``MockClock`` build the clock with
``EngineClock.following_trio(start_ms)``: wall time is then ``start_ms`` plus the trio clock's
elapsed time, so virtual sleeps move engine time exactly as far as they move trio's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import trio

from actors.store.writer import wall_clock_ms

ClockMode = Literal["wall", "feed"]


class EngineClock:
    def __init__(self, mode: ClockMode = "wall", *, wall_ms: Callable[[], int] = wall_clock_ms):
        self.mode = mode
        self._wall_ms = wall_ms
        self._feed_ms: int | None = None  # newest feed timestamp seen

    @classmethod
    def following_trio(cls, start_ms: int, mode: ClockMode = "wall") -> EngineClock:
        """Wall time that advances with ``trio.current_time()`` (call inside ``trio.run``)."""
        origin = trio.current_time()
        return cls(mode, wall_ms=lambda: start_ms + int((trio.current_time() - origin) * 1000))

    def now_ms(self) -> int:
        if self.mode == "feed" and self._feed_ms is not None:
            return self._feed_ms
        # feed mode before the first price event: wall time (nothing time-based exists yet)
        return self._wall_ms()

    def on_feed_time(self, ts_ms: int) -> None:
        """A price event's feed timestamp (paper exchange, ``clock = "feed"``)."""
        if self._feed_ms is None or ts_ms > self._feed_ms:
            self._feed_ms = ts_ms

    advance = on_feed_time  # the name ``paper_feed.run_csv_feed`` calls

    def wall_ms(self) -> int:
        """Real (or trio-following) wall time regardless of mode: for logs and rate limits."""
        return self._wall_ms()
