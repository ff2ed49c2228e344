"""Sessions, CSRF, roles, lockout and user management through the running app (SPEC 12.2,
11.6)."""

import hashlib
from pathlib import Path

import pytest

from tests.web.conftest import ADMIN, OPERATOR, PASSWORD, Engine, running_engine

MINUTE = 60_000


def is_error(r, status: int, code: str) -> bool:
    body = r.json()
    return r.status_code == status and body["error"] == code and set(body) == {
        "error", "message", "details"}


async def test_every_api_route_needs_a_session(eng: Engine):
    c = eng.client()
    for path in ("/api/status", "/api/auth/me", "/api/config", "/api/logs", "/api/inbox",
                 "/api/users", "/api/nowhere"):
        assert is_error(await c.get(path), 401, "unauthorized"), path
    c.cookies.set("engine_session", "forged-token")
    assert is_error(await c.get("/api/status"), 401, "unauthorized")
    assert (await c.get("/healthz")).status_code == 200  # no session needed


async def test_login_sets_a_strict_http_only_cookie_and_stores_only_its_hash(eng: Engine):
    c = eng.client()
    r = await c.post("/api/auth/login", json={"username": ADMIN, "password": PASSWORD})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("username", "role")} == {"username": ADMIN, "role": "admin"}
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure when served over TLS
    token = c.cookies["engine_session"]
    [row] = eng.store.query("SELECT id FROM sessions")
    assert row["id"] == hashlib.sha256(token.encode()).hexdigest() != token
    me = (await c.get("/api/auth/me")).json()
    assert me["username"] == ADMIN and me["csrf_token"] == r.json()["csrf_token"]
    forwarded = eng.client(**{"X-Forwarded-Proto": "https"})
    # not behind a trusted proxy: the header does not make the cookie Secure
    r = await forwarded.post("/api/auth/login", json={"username": ADMIN, "password": PASSWORD})
    assert "Secure" not in r.headers["set-cookie"]


async def test_secure_cookie_behind_a_trusted_tls_proxy(tmp_path: Path):
    async with running_engine(tmp_path, settings={"security.trust_forwarded_for": True}) as eng:
        c = eng.client(**{"X-Forwarded-Proto": "https"})
        r = await c.post("/api/auth/login", json={"username": ADMIN, "password": PASSWORD})
        assert "Secure" in r.headers["set-cookie"]


async def test_wrong_password_and_bad_bodies(eng: Engine):
    c = eng.client()
    r = await c.post("/api/auth/login", json={"username": ADMIN, "password": "nope-nope"})
    assert is_error(r, 401, "invalid_credentials")
    r = await c.post("/api/auth/login", json={"username": ADMIN})
    assert is_error(r, 400, "bad_request") and r.json()["details"]["field"] == "password"
    r = await c.post("/api/auth/login", json={"username": 7, "password": "x"})
    assert r.json()["details"]["field"] == "username"
    r = await c.post("/api/auth/login", content=b"{oops")
    assert is_error(r, 400, "bad_request") and r.json()["details"]["field"] == "body"


async def test_operator_reads_but_cannot_act_or_list_users(eng: Engine):
    op = await eng.login(OPERATOR)
    for path in ("/api/status", "/api/config", "/api/logs", "/api/inbox",
                 "/api/config/versions"):
        assert (await op.get(path)).status_code == 200, path
    assert is_error(await op.get("/api/users"), 403, "forbidden")
    assert is_error(await op.put("/api/config", json={"changes": {}}), 403, "forbidden")
    assert is_error(await op.post("/api/config/apply"), 403, "forbidden")
    assert is_error(await op.post("/api/users", json={}), 403, "forbidden")
    assert (await op.post("/api/auth/logout")).status_code == 200


