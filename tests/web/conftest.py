"""A real engine web stack for the web tests: Store (SQLite on tmp_path) with its group-commit
writer, Logbook (files + events table), ConfigStore on a real engine.toml, SecretStore with a
planted webhook secret and API key, the EngineHandle, and the Quart-Trio app served by
hypercorn on a free 127.0.0.1 port. Tests talk to it with httpx over the socket."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import pytest
import trio
from argon2 import PasswordHasher

from actors.settings.config_edit import set_values
from actors.settings.config_store import ConfigStore
from actors.handle import EngineHandle
from actors.read.analytics import attach_analytics
from actors.runtime.settings_services import attach_settings_services
from actors.runtime.logbook import Logbook
from actors.settings.secrets import SecretStore
from actors.store.writer import Store
from engine.config import DEFAULT_TOML
from engine.masking import Masker
from web.app import create_app

WEBHOOK_SECRET = "whsec-Planted-0123456789-XYZ"
API_KEY = "apikey-PLANTED-abcdefghij-9876"
T0 = 1_762_776_000_000  # 2025-11-10T12:00:00Z
ADMIN, OPERATOR, PASSWORD = "root", "viewer", "correct horse battery"
# a real argon2id hasher, cheap enough for many logins in a test run
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PAYLOAD: dict[str, Any] = {
    "secret": WEBHOOK_SECRET,
    "source": "tradingview",
    "timestamp": "2025-11-10T12:00:00Z",
    "tv": {"exchange": "BINANCE", "symbol": "BTCUSDT", "timeframe": "15", "action": "buy",
           "market_position": "long", "market_position_size": 2.5,
           "prev_market_position": "flat", "prev_market_position_size": 0,
           "entry_price": 60000.0, "close_price": 60010.0, "order_size": 2.5},
    "strategy_info": {"trade_id": "12345", "alert_name": "BTC Long Entry",
                      "alert_message": "DCA Entry 1"},
    "execution_intent": {"type": "signal", "side": "buy", "position_size_type": "contracts",
                         "precision_mode": "auto"},
    "risk": {"stop_loss": None, "take_profit": None, "max_slippage_percent": 0.2},
}


def payload(**changes: Any) -> dict[str, Any]:
    """The SPEC 2.9 entry with dotted-path changes (``tv.symbol="ETHUSDT"``); None deletes."""
    body = copy.deepcopy(PAYLOAD)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = body
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return body


class Clock:
    """The engine's injected wall clock (ms), moved by the tests."""

    def __init__(self, now_ms: int):
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


@dataclass
class Engine:
    url: str
    handle: EngineHandle
    store: Store
    logbook: Logbook
    config_path: Path
    data_dir: Path
    clock: Clock
    stop: trio.Event
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)
        self.clients.append(c)
        return c

    async def webhook(self, body: Any, **kw: Any) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as c:
            return await c.post("/webhook", content=content, **kw)

    async def login(self, username: str = ADMIN, password: str = PASSWORD,
                    **headers: str) -> httpx.AsyncClient:
        """A client holding a session cookie and sending its CSRF token."""
        c = self.client(**headers)
        r = await c.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def events(self) -> list[dict]:
        self.logbook.flush()
        return self.store.query("SELECT * FROM events ORDER BY id")

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted((self.data_dir / "logs").glob("*.jsonl")))


def write_config(directory: Path, settings: dict[str, Any] | None = None) -> Path:
    """The default engine.toml (SPEC 10.4) with ``{"dotted.key": value}`` settings."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "engine.toml"
    path.write_text(set_values(DEFAULT_TOML, settings or {}))
    return path


async def start_engine(tmp_path: Path, nursery: trio.Nursery, *,
                       settings: dict[str, Any] | None = None, now_ms: int = T0,
                       signal_backlog: int = 10_000) -> Engine:
    config_path = write_config(tmp_path, settings)
    config_store = ConfigStore(config_path)
    cfg = config_store.load()
    data_dir = config_store.ensure_data_dir(cfg)
    store = Store.open(data_dir / "engine.db")
    secrets = SecretStore(data_dir, cfg.security, env={}, machine_id="test-machine",
                          use_keyring=False)
    secrets.set("security.webhook_secret", WEBHOOK_SECRET)
    secrets.set("exchange.api_key", API_KEY)
    masker = Masker(secrets.all_values())
    logbook = Logbook.install(data_dir=data_dir, logging_cfg=cfg.logging, level="debug",
                              masker=masker, store=store, stream=None)
    clock = Clock(now_ms)
    handle = EngineHandle(store=store, config_store=config_store, secrets=secrets,
                          masker=masker, clock_ms=clock, password_hasher=FAST_HASHER,
                          signal_backlog=signal_backlog)
    attach_settings_services(handle)
    attach_analytics(handle)
    handle.users.add_now(ADMIN, PASSWORD, "admin")
    handle.users.add_now(OPERATOR, PASSWORD, "operator")
    await nursery.start(store.run_writer)
    await nursery.start(logbook.run_flusher)
    hc = hypercorn.config.Config()
    hc.bind = ["127.0.0.1:0"]
    hc.graceful_timeout = 0.5
    hc.accesslog = hc.errorlog = None
    stop = trio.Event()
    urls = await nursery.start(partial(hypercorn.trio.serve, create_app(handle), hc,
                                       shutdown_trigger=stop.wait))
    handle.status = "running"
    return Engine(url=urls[0], handle=handle, store=store, logbook=logbook,
                  config_path=config_path, data_dir=data_dir, clock=clock, stop=stop)


async def close_engine(engine: Engine, nursery: trio.Nursery) -> None:
    for c in engine.clients:
        await c.aclose()
    engine.stop.set()
    nursery.cancel_scope.cancel()


@asynccontextmanager
async def running_engine(tmp_path: Path, **kw: Any) -> AsyncIterator[Engine]:
    async with trio.open_nursery() as nursery:
        engine = await start_engine(tmp_path, nursery, **kw)
        try:
            yield engine
        finally:
            await close_engine(engine, nursery)
    engine.logbook.close()
    engine.store.close()


@pytest.fixture
async def eng(tmp_path: Path) -> AsyncIterator[Engine]:
    async with running_engine(tmp_path) as engine:
        yield engine
