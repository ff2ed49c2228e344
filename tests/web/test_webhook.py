"""POST /webhook against the running app (SPEC 2.1, 2.2, 2.5, D14): every answer of the
response table, journaling before the answer, and nothing stored for a refused request."""

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
import trio

from engine.messages import SignalAccepted
from tests.web.conftest import PAYLOAD, T0, WEBHOOK_SECRET, Engine, payload, running_engine

TV_IP = "52.89.214.238"


def committed(engine: Engine, sql: str, params=()) -> list[tuple]:
    """Read through a second connection: only committed rows are visible to it."""
    conn = sqlite3.connect(f"file:{engine.store.path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def inbox_rows(engine: Engine) -> int:
    return committed(engine, "SELECT count(*) FROM inbox")[0][0]


def events(engine: Engine, event: str) -> list[dict]:
    return [e for e in engine.events() if e["event"] == event]


async def test_accepted_only_after_inbox_key_and_journal_are_committed(eng: Engine):
    r = await eng.webhook(PAYLOAD, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json() == {"status": "accepted", "id": 1}
    [(state, ip, raw, key)] = committed(
        eng, "SELECT state, source_ip, raw_body, idempotency_key FROM inbox WHERE id = 1")
    assert (state, ip) == ("accepted", "127.0.0.1")
    assert WEBHOOK_SECRET not in raw and json.loads(raw)["secret"] == "****89-XYZ"
    assert committed(eng, "SELECT inbox_id, accepted_at FROM idempotency_keys WHERE key = ?",
                     (key,)) == [(1, T0)]
    [(actor, kind, jkey, body)] = committed(eng, "SELECT actor, kind, key, body FROM journal")
    assert (actor, kind, jkey) == ("inbox", "SignalAccepted", "paper:BTCUSDT:15")
    assert json.loads(body)["inbox_id"] == 1
    message = eng.handle.signals.receive_nowait()
    assert isinstance(message, SignalAccepted) and message.inbox_id == 1
    assert message.signal.symbol == "BTCUSDT" and message.signal.ccxt_symbol == "BTC/USDT"
    assert [m.inbox_id for m in eng.handle.inbox.pending()] == [1]
    received = events(eng, "webhook_received")[0]
    assert received["category"] == "webhook" and '"source_ip":"127.0.0.1"' in received["data"]


async def test_idempotency_window_d14(eng: Engine):
    # 12:00:00 accepted; 12:00:45 duplicate; 12:01:05 (65 s after the FIRST acceptance) passes
    first = await eng.webhook(PAYLOAD)
    eng.clock.advance(45_000)
    second = await eng.webhook(PAYLOAD)
    eng.clock.advance(20_000)
    third = await eng.webhook(PAYLOAD)
    assert first.json() == {"status": "accepted", "id": 1}
    assert second.status_code == 200 and second.json() == {"status": "duplicate", "id": 1}
    assert third.json() == {"status": "accepted", "id": 2}
    assert inbox_rows(eng) == 2
    assert [m.inbox_id for m in eng.handle.inbox.pending()] == [1, 2]
    assert len(events(eng, "webhook_duplicate")) == 1
    # a key older than 60 s is purged when the next webhook is accepted
    eng.clock.advance(61_000)
    assert (await eng.webhook(payload(**{"strategy_info.trade_id": "other"}))).status_code == 200
    assert len(committed(eng, "SELECT key FROM idempotency_keys")) == 1


@pytest.mark.parametrize("changes, field, words", [
    ({"tv.timeframe": "30S"}, "tv.timeframe", "unsupported"),
    ({"tv.symbol": "FOOBAR"}, "tv.symbol", "unknown symbol"),
    ({"tv.symbol": "ETHBTC"}, "tv.symbol", "unsupported quote currency"),
    ({"tv.close_price": -1}, "tv.close_price", ""),
    ({"tv.action": None}, "tv.action", ""),
    ({"execution_intent.type": "buy"}, "execution_intent.type", ""),
    ({"timestamp": "yesterday"}, "timestamp", "ISO-8601"),
    ({"tv.symbol": "{{ticker}}"}, "tv.symbol", "placeholder"),
    ({"tv.order_size": "NaN"}, "tv.order_size", ""),
])
async def test_400_names_the_field_and_stores_nothing(eng: Engine, changes, field, words):
    r = await eng.webhook(payload(**changes))
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "rejected"
    assert any(e["field"] == field and words in e["message"] for e in body["errors"]), body
    assert inbox_rows(eng) == 0
    assert events(eng, "webhook_rejected")


async def test_400_malformed_json_and_raw_template(eng: Engine):
    template = (json.dumps(PAYLOAD).replace('"15"', '"{{interval}}"')
                .replace("60010.0", "{{close}}"))  # unquoted placeholder: not JSON yet
    for body in (b"not json at all", b"[1, 2]", template.encode()):
        r = await eng.webhook(body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body", body
    assert inbox_rows(eng) == 0


@pytest.mark.parametrize("secret", ["wrong-secret-value-1234", None, 12345, ""])
async def test_401_wrong_or_missing_secret_logged_with_source_ip(eng: Engine, secret):
    r = await eng.webhook(payload(secret=secret))
    assert r.status_code == 401 and r.json() == {"status": "unauthorized"}
    assert inbox_rows(eng) == 0
    [warning] = events(eng, "webhook_unauthorized")
    assert warning["level"] == "warning" and warning["category"] == "webhook"
    assert json.loads(warning["data"])["source_ip"] == "127.0.0.1"
    assert events(eng, "webhook_auth_failed")[0]["category"] == "security"


def sign(raw: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def test_hmac_verified_when_present_and_required_when_configured(tmp_path: Path):
    raw = json.dumps(PAYLOAD).encode()
    other = json.dumps(payload(**{"strategy_info.trade_id": "2"})).encode()
    async with running_engine(tmp_path / "a") as eng:
        assert (await eng.webhook(raw, headers={"X-Signature": sign(raw)})).status_code == 200
        bad = await eng.webhook(other, headers={"X-Signature": sign(raw)})
        assert bad.status_code == 401
        assert (await eng.webhook(other, headers={"X-Signature": "md5=abc"})).status_code == 401
        assert (await eng.webhook(other)).status_code == 200  # optional when absent
    async with running_engine(tmp_path / "b",
                              settings={"security.webhook_hmac_required": True}) as eng:
        assert (await eng.webhook(raw)).status_code == 401
        assert (await eng.webhook(raw, headers={"X-Signature": sign(raw)})).status_code == 200


async def test_allowlist_uses_last_forwarded_for_entry_only_when_trusted(tmp_path: Path):
    settings = {"security.webhook_ip_allowlist": ["10.0.0.0/8"],
                "security.trust_forwarded_for": True}
    async with running_engine(tmp_path / "a", settings=settings) as eng:
        async def post(xff: str | None, trade: str) -> int:
            headers = {"X-Forwarded-For": xff} if xff else {}
            body = payload(**{"strategy_info.trade_id": trade})
            return (await eng.webhook(body, headers=headers)).status_code

        assert await post(None, "1") == 403  # the peer 127.0.0.1 is not allowed
        assert await post("10.1.2.3", "2") == 200
        assert await post("10.1.2.3, 192.168.1.1", "3") == 403  # forged first entry ignored
        assert await post("192.168.1.1, 10.1.2.3", "4") == 200
        assert (await eng.webhook(PAYLOAD, headers={"X-Forwarded-For": "8.8.8.8"})).json() == {
            "status": "forbidden"}
        rows = committed(eng, "SELECT source_ip FROM inbox ORDER BY id")
        assert rows == [("10.1.2.3",), ("10.1.2.3",)]
    settings = {"security.webhook_ip_allowlist": ["127.0.0.1"]}
    async with running_engine(tmp_path / "b", settings=settings) as eng:
        # not trusted: the header is ignored, the socket peer decides
        r = await eng.webhook(PAYLOAD, headers={"X-Forwarded-For": "10.9.9.9"})
        assert r.status_code == 200
        assert committed(eng, "SELECT source_ip FROM inbox") == [("127.0.0.1",)]


async def test_413_by_declared_length_and_by_bytes_read(eng: Engine):
    big = json.dumps(payload(pad="x" * 70_000)).encode()
    r = await eng.webhook(big)
    assert r.status_code == 413 and r.json() == {"status": "too_large"}

    async def chunks():  # no Content-Length: the size is only known while reading
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    async with httpx.AsyncClient(base_url=eng.url) as c:
        r = await c.post("/webhook", content=chunks())
    assert r.status_code == 413 and r.json() == {"status": "too_large"}
    exact = json.dumps(payload(pad=""))
    exact = json.dumps(payload(pad="x" * (64 * 1024 - len(exact))))
    assert len(exact.encode()) == 64 * 1024
    assert (await eng.webhook(exact)).status_code == 200
    assert inbox_rows(eng) == 1


async def test_429_after_20_auth_failures_for_10_minutes(eng: Engine):
    wrong = payload(secret="not-the-secret-at-all")
    for _ in range(20):
        assert (await eng.webhook(wrong)).status_code == 401
    r = await eng.webhook(PAYLOAD)
    assert r.status_code == 429 and r.json() == {"status": "throttled"}
    eng.clock.advance(10 * 60_000 - 1)
    assert (await eng.webhook(PAYLOAD)).status_code == 429
    eng.clock.advance(1)
    assert (await eng.webhook(PAYLOAD)).status_code == 200
    assert events(eng, "webhook_throttled")


async def test_failures_spread_over_more_than_a_minute_do_not_throttle(eng: Engine):
    wrong = payload(secret="not-the-secret-at-all")
    for _ in range(19):
        await eng.webhook(wrong)
    eng.clock.advance(60_000)
    assert (await eng.webhook(wrong)).status_code == 401
    assert (await eng.webhook(PAYLOAD)).status_code == 200


@pytest.mark.parametrize("settings, headers", [
    ({"security.trust_forwarded_for": True}, {"X-Forwarded-For": TV_IP}),
    ({"security.webhook_ip_allowlist": ["127.0.0.1"]}, {}),
])
async def test_tradingview_and_allowlisted_senders_are_never_throttled(tmp_path: Path,
                                                                       settings, headers):
    async with running_engine(tmp_path, settings=settings) as eng:
        for _ in range(25):
            r = await eng.webhook(payload(secret="not-the-secret-at-all"), headers=headers)
            assert r.status_code == 401
        assert (await eng.webhook(PAYLOAD, headers=headers)).status_code == 200


async def test_503_while_not_accepting_and_logged_first(eng: Engine):
    eng.handle.accepting = False
    r = await eng.webhook(PAYLOAD)
    assert r.status_code == 503 and r.json() == {"status": "unavailable"}
    assert inbox_rows(eng) == 0
    assert events(eng, "webhook_received") and events(eng, "webhook_unavailable")


async def test_503_when_the_database_writer_is_gone(eng: Engine):
    eng.store.stop_writer()
    await trio.sleep(0.01)
    r = await eng.webhook(PAYLOAD)
    assert r.status_code == 503 and r.json() == {"status": "unavailable"}


async def test_503_when_the_engine_core_backlog_is_full(tmp_path: Path):
    async with running_engine(tmp_path, signal_backlog=2) as eng:
        for trade in ("1", "2"):
            body = payload(**{"strategy_info.trade_id": trade})
            assert (await eng.webhook(body)).status_code == 200
        r = await eng.webhook(payload(**{"strategy_info.trade_id": "3"}))
        assert r.status_code == 503 and inbox_rows(eng) == 2
        eng.handle.signals.receive_nowait()  # the core takes one: room again
        assert (await eng.webhook(payload(**{"strategy_info.trade_id": "3"}))).status_code == 200


async def test_timestamp_far_from_receive_time_warns_but_accepts(eng: Engine):
    eng.clock.advance(6 * 60_000)
    assert (await eng.webhook(PAYLOAD)).status_code == 200
    [skew] = events(eng, "webhook_clock_skew")
    assert skew["level"] == "warning" and skew["symbol"] == "BTCUSDT"


async def test_signature_validation_off_accepts_without_secret(tmp_path: Path):
    settings = {"security.webhook_signature_validation": False}
    async with running_engine(tmp_path, settings=settings) as eng:
        r = await eng.webhook(payload(secret=None))
        assert r.json() == {"status": "accepted", "id": 1}


async def test_status_shows_the_last_webhook(eng: Engine):
    await eng.webhook(PAYLOAD)
    c = await eng.login()
    status = (await c.get("/api/status")).json()
    assert status["last_webhook"]["outcome"] == "accepted"
    assert status["last_webhook"]["source_ip"] == "127.0.0.1"
    assert status["inbox"]["pending"] == 1 and status["status"] == "running"
    assert (await c.get("/healthz")).json() == {"status": "running"}
