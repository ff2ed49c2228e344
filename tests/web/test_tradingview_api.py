"""GET /api/tradingview (issue: TradingView setup page) and POST /api/webhooks/{id}/replay
(SPEC 11.5 E) against the running app — and, for the replay's same-candle rule, the core."""

import json

from engine.tradingview import PLACEHOLDERS, SECRET_SLOT
from tests.web.conftest import OPERATOR, PAYLOAD, WEBHOOK_SECRET, Engine, running_engine
from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json
from web.api_tradingview import NO_SECRET

REPLAY_ON = {"logging.webhook_replay_enabled": True}


async def test_setup_needs_a_session(eng: Engine):
    r = await eng.client().get("/api/tradingview")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


async def test_setup_shows_url_template_and_only_a_masked_secret(eng: Engine):
    viewer = await eng.login(OPERATOR)  # read-only users may see the setup too
    body = await get_json(viewer, "/api/tradingview")
    assert body["webhook_url"] == f"{eng.url}/webhook"
    assert body["webhook_url_source"] == "request" and body["public_url_set"] is False
    text = json.dumps(body)
    assert WEBHOOK_SECRET not in text
    assert body["secret"]["set"] is True and body["secret"]["masked"] == "****89-XYZ"
    assert body["secret"]["source"] == "file" and body["secret"]["required"] is True
    template = body["template"]
    assert '"secret": "****89-XYZ"' in template and SECRET_SLOT not in template
    for path, placeholder in PLACEHOLDERS.items():
        assert f'"{path.rsplit(".", 1)[-1]}":' in template, path
        assert placeholder in template, path
    assert body["placeholders"] == PLACEHOLDERS


async def test_public_url_wins_over_the_request(tmp_path):
    async with running_engine(tmp_path, settings={"app.public_url": "https://tv.example.com/"}) as eng:
        body = await get_json(await eng.login(), "/api/tradingview")
        assert body["webhook_url"] == "https://tv.example.com/webhook"
        assert body["webhook_url_source"] == "app.public_url"


async def test_forwarded_host_only_when_trusted(tmp_path):
    headers = {"X-Forwarded-Host": "engine.example.org", "X-Forwarded-Proto": "https"}
    async with running_engine(tmp_path, settings={"security.trust_forwarded_for": True}) as eng:
        r = await (await eng.login()).get("/api/tradingview", headers=headers)
        assert r.json()["webhook_url"] == "https://engine.example.org/webhook"
    async with running_engine(tmp_path / "b") as eng:
        r = await (await eng.login()).get("/api/tradingview", headers=headers)
        assert r.json()["webhook_url"] == f"{eng.url}/webhook"


async def test_template_says_when_no_secret_is_set(eng: Engine):
    eng.handle.secrets.delete("security.webhook_secret")
    body = await get_json(await eng.login(), "/api/tradingview")
    assert body["secret"]["set"] is False and body["secret"]["masked"] is None
    assert f'"secret": "{NO_SECRET}"' in body["template"]


async def test_replay_is_off_by_default(eng: Engine):
    admin = await eng.login()
    assert (await eng.webhook(PAYLOAD)).json() == {"status": "accepted", "id": 1}
    r = await admin.post("/api/webhooks/1/replay")
    assert r.status_code == 409 and r.json()["error"] == "replay_disabled"
    assert r.json()["details"]["field"] == "logging.webhook_replay_enabled"


async def test_replay_goes_through_intake_again(tmp_path):
    async with running_engine(tmp_path, settings=REPLAY_ON) as eng:
        admin = await eng.login()
        assert (await eng.webhook(PAYLOAD)).json() == {"status": "accepted", "id": 1}
        # within the 60 s idempotency window the replay is the duplicate of the original
        r = await admin.post("/api/webhooks/1/replay")
        assert r.status_code == 200 and r.json() == {"status": "duplicate", "id": 1,
                                                     "replay_of": 1}
        eng.clock.advance(61_000)
        r = await admin.post("/api/webhooks/1/replay")
        assert r.json() == {"status": "accepted", "id": 2, "replay_of": 1}
        entries = (await get_json(admin, "/api/inbox"))["entries"]
        replayed = next(e for e in entries if e["id"] == 2)
        assert replayed["source_ip"] == "replay of #1" and replayed["symbol"] == "BTCUSDT"
        assert WEBHOOK_SECRET not in replayed["raw_body"]
        logged = [e for e in eng.events() if e["event"] == "webhook_replayed"]
        assert len(logged) == 2 and json.loads(logged[-1]["data"])["inbox_id"] == 2
        assert [m.inbox_id for m in eng.handle.inbox.pending()] == [1, 2]


async def test_replay_refusals(tmp_path):
    async with running_engine(tmp_path, settings=REPLAY_ON) as eng:
        admin, viewer = await eng.login(), await eng.login(OPERATOR)
        assert (await admin.post("/api/webhooks/7/replay")).status_code == 404
        await eng.webhook(PAYLOAD)
        r = await viewer.post("/api/webhooks/1/replay")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        no_csrf = eng.client()
        no_csrf.cookies = admin.cookies
        assert (await no_csrf.post("/api/webhooks/1/replay")).json()["error"] == "csrf"


async def test_replayed_entry_meets_the_same_candle_rule(tmp_path):
    async with engine_with_core(tmp_path, settings=REPLAY_ON) as eng:
        admin = await eng.login()
        assert (await eng.webhook(entry(LTC))).json()["id"] == 1

        async def state_of(inbox_id: int):
            entries = (await get_json(admin, "/api/inbox"))["entries"]
            row = next((e for e in entries if e["id"] == inbox_id), None)
            return row if row and row["state"] not in ("accepted", "processing") else None

        assert (await eventually(lambda: state_of(1)))["state"] == "processed"
        eng.clock.advance(61_000)
        r = await admin.post("/api/webhooks/1/replay")
        assert r.json() == {"status": "accepted", "id": 2, "replay_of": 1}
        replayed = await eventually(lambda: state_of(2))
        assert replayed["state"] == "duplicate", replayed


async def test_replay_meets_todays_intake_rules(tmp_path):
    settings = {**REPLAY_ON, "grid_strategy.capital_per_pyramid_usd": 100}
    async with running_engine(tmp_path, settings=settings) as eng:
        admin = await eng.login()
        sizeless = json.loads(json.dumps(PAYLOAD))
        del sizeless["tv"]["order_size"]
        assert (await eng.webhook(sizeless)).json() == {"status": "accepted", "id": 1}
        r = await admin.put("/api/config", json={
            "changes": {"grid_strategy.capital_per_pyramid_usd": 0}})
        assert r.status_code == 200, r.text
        assert (await admin.post("/api/config/apply")).status_code == 200
        eng.clock.advance(61_000)
        r = await admin.post("/api/webhooks/1/replay")
        assert r.status_code == 422 and r.json()["error"] == "rejected"
        assert [e["field"] for e in r.json()["details"]["errors"]] == ["tv.order_size"]
