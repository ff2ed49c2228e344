"""Hypothesis fuzzing of every JSON body the API takes, against the real daemon (``engine run``
on the paper exchange): login, config save/preview/apply, users, queue actions, group close,
risk run and controls, paper price and reset, engine controls and the webhook.

Bodies are arbitrary JSON values, the route's own field names with values of every type, huge
numbers, ``NaN``/``Infinity`` (as strings and as bare tokens), deep nesting, unicode, lone
surrogates and broken JSON; path parameters are fuzzed too. Properties:
- no answer is ≥ 500 (and every answer is JSON in the SPEC 11.6 error shape, or the webhook's);
- a refused request (4xx) changes nothing: journal (max seq), users, sessions, configuration
  file and versions, inbox, queue and groups are compared before and after each one.
Accepted requests may change state; the test then waits until the engine is idle again, so a
change they cause asynchronously is never blamed on the next request.
"""

from __future__ import annotations

import copy
import json
import math
import time
import tomllib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import DEFAULT_TOML
from tests.stress.daemon import (
    ADMIN, OPERATOR, WEBHOOK_SECRET, Daemon, local_client, start_daemon)
from tests.web.conftest import PAYLOAD

WEBHOOK_SOURCE = "127.0.0.3"  # allowlisted: wrong secrets must reach the parser, not the throttle
LOGIN_SOURCE = "127.0.0.2"  # its lockout must not lock the admin's address
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _dotted(table: dict, prefix: str = "") -> Iterator[str]:
    for key, value in table.items():
        if isinstance(value, dict) and value:
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


CONFIG_KEYS = sorted(_dotted(tomllib.loads(DEFAULT_TOML)))
TRICKY = ["NaN", "nan", "Infinity", "-Infinity", "1e309", "-0", "0", "0.0", "-1", "1e-30",
          "9" * 400, "", " ", "\u0000", "{{close}}", "true", "null", "[]", "admin", "operator",
          "BTCUSDT", "LTCUSDT", "ETHBTC", "60000.00", "\U0001f4a5" * 3, "\ud800", "a" * 5000]
numbers = (st.integers() | st.integers(min_value=10**18, max_value=10**40)
           | st.integers(min_value=-10**40, max_value=-10**18)
           | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e308, -1e308,
                                                                                  5e-324]))
scalars = (st.none() | st.booleans() | numbers | st.text(max_size=20) | st.sampled_from(TRICKY))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


def encode(value: Any) -> bytes:
    # allow_nan: bare NaN/Infinity tokens are part of the fuzz (invalid JSON for strict parsers)
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def deep(depth: int, kind: str) -> bytes:
    return (("[" * depth + "]" * depth) if kind == "list" else
            ('{"a":' * depth + "1" + "}" * depth)).encode()


@st.composite
def broken(draw, max_depth: int = 100_000) -> bytes:
    """Bodies that are not (valid) JSON: deep nesting, bare NaN, cut text, random bytes."""
    kind = draw(st.sampled_from(["deep", "nan", "cut", "bytes", "empty"]))
    if kind == "deep":
        return deep(draw(st.integers(1, max_depth)), draw(st.sampled_from(["list", "dict"])))
    if kind == "nan":
        return draw(st.sampled_from([b'{"price": NaN}', b"NaN", b"-Infinity", b'{"force": NaN}',
                                     b'{"username": "a", "password": Infinity}']))
    if kind == "cut":
        text = encode(draw(json_values))
        return text[: draw(st.integers(0, len(text)))]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    return b""


def body_for(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[bytes]:
    """A route's own fields with wrong or right values, extra fields, or anything at all."""
    typed = st.fixed_dictionaries({}, optional={k: (v | json_values) for k, v in fields.items()})
    extra = st.dictionaries(st.sampled_from([*fields, "x", "__proto__", ""]), json_values,
                            max_size=4)
    return st.one_of(typed.map(encode), (typed | extra).map(encode), json_values.map(encode),
                     broken())


# --- the daemon and the "nothing changed" oracle --------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("fuzz"),
                     {"security.webhook_ip_allowlist": [WEBHOOK_SOURCE]})
    yield d
    assert d.stop() == 0, d.output()[-3000:]


