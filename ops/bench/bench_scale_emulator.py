"""Benchmark: the ``scale`` scenario (``bench_scale.py``) on ``exchange.name = "binance"``: the
engine trades through the ccxt adapter and Binance's websocket streams against the loopback
emulator in its own process (``ops.bench.timed_emulator``). 1,000 open groups and 25,000 orders
resting on the emulator with ~1,000 price updates per second — RSS (target ≤ 500 MB) and CPU
(≤ 50 % of one core) of the engine process — and a restart with those groups until signals
are processed again (≤ 3 s).

``python -m ops.bench.bench_scale_emulator``:

1. The emulator serves ``bench_scale``'s markets (125 synthetic USDT symbols with LTCUSDT's
   filters; ``$BENCH_EMULATOR_EXCHANGE_INFO``) with ``BIG_LIMITS``; every symbol at 100.5.
2. ``engine run`` receives 5,000 webhooks (an entry and four pyramids for each of 1,000 keys,
   each a 5-leg ladder resting at 90 and below) until the emulator holds 25,000 open orders.
3. A feed thread in this process moves prices through ``POST /_emulator/prices``: every
   ``STEP_S`` one request with ``RATE × STEP_S`` moves, round-robin over the symbols, within
   100–101 (never reaching an order); the emulator pushes each as a ``<symbol>@miniTicker``
   frame to the engine's combined market stream, as Binance would.
4. The engine is stopped (SIGTERM) and started again with the feed running; restart time =
   process start → a probe webhook sent as soon as the port answers has been processed
   (``bench_scale.restart``).
5. After the start-up catch-up (the journal still, then ``SETTLE_S`` for the stream's REST
   catch-ups), over ``WINDOW_S``: the engine's RSS (VmRSS, peak, VmHWM) and CPU
   (utime + stime) from /proc, and the updates actually achieved: moves applied by the
   emulator and ticker frames written to the engine's market websocket (``/_bench/tickers``),
   per second, and the peak of bytes left unread in the sockets from the emulator (the engine
   keeps up if it stays small). The feed, the emulator and the engine share the machine's
   cores, so the achieved rate is reported, not assumed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ops.bench.bench_scale import (
    PYRAMIDS,
    TEMPLATE,
    TIMEFRAMES,
    WINDOW_S,
    _journal_quiet,
    restart,
    send_entries,
    symbols,
    write_markets,
)
from ops.bench.daemon import BIG_LIMITS, Daemon, TimedEmulator
from ops.bench.timed_emulator import INFO_ENV

RATE = 1_000  # price updates per second asked of the feed
STEP_S = 0.1
SETTLE_S = 5.0
RESTING = len(symbols()) * len(TIMEFRAMES) * PYRAMIDS * 5


class PriceFeed(threading.Thread):
    """``RATE`` moves per second into the emulator on a fixed schedule (a late step is sent at
    once; more than a second behind, the schedule restarts rather than bursting)."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self._http = httpx.Client(base_url=base, timeout=30)
        self._halt = threading.Event()
        self.applied = 0
        self.error: Exception | None = None

    def run(self) -> None:
        names, per_step = symbols(), int(RATE * STEP_S)
        n, due = 0, time.monotonic()
        try:
            while not self._halt.is_set():
                moves = []
                for i in range(n, n + per_step):
                    k = i % len(names)
                    moves.append((names[k], f"{100 + (i // len(names) + k) % 100 / 100:.2f}"))
                n += per_step
                r = self._http.post("/_emulator/prices", json={"prices": moves})
                r.raise_for_status()
                self.applied += r.json()["applied"]
                due += STEP_S
                now = time.monotonic()
                if now - due > 1.0:
                    due = now
                self._halt.wait(max(0.0, due - now))
        except Exception as e:  # reported by the benchmark, which then fails
            self.error = e
        finally:
            self._http.close()

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(30)


def start_emulator(markets: Path) -> TimedEmulator:
    os.environ[INFO_ENV] = str(markets)  # TimedEmulator starts the module with our environment
    try:
        emu = TimedEmulator().start()
    finally:
        os.environ.pop(INFO_ENV, None)
    emu.reset(rate_limits=BIG_LIMITS)
    emu.prices([(name, "100.5") for name in symbols()] + [(TEMPLATE, "100")])
    return emu


