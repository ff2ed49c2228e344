"""Access control proof against the real daemon (SPEC 11.6, 12.2): ``engine run`` as a process
with the first admin from ``ENGINE_ADMIN_PASSWORD`` and an operator added with
``engine user add``.

- every route the app serves (``app.url_map``) is swept: each ``/api/`` route refuses a request
  without a session (401) and an operator on the admin routes (403); the admin set is the SPEC
  11.6 table's, and the app's own guard/decorators must agree with it;
- state-changing calls without (or with a wrong, or another session's) ``X-CSRF-Token`` are
  refused and change nothing;
- five failed logins lock the user name and, separately, the source address;
- an answer sent before the request body was read leaves the keep-alive connection usable.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.stress.daemon import (
    ADMIN, ADMIN_PASSWORD, OPERATOR, OPERATOR_PASSWORD, Daemon, is_error, local_client,
    log_events, start_daemon)
from tests.stress.routes import ADMIN as ADMIN_ONLY
from tests.stress.routes import (
    PUBLIC, SESSION, SPEC_ROUTES, app_routes, shape, spec_access, spec_routes_missing)
from web import auth
from web.auth import COOKIE

ROUTES = app_routes({"name": OPERATOR, "filename": "app.js"})
API_ROUTES = [r for r in ROUTES if r.rule.startswith("/api/") and r.app_access != PUBLIC]
# the only routes outside /api/ that may accept more than GET (SPEC 12.2: no remote commands)
PUBLIC_WRITES = {("POST", "/webhook")}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("security"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def admin(daemon: Daemon) -> Iterator[httpx.Client]:
    c = daemon.login()
    yield c
    c.close()


@pytest.fixture(scope="module")
def operator(daemon: Daemon) -> Iterator[httpx.Client]:
    c = daemon.login(OPERATOR, OPERATOR_PASSWORD)
    yield c
    c.close()


def request(c: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    if method in ("POST", "PUT", "DELETE") and "json" not in kw and "content" not in kw:
        kw["json"] = {}
    return c.request(method, path, **kw)


def ws_status(daemon: Daemon, cookie: str | None) -> int:
    """The handshake status of ``/api/ws`` (101 when accepted)."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    url = daemon.url.replace("http://", "ws://") + "/api/ws"
    try:
        with connect(url, additional_headers=headers, proxy=None, open_timeout=5,
                     compression=None) as conn:
            json.loads(conn.recv(5))  # the first snapshot
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def snapshot(daemon: Daemon) -> dict[str, Any]:
    """What a refused call must not change: journal, users, sessions' owners, config, groups."""
    return {
        "journal": daemon.scalar("SELECT max(seq) FROM journal WHERE actor != 'reconciler'"),
        "users": daemon.query("SELECT username, role, password_hash FROM users ORDER BY 1"),
        "sessions": daemon.scalar("SELECT count(*) FROM sessions"),
        "config_versions": daemon.scalar("SELECT count(*) FROM config_versions"),
        "config_file": daemon.config_path.read_text(),
        "groups": daemon.query("SELECT id, status FROM position_groups ORDER BY id"),
        "queue": daemon.scalar("SELECT count(*) FROM queue_entries"),
        "inbox": daemon.scalar("SELECT count(*) FROM inbox"),
    }


# --- the route table --------------------------------------------------------------------------


def test_the_apps_authorization_agrees_with_the_spec_table():
    disagreements = [(r.method, r.path, r.app_access, spec_access(r.method, r.shape))
                     for r in ROUTES if spec_access(r.method, r.shape) not in (None, r.app_access)]
    assert disagreements == [], "the app's guard/decorators and SPEC 11.6 disagree"
    for r in ROUTES:
        if not r.rule.startswith("/api/"):
            assert (r.method, r.rule) in PUBLIC_WRITES or r.method == "GET", (r.method, r.rule)
    # every SPEC admin route the app serves is admin in the app; routes only the app has are
    # classified by its guard: writes admin (unless an operator write), reads need a session
    assert {(m, shape(p)) for m, p, a in SPEC_ROUTES if a == ADMIN_ONLY} >= {
        (r.method, r.shape) for r in ROUTES if r.app_access == ADMIN_ONLY
        and spec_access(r.method, r.shape) is not None}
    assert all(r.app_access in (SESSION, ADMIN_ONLY) for r in API_ROUTES)
    print("\nSPEC 11.6 routes the app does not serve yet:", spec_routes_missing(ROUTES))


