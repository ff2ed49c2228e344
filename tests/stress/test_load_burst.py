"""A burst of 2,000 webhooks in about a second, for 50 keys, against the real daemon on the
paper exchange (SPEC 2.1, 2.5, 2.6, 6.1, 6.2, 8.3).

Each key (7 USDT symbols × 8 timeframes, 50 of them) gets 40 entries in 40 different candles,
sent in a shuffled candle order over 64 keep-alive connections (raw HTTP/1.1 through h11,
paced at 2,000 requests/s): the first one opens a group or is queued (pool of 10), later candles
are pyramids (up to 5) or queue replacements, earlier candles arrive stale. A separate
connection polls ``/healthz`` all along. Proven:
- every request is answered — 200, or an explicit 4xx/429/503 — with no connection error;
- every accepted webhook is processed exactly once: its inbox row ends with an outcome, the
  journal holds one ``SignalAccepted`` for it and its first outcome; nothing is lost or extra;
- groups and queue are consistent: live groups ≤ the pool, one live group per key, ≤ 5
  pyramids, one side per key, no queue entry beside a live group of the same side, and every key
  has a group or a queue entry;
- ``/healthz`` latency during the burst is measured and printed (p50/p99), with the burst's
  acceptance rate and webhook latency.
"""

from __future__ import annotations

import copy
import json
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone

import h11
import pytest
import trio

from tests.stress.daemon import WEBHOOK_SECRET, Daemon, start_daemon
from tests.web.conftest import PAYLOAD

pytestmark = pytest.mark.slow

REQUESTS = 2_000
RATE = 2_000  # requests per second offered
CONNECTIONS = 64
POOL = 10
MAX_PYRAMIDS = 5
PRICES = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "ADAUSDT": 0.5, "LTCUSDT": 100.0,
          "XRPUSDT": 0.6, "DOGEUSDT": 0.15, "TRXUSDT": 0.2}
TIMEFRAMES = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "240": 240, "1D": 1440}
KEYS = [(s, tf) for s in PRICES for tf in TIMEFRAMES][:50]
BASE_MS = 1_762_732_800_000  # 2025-11-10T00:00:00Z
FINAL_STATES = {"processed", "duplicate", "rejected", "queued"}


def webhook_body(symbol: str, tf: str, candle: int) -> bytes:
    body = copy.deepcopy(PAYLOAD)
    ts = datetime.fromtimestamp((BASE_MS + candle * TIMEFRAMES[tf] * 60_000) / 1000, timezone.utc)
    price = PRICES[symbol]
    body.update(secret=WEBHOOK_SECRET, timestamp=ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    body["tv"].update(symbol=symbol, timeframe=tf, entry_price=price, close_price=price,
                      order_size=40.0)
    body["strategy_info"]["trade_id"] = f"{symbol}-{tf}-{candle}"
    body["execution_intent"]["position_size_type"] = "quote"
    return json.dumps(body).encode()


def burst_plan(seed: int = 7) -> list[tuple[tuple[str, str], bytes]]:
    """40 candles per key, each key's candles in its own shuffled order, keys interleaved."""
    rng = random.Random(seed)
    per_key = REQUESTS // len(KEYS)
    orders = {key: rng.sample(range(per_key), per_key) for key in KEYS}
    plan = []
    for r in range(per_key):
        keys = rng.sample(KEYS, len(KEYS))
        plan += [(key, webhook_body(*key, orders[key][r])) for key in keys]
    return plan


@pytest.fixture
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("burst"), {
        "execution_pool.max_open_groups": POOL, "grid_strategy.max_pyramids_per_group":
        MAX_PYRAMIDS, "app.log_level": "info"}, operator=False)
    yield d
    assert d.stop() == 0, d.output()[-3000:]


class Http11:
    """One keep-alive HTTP/1.1 connection driven by h11; reconnects when the server closes."""

    def __init__(self, port: int):
        self.port = port
        self.stream: trio.SocketStream | None = None
        self.conn = h11.Connection(h11.CLIENT)
        self.reconnects = 0

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.stream is None:
            self.stream = await trio.open_tcp_stream("127.0.0.1", self.port)
            self.conn = h11.Connection(h11.CLIENT)
        headers = [("Host", "127.0.0.1"), ("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        await self.stream.send_all(self.conn.send(h11.Request(method=method, target=target,
                                                              headers=headers))
                                   + self.conn.send(h11.Data(data=body))
                                   + self.conn.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before the answer")
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:  # the server asked to close: a new connection next time
            await self.aclose()
            self.reconnects += 1
        return status, b"".join(chunks)

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
            self.stream = None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run_burst(port: int, plan: list[tuple[tuple[str, str], bytes]]
                    ) -> tuple[list[dict], list[float], float]:
    """Send the plan paced at RATE over CONNECTIONS connections while /healthz is polled.
    Returns the answers (in plan order), the /healthz latencies (ms) and the burst's length."""
    answers: list[dict] = [{} for _ in plan]
    health: list[float] = []
    send, receive = trio.open_memory_channel[int](0)
    done = trio.Event()

    async def worker() -> None:
        client = Http11(port)
        async with receive.clone() as jobs:
            async for i in jobs:
                start = trio.current_time()
                try:
                    status, payload = await client.request("POST", "/webhook", plan[i][1])
                    answers[i] = {"status": status, "body": json.loads(payload),
                                  "ms": (trio.current_time() - start) * 1000}
                except (OSError, ConnectionError, h11.ProtocolError, trio.BrokenResourceError,
                        ValueError) as exc:
                    answers[i] = {"status": None, "error": repr(exc)}
                    await client.aclose()
        await client.aclose()

    async def prober() -> None:
        client = Http11(port)
        while not done.is_set():
            start = trio.current_time()
            status, payload = await client.request("GET", "/healthz")
            assert status == 200 and json.loads(payload)["status"] == "running", payload
            health.append((trio.current_time() - start) * 1000)
            await trio.sleep(0.005)
        await client.aclose()

    async with trio.open_nursery() as outer:
        outer.start_soon(prober)
        async with trio.open_nursery() as workers:
            async with send, receive:
                for _ in range(CONNECTIONS):
                    workers.start_soon(worker)
                await trio.sleep(0.2)  # connections and the prober settle; then the burst
                t0 = trio.current_time()
                for i in range(len(plan)):
                    await trio.sleep_until(t0 + i / RATE)
                    await send.send(i)
            # the channel is closed: workers finish their last request and leave
        duration = trio.current_time() - t0
        done.set()
    return answers, health, duration


