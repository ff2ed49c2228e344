"""The paper exchange on live public prices, against the loopback Binance emulator.

``live_emulator``: one emulator thread per test module serving ``MANY`` symbols (real filters,
``tests/emulator/many_markets.py``). ``live_engine``: ``engine markets fetch`` into a fresh
data directory, then the whole web stack and engine core with ``feed = "live"`` pointed at the
emulator's REST and websocket. ``loopback_only``: every outgoing connection and name lookup
of the process is recorded (``sys.addaudithook``) and must stay on loopback.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.market.markets_fetch import fetch_markets
from tests.emulator.many_markets import many_symbols_info
from tests.emulator.server import EmulatorThread
from tests.web.conftest import Engine
from tests.web.runtime_kit import engine_with_core, eventually

MANY = 300
SOL = "SOLUSDT"  # a real Binance market the bundled snapshot lacks (BTCUSDT's filters here)
_SEEN: list[tuple[str, Any]] = []
_RECORDING = [False]


def _audit(event: str, args: tuple) -> None:
    if _RECORDING[0] and event in ("socket.connect", "socket.getaddrinfo"):
        where = args[1] if event == "socket.connect" else args[0]
        _SEEN.append((event, where))


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while a test asks


def _loopback(where: Any) -> bool:
    host = where[0] if isinstance(where, tuple) else where
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", None) or isinstance(host, int):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return str(host).startswith("/")  # a unix socket path


@pytest.fixture
def loopback_only():
    """Yields the list of recorded destinations; fails the test if one left loopback."""
    _SEEN.clear()
    _RECORDING[0] = True
    try:
        yield _SEEN
    finally:
        _RECORDING[0] = False
    outside = [(e, w) for e, w in _SEEN if not _loopback(w)]
    assert outside == [], f"requests left loopback: {outside}"


@pytest.fixture(scope="module")
def live_emulator():
    emu = EmulatorThread(many_symbols_info(MANY)).start()
    yield emu
    emu.stop()


async def reset(emu: EmulatorThread, prices: dict[str, str]) -> None:
    def work() -> None:
        emu.reset()
        emu.control("public", {"stall": False})
        for symbol, price in prices.items():
            emu.price(symbol, price)

    await trio.to_thread.run_sync(work)


async def control(emu: EmulatorThread, name: str, payload: dict | None = None) -> Any:
    return await trio.to_thread.run_sync(emu.control, name, payload)


def live_settings(emu: EmulatorThread, **more: Any) -> dict[str, Any]:
    return {"exchange.paper.feed": "live",
            "exchange.paper.markets_file": "engine_data/markets/binance_spot.json",
            "exchange.paper.live.rest_url": emu.base, "exchange.paper.live.ws_url": emu.ws_url,
            "exchange.paper.live.poll_sec": 1, **more}


async def fetch_into(emu: EmulatorThread, tmp_path: Path) -> Path:
    path = tmp_path / "engine_data" / "markets" / "binance_spot.json"
    await fetch_markets("binance", path, rest_url=emu.base, now_ms=1_700_000_000_000)
    return path


@asynccontextmanager
async def live_engine(emu: EmulatorThread, tmp_path: Path, **more: Any
                      ) -> AsyncIterator[Engine]:
    await fetch_into(emu, tmp_path)
    async with engine_with_core(tmp_path, settings=live_settings(emu, **more)) as eng:
        await eventually(lambda: getattr(eng.handle, "core", None) is not None, timeout=30)
        yield eng


def feed(eng: Engine) -> Any:
    return eng.handle.core.services.live


def streams(status: dict) -> set[str]:
    return set(status["streams"])


__all__ = ["MANY", "SOL", "control", "eventually", "feed", "fetch_into", "live_engine",
           "live_emulator", "live_settings", "loopback_only", "reset", "streams"]
