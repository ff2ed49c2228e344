"""A planted webhook secret and exchange API key never appear in full anywhere: not in any
response body, the log files, the events table, the journal — nor anywhere else in the database
(SPEC 12.2). Both are pushed through every path that could echo them."""

import json

from tests.web.conftest import API_KEY, PASSWORD, WEBHOOK_SECRET, Engine, payload

SECRETS = (WEBHOOK_SECRET, API_KEY)


async def test_secrets_never_leak(eng: Engine):
    answers: list[str] = []

    def keep(r) -> None:
        answers.append(r.text + json.dumps(dict(r.headers)))

    for body in (
        payload(),
        payload(secret=API_KEY),  # wrong secret that is another secret
        payload(**{"strategy_info.alert_message": f"key {API_KEY} and {WEBHOOK_SECRET}",
                   "strategy_info.trade_id": f"t-{WEBHOOK_SECRET}"}),
        payload(**{"tv.action": WEBHOOK_SECRET, "tv.symbol": API_KEY}),  # echoed in errors
        payload(**{"tv.timeframe": API_KEY}),
        f'{{"secret": "{WEBHOOK_SECRET}", not json {API_KEY}',
        payload(pad="x" * 70_000),
    ):
        keep(await eng.webhook(body))
    keep(await eng.webhook(payload(), headers={"X-Signature": f"sha256={WEBHOOK_SECRET}"}))

    c = eng.client()
    keep(await c.post("/api/auth/login", json={"username": API_KEY, "password": WEBHOOK_SECRET}))
    keep(await c.post("/api/auth/login", json={"username": WEBHOOK_SECRET, "password": 1}))
    admin = await eng.login()
    keep(await admin.put("/api/config", json={"changes": {"exchange.api_key": API_KEY}}))
    keep(await admin.put("/api/config", json={
        "text": eng.config_path.read_text() + f'\n[bogus]\nkey = "{WEBHOOK_SECRET}"\n'}))
    keep(await admin.post("/api/config/preview", json={"changes": {
        "security.webhook_secret": WEBHOOK_SECRET}}))
    keep(await admin.put("/api/config", json={"changes": {"ui.font_size": 16}}))
    keep(await admin.post("/api/config/apply"))
    keep(await admin.post("/api/users", json={"username": "eve", "password": API_KEY}))
    keep(await admin.put("/api/users/eve", json={"password": WEBHOOK_SECRET, "role": "x"}))
    for path in ("/api/status", "/api/config", "/api/inbox", "/api/logs?limit=1000",
                 "/api/logs/export?format=txt", "/api/logs/export?format=csv",
                 "/api/logs/export?format=json", "/api/config/versions",
                 "/api/config/versions/1", "/api/users", "/api/auth/me", "/healthz",
                 f"/api/logs?q={API_KEY}", f"/api/logs?level={WEBHOOK_SECRET}"):
        keep(await admin.get(path))
    keep(await eng.client().post("/api/auth/login", json={"username": "eve",
                                                         "password": PASSWORD}))

    eng.logbook.flush()
    database = "\n".join(eng.store.conn.iterdump())
    logs = eng.log_text()
    places = {"responses": "\n".join(answers), "log files": logs, "database": database}
    for where, text in places.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into the {where}"
    # the scan looks at real content: the masked forms are there
    assert "****89-XYZ" in database and "****j-9876" in logs
    assert eng.store.query("SELECT count(*) AS n FROM journal")[0]["n"] >= 2
    assert eng.store.query("SELECT count(*) AS n FROM events")[0]["n"] > 20
