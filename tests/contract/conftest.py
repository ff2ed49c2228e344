"""The exchange-port contract suite runs once per implementation (ARCHITECTURE.md, Testing).

Each implementation is an async context manager ``factory(tmp_path) -> Venue``: a started port
implementation (``venue.exchange``) and a ``driver`` whose only power is moving the price
(``await driver.set_price(symbol, price)``), both set up with ``CONTRACT_SETTINGS``.

To add an implementation (the ccxt adapter against the loopback Binance emulator): write one
more ``@asynccontextmanager async def <name>_venue(tmp_path)`` that starts it with the same
start balances, fees and partial-fill ratio, yields ``Venue(kind="<name>", exchange=...,
driver=...)`` and stops it afterwards; then add it to ``IMPLEMENTATIONS``. Every test of
``test_port_contract.py`` then runs against it too; tests that only make sense for one kind
(persistence across a restart) check ``venue.kind`` or ``venue.restart``.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import pytest

from actors.exchange.paper import PaperExchange
from actors.exchange.port import ExchangePort
from actors.store.writer import Store
from engine.config import PaperConfig

# Every implementation starts from this account and these rules.
CONTRACT_SETTINGS = {
    "start_balances": {"USDT": Decimal(10000), "BTC": Decimal(1)},
    "maker_fee_percent": Decimal("0.1"),
    "taker_fee_percent": Decimal("0.1"),
    "partial_fill_ratio": Decimal("0.5"),
}


class SteppingClock:
    """Every reading is 1 s after the previous one: distinct, increasing trade times."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.now = start_ms

    def __call__(self) -> int:
        self.now += 1000
        return self.now


class PriceDriver(Protocol):
    async def set_price(self, symbol: str, price: Decimal | str) -> None: ...


class PaperDriver:
    def __init__(self, exchange: PaperExchange):
        self._exchange = exchange

    async def set_price(self, symbol: str, price: Decimal | str) -> None:
        await self._exchange.push_price(symbol, Decimal(price))


@dataclass
class Venue:
    kind: str
    exchange: ExchangePort
    driver: PriceDriver
    # paper only: stop this instance and start a new one on the same storage
    restart: Callable[[], Awaitable[ExchangePort]] | None = None


@asynccontextmanager
async def paper_venue(tmp_path: Path) -> AsyncIterator[Venue]:
    store = Store.open(tmp_path / "engine.db")
    clock = SteppingClock()
    config = PaperConfig(**CONTRACT_SETTINGS)
    exchange = PaperExchange(db=store, config=config, clock_ms=clock)
    venue = Venue(kind="paper", exchange=exchange, driver=PaperDriver(exchange))

    async def restart() -> ExchangePort:
        await venue.exchange.aclose()
        venue.exchange = PaperExchange(db=store, config=config, clock_ms=clock)
        venue.driver = PaperDriver(venue.exchange)
        return venue.exchange

    venue.restart = restart
    try:
        yield venue
    finally:
        await venue.exchange.aclose()
        store.close()


# --- extension point: the ccxt adapter on the loopback Binance emulator (helper F2) -------
@asynccontextmanager
async def ccxt_venue(tmp_path: Path) -> AsyncIterator[Venue]:
    from tests.contract.conftest_ccxt import emulated_binance

    assert CONTRACT_SETTINGS["maker_fee_percent"] == CONTRACT_SETTINGS["taker_fee_percent"] \
        == Decimal("0.1"), "the emulator charges Binance's 0.1 % fees"
    async with emulated_binance(start_balances=CONTRACT_SETTINGS["start_balances"],
                                partial_fill_ratio=CONTRACT_SETTINGS["partial_fill_ratio"]) as b:
        yield Venue(kind="ccxt", exchange=b.port, driver=b)
# --- end of extension point ---------------------------------------------------------------


@asynccontextmanager
async def paper_live_venue(tmp_path: Path) -> AsyncIterator[Venue]:
    """The paper exchange on live public prices from the emulator (``conftest_live.py``)."""
    from tests.contract.conftest_live import paper_live_venue as live

    async with live(tmp_path, CONTRACT_SETTINGS) as v:
        yield v


IMPLEMENTATIONS = {"paper": paper_venue, "ccxt": ccxt_venue, "paper_live": paper_live_venue}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def venue(request, tmp_path: Path) -> AsyncIterator[Venue]:
    async with IMPLEMENTATIONS[request.param](tmp_path) as v:
        yield v


@pytest.fixture
def exchange(venue: Venue) -> ExchangePort:
    return venue.exchange


@pytest.fixture
def driver(venue: Venue) -> PriceDriver:
    return venue.driver