@pytest.fixture(scope="module")
def admin(daemon: Daemon) -> Iterator[httpx.Client]:
    c = daemon.login()
    yield c
    c.close()


# journal rows that record a refusal (an audit fact, ARCHITECTURE: "denials are events with
# reasons") or the periodic reconciliation: not state changes
AUDIT_ONLY = "actor != 'reconciler' AND kind NOT IN ('ActionRefused')"


def state(daemon: Daemon) -> dict[str, Any]:
    conn = daemon.connect()
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        rows = lambda sql: [tuple(r) for r in conn.execute(sql)]  # noqa: E731
        return {
            "journal": one(f"SELECT max(seq) FROM journal WHERE {AUDIT_ONLY}"),
            "users": rows("SELECT username, role, password_hash FROM users ORDER BY 1"),
            "sessions": one("SELECT count(*) FROM sessions"),
            "config_versions": one("SELECT count(*) FROM config_versions"),
            "inbox": one("SELECT count(*) FROM inbox"),
            "queue": rows("SELECT id, reason, replacement_count FROM queue_entries ORDER BY id"),
            "groups": rows("SELECT id, status, risk_blocked, skip_once FROM position_groups"
                           " ORDER BY id"),
            "config_file": daemon.config_path.read_text(),
        }
    finally:
        conn.close()