def build(daemon: Daemon, emu: TimedEmulator) -> float:
    """Send the 5,000 webhooks; return the seconds until the emulator holds every order."""
    started = time.monotonic()
    send_entries(daemon)
    deadline = time.monotonic() + 900
    while (resting := emu.stats()["open_orders"]) < RESTING:
        daemon.alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {resting} of {RESTING} orders rest on the emulator")
        time.sleep(1.0)
    return time.monotonic() - started


def tickers_sent(emu: TimedEmulator) -> int:
    return httpx.get(f"{emu.base}/_bench/tickers").json()["sent"]


def unread_bytes(emu: TimedEmulator) -> int:
    """Bytes waiting in the receive queues of the sockets connected to the emulator (the
    engine's, and this process's which read at once): a growing figure means the engine does
    not keep up with the tickers the emulator sends (the kernel's buffers hide it a while)."""
    port = int(emu.base.rsplit(":", 1)[1])
    total = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[3] == "01":  # established
            total += int(fields[4].split(":")[1], 16)
    return total


def measure(daemon: Daemon, emu: TimedEmulator, feed: PriceFeed) -> dict[str, float]:
    assert daemon.proc is not None
    settled = _journal_quiet(daemon)
    time.sleep(SETTLE_S)  # the stream's REST catch-ups after the probe's new symbol
    if emu.stats()["market_ws"] < 1:
        raise RuntimeError("the engine has no market stream open")
    print(f"measuring engine pid {daemon.proc.pid} for {WINDOW_S:.0f} s", file=sys.stderr,
          flush=True)
    _, cpu0 = daemon.figures()
    t0, applied0, sent0 = time.monotonic(), feed.applied, tickers_sent(emu)
    peak = unread = 0
    while time.monotonic() - t0 < WINDOW_S:
        daemon.alive()
        peak = max(peak, daemon.figures()[0])
        unread = max(unread, unread_bytes(emu))
        time.sleep(0.5)
    rss, cpu1 = daemon.figures()
    elapsed = time.monotonic() - t0
    applied, sent = feed.applied - applied0, tickers_sent(emu) - sent0
    status = Path(f"/proc/{daemon.proc.pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmHWM:"))
    return {"startup_catch_up_s": round(settled, 1),
            "updates_applied_per_s": round(applied / elapsed, 1),
            "tickers_sent_per_s": round(sent / elapsed, 1),
            "unread_from_emulator_peak_kb": round(unread / 1024, 1),
            "rss_mb": round(rss / 2**20, 1), "rss_peak_window_mb": round(peak / 2**20, 1),
            "rss_high_water_mb": round(hwm / 1024, 1),
            "cpu_percent_of_one_core": round((cpu1 - cpu0) / elapsed * 100, 1),
            "cpu_percent_per_1000_updates_s": round((cpu1 - cpu0) / max(sent, 1) * 100_000, 1)}


def run() -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="bench-scale-emu-",
                                      dir=os.environ.get("BENCH_DATA_DIR")))
    emu = start_emulator(write_markets(directory))
    daemon = Daemon(directory, {"execution_pool.max_open_groups": 1100,
                                "app.quote_currencies": ["USDT"]}, emulator=emu)
    feed = PriceFeed(emu.base)
    try:
        daemon.start()
        daemon.wait_reconciled()
        figures = {"build_s": round(build(daemon, emu), 1)}
        figures["rss_after_build_mb"] = round(daemon.figures()[0] / 2**20, 1)
        t = time.monotonic()
        assert daemon.stop() == 0, daemon.tail()
        figures["shutdown_s"] = round(time.monotonic() - t, 3)
        feed.start()
        figures.update(restart(daemon))
        figures["open_groups"] = daemon.query(
            "SELECT count(*) FROM position_groups WHERE status NOT IN ('closed', 'failed')")[0][0]
        figures["resting_orders"] = emu.stats()["open_orders"]
        figures.update(measure(daemon, emu, feed))
        feed.stop()
        if feed.error is not None:
            raise RuntimeError(f"price feed failed: {feed.error}")
        assert daemon.stop() == 0, daemon.tail()
    finally:
        feed.stop()
        daemon.kill()
        emu.stop()
    if not os.environ.get("BENCH_KEEP"):  # kept when the run failed, for its log
        shutil.rmtree(directory, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name} {value}")
