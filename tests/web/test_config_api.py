"""Configuration API through the running app (SPEC 10.1, 11.6): view, save with comments kept,
422 per key, preview, Apply broadcasting ConfigChanged, 409 for exchange changes while open."""

import json

import trio

from actors.pool.inbox import set_state
from engine.messages import ConfigChanged
from tests.web.conftest import PAYLOAD, Engine

POOL = "execution_pool.max_open_groups"


def is_error(r, status: int, code: str) -> bool:
    return r.status_code == status and r.json()["error"] == code


def drain(channel) -> list:
    out = []
    while True:
        try:
            out.append(channel.receive_nowait())
        except trio.WouldBlock:
            return out


async def test_view_has_running_file_and_masked_secrets(eng: Engine):
    admin = await eng.login()
    view = (await admin.get("/api/config")).json()
    assert view["running"]["execution_pool"]["max_open_groups"] == 10
    assert view["running"]["grid_strategy"]["tp_percent"] == "1.0"  # decimals as strings
    assert view["file"] == view["running"] and view["differs"] is False
    assert view["problems"] == [] and view["restart_required"] == []
    assert view["secrets"]["security.webhook_secret"] == "****89-XYZ"
    assert view["secrets"]["exchange.api_key"] == "****j-9876"


async def test_save_keeps_comments_and_records_a_version(eng: Engine):
    admin = await eng.login()
    before = eng.config_path.read_text()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    r = await admin.put("/api/config", json={"changes": {POOL: 12, "grid_strategy.tp_percent":
                                                         1.25}})
    assert r.status_code == 200 and r.json()["saved"] is True
    after = eng.config_path.read_text()
    assert "max_open_groups = 12" in after and "tp_percent = 1.25" in after
    assert [line for line in after.splitlines() if line.lstrip().startswith("#")] == comments
    assert "# e.g. [\"52.89.214.238\"" in after  # an inline comment survives too
    view = (await admin.get("/api/config")).json()
    assert view["differs"] is True and view["running"]["execution_pool"]["max_open_groups"] == 10
    assert {d["key"]: (d["old"], d["new"]) for d in view["diff"]} == {
        POOL: (10, 12), "grid_strategy.tp_percent": ("1.0", "1.25")}
    assert eng.handle.config.execution_pool.max_open_groups == 10  # saved, not applied
    [version] = (await admin.get("/api/config/versions")).json()["versions"]
    assert version["action"] == "save" and version["user"] == "root"
    full = (await admin.get(f"/api/config/versions/{version['id']}")).json()
    assert "max_open_groups = 12" in full["text"]
    assert any(e["event"] == "config_saved" and e["category"] == "config" for e in eng.events())


async def test_invalid_drafts_answer_422_per_key_and_write_nothing(eng: Engine):
    admin = await eng.login()
    before = eng.config_path.read_text()
    r = await admin.put("/api/config", json={"changes": {POOL: "ten", "ui.font_size": 99}})
    assert is_error(r, 422, "invalid_config")
    paths = {p["path"] for p in r.json()["details"]["problems"]}
    assert paths == {POOL, "ui.font_size"}
    r = await admin.put("/api/config", json={"text": "this is = = not toml"})
    assert is_error(r, 422, "invalid_config")
    r = await admin.put("/api/config", json={"changes": {"exchange.api_key": "abc123abc123"}})
    assert is_error(r, 422, "invalid_config")
    assert is_error(await admin.put("/api/config", json={}), 400, "bad_request")
    assert is_error(await admin.put("/api/config", json={"text": "", "changes": {}}), 400,
                    "bad_request")
    assert is_error(await admin.put("/api/config", json={"text": 5}), 400, "bad_request")
    assert eng.config_path.read_text() == before