async def test_state_changing_calls_need_the_csrf_token(eng: Engine):
    admin = await eng.login()
    token = admin.headers.pop("X-CSRF-Token")
    assert is_error(await admin.post("/api/config/apply"), 403, "csrf")
    admin.headers["X-CSRF-Token"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert is_error(await admin.post("/api/config/apply"), 403, "csrf")
    admin.headers["X-CSRF-Token"] = token
    assert (await admin.post("/api/config/apply")).status_code == 200


async def test_five_failures_lock_the_user_for_15_minutes(eng: Engine):
    c = eng.client()
    for _ in range(5):
        r = await c.post("/api/auth/login", json={"username": ADMIN, "password": "bad-bad"})
        assert r.status_code == 401
    r = await c.post("/api/auth/login", json={"username": ADMIN, "password": PASSWORD})
    assert is_error(r, 429, "locked") and r.json()["details"]["retry_after_s"] == 900
    events = [e["event"] for e in eng.events() if e["category"] == "security"]
    assert events.count("login_failed") == 5 and "login_lockout" in events
    assert "login_locked" in events
    eng.clock.advance(15 * MINUTE)
    assert (await c.post("/api/auth/login",
                         json={"username": ADMIN, "password": PASSWORD})).status_code == 200


async def test_five_failures_from_one_ip_lock_that_ip(eng: Engine):
    c = eng.client()
    for i in range(5):
        await c.post("/api/auth/login", json={"username": f"guess{i}", "password": "bad-bad"})
    r = await c.post("/api/auth/login", json={"username": OPERATOR, "password": PASSWORD})
    assert is_error(r, 429, "locked")


async def test_user_lock_holds_across_ips_and_old_failures_expire(tmp_path: Path):
    async with running_engine(tmp_path, settings={"security.trust_forwarded_for": True}) as eng:
        for i in range(4):
            c = eng.client(**{"X-Forwarded-For": f"10.0.0.{i}"})
            await c.post("/api/auth/login", json={"username": ADMIN, "password": "bad-bad"})
        eng.clock.advance(15 * MINUTE + 1)  # the first four fall out of the 15-minute window
        c = eng.client(**{"X-Forwarded-For": "10.0.0.9"})
        await c.post("/api/auth/login", json={"username": ADMIN, "password": "bad-bad"})
        fresh = eng.client(**{"X-Forwarded-For": "10.0.0.10"})
        ok = await fresh.post("/api/auth/login", json={"username": ADMIN, "password": PASSWORD})
        assert ok.status_code == 200
        for i in range(5):
            c = eng.client(**{"X-Forwarded-For": f"10.0.1.{i}"})
            await c.post("/api/auth/login", json={"username": OPERATOR, "password": "bad-bad"})
        r = await fresh.post("/api/auth/login", json={"username": OPERATOR, "password": PASSWORD})
        assert is_error(r, 429, "locked")


async def test_session_expires_after_the_configured_lifetime(tmp_path: Path):
    async with running_engine(tmp_path,
                              settings={"security.session_timeout_minutes": 5}) as eng:
        admin = await eng.login()
        eng.clock.advance(5 * MINUTE - 1)
        assert (await admin.get("/api/auth/me")).status_code == 200
        eng.clock.advance(1)
        assert is_error(await admin.get("/api/auth/me"), 401, "unauthorized")


async def test_logout_ends_the_session(eng: Engine):
    admin = await eng.login()
    token = admin.cookies["engine_session"]
    assert (await admin.post("/api/auth/logout")).status_code == 200
    replay = eng.client()
    replay.cookies.set("engine_session", token)
    assert is_error(await replay.get("/api/auth/me"), 401, "unauthorized")


async def test_user_management(eng: Engine):
    admin = await eng.login()
    r = await admin.post("/api/users", json={"username": "carol", "password": "long enough!",
                                             "role": "operator"})
    assert r.status_code == 201
    assert is_error(await admin.post("/api/users", json={
        "username": "carol", "password": "long enough!"}), 409, "conflict")
    bad = await admin.post("/api/users", json={"username": "dave", "password": "short"})
    assert is_error(bad, 422, "invalid") and bad.json()["details"]["field"] == "password"
    bad = await admin.post("/api/users", json={"username": "dave", "password": "long enough!",
                                               "role": "root"})
    assert bad.json()["details"]["field"] == "role"
    bad = await admin.post("/api/users", json={"username": "dave", "pasword": "long enough!"})
    assert is_error(bad, 400, "bad_request")
    names = [u["username"] for u in (await admin.get("/api/users")).json()["users"]]
    assert names == ["carol", ADMIN, OPERATOR]
    assert all("password_hash" not in u for u in (await admin.get("/api/users")).json()["users"])

    carol = await eng.login("carol", "long enough!")
    assert (await admin.put("/api/users/carol", json={"role": "admin"})).status_code == 200
    assert (await carol.get("/api/users")).status_code == 200  # the role is read per request
    assert (await admin.put("/api/users/carol", json={"password": "another one!"})).status_code \
        == 200
    assert is_error(await carol.get("/api/auth/me"), 401, "unauthorized")  # password changed
    assert is_error(await admin.put("/api/users/nobody", json={"role": "admin"}), 404,
                    "not_found")
    assert is_error(await admin.put("/api/users/carol", json={}), 400, "bad_request")
    assert (await admin.delete("/api/users/carol")).status_code == 200
    assert is_error(await admin.delete("/api/users/carol"), 404, "not_found")
    assert is_error(await admin.delete(f"/api/users/{ADMIN}"), 409, "conflict")  # last admin
    assert is_error(await admin.put(f"/api/users/{ADMIN}", json={"role": "operator"}), 409,
                    "conflict")


@pytest.mark.parametrize("path", ["/api/users/%00", "/api/config/versions/999"])
async def test_unknown_things_are_404_in_the_error_shape(eng: Engine, path: str):
    admin = await eng.login()
    r = await admin.delete(path) if path.startswith("/api/users") else await admin.get(path)
    assert is_error(r, 404, "not_found")