def test_every_api_route_refuses_a_request_without_a_session(daemon: Daemon):
    missing = [(m, p.replace("{id}", "1").replace("{name}", "x"))
               for m, p in spec_routes_missing(ROUTES)]
    targets = [(r.method, r.path) for r in API_ROUTES if not r.websocket] + missing
    assert len(targets) > 40
    with local_client(daemon) as anonymous, local_client(daemon) as forged:
        forged.cookies.set(COOKIE, "forged-session-token")
        for method, path in targets:
            for c in (anonymous, forged):
                r = request(c, method, path)
                assert is_error(r, 401, "unauthorized"), (method, path, r.status_code, r.text)
    assert ws_status(daemon, None) == 401
    assert ws_status(daemon, "forged-session-token") == 401
    health = httpx.get(f"{daemon.url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "running"}


def test_operators_are_refused_every_admin_route(daemon: Daemon, operator: httpx.Client):
    before = snapshot(daemon)
    admin_routes = [r for r in API_ROUTES if r.app_access == ADMIN_ONLY]
    assert len(admin_routes) >= 15
    for r in admin_routes:
        response = request(operator, r.method, r.path)
        assert is_error(response, 403, "forbidden"), (r.method, r.path, response.text)
    for r in API_ROUTES:
        if r.app_access == SESSION and r.method == "GET" and not r.websocket:
            response = operator.get(r.path)
            assert response.status_code not in (401, 403) and response.status_code < 500, (
                r.path, response.status_code, response.text)
    assert ws_status(daemon, operator.cookies.get(COOKIE)) == 101
    assert snapshot(daemon) == before


def test_state_changing_calls_without_the_csrf_token_are_refused(daemon: Daemon,
                                                                 operator: httpx.Client):
    writes = [r for r in API_ROUTES if r.method not in auth.SAFE_METHODS]
    assert len(writes) >= 15
    bodies = {"/api/config": {"changes": {"ui.font_size": 17}},
              "/api/users": {"username": "mallory", "password": "long enough 1", "role": "admin"},
              f"/api/users/{OPERATOR}": {"role": "admin"},
              "/api/paper/price": {"symbol": "LTCUSDT", "price": "90"},
              "/api/risk/run": {"force": True}}
    c = daemon.login()
    token = c.headers.pop("X-CSRF-Token")
    other_session = operator.headers["X-CSRF-Token"]
    before = snapshot(daemon)
    for r in writes:
        for header in (None, "", token[:-1], token + "x", other_session, token.upper()):
            if header == token:
                continue
            headers = {} if header is None else {"X-CSRF-Token": header}
            response = request(c, r.method, r.path, headers=headers,
                               json=bodies.get(r.path, {}))
            assert is_error(response, 403, "csrf"), (r.method, r.path, header, response.text)
    assert snapshot(daemon) == before
    c.headers["X-CSRF-Token"] = token
    assert c.get("/api/auth/me").status_code == 200  # the logout without a token did nothing
    assert c.post("/api/auth/logout").status_code == 200
    c.close()


def test_five_failed_logins_lock_the_user_and_separately_the_address(daemon: Daemon,
                                                                      admin: httpx.Client):
    assert admin.post("/api/users", json={"username": "locky", "password": "locky-pass-1",
                                          "role": "operator"}).status_code == 201
    for i in range(5):  # five addresses: only the user name reaches five failures
        with local_client(daemon, f"127.0.0.{11 + i}") as c:
            r = c.post("/api/auth/login", json={"username": "locky", "password": "wrong-one"})
            assert is_error(r, 401, "invalid_credentials"), r.text
    with local_client(daemon, "127.0.0.16") as c:
        r = c.post("/api/auth/login", json={"username": "locky", "password": "locky-pass-1"})
        assert is_error(r, 429, "locked") and 0 < r.json()["details"]["retry_after_s"] <= 900
        r = c.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        assert r.status_code == 200  # the address itself is not locked

    with local_client(daemon, "127.0.0.20") as c:  # one address, five different user names
        for i in range(5):
            r = c.post("/api/auth/login", json={"username": f"guess{i}", "password": "nope-nope"})
            assert is_error(r, 401, "invalid_credentials")
        r = c.post("/api/auth/login", json={"username": OPERATOR, "password": OPERATOR_PASSWORD})
        assert is_error(r, 429, "locked")
    with local_client(daemon, "127.0.0.21") as c:
        r = c.post("/api/auth/login", json={"username": OPERATOR, "password": OPERATOR_PASSWORD})
        assert r.status_code == 200  # the user name is not locked

    lockouts = log_events(daemon, "login_lockout", lambda found: len(found) >= 2)
    assert {e["data"]["username"] for e in lockouts} >= {"locky"}
    assert "127.0.0.20" in {e["data"]["source_ip"] for e in lockouts}


@pytest.mark.parametrize("path, body, status", [
    ("/api/auth/logout", b"{}", b"401"),  # refused by the guard before the body is read
    ("/webhook", b"x" * 70_000, b"413"),  # refused on its declared length
])
def test_an_answer_before_the_body_is_read_keeps_the_connection_usable(
        daemon: Daemon, path: str, body: bytes, status: bytes):
    """A request answered before its body was read must not stall the next request on the
    same keep-alive connection (hypercorn 0.18 + quart-trio 0.12 left such a connection open
    but dead). Raw socket: headers first, the body a moment later, then the next request."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as s:
        for _ in range(3):
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode())
            time.sleep(0.1)  # the server has the headers, not yet the body
            try:
                s.sendall(body)
            except OSError:
                return  # the server closed the connection on the refusal: the client reconnects
            head = read_response(s)
            assert head.startswith(b"HTTP/1.1 " + status), head
            if b"connection: close" in head.lower():
                return  # the server says so: the client opens a new connection
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s).startswith(b"HTTP/1.1 200")


def read_response(s: socket.socket) -> bytes:
    """One HTTP/1.1 response (headers + Content-Length body); b"" when the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body
