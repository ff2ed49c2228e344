"""``engine run`` as a real process for the stress tests: a temp engine.toml and data directory,
a free 127.0.0.1 port, planted secrets (environment AND the encrypted secrets file written by
``engine secrets set``), the first admin from ``ENGINE_ADMIN_PASSWORD`` and an operator added
with ``engine user add`` while the engine runs — the way an operator sets up a machine.

The tests read the engine's database through their own read-only SQLite connection (WAL lets
them read while the engine writes) and talk to it over HTTP. Clients bind to distinct loopback
source addresses (127.0.0.x) so that per-IP rules (login lockout, webhook throttling) can be
exercised without ``X-Forwarded-For``.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
import copy
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.web.conftest import PAYLOAD, write_config

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 40

ADMIN, ADMIN_PASSWORD = "admin", "Admin-Pass-0001!"
OPERATOR, OPERATOR_PASSWORD = "viewer", "Viewer-Pass-0002!"
WEBHOOK_SECRET = "whsec-ENV-Planted-0123456789-QWERTY"
API_KEY = "apikey-ENV-PLANTED-abcdefghij-9876"
PASSPHRASE = "passphrase-ENV-PLANTED-55aa66bb"
API_SECRET = "apisecret-FILE-PLANTED-zyxwvu-4242"  # only in the secrets file (engine secrets set)
ENV_SECRETS = {"ENGINE_WEBHOOK_SECRET": WEBHOOK_SECRET, "ENGINE_EXCHANGE_API_KEY": API_KEY,
               "ENGINE_EXCHANGE_PASSPHRASE": PASSPHRASE}
PLANTED = (WEBHOOK_SECRET, API_KEY, PASSPHRASE, API_SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    """``engine <args>`` (``python -m ops.cli``) with this checkout on the path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG", *ENV_SECRETS):
        if env is None or name not in env:
            full_env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], input=stdin.encode(),
                          cwd=ROOT, env=full_env, capture_output=True, timeout=timeout)


def local_client(daemon: Daemon, source: str = "127.0.0.1", **kw: Any) -> httpx.Client:
    """A keep-alive client whose connections come from ``source`` (any 127.0.0.x works)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=daemon.url, transport=transport, timeout=kw.pop("timeout", 15),
                        **kw)


@dataclass
class Daemon:
    url: str
    port: int
    config_path: Path
    data_dir: Path
    proc: subprocess.Popen
    output_path: Path

    # --- the database, read-only -----------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.data_dir / 'engine.db'}?mode=ro", uri=True,
                               timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        conn = self.connect()
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchone()[0]
        finally:
            conn.close()

    def dump(self) -> str:
        """The whole database as SQL text (every table, every row)."""
        conn = sqlite3.connect(self.data_dir / "engine.db")
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()

    # --- files ------------------------------------------------------------------------------
    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace")
                       for p in sorted((self.data_dir / "logs").glob("*.jsonl")))

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    # --- HTTP -------------------------------------------------------------------------------
    def login(self, username: str = ADMIN, password: str = ADMIN_PASSWORD,
              source: str = "127.0.0.1") -> httpx.Client:
        """A client holding a session cookie and sending its CSRF token."""
        c = local_client(self, source)
        r = c.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def stop(self) -> int:
        """SIGTERM and wait: the exit code (0 = clean, SPEC 12.4)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_daemon(tmp_path: Path, settings: dict[str, Any] | None = None, *,
                 operator: bool = True) -> Daemon:
    """Set up a data directory like an operator would, start ``engine run``, wait for
    ``/healthz`` to say running, then add the operator user with the CLI."""
    port = free_port()
    data_dir = tmp_path / "data"
    config_path = write_config(tmp_path, {"app.data_dir": str(data_dir), "app.http_port": port,
                                          "app.auto_restart": False, **(settings or {})})
    stored = cli("secrets", "set", "exchange.api_secret", "--config", str(config_path),
                 stdin=API_SECRET)
    assert stored.returncode == 0, stored.stderr.decode()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, **ENV_SECRETS, "ENGINE_ADMIN_PASSWORD":
           ADMIN_PASSWORD}
    for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG"):
        env.pop(name, None)
    output_path = tmp_path / "engine-output.txt"
    with output_path.open("wb") as out:  # a file, not a pipe: a full pipe would stall the engine
        proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", "--config",
                                 str(config_path)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    daemon = Daemon(url=f"http://127.0.0.1:{port}", port=port, config_path=config_path,
                    data_dir=data_dir, proc=proc, output_path=output_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"engine exited {proc.returncode}:\n{daemon.output()[-3000:]}")
        try:
            if httpx.get(f"{daemon.url}/healthz", timeout=1).json()["status"] == "running":
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            daemon.stop()
            raise AssertionError(f"engine not running after {START_TIMEOUT_S} s:\n"
                                 f"{daemon.output()[-3000:]}")
        time.sleep(0.1)
    if operator:
        added = cli("user", "add", OPERATOR, "--role", "operator", "--config", str(config_path),
                    stdin=OPERATOR_PASSWORD)
        assert added.returncode == 0, added.stderr.decode()
    return daemon


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


def log_events(daemon: Daemon, event: str, enough: Callable[[list[dict]], bool],
               timeout: float = 5) -> list[dict]:
    """The log file's events named ``event``, once ``enough(events)`` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(line) for line in daemon.log_text().splitlines()
                 if f'"event":"{event}"' in line]
        if enough(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
