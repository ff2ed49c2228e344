"""The browser side of ``bench_console``: Chromium (Debian's, through Playwright) on the console
of a running engine. Each function returns figures; nothing here is a test.

Measured in the page: time from navigation to the first table row (``performance.now()``, whose
zero is the navigation start), first appearance of each table row (a MutationObserver stamping
epoch milliseconds), main-thread task time (the DevTools ``Performance.getMetrics``
TaskDuration) and long tasks (the Long Tasks API), and live-push bytes (the DevTools WebSocket
frames).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from web.auth import COOKIE

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROW = "tr[data-row]"
WATCH_ROWS = """() => {
  window.__seen = {};
  const stamp = () => {
    for (const tr of document.querySelectorAll('tr[data-row]')) {
      const k = tr.dataset.row;
      if (!(k in window.__seen)) window.__seen[k] = performance.timeOrigin + performance.now();
    }
  };
  stamp();
  new MutationObserver(stamp).observe(document.body, {childList: true, subtree: true});
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
    .observe({type: 'longtask', buffered: true});
}"""


def launch():
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    return pw, browser


def session_context(browser: Browser, base: str, username: str, password: str) -> BrowserContext:
    """A browser context already logged in (the login form is not what is measured)."""
    r = httpx.post(base + "/api/auth/login", json={"username": username, "password": password},
                   timeout=60)
    r.raise_for_status()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": COOKIE, "value": r.cookies[COOKIE], "url": base}])
    context.add_init_script(f"sessionStorage.setItem('engine.csrf', '{r.json()['csrf_token']}')")
    return context


def cold_load_kb(context: BrowserContext, url: str) -> float:
    """Bytes a first load (empty cache) transferred, headers included, once the rows show."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(ROW, timeout=120_000)
    size = page.evaluate("() => performance.getEntriesByType('resource')"
                         ".reduce((n, e) => n + e.transferSize, 0)"
                         " + performance.getEntriesByType('navigation')[0].transferSize")
    page.close()
    return round(size / 1024, 1)


def time_to_rows(context: BrowserContext, url: str, runs: int = 5) -> dict[str, float]:
    """Navigation → first row of the groups table shown, ``runs`` fresh page loads."""
    samples = []
    for _ in range(runs):
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_selector(ROW, timeout=120_000)
        samples.append(page.evaluate("() => performance.now()"))
        page.close()
    return {"p50_ms": round(statistics.median(samples)), "max_ms": round(max(samples))}


def webhook_to_row(page: Page, send: Callable[[int], int], samples: int) -> dict[str, float]:
    """``send(i)`` sends the i-th webhook and returns the group id it opened; the delay is
    from just before the send to the row's first appearance in the page."""
    page.evaluate(WATCH_ROWS)
    delays = []
    for i in range(samples):
        sent = time.time() * 1000
        gid = send(i)
        key = f"g{gid}"
        deadline = time.monotonic() + 60
        while (seen := page.evaluate(f"() => window.__seen['{key}']")) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"row {key} never appeared")
            page.wait_for_timeout(20)
        delays.append(seen - sent)
        page.wait_for_timeout(300)
    delays.sort()
    return {"p50_ms": round(statistics.median(delays)), "max_ms": round(delays[-1])}


def idle_cost(page: Page, window_s: float) -> dict[str, float]:
    """Main-thread busy fraction and live-push bytes/s of an idle page with live updates."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("Network.enable")
    received = {"bytes": 0, "frames": 0}

    def frame(event: dict) -> None:
        received["bytes"] += len(event["response"]["payloadData"].encode())
        received["frames"] += 1

    cdp.on("Network.webSocketFrameReceived", frame)
    page.evaluate("() => { window.__long = window.__long || []; window.__long.length = 0; }")

    def task_s() -> float:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

    t0, busy0 = time.monotonic(), task_s()
    page.wait_for_timeout(window_s * 1000)
    elapsed, busy = time.monotonic() - t0, task_s() - busy0
    longs = page.evaluate("() => window.__long || []")
    return {"main_thread_busy_percent": round(busy / elapsed * 100, 1),
            "long_tasks": len(longs), "long_task_ms_per_s": round(sum(longs) / elapsed, 1),
            "live_bytes_per_s": round(received["bytes"] / elapsed),
            "live_frames_per_s": round(received["frames"] / elapsed, 2)}


def open_viewers(browser: Browser, base: str, username: str, password: str, n: int,
                 path: str) -> list[BrowserContext]:
    contexts = []
    for _ in range(n):
        context = session_context(browser, base, username, password)
        page = context.new_page()
        page.goto(base + path)
        page.wait_for_selector(ROW, timeout=120_000)
        contexts.append(context)
    return contexts
