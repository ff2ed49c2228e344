"""Shared set-up for the runtime actor tests: a real Store on tmp_path, the real paper exchange,
order rows written the way a group actor writes them, and a recorder of group deliveries."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import msgspec
import trio

from actors.runtime.clock import EngineClock
from actors.exchange.factory import build_port
from actors.exchange.paper import PaperExchange
from actors.exchange.port import OrderRequest
from actors.group.projection import insert_group
from actors.settings.secrets import SecretStore
from actors.store.writer import Store
from engine.config import PaperConfig, default_config
from engine.group.state import OrderRef
from engine.orders import encode_cid
from tests.emulator.server import API_KEY, API_SECRET

START_MS = 1_700_000_000_000
D = Decimal


async def open_store(tmp_path: Path, nursery: trio.Nursery, clock: EngineClock) -> Store:
    store = Store.open(tmp_path / "engine.db", clock_ms=clock.now_ms)
    await nursery.start(store.run_writer)
    return store


def paper(store: Store, clock: EngineClock, **config: object) -> PaperExchange:
    cfg = PaperConfig(**{"start_balances": {"USDT": D(100_000), "BTC": D(10)}, **config})
    return PaperExchange(db=store, config=cfg, clock_ms=clock.now_ms)


def binance_port(tmp_path: Path, store: Store, clock: EngineClock, emulator):
    """The ccxt adapter built by the factory, credentials from the environment, talking to the
    loopback Binance emulator (``tests.emulator.server.EmulatorThread``)."""
    config = default_config()
    config = msgspec.structs.replace(config, exchange=msgspec.structs.replace(
        config.exchange, name="binance", testnet=False))
    secrets = SecretStore(tmp_path, config.security, machine_id="test", use_keyring=False,
                          env={"ENGINE_EXCHANGE_API_KEY": API_KEY,
                               "ENGINE_EXCHANGE_API_SECRET": API_SECRET})
    return build_port(config, secrets, store, clock, rest_urls=emulator.rest_urls,
                      ws_url=emulator.ws_url)


def new_group(store: Store, symbol: str = "BTCUSDT", timeframe: int = 15) -> int:
    return store.write_now(lambda conn: insert_group(
        conn, exchange="paper", symbol=symbol, timeframe=timeframe, side="long",
        now_ms=START_MS, config_snapshot="{}", first_signal=None))


def insert_order(store: Store, group_id: int, ref: OrderRef, *, symbol: str = "BTCUSDT",
                 side: str = "buy", type: str = "limit", qty: Decimal,
                 price: Decimal | None) -> str:
    """The ``orders`` row in state ``pending``, as a group writes it before sending."""
    cid = encode_cid(store.instance_id(), group_id, ref.pyramid, ref.leg, ref.purpose,
                     ref.attempt)

    def write(conn) -> None:
        conn.execute(
            "INSERT INTO orders (client_order_id, exchange, symbol, group_id, pyramid, leg,"
            " purpose, attempt, type, side, price, quantity, state, created_at, updated_at)"
            " VALUES (?, 'paper', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (cid, symbol, group_id, ref.pyramid, ref.leg, ref.purpose, ref.attempt, type, side,
             None if price is None else str(price), str(qty), START_MS, START_MS))

    store.write_now(write)
    return cid


def order_row(store: Store, cid: str) -> dict:
    return store.query("SELECT * FROM orders WHERE client_order_id = ?", (cid,))[0]


def outcomes(store: Store, cid: str) -> list[str]:
    rows = store.query("SELECT body FROM journal WHERE kind = 'OrderOutcome' AND key = ?"
                       " ORDER BY seq", (cid,))
    return [r["body"] for r in rows]


def direct_order(cid: str, *, side: str = "buy", type: str = "limit", qty: str,
            price: str | None, symbol: str = "BTCUSDT") -> OrderRequest:
    """An order sent straight to the exchange (another run, another program)."""
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, type=type,
                        quantity=D(qty), price=None if price is None else D(price))


class Wrapped:
    """An exchange port with some calls replaced by a subclass (a fault); every other call goes
    to the real one it wraps."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class Deliveries:
    """What the gateway tells each group (its ``deliver`` callback)."""

    def __init__(self) -> None:
        self.by_group: dict[int, list[object]] = defaultdict(list)
        self.changed = trio.Event()

    def __call__(self, group_id: int, message: object) -> None:
        self.by_group[group_id].append(message)
        self.changed.set()
        self.changed = trio.Event()

    def kinds(self, group_id: int) -> list[str]:
        return [type(m).__name__ for m in self.by_group[group_id]]

    async def wait_for(self, group_id: int, count: int) -> None:
        with trio.fail_after(10):
            while len(self.by_group[group_id]) < count:
                await self.changed.wait()
