"""GET /api/backup through the running app (SPEC 12.3, 11.6): the ``engine backup`` archive,
streamed, named ``engine-backup-<UTC time>.tar.gz``, restorable with ``engine restore``; the
ladder preview route; one's own password change needing the current one."""

import io
import sqlite3
import tarfile
from decimal import Decimal

from ops.cli import main as cli
from tests.web.conftest import OPERATOR, PASSWORD, Engine


async def test_backup_streams_the_cli_archive_and_restores(eng: Engine, tmp_path):
    admin = await eng.login()
    await admin.put("/api/config", json={"changes": {"execution_pool.max_open_groups": 7}})
    eng.logbook.flush()
    async with admin.stream("GET", "/api/backup") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/gzip"
        assert r.headers["content-disposition"] == \
            'attachment; filename="engine-backup-20251110T120000Z.tar.gz"'
        assert "content-length" not in r.headers  # streamed, not built in memory first
        chunks = [chunk async for chunk in r.aiter_bytes()]
    archive = b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        assert names[:2] == ["engine.toml", "engine.db"]
        assert names[2:] and all(n.startswith("logs/") and n.endswith(".jsonl")
                                 for n in names[2:])
        assert tar.extractfile("engine.toml").read() == eng.config_path.read_bytes()
    assert not list(eng.data_dir.glob(".backup-*"))  # the temporary copy is gone
    assert all(p.name not in names for p in eng.data_dir.iterdir() if "secret" in p.name
               or p.name == "master.key")
    saved = tmp_path / "download.tar.gz"
    saved.write_bytes(archive)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert cli(["restore", str(saved), "--config", str(fresh / "engine.toml")]) == 0
    restored = sqlite3.connect(fresh / "engine_data" / "engine.db")
    try:
        users = {row[0] for row in restored.execute("SELECT username FROM users")}
        [(action,)] = restored.execute("SELECT action FROM config_versions").fetchall()
    finally:
        restored.close()
    assert users == {"root", "viewer"} and action == "save"
    assert "max_open_groups = 7" in (fresh / "engine.toml").read_text()


async def test_operators_get_no_backup(eng: Engine):
    viewer = await eng.login(OPERATOR)
    r = await viewer.get("/api/backup")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


async def test_ladder_preview_marks_the_legs_the_filters_refuse(eng: Engine):
    admin = await eng.login()
    three = [{"gap_percent": 0, "weight_percent": 50, "tp_percent": 1},
             {"gap_percent": -1, "weight_percent": 30, "tp_percent": 1.5},
             {"gap_percent": -2, "weight_percent": 20, "tp_percent": 2}]
    body = {"symbol": "ltcusdt", "notional": 1000, "price": 100,
            "changes": {"grid_strategy.dca_levels": three}}
    r = await admin.post("/api/config/preview/ladder", json=body)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["ok"] and plan["symbol"] == "LTCUSDT" and plan["would_send"]
    rows = [(leg["price"], leg["qty"], leg["notional"], leg["tp_price"]) for leg in plan["legs"]]
    assert rows == [("100.00", "5.000", "500.00", "101.00"),
                    ("99.00", "3.030", "299.97", "100.48"),
                    ("98.00", "2.040", "199.92", "99.96")]
    assert (plan["deployed_notional"], plan["average_entry"]) == ("999.89", "99.29")  # 999.89 / 10.07
    small = (await admin.post("/api/config/preview/ladder", json={**body, "notional": 12})).json()
    assert small["ok"] and not small["would_send"]
    refused = [leg for leg in small["legs"] if leg["refused"]]
    assert refused and all(p["rule"] in ("min_notional", "min_qty")
                           for leg in refused for p in leg["problems"])
    assert Decimal(small["min_notional"]) > 0
    bad = [{**three[0], "weight_percent": 40}, three[1], three[2]]  # weights sum to 90
    r = await admin.post("/api/config/preview/ladder",
                         json={**body, "changes": {"grid_strategy.dca_levels": bad}})
    assert r.status_code == 422
    assert r.json()["details"]["problems"] == [{"path": "grid_strategy.dca_levels", "message":
                                                "weights sum to 90, expected 100 (±0.01)"}]
    unknown = (await admin.post("/api/config/preview/ladder",
                                json={"symbol": "NOPEUSDT", "notional": 100})).json()
    assert unknown == {"ok": False, "symbol": "NOPEUSDT", "current_price": None,
                       "reason": "no price known for NOPEUSDT yet: enter one"}


async def test_changing_ones_own_password_needs_the_current_one(eng: Engine):
    admin = await eng.login()
    new = "a much better password"
    for body in ({"password": new}, {"password": new, "old_password": "wrong one!"}):
        r = await admin.put("/api/users/root", json=body)
        assert r.status_code == 422 and r.json()["details"] == {"field": "old_password"}
    r = await admin.put("/api/users/root", json={"password": new, "old_password": PASSWORD})
    assert r.status_code == 200
    assert (await eng.client().post("/api/auth/login", json={"username": "root",
                                                             "password": new})).status_code == 200
    # another user's password is an admin's to reset without it
    again = await eng.login("root", new)
    assert (await again.put("/api/users/viewer", json={"password": new})).status_code == 200
    assert (await again.put("/api/users/root", json={"role": "operator"})).status_code == 409
    assert (await again.delete("/api/users/root")).status_code == 409
