"""Notifications (actors/runtime/notifier.py) against real loopback receivers
(tests/web/notify_fakes.py): a trade's events reach Telegram and a Discord-style webhook,
switches, retries with backoff, the queue cap, exchange down/up, the daily summary, the test
action (API and CLI) — and a hanging receiver never delays an order."""

import os
import sys
import time
from pathlib import Path

import pytest
import trio

from actors.runtime.notifier import DAY_MS
from tests.web.notify_fakes import BOT_TOKEN, fake_endpoints
from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json

ROOT = Path(__file__).resolve().parents[2]


def settings(**extra):
    return {"notifications.enabled": True, "notifications.telegram_chat_id": "4242",
            "notifications.batch_sec": 1, "notifications.timeout_sec": 5, **extra}


def configure(eng, fakes, monkeypatch) -> None:
    monkeypatch.setenv("ENGINE_TELEGRAM_API_URL", fakes.url)
    eng.handle.secrets.set("notifications.telegram_bot_token", BOT_TOKEN)
    eng.handle.secrets.set("notifications.webhook_url", f"{fakes.url}/hook")


async def test_a_trade_reaches_telegram_and_the_webhook(tmp_path, monkeypatch):
    async with fake_endpoints() as fakes, engine_with_core(tmp_path, settings=settings()) as eng:
        configure(eng, fakes, monkeypatch)
        async with trio.open_nursery() as nursery:
            await nursery.start(eng.handle.notifier.run)
            admin = await eng.login()
            assert (await eng.webhook(entry())).status_code == 200
            await eventually(lambda: "group opened: LTCUSDT 60 long" in fakes.telegram.texts())
            await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"})
            await admin.post("/api/paper/price", json={"symbol": LTC, "price": "101.00"})
            await eventually(lambda: "take-profit filled: LTCUSDT" in fakes.telegram.texts())
            group = (await get_json(admin, "/api/groups"))["groups"][0]
            assert (await admin.post(f"/api/groups/{group['id']}/close")).status_code == 200
            await eventually(lambda: "group closed: LTCUSDT" in fakes.telegram.texts())
            await eventually(lambda: "group closed: LTCUSDT" in fakes.webhook.texts())
            nursery.cancel_scope.cancel()
        text = fakes.telegram.texts()
        assert "engine started" in text and "PnL" in text
        closed = next(x for x in text.splitlines() if "group closed" in x)
        assert closed.endswith("%)")
        assert fakes.telegram.bodies[0]["chat_id"] == "4242"
        assert all(p == f"/bot{BOT_TOKEN}/sendMessage" for p in fakes.telegram.paths)
        assert all(set(b) == {"content"} for b in fakes.webhook.bodies)  # discord's shape
        await eventually(lambda: "engine stopped" in fakes.telegram.texts())
        # the day's summary counts the closed group and its PnL
        row = eng.store.query("SELECT realized_pnl, closed_at FROM closed_trades")[0]
        summary = eng.handle.notifier.summary(row["closed_at"] // DAY_MS)
        assert summary["closed"] == 1 and str(summary["pnl"]) == row["realized_pnl"]


async def test_switches_retries_and_the_queue_cap(tmp_path, monkeypatch):
    chosen = settings(**{"notifications.events": ["exchange_down", "exchange_up",
                                                  "daily_summary"],
                         "notifications.queue_limit": 10,
                         "notifications.webhook_format": "slack"})
    async with fake_endpoints() as fakes, engine_with_core(tmp_path, settings=chosen) as eng:
        configure(eng, fakes, monkeypatch)
        notifier = eng.handle.notifier
        fakes.telegram.fail_times = 2  # two 500s, then it takes the message
        fakes.webhook.mode = "throttle"
        async with trio.open_nursery() as nursery:
            await nursery.start(notifier.run)
            for _ in range(25):  # over the queue cap: the oldest go
                notifier.emit("exchange_down", {"exchange": "flood"})
            health = eng.handle.core.health
            health.failing_since_ms = eng.handle.clock_ms() - 120_000  # a minute of failures
            notifier.poll()
            health.success()
            notifier.poll()
            notifier._day -= 1  # the day ended
            notifier.poll()
            await eventually(lambda: "reachable again" in fakes.telegram.texts(), timeout=60)
            assert fakes.telegram.attempts >= 3 and notifier.failed >= 2
            assert len(notifier.queues["webhook"]) <= 10 and notifier.dropped >= 15
            assert "429" in notifier.last_error["webhook"]
            nursery.cancel_scope.cancel()
        text = fakes.telegram.texts()
        assert "exchange paper unreachable" in text and "day " in text
        assert "engine started" not in text  # switched off
        assert "engine stopped" not in text


@pytest.mark.parametrize("mode", ["hang", "ok"])
async def test_a_hanging_receiver_never_delays_an_order(tmp_path, monkeypatch, mode):
    """Both receivers accept the connection and never answer (timeout 30 s): signal → first
    order stays what it is with receivers that answer (the metrics' histogram times it)."""
    async with fake_endpoints() as fakes, engine_with_core(tmp_path, settings=settings(**{
            "notifications.timeout_sec": 30, "notifications.queue_limit": 10})) as eng:
        configure(eng, fakes, monkeypatch)
        fakes.telegram.mode = fakes.webhook.mode = mode
        notifier = eng.handle.notifier
        async with trio.open_nursery() as nursery:
            await nursery.start(notifier.run)
            await eventually(lambda: fakes.telegram.attempts and fakes.webhook.attempts)
            prices = {"LTCUSDT": 100.0, "ETHUSDT": 2000.0, "XRPUSDT": 0.5, "ADAUSDT": 0.4,
                      "DOGEUSDT": 0.1}
            symbols = list(prices)
            started = time.perf_counter()
            for symbol, price in prices.items():
                r = await eng.webhook(entry(symbol, price=price))
                assert r.status_code == 200, r.text
            metrics = eng.handle.metrics.registry

            def orders_sent() -> float:
                return metrics.get_sample_value("engine_signal_to_first_order_seconds_count")

            await eventually(lambda: orders_sent() == len(symbols))
            elapsed = time.perf_counter() - started
            total = metrics.get_sample_value("engine_signal_to_first_order_seconds_sum")
            within_1s = metrics.get_sample_value("engine_signal_to_first_order_seconds_bucket",
                                                 {"le": "1.0"})
            print(f"\nsignal → first order, receivers {mode}: mean "
                  f"{total / len(symbols) * 1000:.1f} ms, {int(within_1s)}/{len(symbols)} "
                  f"within 1 s, all {len(symbols)} in {elapsed:.2f} s")
            assert elapsed < 30  # well before one delivery attempt could have timed out
            for _ in range(30):
                notifier.emit("exchange_down", {"exchange": "paper"})
            assert all(len(q) <= 10 for q in notifier.queues.values())
            if mode == "hang":
                assert fakes.telegram.bodies == [] and notifier.sent == 0
            nursery.cancel_scope.cancel()


async def test_send_test_from_the_console_and_the_cli(tmp_path, monkeypatch):
    async with fake_endpoints() as fakes, engine_with_core(tmp_path, settings=settings()) as eng:
        admin = await eng.login()
        r = await admin.post("/api/notifications/test")
        assert r.status_code == 409 and r.json()["error"] == "not_configured"
        configure(eng, fakes, monkeypatch)
        r = await admin.post("/api/notifications/test")
        assert r.status_code == 200, r.text
        assert r.json()["results"] == {"telegram": "sent", "webhook": "sent"}
        operator = await eng.login("viewer")
        assert (await operator.post("/api/notifications/test")).status_code == 403
        fakes.webhook.mode = "fail"
        r = await admin.post("/api/notifications/test")
        assert r.json()["ok"] is False and r.json()["results"]["webhook"] == "webhook: HTTP 500"
        assert BOT_TOKEN not in r.text and fakes.url not in r.text
        fakes.webhook.mode = "ok"

        env = {**os.environ, "PYTHONPATH": str(ROOT), "ENGINE_TELEGRAM_API_URL": fakes.url,
               "ENGINE_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
               "ENGINE_NOTIFY_WEBHOOK_URL": f"{fakes.url}/hook"}
        done = await trio.run_process(
            [sys.executable, "-m", "ops.cli", "notify", "test", "--config",
             str(eng.config_path)], env=env, capture_stdout=True, capture_stderr=True,
            check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().splitlines() == ["telegram: sent", "webhook: sent"]
        assert sum("test notification" in b.get("text", "") for b in fakes.telegram.bodies) == 3
