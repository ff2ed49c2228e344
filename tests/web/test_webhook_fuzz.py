"""Fuzzed webhook bodies against the running app: every answer is 2xx or 4xx, and only the
bodies answered ``accepted`` reach the inbox (one row each).

The engine runs in its own thread (its own trio loop, hypercorn on 127.0.0.1); hypothesis drives
a synchronous HTTP client with keep-alive. The loopback address is allowlisted so that the many
wrong secrets do not get the fuzzer throttled (429) instead of exercising the parser.
"""

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import PAYLOAD, WEBHOOK_SECRET, close_engine, payload, start_engine

LEAVES = [f"{section}.{key}" for section, value in PAYLOAD.items() if isinstance(value, dict)
          for key in value] + [k for k, v in PAYLOAD.items() if not isinstance(v, dict)]
SECTIONS = [k for k, v in PAYLOAD.items() if isinstance(v, dict)]
TRICKY = ["{{close}}", "{{ticker}}", "NaN", "Infinity", "-1", "0", "1D", "30S", "7D", "1M",
          "ETHBTC", "BTCUSDT.P", "ethusdt", "", " ", "buy", "SELL", "flat", "reverse", "exit",
          "2025-11-10T12:00:00+02:00", "2025-13-40T99:00:00Z", "9" * 400, 1e308, -0.0, 10**30]

json_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(TRICKY))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)


@st.composite
def mutated_body(draw) -> bytes:
    body = payload(**{"strategy_info.trade_id": str(draw(st.integers(0, 10**6)))})
    for path in draw(st.lists(st.sampled_from(LEAVES + SECTIONS), max_size=4)):
        section, _, key = path.partition(".")
        target, name = (body.get(section), key) if key else (body, section)
        if not isinstance(target, dict):
            continue
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = draw(json_values)
    body["secret"] = draw(st.sampled_from([WEBHOOK_SECRET, WEBHOOK_SECRET, "wrong", None, 7]))
    text = json.dumps(body)
    if draw(st.integers(0, 9)) == 0:  # damage the text itself
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=5)) + text[cut + 1:]
    return text.encode("utf-8", "surrogatepass")


bodies = mutated_body() | st.binary(max_size=300)


class ThreadedEngine:
    """The engine web stack in a background thread with its own trio loop."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.ready = threading.Event()
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self.engine = await start_engine(
                self.tmp_path, nursery,
                settings={"security.webhook_ip_allowlist": ["127.0.0.1"]})
            self.token = trio.lowlevel.current_trio_token()
            self.stop = trio.Event()
            self.ready.set()
            await self.stop.wait()
            await close_engine(self.engine, nursery)
        self.engine.logbook.close()
        self.engine.store.close()

    def __enter__(self) -> "ThreadedEngine":
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: Any) -> None:
        trio.from_thread.run_sync(self.stop.set, trio_token=self.token)
        self.thread.join(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ThreadedEngine(tmp_path_factory.mktemp("fuzz")) as engine:
        with httpx.Client(base_url=engine.engine.url, timeout=10) as client:
            yield engine, client, {"accepted": 0, "posted": 0}


def inbox_count(engine: ThreadedEngine) -> int:
    conn = sqlite3.connect(f"file:{engine.engine.store.path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM inbox").fetchone()[0]
    finally:
        conn.close()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(bodies, min_size=10, max_size=10))
def test_fuzzed_bodies_get_4xx_or_reach_the_inbox_once(server, batch: list[bytes]):
    engine, client, seen = server
    before = inbox_count(engine)
    accepted = 0
    for raw in batch:
        r = client.post("/webhook", content=raw)
        assert 200 <= r.status_code < 500, (r.status_code, r.text, raw)
        answer = r.json()
        if r.status_code == 200:
            assert answer["status"] in ("accepted", "duplicate")
            accepted += answer["status"] == "accepted"
        else:
            assert answer["status"] in ("rejected", "unauthorized", "too_large"), answer
    assert inbox_count(engine) == before + accepted
    seen["accepted"] += accepted
    seen["posted"] += len(batch)


def test_the_fuzzer_reached_the_inbox(server):
    # runs after the property (file order): some fuzzed bodies were valid and stored
    engine, _, seen = server
    assert seen["posted"] >= 2000 and seen["accepted"] > 0
    assert inbox_count(engine) == seen["accepted"]