async def wait_processed(daemon: Daemon, timeout: float = 60) -> None:
    with trio.fail_after(timeout):
        while daemon.scalar("SELECT count(*) FROM inbox WHERE state IN ('accepted',"
                            " 'processing')"):
            await trio.sleep(0.2)


async def test_a_burst_of_2000_webhooks_for_50_keys(daemon: Daemon):
    plan = burst_plan()
    with trio.fail_after(60):
        answers, health, duration = await run_burst(daemon.port, plan)

    errors = [a for a in answers if a.get("status") is None]
    assert errors == [], errors[:5]
    statuses = Counter(a["status"] for a in answers)
    assert set(statuses) <= {200, 429, 503}, statuses
    outcomes = Counter(a["body"]["status"] for a in answers)
    accepted = {a["body"]["id"]: key for a, (key, _) in zip(answers, plan)
                if a["body"]["status"] == "accepted"}
    assert outcomes["duplicate"] == 0  # every idempotency key is distinct
    assert len(accepted) == outcomes["accepted"]
    latencies = [a["ms"] for a in answers]
    print(f"\nburst: {REQUESTS} webhooks in {duration:.2f} s ({REQUESTS / duration:.0f}/s), "
          f"accepted {len(accepted)} ({100 * len(accepted) / REQUESTS:.1f} %), answers "
          f"{dict(statuses)}; webhook latency p50 {percentile(latencies, 50):.1f} ms, p99 "
          f"{percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms")
    print(f"/healthz during the burst: {len(health)} probes, p50 {percentile(health, 50):.1f} ms,"
          f" p99 {percentile(health, 99):.1f} ms, max {max(health):.1f} ms")

    await wait_processed(daemon)
    rows = daemon.query("SELECT id, state, outcome, parsed FROM inbox")
    # nothing lost, nothing extra: the inbox holds exactly the accepted webhooks
    assert {r["id"] for r in rows} == set(accepted)
    assert all(r["state"] in FINAL_STATES and r["outcome"] for r in rows)
    for r in rows:
        parsed = json.loads(r["parsed"])
        symbol, tf = accepted[r["id"]]
        assert (parsed["symbol"], parsed["timeframe"]) == (symbol, TIMEFRAMES[tf])
    journal = daemon.query("SELECT kind, body FROM journal WHERE kind IN ('SignalAccepted',"
                           " 'SignalOutcome') ORDER BY seq")
    taken = Counter(json.loads(j["body"])["inbox_id"] for j in journal
                    if j["kind"] == "SignalAccepted")
    assert set(taken) == set(accepted) and set(taken.values()) == {1}
    decided = defaultdict(list)
    for j in journal:
        if j["kind"] == "SignalOutcome":
            body = json.loads(j["body"])
            decided[body["inbox_id"]].append(body["state"])
    assert set(decided) == set(accepted)
    # processed once: one decision each; a queued entry may later be replaced or promoted
    assert all(states[0] in FINAL_STATES and (len(states) == 1 or states[0] == "queued")
               for states in decided.values()), [s for s in decided.values() if len(s) > 1][:5]

    groups = daemon.query("SELECT id, symbol, timeframe, side, status, pyramid_count FROM"
                          " position_groups WHERE status NOT IN ('closed', 'failed')")
    queue = daemon.query("SELECT symbol, timeframe, side, reason, replacement_count FROM"
                         " queue_entries")
    live_keys = Counter((g["symbol"], g["timeframe"]) for g in groups)
    assert len(groups) <= POOL and set(live_keys.values()) <= {1}
    assert all(1 <= g["pyramid_count"] <= MAX_PYRAMIDS for g in groups), groups
    sides = defaultdict(set)
    for g in groups:
        sides[(g["symbol"], g["timeframe"])].add(g["side"])
    for q in queue:
        key = (q["symbol"], q["timeframe"])
        assert q["side"] not in sides[key] or key not in live_keys, q  # no twin of a live group
        sides[key].add(q["side"])
    assert all(s == {"long"} for s in sides.values())
    assert set(sides) == {(s, TIMEFRAMES[tf]) for s, tf in KEYS}  # every key: group or queue
    pool = daemon.scalar("SELECT count(*) FROM position_groups WHERE status NOT IN"
                         " ('closed', 'failed')")
    final = Counter(r["state"] for r in rows)
    print(f"groups live {pool}/{POOL} ({sum(g['pyramid_count'] for g in groups)} pyramids), "
          f"queued {len(queue)} (replacements {sum(q['replacement_count'] for q in queue)}); "
          f"inbox {dict(final)}; outcomes: "
          f"{Counter(r['outcome'].split(':')[0] for r in rows).most_common(6)}")
    assert statistics.median(health) < 250 and percentile(health, 99) < 1000
