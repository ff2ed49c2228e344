"""Security proof against the real daemon (SPEC 2.2, 11.6, 12.1, 12.2): ``engine run`` as a
process with secrets planted in the environment and in the encrypted secrets file, the first
admin from ``ENGINE_ADMIN_PASSWORD`` and an operator added with ``engine user add``.

- every route the app serves (``app.url_map``) is swept: each ``/api/`` route refuses a request
  without a session (401) and an operator on the admin routes (403); the admin set is the SPEC
  11.6 table's, and the app's own guard/decorators must agree with it;
- state-changing calls without (or with a wrong, or another session's) ``X-CSRF-Token`` are
  refused and change nothing;
- five failed logins lock the user name and, separately, the source address;
- the webhook refuses wrong secrets and logs the source address; the comparison is
  ``hmac.compare_digest`` and a shared prefix does not make it measurably slower;
- the planted secrets never appear in full in the log files, the log exports, any API answer,
  the live push, the process output, the CLI backup archive or anywhere in the database.
"""

from __future__ import annotations

import copy
import inspect
import json
import socket
import statistics
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.stress.daemon import (
    ADMIN, ADMIN_PASSWORD, API_KEY, API_SECRET, OPERATOR, OPERATOR_PASSWORD, PASSPHRASE,
    PLANTED, WEBHOOK_SECRET, Daemon, cli, local_client, start_daemon)
from tests.stress.routes import ADMIN as ADMIN_ONLY
from tests.stress.routes import (
    PUBLIC, SESSION, SPEC_ROUTES, app_routes, shape, spec_access, spec_routes_missing)
from tests.web.conftest import API_KEY as WEB_API_KEY
from tests.web.conftest import PAYLOAD, running_engine
from engine.masking import Masker, mask_webhook_body
from web import auth, webhook
from web.auth import COOKIE

ROUTES = app_routes({"name": OPERATOR, "filename": "app.js"})
API_ROUTES = [r for r in ROUTES if r.rule.startswith("/api/") and r.app_access != PUBLIC]
# the only routes outside /api/ that may accept more than GET (SPEC 12.2: no remote commands)
PUBLIC_WRITES = {("POST", "/webhook")}


def is_error(r: httpx.Response, status: int, code: str) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return (r.status_code == status and isinstance(body, dict) and body.get("error") == code
            and set(body) == {"error", "message", "details"})


def entry(**changes: Any) -> dict[str, Any]:
    """The SPEC 2.9 entry with this daemon's secret: LTCUSDT, 1000 USDT at 100."""
    body = copy.deepcopy(PAYLOAD)
    body["secret"] = WEBHOOK_SECRET
    body["tv"].update({"symbol": "LTCUSDT", "timeframe": "60", "entry_price": 100.0,
                       "close_price": 100.0, "order_size": 1000.0})
    body["execution_intent"]["position_size_type"] = "quote"
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = body
        for part in parents:
            node = node[part]
        node[last] = value
    return body


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