def settle(daemon: Daemon, timeout: float = 5.0) -> None:
    """Until no signal waits and the journal has not moved for 0.25 s."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (daemon.scalar("SELECT max(seq) FROM journal"),
               daemon.scalar("SELECT count(*) FROM inbox WHERE state IN ('accepted',"
                             " 'processing')"))
        if now != last:
            last, since = now, time.monotonic()
        elif now[1] == 0 and time.monotonic() - since >= 0.25:
            return
        time.sleep(0.03)


def check(daemon: Daemon, client: httpx.Client, method: str, path: str, body: bytes | None,
          *, webhook: bool = False) -> httpx.Response:
    """Send one fuzzed request: never ≥ 500, always JSON; refused → nothing changed."""
    before = state(daemon)
    headers = {"Content-Type": "application/json"}
    r = client.request(method, path, content=body, headers=headers)
    assert r.status_code < 500, (method, path, body[:300] if body else body, r.text[:500])
    answer = r.json()
    if webhook:
        assert answer["status"] in ("accepted", "duplicate", "rejected", "unauthorized",
                                    "forbidden", "too_large", "throttled"), answer
    elif r.status_code >= 400:
        assert set(answer) == {"error", "message", "details"}, answer
    if r.status_code >= 400:
        assert state(daemon) == before, (method, path, body[:300] if body else body, r.text)
    else:
        settle(daemon)
    return r


# --- login, users -----------------------------------------------------------------------------

credentials = st.text(max_size=30) | st.sampled_from([ADMIN, OPERATOR, "", "a" * 2000])


@FUZZ
@given(body=body_for({"username": credentials, "password": credentials}))
def test_login(daemon: Daemon, body: bytes):
    with local_client(daemon, LOGIN_SOURCE) as c:
        check(daemon, c, "POST", "/api/auth/login", body)


@FUZZ
@given(body=body_for({"username": st.text(max_size=70), "password": st.text(max_size=40),
                      "role": st.sampled_from(["admin", "operator", "root", ""])}))
def test_add_user(daemon: Daemon, admin: httpx.Client, body: bytes):
    check(daemon, admin, "POST", "/api/users", body)


# "/" is left out: a doubled slash is redirected (test_doubled_slashes_are_not_redirected)
names = st.text(min_size=1, max_size=30).filter(lambda n: n not in (ADMIN, OPERATOR)
                                                and "/" not in n)


@FUZZ
@given(name=names, method=st.sampled_from(["PUT", "DELETE"]),
       body=body_for({"password": st.text(max_size=40),
                      "role": st.sampled_from(["admin", "operator", "x"])}))
def test_change_or_delete_user(daemon: Daemon, admin: httpx.Client, name: str, method: str,
                               body: bytes):
    path = "/api/users/" + quote(name.encode("utf-8", "surrogatepass"), safe="")
    check(daemon, admin, method, path, body)


# --- configuration ---------------------------------------------------------------------------

changes = st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=20), json_values,
                          max_size=4)
drafts = body_for({"changes": changes, "text": st.text(max_size=200)
                   | st.sampled_from([DEFAULT_TOML + "\n[bogus]\nx = 1\n",
                                      DEFAULT_TOML.replace("= 10", "= -10"),
                                      DEFAULT_TOML.replace('"', "")])})


@pytest.fixture(scope="module")
def original_config(daemon: Daemon) -> Iterator[str]:
    text = daemon.config_path.read_text()
    yield text


@FUZZ
@given(body=drafts, route=st.sampled_from([("PUT", "/api/config"),
                                           ("POST", "/api/config/preview")]))
def test_config_save_and_preview(daemon: Daemon, admin: httpx.Client, original_config: str,
                                 body: bytes, route: tuple[str, str]):
    before = state(daemon)
    r = check(daemon, admin, *route, body)
    if route[1].endswith("preview"):
        assert state(daemon) == before  # a preview never changes anything
    elif r.status_code == 200:  # a valid draft was saved: put the file back for the next one
        restore = admin.put("/api/config", json={"text": original_config})
        assert restore.status_code == 200, restore.text


@settings(FUZZ, max_examples=15)
@given(body=body_for({"changes": changes}))
def test_config_apply(daemon: Daemon, admin: httpx.Client, original_config: str, body: bytes):
    assert daemon.config_path.read_text() == original_config
    check(daemon, admin, "POST", "/api/config/apply", body)


# --- engine actions: queue, groups, risk, paper, controls --------------------------------------

ids = (st.integers(min_value=-5, max_value=5) | st.integers(min_value=2**31, max_value=2**70)
       | st.text(max_size=12).filter(lambda t: "/" not in t)
       .map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")))
ACTIONS = ["/api/queue/{}/promote", "/api/queue/{}/force-add", "/api/groups/{}/close",
           "/api/risk/groups/{}/skip-once", "/api/risk/groups/{}/block",
           "/api/risk/groups/{}/unblock"]


@FUZZ
@given(template=st.sampled_from(ACTIONS + ["DELETE /api/queue/{}"]), ident=ids,
       body=json_values.map(encode) | broken())
def test_queue_group_and_risk_actions(daemon: Daemon, admin: httpx.Client, template: str,
                                      ident: int | str, body: bytes):
    method, _, path = template.rpartition(" ")
    check(daemon, admin, method or "POST", path.format(ident), body)


@FUZZ
@given(body=body_for({"force": st.booleans() | json_values}))
def test_risk_run(daemon: Daemon, admin: httpx.Client, body: bytes):
    check(daemon, admin, "POST", "/api/risk/run", body)


prices = (st.decimals(allow_nan=True, allow_infinity=True).map(str) | numbers
          | st.sampled_from(TRICKY))


@FUZZ
@given(body=body_for({"symbol": st.sampled_from(["LTCUSDT", "ltcusdt", "ETHBTC", "NOPE", ""])
                      | st.text(max_size=10), "price": prices}))
def test_paper_price(daemon: Daemon, admin: httpx.Client, body: bytes):
    before = admin.get("/api/paper/state").json()["prices"]
    r = check(daemon, admin, "POST", "/api/paper/price", body)
    if r.status_code >= 400:
        assert admin.get("/api/paper/state").json()["prices"] == before


@settings(FUZZ, max_examples=30)
@given(path=st.sampled_from(["/api/paper/reset", "/api/engine/pause", "/api/engine/resume",
                             "/api/engine/reconnect", "/api/precision/refresh",
                             "/api/auth/me", "/api/nowhere"]),
       body=json_values.map(encode) | broken())
def test_routes_that_take_no_body(daemon: Daemon, admin: httpx.Client, path: str, body: bytes):
    method = "GET" if path == "/api/auth/me" else "POST"
    check(daemon, admin, method, path, body)
    admin.post("/api/engine/resume")  # leave the engine running for the next example


# --- the webhook ---------------------------------------------------------------------------------

LEAVES = [f"{s}.{k}" for s, v in PAYLOAD.items() if isinstance(v, dict) for k in v] + [
    k for k, v in PAYLOAD.items() if not isinstance(v, dict)]


@st.composite
def webhook_bodies(draw) -> bytes:
    if draw(st.integers(0, 3)) == 0:  # deeper: test_deeply_nested_webhook_bodies_are_rejected
        return draw(json_values.map(encode) | broken(max_depth=500))
    body = copy.deepcopy(PAYLOAD)
    body["secret"] = draw(st.sampled_from([WEBHOOK_SECRET] * 3 + ["wrong", None, 7]))
    body["tv"].update({"symbol": "LTCUSDT", "entry_price": 100.0, "close_price": 100.0,
                       "order_size": 50.0})
    body["execution_intent"]["position_size_type"] = "quote"
    body["strategy_info"]["trade_id"] = str(draw(st.integers(0, 10**9)))
    for leaf in draw(st.lists(st.sampled_from(LEAVES), max_size=3)):
        section, _, key = leaf.partition(".")
        target, name = (body[section], key) if key else (body, section)
        value = draw(json_values | st.sampled_from([math.nan, math.inf, 10**400]))
        if leaf == "tv.timeframe" and isinstance(value, int) and value > 2**62:
            value = 2**62  # larger: test_a_huge_timeframe_is_rejected_not_fatal
        if value is None and draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = value
    return encode(body)


@settings(FUZZ, max_examples=120)
@given(body=webhook_bodies())
def test_webhook(daemon: Daemon, body: bytes):
    with local_client(daemon, WEBHOOK_SOURCE) as c:
        check(daemon, c, "POST", "/webhook", body, webhook=True)


def test_doubled_slashes_are_not_redirected(daemon: Daemon, admin: httpx.Client):
    for method, path in (("PUT", "/api/users/%2F0"), ("GET", "/api//status"),
                         ("POST", "/api/queue//1/promote")):
        r = admin.request(method, path, json={})
        assert r.status_code == 404 and set(r.json()) == {"error", "message", "details"}, (
            method, path, r.status_code)


@pytest.mark.parametrize("depth", [999, 5_000, 30_000])
def test_deeply_nested_api_bodies_are_refused_as_malformed(daemon: Daemon, admin: httpx.Client,
                                                          depth: int):
    body = b'{"changes": ' + deep(depth, "dict") + b"}"
    for method, path in (("PUT", "/api/config"), ("POST", "/api/config/preview"),
                         ("POST", "/api/users"), ("POST", "/api/paper/price")):
        r = check(daemon, admin, method, path, body)
        assert r.status_code == 400, r.text  # "body" (too deep) or an unknown field first


@pytest.mark.parametrize("depth", [900, 10_000])  # 10,000 levels: 60 KB, under 64 KiB
def test_deeply_nested_webhook_bodies_are_rejected(daemon: Daemon, depth: int):
    with local_client(daemon, WEBHOOK_SOURCE) as c:
        for kind in ("dict", "list"):
            r = check(daemon, c, "POST", "/webhook", deep(depth, kind), webhook=True)
            assert r.status_code in (400, 401), r.text


def test_a_huge_timeframe_is_rejected_not_fatal(tmp_path_factory: pytest.TempPathFactory):
    d = start_daemon(tmp_path_factory.mktemp("timeframe"), operator=False)
    try:
        body = copy.deepcopy(PAYLOAD)
        body["secret"] = WEBHOOK_SECRET
        body["tv"].update({"symbol": "LTCUSDT", "timeframe": 10**30})
        with local_client(d) as c:
            r = c.post("/webhook", json=body)
            time.sleep(0.5)
            alive = d.proc.poll() is None
        assert alive, d.output()[-2000:]
        assert r.status_code == 400, r.text
    finally:
        d.stop()
