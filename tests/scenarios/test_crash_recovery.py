"""Crash recovery of the real engine process (SPEC 8.5, 9.1 "crash mid-trade").

``engine run`` trades on the loopback Binance emulator (through the ccxt adapter, pointed at it
with ``ENGINE_EXCHANGE_REST_URLS`` / ``ENGINE_EXCHANGE_WS_URL``). Three groups are driven through
``POST /webhook`` and emulator price moves; the process is SIGKILLed at a series of points —
right after webhooks are accepted, while a ladder is being placed (one placement refused with a
503, one answer held back after the order was placed), after fills while TPs are being placed,
after fills that happened while no engine ran, and during an exit — and restarted each time.
After the last start-up reconciliation the books must be clean: no client id placed twice, no
two live orders for one leg and purpose, no orphan, no accepted signal lost, every open lot
covered by its TP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from actors.group.projection import decode_state
from engine.config import DEFAULT_TOML
from engine.orders import decode_cid
from tests.emulator.server import API_KEY, API_SECRET, EmulatorThread

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-webhook-secret-0123456789"
PRICES = {"BTCUSDT": "60000", "ETHUSDT": "3000", "LTCUSDT": "100"}
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine_config(directory: Path, port: int) -> Path:
    text = (DEFAULT_TOML.replace("http_port = 8080", f"http_port = {port}")
            .replace("auto_restart = true", "auto_restart = false")
            .replace('name = "paper"', 'name = "binance"', 1))
    path = directory / "engine.toml"
    path.write_text(text)
    return path


def body(symbol: str, intent: str = "signal", *, price: str | None = None) -> dict:
    price = price or PRICES[symbol]
    entry = intent == "signal"
    return {
        "secret": SECRET, "source": "tradingview",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
        "tv": {"exchange": "BINANCE", "symbol": symbol, "timeframe": "60",
               "action": "buy" if entry else "sell",
               "market_position": "long" if entry else "flat", "market_position_size": 1,
               "prev_market_position": "flat" if entry else "long",
               "prev_market_position_size": 0 if entry else 1,
               "entry_price": float(price), "close_price": float(price), "order_size": 1000},
        "strategy_info": {"trade_id": f"{symbol}-{intent}", "alert_name": "crash test",
                          "alert_message": ""},
        "execution_intent": {"type": intent, "side": "buy", "position_size_type": "quote",
                             "precision_mode": "auto"},
        "risk": {"stop_loss": None, "take_profit": None, "max_slippage_percent": 2},
    }


class EngineProcess:
    """``engine run`` as a child process, its database read through a read-only connection."""

    def __init__(self, tmp: Path, emu: EmulatorThread):
        self.port = free_port()
        self.config = engine_config(tmp, self.port)
        self.db = tmp / "engine_data" / "engine.db"
        self.log = open(tmp / "engine.log", "ab")
        self.log_path = tmp / "engine.log"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT),
                    "ENGINE_EXCHANGE_API_KEY": API_KEY, "ENGINE_EXCHANGE_API_SECRET": API_SECRET,
                    "ENGINE_WEBHOOK_SECRET": SECRET,
                    "ENGINE_EXCHANGE_REST_URLS": json.dumps(emu.rest_urls),
                    "ENGINE_EXCHANGE_WS_URL": emu.ws_url}
        for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen | None = None
        self.reconciled_before = 0
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def reconciled(self) -> int:
        if not self.db.exists():
            return 0
        try:
            return self.query("SELECT count(*) FROM journal WHERE kind = 'Reconciled'"
                              " AND body LIKE '%\"kind\":\"startup\"%'")[0][0]
        except sqlite3.OperationalError:  # not created / migrated yet
            return 0

    def start(self) -> None:
        self.reconciled_before = self.reconciled()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "run", "--config", str(self.config)],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(40)

    def alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(f"engine exited ({self.proc.returncode}):\n" + self.tail())

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def wait_reconciled(self) -> None:
        """Until this start's start-up reconciliation is journaled (signals flow after it)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.alive()
            if self.reconciled() > self.reconciled_before:
                return
            time.sleep(0.05)
        pytest.fail("no start-up reconciliation:\n" + self.tail())

    def webhook(self, payload: dict) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.alive()
            try:
                r = self.http.post("/webhook", json=payload)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        return r.json()["id"]

    def quiet(self, emu: EmulatorThread, *, still_s: float = 1.5, limit_s: float = 20) -> None:
        """Until neither the journal nor the emulator's order record moved for ``still_s``."""
        deadline = time.monotonic() + limit_s
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            self.alive()
            now = (self.query("SELECT max(seq) FROM journal")[0][0], len(emu.orders()))
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still_s:
                return
            time.sleep(0.1)
        pytest.fail("the engine never became quiet:\n" + self.tail())


def wait_for(what, timeout_s: float = 10.0, *, engine: EngineProcess) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        engine.alive()
        if time.monotonic() > deadline:
            pytest.fail("condition not reached:\n" + engine.tail())
        time.sleep(0.02)


def placed(emu: EmulatorThread, symbol: str) -> list[dict]:
    return [o for o in emu.orders() if o.get("symbol") == symbol and o["_result"] == "placed"]


@pytest.fixture
def emu():
    emulator = EmulatorThread().start()
    for symbol, price in PRICES.items():
        emulator.price(symbol, price)
    yield emulator
    emulator.stop()