def log_events(daemon: Daemon, event: str, enough, timeout: float = 5) -> list[dict]:
    """The log file's events named ``event``, once ``enough(events)`` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(line) for line in daemon.log_text().splitlines()
                 if f'"event":"{event}"' in line]
        if enough(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_wrong_webhook_secret_is_refused_and_logged_with_its_source(daemon: Daemon):
    inbox_before = daemon.scalar("SELECT count(*) FROM inbox")
    wrong = [WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x", WEBHOOK_SECRET.lower(), "", 7, None,
             API_KEY, " " + WEBHOOK_SECRET]
    with local_client(daemon, "127.0.0.30") as c:
        for i, secret in enumerate(wrong):
            body = entry(**{"strategy_info.trade_id": f"wrong-{i}"})
            if secret is None:
                del body["secret"]
            else:
                body["secret"] = secret
            r = c.post("/webhook", json=body)
            assert r.status_code == 401 and r.json() == {"status": "unauthorized"}, (secret, r.text)
    assert daemon.scalar("SELECT count(*) FROM inbox") == inbox_before
    failures = log_events(daemon, "webhook_auth_failed", lambda found: len(
        [f for f in found if f["data"]["source_ip"] == "127.0.0.30"]) >= len(wrong))
    failures = [f for f in failures if f["data"]["source_ip"] == "127.0.0.30"]
    assert len(failures) == len(wrong)
    assert all(f["level"] == "warning" and f["category"] == "security" for f in failures)


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


# --- constant-time comparison -----------------------------------------------------------------


def test_the_webhook_secret_is_compared_with_hmac_compare_digest():
    path = inspect.getsource(webhook._authenticated)
    assert "_secret_matches(body.get(\"secret\"), secret)" in path
    assert "_signature_matches(signature, raw, secret)" in path
    for fn in (webhook._secret_matches, webhook._signature_matches, auth.guard):
        source = inspect.getsource(fn)
        assert "hmac.compare_digest(" in source, fn.__name__
        assert " == secret" not in source and "secret ==" not in source


def _median_ns(compare, right: str, candidates: dict[str, str], rounds: int) -> dict[str, float]:
    """Median time of ``compare(candidate, right)`` per candidate, calls interleaved so that a
    burst of load on the machine hits every candidate alike."""
    samples: dict[str, list[int]] = {name: [] for name in candidates}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, candidate in candidates.items():
            start = clock()
            compare(candidate, right)
            samples[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def test_a_shared_prefix_does_not_make_the_comparison_slower():
    right = "s" * 65_536 + "ECRET"  # long, so that an early exit would be easy to see
    candidates = {"prefix": right[:-1] + "X", "wrong": "X" + right[1:]}
    assert not webhook._secret_matches(candidates["prefix"], right)
    # the check can see a timing leak: a naive == is far slower on the shared prefix
    naive = _median_ns(lambda a, b: a == b, right, candidates, 300)
    assert naive["prefix"] > 2 * naive["wrong"], naive
    for _ in range(3):  # a loaded 2-core machine: a noisy round may be measured again
        medians = _median_ns(webhook._secret_matches, right, candidates, 300)
        if medians["prefix"] < 1.3 * medians["wrong"]:
            break
    assert medians["prefix"] < 1.3 * medians["wrong"], medians
    print(f"\ncompare_digest medians (ns): {medians}; naive ==: {naive}")


# --- known masking gaps (xfail strict: they turn red once fixed, then drop the mark) ----------

ESCAPED = st.text(alphabet=st.sampled_from('ab"\\\n\té€/<'), min_size=1, max_size=4)


@pytest.mark.xfail(strict=True, reason=(
    "engine/masking.py mask_webhook_body scrubs known secrets on the re-encoded JSON text, "
    "where a secret holding a character JSON escapes (\" \\ control, or non-ASCII sent as "
    "\\uXXXX) appears escaped, so the value match misses it: the inbox raw_body, the "
    "webhook_received log line and the events row keep it. Fix: scrub the decoded body "
    "(masker.scrub_obj) before encoding it."))
@settings(max_examples=60, deadline=None)
@given(core=ESCAPED, ascii_only=st.booleans(), field=st.sampled_from(
    ["strategy_info.alert_name", "strategy_info.alert_message", "note"]))
def test_a_secret_with_json_escaped_characters_is_masked_in_stored_webhook_bodies(
        core: str, ascii_only: bool, field: str):
    secret = f"Planted-{core}-Secret-123456"
    body = entry(**{field: f"see {secret}"})
    raw = json.dumps(body, ensure_ascii=ascii_only).encode()
    stored = json.loads(mask_webhook_body(raw, Masker([secret])))
    assert not [text for text in strings(stored) if secret in text]


def strings(obj: Any) -> Iterator[str]:
    """Every string of a decoded JSON value, keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from strings(value)


@pytest.mark.xfail(strict=True, reason=(
    "actors/users.py accepts a user name equal to a known secret: the name is stored in "
    "the users table and echoed by POST/GET /api/users in full. Fix: refuse (422, field "
    "username) a name containing a known secret value."))
async def test_a_user_name_equal_to_a_secret_is_refused(tmp_path: Path):
    async with running_engine(tmp_path) as eng:
        admin_client = await eng.login()
        r = await admin_client.post("/api/users", json={"username": WEB_API_KEY,
                                                        "password": "long enough 2"})
        assert r.status_code == 422 and r.json()["details"]["field"] == "username"
        assert WEB_API_KEY not in "\n".join(eng.store.conn.iterdump())


# --- planted secrets never leak (runs last: it stops the daemon) --------------------------------


def forms(secret: str) -> list[str]:
    """A secret as it could appear in text: raw, JSON-escaped once or twice (ASCII or not), and
    the unmasked part of each (all but the 6 characters the masked form shows)."""
    found = {secret}
    for _ in range(2):
        found |= {json.dumps(f, ensure_ascii=a)[1:-1] for f in found for a in (True, False)}
    return sorted(found | {f[:-6] for f in found}, key=len)


