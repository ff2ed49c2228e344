"""``GET /metrics`` (actors/runtime/metrics.py, web/metrics.py): off by default, bearer token
from the secret store, and the families a running engine feeds — through the real webhook,
the paper exchange's fills and TP orders, and the store."""

import json
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json

TOKEN = "metrics-token-0123456789-abc"
DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana-dashboard.json"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


async def test_off_by_default(eng):
    r = await eng.client().get("/metrics")
    assert r.status_code == 404 and "metrics_enabled" in r.json()["message"]


async def test_bearer_token_required(tmp_path):
    async with engine_with_core(tmp_path, settings={"app.metrics_enabled": True}) as eng:
        c = eng.client()
        r = await c.get("/metrics")  # no token stored yet: nobody gets in
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        eng.handle.secrets.set("app.metrics_token", TOKEN)
        for header in (None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN):
            r = await c.get("/metrics", headers={"Authorization": header} if header else {})
            assert r.status_code == 401, header
            assert TOKEN not in r.text
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        found = samples(r.text)
        assert value(found, "process_resident_memory_bytes") > 0
        assert value(found, "process_cpu_seconds_total") >= 0
        assert value(found, "engine_pool_max") == 10


async def test_a_trade_shows_in_the_metrics(tmp_path):
    async with engine_with_core(tmp_path, settings={"app.metrics_enabled": True}) as eng:
        eng.handle.secrets.set("app.metrics_token", TOKEN)
        scraper = eng.client(Authorization=f"Bearer {TOKEN}")
        admin = await eng.login()
        assert (await eng.webhook(entry())).status_code == 200
        assert (await eng.webhook({"secret": "wrong"})).status_code == 401

        async def scraped(check) -> dict:
            async def attempt():
                found = samples((await scraper.get("/metrics")).text)
                return found if check(found) else None
            return await eventually(attempt)

        found = await scraped(lambda f: value(f, "engine_open_groups") == 1
                              and (value(f, "engine_orders", state="open") or 0) >= 1)
        assert value(found, "engine_webhooks_total", outcome="accepted") == 1
        assert value(found, "engine_webhooks_total", outcome="unauthorized") == 1
        assert value(found, "engine_webhook_ack_seconds_count") == 2
        assert value(found, "engine_signal_to_first_order_seconds_count") == 1
        assert 0 < value(found, "engine_signal_to_first_order_seconds_sum") < 30
        assert value(found, "engine_pool_used") == 1
        assert value(found, "engine_queue_length") == 0
        assert value(found, "engine_exchange_connected") == 1

        # the first leg fills at 100.00: its TP order follows, timed from the pushed fill
        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"})
        assert r.status_code == 200, r.text
        found = await scraped(lambda f: value(f, "engine_fill_to_tp_order_seconds_count") == 1)
        assert 0 < value(found, "engine_fill_to_tp_order_seconds_sum") < 30
        assert value(found, "engine_price_age_seconds", symbol=LTC) is not None
        assert value(found, "engine_orders", state="filled") >= 1
        group = (await get_json(admin, "/api/groups"))["groups"][0]
        await admin.post(f"/api/groups/{group['id']}/close")
        await scraped(lambda f: value(f, "engine_open_groups") == 0)
        # every series the Grafana dashboard draws exists (the rate budget: ccxt exchanges only)
        dashboard = json.loads(DASHBOARD.read_text())
        exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
        drawn = set(re.findall(r"\b((?:engine|process)_[a-z_]+?)(?:_bucket)?\{", exprs))
        families = text_string_to_metric_families((await scraper.get("/metrics")).text)
        names = {f.name + ("_total" if f.type == "counter" else "") for f in families}
        assert drawn - names == {"engine_rate_limit_used_ratio"}


async def test_exchange_errors_and_reconcile_findings_are_counted(tmp_path):
    async with engine_with_core(tmp_path, settings={"app.metrics_enabled": True}) as eng:
        eng.handle.secrets.set("app.metrics_token", TOKEN)
        core = eng.handle.core
        core.health.failure(httpx.ConnectError("refused"))  # what MonitoredPort reports
        eng.store.write_now(lambda conn: eng.store.journal(
            conn, actor="reconciler", kind="Reconciled", key=None,
            body={"kind": "periodic", "booked_fills": 2, "flagged": 1}))
        r = await eng.client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        found = samples(r.text)
        assert value(found, "engine_exchange_errors_total", kind="ConnectError") == 1
        assert value(found, "engine_reconcile_findings_total", finding="booked_fills") >= 2
        assert value(found, "engine_reconcile_findings_total", finding="flagged") >= 1
