"""Benchmark: the operator console in a real browser (Debian's Chromium) on an engine holding
1,000 open groups (25,000 resting orders) with about 1,000 price updates per second — the
``bench_scale`` build, reused.

``python -m ops.bench console`` (or ``python -m ops.bench.bench_console``). Figures:

- ``dashboard_usable`` / ``positions_usable``: navigation → the first row of the groups table
  on screen, fresh page loads with a valid session (target ≤ 1 s on loopback);
- ``webhook_to_row``: a webhook opening a new group → its row on the positions page, no reload
  (target p50 ≤ 1 s);
- ``idle``: an idle positions page with live updates over ``WINDOW_S``: main-thread busy
  fraction (DevTools TaskDuration; target < 20 %), long tasks, live-push bytes/s per client
  (target ≤ 50 KB/s);
- ``viewers_extra_cpu``: the engine's CPU with 5 browsers on the dashboard minus without
  (target ≤ 5 % of a core);
- ``static_gzip_kb``: every file the console can load, gzipped (target ≤ 150 KB), and
  ``cold_load_transferred_kb``: what a first dashboard load transferred (static files + API).

``BENCH_CONSOLE_KEYS`` (a multiple of 8, default 1,000) builds fewer groups for a quick run.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ops.bench import bench_scale as scale
from ops.bench import console_browser as cb
from ops.bench.daemon import ROOT, Daemon, webhook_body

STATIC = ROOT / "web" / "static"
PASSWORD = "bench-console-password-0123"
WINDOW_S = 20.0
VIEWERS = 5
SAMPLES = 20
# keys the build left free, on real symbols whose step takes a 100 USDT ladder at 90
NEW_KEYS = [(s, tf) for s in ("LTCUSDT", "ETHUSDT", "BTCUSDT")
            for tf in (2, 7, 10, 45, 90, 180, 360, 720)]


def static_gzip_kb() -> float:
    """Every file the console may load (pages are lazy: all counted), gzipped."""
    total = 0
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".mjs", ".css", ".svg"):
            total += len(gzip.compress(path.read_bytes(), 9))
    return round(total / 1024, 1)


def engine_cpu(daemon: Daemon, window_s: float) -> float:
    _, cpu0 = daemon.figures()
    t0 = time.monotonic()
    time.sleep(window_s)
    _, cpu1 = daemon.figures()
    return (cpu1 - cpu0) / (time.monotonic() - t0) * 100


def build_engine(directory: Path) -> tuple[Daemon, dict[str, float]]:
    """bench_scale's 1,000 groups, then the engine on the looping CSV feed."""
    keys = int(os.environ.get("BENCH_CONSOLE_KEYS", "1000"))
    scale.SYMBOLS = max(1, keys // len(scale.TIMEFRAMES))
    markets = scale.write_markets(directory)
    common = {"execution_pool.max_open_groups": 1100, "exchange.paper.markets_file": str(markets),
              "exchange.paper.start_balances": {"USDT": 10_000_000},
              "app.quote_currencies": ["USDT"]}
    daemon = Daemon(directory, common)
    daemon.env["ENGINE_ADMIN_PASSWORD"] = PASSWORD
    daemon.start()
    daemon.wait_reconciled()
    figures = {"build_s": round(scale.build(daemon), 1)}
    assert daemon.stop() == 0, daemon.tail()
    files = scale.write_candles(directory)
    daemon = Daemon(directory, {**common, "exchange.paper.feed": "csv",
                                "exchange.paper.csv_files": files,
                                "exchange.paper.replay_interval_ms": scale.INTERVAL_MS,
                                "exchange.paper.replay_loop": True})
    daemon.env["ENGINE_ADMIN_PASSWORD"] = PASSWORD
    before = daemon.startups()
    daemon.start()
    daemon.wait_reconciled(before, timeout=300)
    scale._journal_quiet(daemon, limit_s=600)
    figures["open_groups"] = daemon.query(
        "SELECT count(*) FROM position_groups WHERE status NOT IN ('closed', 'failed')")[0][0]
    figures["resting_orders"] = scale._open_orders(daemon)
    return daemon, figures


def new_group(daemon: Daemon, base: str, admin: httpx.Client, i: int) -> int:
    symbol, tf = NEW_KEYS[i % len(NEW_KEYS)]
    r = httpx.post(base + "/webhook", timeout=60, content=webhook_body(
        symbol, tf, price="90", trade_id=f"console-{i}"))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = admin.get(f"/api/groups?symbol={symbol}&timeframe={tf}&status=open").json()
        if rows["groups"]:
            return rows["groups"][0]["id"]
        time.sleep(0.05)
    raise RuntimeError(f"no group for {symbol} {tf}")


def measure(daemon: Daemon) -> dict[str, float]:
    base = f"http://127.0.0.1:{daemon.port}"
    admin = httpx.Client(base_url=base, timeout=60)
    admin.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    figures: dict[str, float] = {}
    pw, browser = cb.launch()
    try:
        cold = cb.session_context(browser, base, "admin", PASSWORD)
        figures["cold_load_transferred_kb"] = cb.cold_load_kb(cold, base + "/")
        cold.close()
        context = cb.session_context(browser, base, "admin", PASSWORD)
        for name, path in (("dashboard", "/"), ("positions", "/positions")):
            for k, v in cb.time_to_rows(context, base + path).items():
                figures[f"{name}_usable_{k}"] = v
        page = context.new_page()
        page.goto(base + "/positions")
        page.wait_for_selector(cb.ROW, timeout=120_000)
        for k, v in cb.webhook_to_row(page, lambda i: new_group(daemon, base, admin, i),
                                      SAMPLES).items():
            figures[f"webhook_to_row_{k}"] = v
        figures.update({f"idle_{k}": v for k, v in cb.idle_cost(page, WINDOW_S).items()})
        context.close()
        alone = engine_cpu(daemon, WINDOW_S)
        viewers = cb.open_viewers(browser, base, "admin", PASSWORD, VIEWERS, "/")
        time.sleep(5)  # their first snapshots
        watched = engine_cpu(daemon, WINDOW_S)
        for c in viewers:
            c.close()
        figures["engine_cpu_percent_no_viewer"] = round(alone, 1)
        figures[f"engine_cpu_percent_{VIEWERS}_viewers"] = round(watched, 1)
        figures["viewers_extra_cpu_percent"] = round(watched - alone, 1)
    finally:
        browser.close()
        pw.stop()
        admin.close()
    return figures


def run() -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="bench-console-",
                                      dir=os.environ.get("BENCH_DATA_DIR")))
    figures = {"static_gzip_kb": static_gzip_kb()}
    daemon = None
    try:
        daemon, built = build_engine(directory)
        figures.update(built)
        print(f"measuring the console on {built['open_groups']} groups", file=sys.stderr,
              flush=True)
        figures.update(measure(daemon))
        assert daemon.stop() == 0, daemon.tail()
    finally:
        if daemon is not None:
            daemon.kill()
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