async def test_preview_diffs_and_validates_without_writing(eng: Engine):
    admin = await eng.login()
    before = eng.config_path.read_text()
    r = await admin.post("/api/config/preview", json={"changes": {"app.http_port": 9090,
                                                                  "exchange.testnet": False}})
    preview = r.json()
    assert r.status_code == 200 and preview["valid"] is True
    assert {d["key"] for d in preview["diff"]} == {"app.http_port", "exchange.testnet"}
    assert preview["restart_required"] == ["app.http_port"]
    assert preview["refused_while_open"] == ["exchange.testnet"]
    bad = (await admin.post("/api/config/preview", json={"changes": {POOL: 0}})).json()
    assert bad["valid"] is False and bad["problems"][0]["path"] == POOL
    # an invalid draft still lists only the key it changes, nothing unchanged ("0" vs 0)
    assert [d["key"] for d in bad["diff"]] == [POOL]
    assert [d["key"] for d in bad["diff_running"]] == [POOL]
    assert eng.config_path.read_text() == before


async def test_apply_adopts_the_file_and_sends_config_changed(eng: Engine):
    admin = await eng.login()
    await admin.put("/api/config", json={"changes": {POOL: 12, "app.http_port": 9191}})
    r = await admin.post("/api/config/apply")
    assert r.status_code == 200
    assert r.json()["changed"] == ["app.http_port", POOL]
    assert r.json()["restart_required"] == ["app.http_port"]
    [message] = drain(eng.handle.config_changes)
    assert isinstance(message, ConfigChanged) and message.user == "root"
    assert message.config.execution_pool.max_open_groups == 12
    assert message.changed == ("app.http_port", POOL)
    assert eng.handle.config.execution_pool.max_open_groups == 12
    view = (await admin.get("/api/config")).json()
    assert view["differs"] is False and view["restart_required"] == ["app.http_port"]
    actions = [v["action"] for v in (await admin.get("/api/config/versions")).json()["versions"]]
    assert actions == ["apply", "save"]
    [(kind, body)] = eng.store.conn.execute(
        "SELECT kind, body FROM journal WHERE actor = 'config'").fetchall()
    assert kind == "ConfigApplied" and json.loads(body)["changed"] == ["app.http_port", POOL]


async def test_lagging_receiver_gets_merged_config_changes(eng: Engine):
    admin = await eng.login()
    for n in range(1, 8):
        await admin.put("/api/config", json={"changes": {POOL: 10 + n}})
        await admin.put("/api/config", json={"changes": {"ui.font_size": 10 + n}})
        assert (await admin.post("/api/config/apply")).status_code == 200
    messages = drain(eng.handle.config_changes)
    assert 1 <= len(messages) <= 4
    assert messages[-1].config.execution_pool.max_open_groups == 17
    assert {k for m in messages for k in m.changed} == {POOL, "ui.font_size"}


async def test_exchange_change_refused_while_a_signal_waits(eng: Engine):
    admin = await eng.login()
    assert (await eng.webhook(PAYLOAD)).status_code == 200  # accepted, not yet processed
    await admin.put("/api/config", json={"changes": {"exchange.paper.taker_fee_percent": 0.2}})
    r = await admin.post("/api/config/apply")
    assert is_error(r, 409, "conflict")
    assert r.json()["details"]["problems"][0]["path"] == "exchange.paper.taker_fee_percent"
    assert str(eng.handle.config.exchange.paper.taker_fee_percent) == "0.1"
    assert drain(eng.handle.config_changes) == []
    eng.store.write_now(lambda conn: set_state(conn, 1, "processed", outcome="test"))
    assert (await admin.post("/api/config/apply")).status_code == 200
    assert str(eng.handle.config.exchange.paper.taker_fee_percent) == "0.2"


async def test_an_invalid_file_cannot_be_applied(eng: Engine):
    admin = await eng.login()
    eng.config_path.write_text(eng.config_path.read_text().replace(
        "max_open_groups = 10", 'max_open_groups = "ten"'))
    view = (await admin.get("/api/config")).json()
    assert view["differs"] is True and view["problems"][0]["path"] == POOL
    assert view["file"] is None
    r = await admin.post("/api/config/apply")
    assert is_error(r, 422, "invalid_config")
    assert eng.handle.config.execution_pool.max_open_groups == 10
