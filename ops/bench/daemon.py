"""What the daemon benchmarks share: ``engine run`` in a child process on a temporary data
directory, the loopback emulator with receipt times, a blocking keep-alive webhook client, and
the process figures read from /proc (psutil is not a dependency).
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
from datetime import UTC, datetime
from pathlib import Path

import httpx
import tomlkit

from tests.emulator.server import API_KEY, API_SECRET, EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-webhook-secret-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# the emulator's limits stay out of the way: these benchmarks measure latency, not budget
BIG_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 10**7},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 10**6},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 10**8}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class TimedEmulator(EmulatorProcess):
    """``ops.bench.timed_emulator`` in a child process (see there)."""

    def start(self) -> TimedEmulator:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ops.bench.timed_emulator", "--port", "0"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if " on http://" not in line:
            self._proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        import httpx

        self.base = line.split(" on ", 1)[1].split()[0]
        self._http = httpx.Client(base_url=self.base, timeout=30)
        return self

    def times(self) -> dict:
        r = self._http.get("/_bench/times")
        r.raise_for_status()
        return r.json()

    def clear_times(self) -> None:
        self._http.get("/_bench/clear").raise_for_status()


def write_config(directory: Path, changes: dict[str, object]) -> Path:
    """The default engine.toml with dotted keys replaced (``{"execution_pool.max_open_groups":
    1000}``), written to ``directory/engine.toml``."""
    from engine.config import DEFAULT_TOML

    doc = tomlkit.parse(DEFAULT_TOML)
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        table = doc
        for part in path:
            table = table[part]
        table[last] = value
    out = directory / "engine.toml"
    out.write_text(tomlkit.dumps(doc))
    return out


class Daemon:
    """``engine run --config`` as a child process; its database read on the side (read-only)."""

    def __init__(self, directory: Path, changes: dict[str, object], *,
                 emulator: EmulatorProcess | None = None):
        self.port = free_port()
        changes = {"app.http_port": self.port, "app.auto_restart": False, **changes}
        if emulator is not None:
            changes.setdefault("exchange.name", "binance")
        self.config = write_config(directory, changes)
        self.db = directory / "engine_data" / "engine.db"
        self.log_path = directory / "engine.log"
        extra = os.environ.get("PYTHONPATH")  # kept after ROOT: a profiler's hook, for instance
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([extra] if extra else [])),
                    "ENGINE_WEBHOOK_SECRET": SECRET}
        if emulator is not None:
            self.env.update({"ENGINE_EXCHANGE_API_KEY": API_KEY,
                             "ENGINE_EXCHANGE_API_SECRET": API_SECRET,
                             "ENGINE_EXCHANGE_REST_URLS": json.dumps(emulator.rest_urls),
                             "ENGINE_EXCHANGE_WS_URL": emulator.ws_url})
        for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:  # a file: a full pipe would stall the engine
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ops.cli", "run", "--config", str(self.config)],
                cwd=ROOT, env=self.env, stdout=log, stderr=log)

    def alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"engine exited:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def wait_running(self, timeout: float = 120) -> None:
        """Until ``/healthz`` says ``running`` (start-up reconciliation done)."""
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                if httpx.get(url, timeout=2).json()["status"] == "running":
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"engine not running:\n{self.tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def startups(self) -> int:
        try:
            return self.query("SELECT count(*) FROM journal WHERE kind = 'Reconciled'"
                              " AND body LIKE '%\"kind\":\"startup\"%'")[0][0]
        except sqlite3.OperationalError:
            return 0

    def wait_reconciled(self, before: int = 0, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            if self.db.exists() and self.startups() > before:
                return
            time.sleep(0.02)
        raise RuntimeError(f"no start-up reconciliation:\n{self.tail()}")

    def connect(self, timeout: float = 30) -> WebhookClient:
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            try:
                return WebhookClient(self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def figures(self) -> tuple[int, float]:
        """(resident set size in bytes, user + system CPU seconds) of the engine process."""
        assert self.proc is not None
        return proc_figures(self.proc.pid)


def proc_figures(pid: int) -> tuple[int, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines()
                  if line.startswith("VmRSS:"))
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return rss_kb * 1024, cpu_s


def webhook_body(symbol: str, timeframe: int, *, intent: str = "signal", price: str,
                 order_size: str = "100", ts: datetime | None = None,
                 trade_id: str = "bench") -> bytes:
    stamp = (ts or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    entry = intent == "signal"
    return json.dumps({
        "secret": SECRET, "source": "tradingview", "timestamp": stamp,
        "tv": {"exchange": "BINANCE", "symbol": symbol, "timeframe": str(timeframe),
               "action": "buy" if entry else "sell",
               "market_position": "long" if entry else "flat", "market_position_size": 1,
               "prev_market_position": "flat" if entry else "long",
               "prev_market_position_size": 0 if entry else 1,
               "entry_price": float(price), "close_price": float(price),
               "order_size": float(order_size)},
        "strategy_info": {"trade_id": trade_id, "alert_name": "bench", "alert_message": ""},
        "execution_intent": {"type": intent, "side": "buy", "position_size_type": "quote",
                             "precision_mode": "auto"},
    }).encode()


class WebhookClient:
    """One blocking keep-alive HTTP/1.1 connection to ``POST /webhook`` (the request bytes are
    built before the clock starts, so the client costs almost nothing in the figure)."""

    def __init__(self, port: int):
        self.port = port
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, payload: bytes, *, method: str = "POST", path: str = "/webhook") -> bytes:
        return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                ).encode() + payload

    def send(self, raw: bytes) -> tuple[int, dict]:
        try:
            self.sock.sendall(raw)
            self._fill()
        except (ConnectionError, BrokenPipeError):
            # hypercorn closes a keep-alive connection after 1,000 requests: that request was
            # never read, so sending it again on a new connection is safe
            self.sock.close()
            self._connect()
            self.sock.sendall(raw)
            self._fill()
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                       if line.lower().startswith(b"content-length:")), 0)
        self.buffer = rest
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, json.loads(body or b"{}")

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("engine closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()
