"""The ccxt adapter against the loopback Binance emulator, as an exchange-port implementation.

For the contract suite (``tests/contract/conftest.py``, owned by F1): import these fixtures
there or in a test module. ``binance_emulator`` is one emulator thread per test module;
``ccxt_binance`` is a fresh adapter (markets loaded) on a freshly reset emulator, with
``set_price(symbol, price)`` to move the emulator's market like the paper feed does.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import trio

from actors.exchange.ccxt_adapter import CcxtExchange
from engine.config import ExchangeConfig
from tests.emulator.server import API_KEY, API_SECRET, EmulatorThread


class EmulatedBinance:
    """A port under test plus the knob the contract suite needs (market prices)."""

    def __init__(self, port: CcxtExchange, emulator: EmulatorThread):
        self.port = port
        self.emulator = emulator

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await trio.to_thread.run_sync(self.emulator.price, symbol, str(price))


@pytest.fixture(scope="module")
def binance_emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


def make_adapter(emu: EmulatorThread, *, cfg: dict | None = None, **kw: object) -> CcxtExchange:
    """An adapter pointed at ``emu``; ``cfg`` overrides ``[exchange]`` keys."""
    settings = {"name": "binance", "testnet": False, "order_poll_sec": Decimal("0.2"),
                "price_poll_sec": Decimal("0.2"), **(cfg or {})}
    cfg_obj = ExchangeConfig(**settings)
    options = {"api_key": API_KEY, "api_secret": API_SECRET, "rest_urls": emu.rest_urls,
               "ws_url": emu.ws_url, **kw}
    return CcxtExchange(cfg_obj, **options)  # type: ignore[arg-type]


@pytest.fixture
async def ccxt_binance(binance_emulator):
    await trio.to_thread.run_sync(binance_emulator.reset)
    port = make_adapter(binance_emulator)
    await port.load_markets()
    yield EmulatedBinance(port, binance_emulator)
    await port.aclose()


_SHARED: list[EmulatorThread] = []
CONTRACT_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 1000}]


def shared_emulator() -> EmulatorThread:
    """One emulator thread for the whole session (started on first use, a daemon thread)."""
    if not _SHARED:
        _SHARED.append(EmulatorThread().start())
    return _SHARED[0]


@asynccontextmanager
async def emulated_binance(*, start_balances: dict[str, Decimal],
                           partial_fill_ratio: Decimal) -> AsyncIterator[EmulatedBinance]:
    """A fresh emulator account (these balances, this fill ratio, fees 0.1 %) and an adapter.
    The order-rate limit is raised (1,000 per 10 s) so that filling MAX_NUM_ORDERS does not
    wait on Binance's 100 per 10 s; the limiter itself is tested in test_ccxt_faults.py."""
    emu = shared_emulator()
    await trio.to_thread.run_sync(lambda: emu.reset(
        balances={k: str(v) for k, v in start_balances.items()},
        partial_fill_ratio=str(partial_fill_ratio), rate_limits=CONTRACT_LIMITS))
    port = make_adapter(emu)
    try:
        yield EmulatedBinance(port, emu)
    finally:
        await port.aclose()