def test_planted_secrets_never_leak(daemon: Daemon, admin: httpx.Client, tmp_path: Path):
    answers: list[str] = []

    def keep(r: httpx.Response) -> httpx.Response:
        answers.append(f"{r.status_code} {r.text} {json.dumps(dict(r.headers))}")
        return r

    all_planted = " ".join(PLANTED)
    with local_client(daemon, "127.0.0.40") as c:
        assert keep(c.post("/webhook", json=entry())).json()["status"] == "accepted"
        keep(c.post("/webhook", json=entry(**{
            "timestamp": "2025-11-10T13:00:00Z", "strategy_info.trade_id": f"t-{API_SECRET}",
            "strategy_info.alert_message": f"keys: {all_planted}",
            "strategy_info.alert_name": PASSPHRASE})))
        for secret in (API_KEY, API_SECRET, PASSPHRASE):
            assert keep(c.post("/webhook", json=entry(secret=secret))).status_code == 401
        keep(c.post("/webhook", json=entry(**{"tv.symbol": API_SECRET})))
        keep(c.post("/webhook", json=entry(**{"tv.timeframe": API_KEY, "tv.action": PASSPHRASE})))
        keep(c.post("/webhook", json=entry(**{"execution_intent.type": WEBHOOK_SECRET})))
        keep(c.post("/webhook", content=f'{{"secret": "{WEBHOOK_SECRET}", {API_SECRET}'))
        keep(c.post("/webhook", json=entry(), headers={"X-Signature": f"sha256={API_SECRET}"}))
        keep(c.post("/webhook", json=entry(pad="x" * 70_000, note=API_KEY)))
    with local_client(daemon, "127.0.0.41") as c:
        keep(c.post("/api/auth/login", json={"username": API_KEY, "password": API_SECRET}))
        keep(c.post("/api/auth/login", json={"username": PASSPHRASE, "password": WEBHOOK_SECRET}))
        keep(c.post("/api/auth/login", json={"username": WEBHOOK_SECRET, "password": 1}))
    for price in ("99.40", "101.50"):  # fills, then take-profits: the order log paths
        keep(admin.post("/api/paper/price", json={"symbol": "LTCUSDT", "price": price}))
        time.sleep(0.3)
    keep(admin.put("/api/config", json={"changes": {"exchange.api_secret": API_SECRET}}))
    keep(admin.put("/api/config", json={"changes": {"app.timezone": PASSPHRASE}}))
    keep(admin.put("/api/config", json={
        "text": daemon.config_path.read_text() + f'\n[bogus]\nkey = "{WEBHOOK_SECRET}"\n'}))
    keep(admin.post("/api/config/preview", json={"changes": {
        "security.webhook_secret": WEBHOOK_SECRET, "exchange.api_key": API_KEY}}))
    keep(admin.put("/api/config", json={"changes": {"ui.font_size": 15}}))
    keep(admin.post("/api/config/apply"))
    keep(admin.post("/api/users", json={"username": "eve", "password": API_SECRET}))
    keep(admin.put("/api/users/eve", json={"password": PASSPHRASE, "role": WEBHOOK_SECRET}))

    group_id = daemon.scalar("SELECT min(id) FROM position_groups") or 1
    reads = app_routes({"group_id": str(group_id), "version_id": "1", "name": ADMIN,
                        "entry_id": "1", "filename": "app.js"})
    for r in reads:
        if r.method == "GET" and not r.websocket:
            keep(admin.get(r.path))
    for fmt in ("txt", "csv", "json"):
        keep(admin.get("/api/logs/export", params={"format": fmt}))
        keep(admin.get("/api/logs/export", params={"format": fmt, "category": "webhook"}))
    for path in ("/api/config/export", "/api/backup"):  # SPEC 11.6; checked when served
        if any(r.path == path for r in reads):
            keep(admin.get(path))
    keep(admin.get("/api/logs", params={"q": API_KEY, "limit": 500}))
    keep(admin.get("/api/inbox", params={"limit": 500}))
    url = daemon.url.replace("http://", "ws://") + "/api/ws"
    with connect(url, additional_headers={"Cookie": f"{COOKIE}={admin.cookies.get(COOKIE)}"},
                 proxy=None, open_timeout=5, compression=None) as conn:
        for _ in range(5):
            answers.append(conn.recv(5))
    listed = cli("secrets", "list", "--config", str(daemon.config_path))
    answers.append(listed.stdout.decode() + listed.stderr.decode())
    archive = tmp_path / "backup.tar.gz"
    made = cli("backup", str(archive), "--config", str(daemon.config_path))
    assert made.returncode == 0, made.stderr.decode()

    assert daemon.stop() == 0
    with tarfile.open(archive) as tar:
        backup = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    places = {
        "API answers": "\n".join(answers),
        "log files": daemon.log_text(),
        "database": daemon.dump(),
        "process output": daemon.output(),
        "CLI backup": b"\n".join(backup.values()).decode(errors="replace"),
        "config file": daemon.config_path.read_text(),
    }
    leaks = [(secret[:12], form, where) for secret in PLANTED for form in forms(secret)
             for where, text in places.items() if form in text]
    assert leaks == [], f"secrets leaked: {leaks}"
    # the scan looked at real content: the masked forms are there, and so is the traffic
    for secret in PLANTED:
        assert f"****{secret[-6:]}" in places["log files"] + places["database"], secret
    assert "engine.db" in backup and any(name.startswith("logs/") for name in backup)
    assert daemon.scalar("SELECT count(*) FROM orders") >= 5
    assert daemon.scalar("SELECT count(*) FROM fills") >= 1
    assert places["database"].count('INSERT INTO "journal"') > 10
