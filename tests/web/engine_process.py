"""The real engine as a separate process (``python -m ops.cli run``) on the paper exchange, on
a free loopback port in a temporary data directory — what an operator runs — with the helpers
the connection and browser tests need: a logged-in httpx client, webhooks, paper prices, an
operator user, and the process's open file descriptors.

Synchronous on purpose: the browser tests drive Playwright's sync API in plain (non-trio)
tests, and a separate process cannot clash with either event loop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from actors.settings.config_edit import set_values
from engine.config import DEFAULT_TOML

ROOT = Path(__file__).resolve().parents[2]
ADMIN, ADMIN_PASSWORD = "admin", "admin-password-0123"
OPERATOR, OPERATOR_PASSWORD = "viewer", "viewer-password-0123"
WEBHOOK_SECRET = "whsec-browser-tests-0123456789"
START_TIMEOUT_S = 90  # a cold start on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def entry_body(symbol: str, price: str, *, size: str = "1000", timeframe: str = "60",
               side: str = "buy", intent: str = "signal", ts: str = "2025-11-10T12:00:00Z") -> dict:
    """A TradingView entry (SPEC 2.9) sized in quote currency."""
    return {
        "secret": WEBHOOK_SECRET, "source": "tradingview", "timestamp": ts,
        "tv": {"exchange": "BINANCE", "symbol": symbol, "timeframe": timeframe, "action": side,
               "market_position": "long" if side == "buy" else "short",
               "market_position_size": 1, "prev_market_position": "flat",
               "prev_market_position_size": 0, "entry_price": float(price),
               "close_price": float(price), "order_size": float(size)},
        "strategy_info": {"trade_id": "t1", "alert_name": "Test entry", "alert_message": "entry"},
        "execution_intent": {"type": intent, "side": side, "position_size_type": "quote",
                             "precision_mode": "auto"},
        "risk": {"stop_loss": None, "take_profit": None, "max_slippage_percent": 0.2},
    }


class EngineProcess:
    def __init__(self, directory: Path, settings: dict[str, Any] | None = None, *,
                 webhook_secret: str | None = WEBHOOK_SECRET):
        self.dir = directory
        self.webhook_secret = webhook_secret  # None: started without one (webhooks refused)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = {"app.http_port": self.port, "app.auto_restart": False,
                         "app.data_dir": str(directory / "data"), **(settings or {})}
        self.proc: subprocess.Popen | None = None
        self.log = directory / "engine.out"
        self._admin: httpx.Client | None = None

    def start(self) -> EngineProcess:
        config = self.dir / "engine.toml"
        config.write_text(set_values(DEFAULT_TOML, self.settings))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ENGINE_ADMIN_PASSWORD": ADMIN_PASSWORD,
               "ENGINE_WEBHOOK_SECRET": self.webhook_secret}
        for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG"):
            env.pop(name, None)
        if env["ENGINE_WEBHOOK_SECRET"] is None:
            del env["ENGINE_WEBHOOK_SECRET"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", "run", "--config",
                                          str(config)], cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).json()["status"] == "running":
                    return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"engine not running after {START_TIMEOUT_S} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # --- API helpers ----------------------------------------------------------------------
    def login(self, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=30)
        r = c.post("/api/auth/login", json={"username": username, "password": password})
        r.raise_for_status()
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    @property
    def admin(self) -> httpx.Client:
        if self._admin is None:
            self._admin = self.login()
        return self._admin

    def add_operator(self) -> None:
        r = self.admin.post("/api/users", json={"username": OPERATOR,
                                                "password": OPERATOR_PASSWORD,
                                                "role": "operator"})
        assert r.status_code in (201, 409), r.text

    def webhook(self, symbol: str, price: str, **kw: Any) -> dict:
        r = httpx.post(self.url + "/webhook", content=json.dumps(entry_body(symbol, price, **kw)),
                       timeout=30)
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        return r.json()

    def price(self, symbol: str, price: str) -> dict:
        r = self.admin.post("/api/paper/price", json={"symbol": symbol, "price": price})
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = self.admin.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def open_fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def wait_for(check, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    """Poll ``check`` until it returns something truthy (generous: the suite shares 2 cores)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
