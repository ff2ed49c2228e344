"""Secrets and the exchange connection test through the running app (SPEC 12.2, 11.5 F, 11.6):
write-only secrets with the CLI's rule, a generated webhook secret shown once, and
``fetch_balance`` through the port against the paper exchange and the Binance emulator."""

import json

import pytest
import trio

from tests.emulator.server import API_KEY as EMU_KEY
from tests.emulator.server import API_SECRET as EMU_SECRET
from tests.emulator.server import EmulatorThread
from tests.web.conftest import OPERATOR, Engine, payload, write_config
from tests.web.runtime_kit import engine_with_core

NEW_HOOK = "brand-new-webhook-secret-Q7Z9X2"


def error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code
    return r.json()["details"]


async def test_secrets_are_write_only_and_never_come_back(eng: Engine):
    admin = await eng.login()
    answers = []
    short = await admin.put("/api/secrets/security.webhook_secret", json={"value": "too-short"})
    problems = error(short, 422, "invalid_config")["problems"]
    assert problems == [{"path": "security.webhook_secret",
                         "message": "must be at least 16 characters, got 9"}]
    error(await admin.put("/api/secrets/password", json={"value": NEW_HOOK}), 422,
          "invalid_config")
    r = await admin.put("/api/secrets/webhook_secret", json={"value": NEW_HOOK})
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "security.webhook_secret", "masked": "****Q7Z9X2",
                        "source": "file", "effect": "immediate", "note": None}
    assert r.headers["cache-control"] == "no-store"
    answers.append(r.text)
    listed = (await admin.get("/api/secrets")).json()["secrets"]
    hook = next(s for s in listed if s["name"] == "security.webhook_secret")
    assert hook["set"] and hook["masked"] == "****Q7Z9X2"
    for path in ("/api/secrets", "/api/config", "/api/config/export", "/api/logs?limit=500",
                 "/api/config/versions"):
        answers.append((await admin.get(path)).text)
    # the new secret is the webhook's from now on
    assert (await eng.webhook(payload(secret=NEW_HOOK))).status_code == 200
    assert (await eng.webhook(payload())).status_code == 401
    eng.logbook.flush()
    assert all(NEW_HOOK not in text for text in answers)
    assert NEW_HOOK not in eng.log_text()
    assert NEW_HOOK not in json.dumps(eng.events())
    assert any(e["event"] == "secret_changed" and "security.webhook_secret" in e["data"]
               for e in eng.events())


async def test_a_generated_webhook_secret_is_shown_once(eng: Engine):
    admin = await eng.login()
    r = await admin.post("/api/secrets/webhook_secret/generate")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    secret = body["secret"]
    assert len(secret) >= 40 and body["shown_once"] and body["masked"] == "****" + secret[-6:]
    assert secret not in (await admin.get("/api/secrets")).text
    assert (await eng.webhook(payload(secret=secret))).status_code == 200
    assert secret not in eng.log_text()


async def test_operators_see_no_secrets_and_change_none(eng: Engine):
    viewer = await eng.login(OPERATOR)
    error(await viewer.get("/api/secrets"), 403, "forbidden")
    error(await viewer.put("/api/secrets/webhook_secret", json={"value": NEW_HOOK}), 403,
          "forbidden")
    error(await viewer.post("/api/secrets/webhook_secret/generate"), 403, "forbidden")
    error(await viewer.post("/api/exchange/test"), 403, "forbidden")
    assert (await eng.webhook(payload())).status_code == 200  # the planted secret still holds


async def test_exchange_test_on_the_paper_exchange_reports_the_quote_balance(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        r = await admin.post("/api/exchange/test")
        assert r.status_code == 200, r.text
        assert r.json() == {"exchange": "paper", "testnet": True, "ok": True,
                                 "outcome": "ok", "quote": "USDT", "free": "10000.00",
                                 "locked": "0.00", "message": "connected; 10000.00 USDT free"}


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


async def test_exchange_test_against_binance_tells_auth_from_permission(eng: Engine, emulator,
                                                                        monkeypatch):
    monkeypatch.setenv("ENGINE_EXCHANGE_REST_URLS", json.dumps(emulator.rest_urls))
    write_config(eng.config_path.parent, {"exchange.name": "binance", "exchange.testnet": False})
    admin = await eng.login()
    await trio.to_thread.run_sync(lambda: emulator.reset(balances={"USDT": "1234.5"}))

    async def test(key: str, secret: str) -> dict:
        for name, value in (("exchange.api_key", key), ("exchange.api_secret", secret)):
            assert (await admin.put(f"/api/secrets/{name}", json={"value": value})).status_code \
                == 200
        r = await admin.post("/api/exchange/test")
        assert r.status_code == 200, r.text
        return r.json()

    ok = await test(EMU_KEY, EMU_SECRET)
    assert (ok["outcome"], ok["quote"], ok["free"]) == ("ok", "USDT", "1234.50")
    wrong_secret = await test(EMU_KEY, "x" * 64)
    assert wrong_secret["outcome"] == "auth" and not wrong_secret["ok"]
    unknown_key = await test("k" * 64, EMU_SECRET)
    assert unknown_key["outcome"] == "permission" and "permissions" in unknown_key["hint"]
    assert eng.handle.config.exchange.name == "paper"  # tested from the file, nothing applied
    assert EMU_SECRET not in json.dumps([ok, wrong_secret, unknown_key]) + eng.log_text()


async def test_exchange_test_names_a_missing_credential(eng: Engine):
    write_config(eng.config_path.parent, {"exchange.name": "binance", "exchange.testnet": False})
    eng.handle.secrets.delete("exchange.api_key")
    r = (await (await eng.login()).post("/api/exchange/test")).json()
    assert (r["ok"], r["outcome"], r["field"]) == (False, "setup", "exchange.api_key")