def test_killed_at_many_points_the_books_stay_clean(tmp_path, emu):
    eng = EngineProcess(tmp_path, emu)
    accepted: list[int] = []
    try:
        # 1. two entries accepted, killed before (or while) they are processed
        eng.start()
        accepted += [eng.webhook(body("BTCUSDT")), eng.webhook(body("ETHUSDT"))]
        eng.kill()

        # 2. a ladder being placed: the first placement refused (503, nothing done), the next
        #    one placed with its answer held back — killed in the middle
        eng.start()
        eng.wait_reconciled()
        eng.quiet(emu)
        emu.price("LTCUSDT", "100.5")  # the whole ladder (100 … 98) rests
        emu.fault("5xx", path="/api/v3/order", method="POST")
        emu.fault("timeout", path="/api/v3/order", method="POST", delay_s=5)
        accepted.append(eng.webhook(body("LTCUSDT")))
        wait_for(lambda: len(placed(emu, "LTCUSDT")) >= 2, engine=eng)
        time.sleep(0.3)
        eng.kill()

        # 3. fills, killed while their TPs are being placed
        eng.start()
        eng.wait_reconciled()
        eng.quiet(emu)
        emu.price("BTCUSDT", "59650")  # DCA1 (59700) fills
        emu.price("ETHUSDT", "2965")  # DCA1 (2985) and DCA2 (2970) fill
        time.sleep(0.15)
        eng.kill()

        # 4. while no engine runs: a ladder fills and TPs are hit
        emu.price("LTCUSDT", "98.9")  # DCA0 (100), DCA1 (99.5), DCA2 (99) fill
        emu.price("BTCUSDT", "60650")  # BTC's TPs (60600, 60297) are reached

        # 5. an exit, killed while the group cancels its orders: one cancel refused (503,
        #    nothing done), one done with its answer held back
        eng.start()
        eng.wait_reconciled()
        eng.quiet(emu)
        emu.fault("5xx", path="/api/v3/order", method="DELETE")
        emu.fault("timeout", path="/api/v3/order", method="DELETE", delay_s=5)
        accepted.append(eng.webhook(body("ETHUSDT", "exit", price="2965")))
        time.sleep(0.5)
        eng.kill()

        # 6. the last start: reconcile, settle, stop gracefully
        eng.start()
        eng.wait_reconciled()
        eng.quiet(emu, still_s=2.5)
        assert eng.stop() == 0, eng.tail()
    finally:
        if eng.proc is not None and eng.proc.poll() is None:
            eng.kill()
        eng.http.close()
    check_books(eng, emu, accepted)


def check_books(eng: EngineProcess, emu: EmulatorThread, accepted: list[int]) -> None:
    instance = eng.query("SELECT value FROM meta WHERE key = 'instance_id'")[0][0]
    # the kill points were really hit: what each restart had to repair
    repaired: Counter = Counter()
    for (text,) in eng.query("SELECT body FROM journal WHERE kind = 'Reconciled'"):
        repaired.update({k: v for k, v in json.loads(text).items() if k != "kind"})
    assert repaired["resent"] >= 1  # the placement refused with a 503
    assert repaired["synced"] >= 1  # the placement whose answer was held back
    assert repaired["booked_fills"] >= 1  # fills while no engine ran
    assert repaired["cancels_resent"] >= 1  # the exit's cancel refused with a 503
    # no client order id placed twice
    placed_ids = Counter(o["newClientOrderId"] for o in emu.orders() if o["_result"] == "placed")
    assert placed_ids and max(placed_ids.values()) == 1, placed_ids.most_common(3)
    book = emu.emulator.account.book
    open_orders = [o for o in book.orders.values() if o.status in ("open", "partially_filled")]
    ours = [(o, decode_cid(o.client_order_id)) for o in open_orders]
    ours = [(o, p) for o, p in ours if p is not None and p.instance == instance]
    # no two live orders for the same leg and purpose
    slots = Counter((p.group_id, p.pyramid, p.leg, p.purpose) for _, p in ours)
    assert max(slots.values(), default=1) == 1, slots
    # no orphan: every open order belongs to a live group and is recorded as open
    live = {gid: decode_state(text) for gid, text in eng.query(
        "SELECT id, state FROM position_groups WHERE status NOT IN ('closed', 'failed')")}
    recorded = dict(eng.query("SELECT client_order_id, state FROM orders"))
    for o, p in ours:
        assert p.group_id in live, f"orphan {o.client_order_id}"
        assert recorded.get(o.client_order_id) in ("open", "partially_filled"), \
            (o.client_order_id, recorded.get(o.client_order_id))
    # no accepted signal lost
    states = dict(eng.query("SELECT id, state FROM inbox"))
    assert all(states[i] not in ("accepted", "processing") for i in accepted), states
    # every open lot covered by a TP of exactly its size; the exited group is closed
    tps = {(p.group_id, p.pyramid, p.leg): o.quantity - o.filled_quantity
           for o, p in ours if p.purpose == "t"}
    for gid, s in live.items():
        for leg in s.legs:
            if leg.open_qty > 0 and leg.tp_state != "external_cancel":
                assert tps.get((gid, leg.pyramid, leg.index)) == leg.open_qty, (gid, leg)
    eth = eng.query("SELECT status FROM position_groups WHERE symbol = 'ETHUSDT'")
    assert eth == [("closed",)]
    # every trade of every group booked exactly once: the groups' legs match the exchange
    groups = {gid: decode_state(text) for gid, text in eng.query(
        "SELECT id, state FROM position_groups")}
    bought: Counter = Counter()
    sold: Counter = Counter()
    for f in book.fills:
        p = decode_cid(f.client_order_id)
        if p is not None and p.instance == instance:
            (bought if f.side == "buy" else sold)[p.group_id] += f.quantity
    for gid, s in groups.items():
        assert bought[gid] == sum((leg.filled_qty for leg in s.legs), D(0)), (gid, s.legs)
        assert sold[gid] == sum((leg.sold_qty for leg in s.legs), D(0)), (gid, s.legs)
    assert len(live) == 2 and len(groups) == 3
