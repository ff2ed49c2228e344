"""Settings page routes for the configuration file, through the running app (SPEC 10.1, 11.5 F,
11.6): schema, export, import and reset (previewed, written only when confirmed), version
restore; 403 for operators, 422 listing every problem by key path, nothing on disk changed."""

from engine.config import DEFAULT_TOML
from engine.config.catalog import catalogue
from tests.web.conftest import OPERATOR, Engine

POOL = "execution_pool.max_open_groups"


def error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and set(body) == {"error", "message", "details"}
    return body["details"]


async def test_schema_lists_every_catalogue_key_for_any_session(eng: Engine):
    viewer = await eng.login(OPERATOR)
    body = (await viewer.get("/api/config/schema")).json()
    assert [f["path"] for f in body["fields"]] == [e["path"] for e in catalogue()]
    assert body["sections"][:3] == ["Exchange API", "Precision", "Execution Pool"]
    pool = next(f for f in body["fields"] if f["path"] == POOL)
    assert (pool["label"], pool["min"], pool["apply_class"]) == ("Max open groups", "1", "now")
    assert (await eng.client().get("/api/config/schema")).status_code == 401


async def test_export_downloads_the_file_on_disk(eng: Engine):
    admin = await eng.login()
    r = await admin.get("/api/config/export")
    assert r.status_code == 200 and r.text == eng.config_path.read_text()
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="engine-2025') and ".toml" in disposition
    assert r.headers["cache-control"] == "no-store"


async def test_import_previews_then_writes_only_when_confirmed(eng: Engine):
    admin = await eng.login()
    before = eng.config_path.read_text()
    upload = before.replace("max_open_groups = 10", "max_open_groups = 3")
    preview = await admin.post("/api/config/import", content=upload.encode())
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["confirmed"] is False and body["valid"] is True
    assert body["diff"] == [{"key": POOL, "old": 10, "new": 3}]
    assert eng.config_path.read_text() == before  # a preview replaces nothing
    done = await admin.post("/api/config/import?confirm=true", content=upload.encode())
    assert done.status_code == 200 and done.json()["confirmed"] is True
    assert eng.config_path.read_text() == upload  # comments and layout as uploaded
    [version] = (await admin.get("/api/config/versions")).json()["versions"]
    assert (version["action"], version["user"]) == ("import", "root")
    assert eng.handle.config.execution_pool.max_open_groups == 10  # saved, not applied


async def test_a_broken_import_lists_every_problem_and_changes_nothing(eng: Engine):
    admin = await eng.login()
    before = eng.config_path.read_bytes()
    broken = (DEFAULT_TOML
              .replace("max_open_groups = 10", 'max_open_groups = "ten"')
              .replace("keep_days = 30", "keep_days = 0\nkeep_dayz = 3")
              .replace("# api_key / api_secret", 'api_key = "AKIA-clear-text-key-123456"\n#'))
    for confirm in ("", "?confirm=true"):
        r = await admin.post(f"/api/config/import{confirm}", content=broken.encode())
        problems = error(r, 422, "invalid_config")["problems"]
        assert {p["path"] for p in problems} == {
            POOL, "logging.keep_days", "logging.keep_dayz", "exchange.api_key"}
        assert "AKIA-clear-text-key-123456" not in r.text
    assert eng.config_path.read_bytes() == before
    not_toml = await admin.post("/api/config/import?confirm=true", content=b"[[ nope")
    assert "not valid TOML" in error(not_toml, 422, "invalid_config")["problems"][0]["message"]
    binary = await admin.post("/api/config/import?confirm=true", content=b"\xff\xfe\x00bad")
    assert "UTF-8" in error(binary, 422, "invalid_config")["problems"][0]["message"]
    huge = await admin.post("/api/config/import?confirm=true",
                            content=before + b"#" * (1024 * 1024))
    assert huge.status_code == 413
    assert eng.config_path.read_bytes() == before
    assert (await admin.get("/api/config/versions")).json()["versions"] == []


async def test_reset_restores_the_default_file_keeping_the_data_directory(eng: Engine):
    admin = await eng.login()
    await admin.put("/api/config", json={"changes": {POOL: 4, "ui.font_size": 18}})
    edited = eng.config_path.read_text()
    preview = (await admin.post("/api/config/reset", json={})).json()
    assert preview["confirmed"] is False
    assert {d["key"]: d["new"] for d in preview["diff"]} == {POOL: 10, "ui.font_size": 14}
    assert eng.config_path.read_text() == edited
    done = await admin.post("/api/config/reset", json={"confirm": True})
    assert done.status_code == 200 and done.json()["confirmed"] is True
    assert eng.config_path.read_text() == DEFAULT_TOML  # comments included
    versions = (await admin.get("/api/config/versions")).json()["versions"]
    assert [v["action"] for v in versions] == ["reset", "save"]


async def test_a_saved_version_can_be_restored(eng: Engine):
    admin = await eng.login()
    await admin.put("/api/config", json={"changes": {POOL: 4}})
    await admin.put("/api/config", json={"changes": {POOL: 6}})
    old = (await admin.get("/api/config/versions")).json()["versions"][-1]["id"]  # POOL = 4
    preview = (await admin.post(f"/api/config/versions/{old}/restore", json={})).json()
    assert preview["diff"] == [{"key": POOL, "old": 6, "new": 4}]
    assert "max_open_groups = 6" in eng.config_path.read_text()
    r = await admin.post(f"/api/config/versions/{old}/restore", json={"confirm": True})
    assert r.status_code == 200 and "max_open_groups = 4" in eng.config_path.read_text()
    error(await admin.post("/api/config/versions/999/restore", json={}), 404, "not_found")


async def test_operators_can_read_but_not_replace_the_file(eng: Engine):
    viewer = await eng.login(OPERATOR)
    before = eng.config_path.read_bytes()
    assert (await viewer.get("/api/config/export")).status_code == 200
    for r in (await viewer.post("/api/config/import?confirm=true", content=DEFAULT_TOML),
              await viewer.post("/api/config/reset", json={"confirm": True}),
              await viewer.post("/api/config/versions/1/restore", json={"confirm": True}),
              await viewer.post("/api/config/preview/ladder",
                                json={"symbol": "BTCUSDT", "notional": 100})):
        error(r, 403, "forbidden")
    assert eng.config_path.read_bytes() == before
