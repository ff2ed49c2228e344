"""Paper-only behaviour: state() shape, reset (API and CLI), rows, streams, price flushing."""

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest
import trio

from actors.exchange.paper import PaperExchange, text
from actors.exchange.paper_store import load_state
from actors.exchange.port import (
    InvalidOrder, OrderNotFound, OrderRequest, OrderUpdate, PriceUpdate, Unavailable,
    UnknownSymbol,
)
from actors.store.writer import Store
from engine.config import PaperConfig
from ops import cli_paper

CONFIG = PaperConfig(start_balances={"USDT": D(10000), "BTC": D(1)},
                     partial_fill_ratio=D("0.5"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "engine.db")
    yield s
    s.close()


@pytest.fixture
def paper(store):
    return PaperExchange(db=store, config=CONFIG, clock_ms=Clock())


def limit(cid, side="buy", qty="0.002", price="59000", **kw) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol="BTCUSDT", side=side, type="limit",
                        quantity=D(qty), price=D(price), **kw)


async def test_state_has_the_api_shape_with_decimal_strings(paper):
    await paper.push_price("BTCUSDT", D("60000.00"))
    await paper.create_order(limit("a"))
    await paper.push_price("BTCUSDT", D("59000"))
    state = paper.state()
    assert set(state) == {"balances", "prices", "orders", "trades"}
    assert state["balances"] == {"BTC": {"free": "1.001", "locked": "0"},
                                 "USDT": {"free": "9881.882", "locked": "59.059"}}
    assert state["prices"] == {"BTCUSDT": "59000"}
    (o,) = state["orders"]
    assert {k: o[k] for k in ("client_order_id", "exchange_order_id", "symbol", "side", "type",
                              "price", "quantity", "filled_quantity", "status", "created_at")} \
        == {"client_order_id": "a", "exchange_order_id": "1", "symbol": "BTCUSDT",
            "side": "buy", "type": "limit", "price": "59000", "quantity": "0.002",
            "filled_quantity": "0.001", "status": "partially_filled", "created_at": 1000}
    (t,) = state["trades"]
    assert {k: t[k] for k in ("order_id", "price", "quantity", "fee", "ts")} == {
        "order_id": "1", "price": "59000", "quantity": "0.001", "fee": "0.059", "ts": 1000}


def test_text_formats_decimals_plainly():
    assert [text(D(x)) for x in ("0E-8", "1.5000", "1E+3", "-0")] == ["0", "1.5", "1000", "0"]
    assert text(None) is None


async def test_reset_cancels_orders_restores_balances_and_keeps_history(paper, store):
    await paper.push_price("BTCUSDT", D(60000))
    await paper.create_order(limit("r1"))
    await paper.create_order(OrderRequest(client_order_id="m", symbol="BTCUSDT", side="buy",
                                          type="market", quantity=D("0.01")))
    await paper.reset()
    assert await paper.fetch_open_orders() == []
    assert (await paper.fetch_order("BTCUSDT", "r1")).status == "canceled"
    balances = await paper.fetch_balances()
    assert {a: (b.free, b.locked) for a, b in balances.items()} == {
        "BTC": (D(1), 0), "USDT": (D(10000), 0)}
    await paper.reset({"USDT": D(5)})
    assert paper.state()["balances"] == {"BTC": {"free": "0", "locked": "0"},
                                         "USDT": {"free": "5", "locked": "0"}}
    reloaded = PaperExchange(db=store, config=CONFIG, clock_ms=Clock())
    assert reloaded.state() == paper.state()


async def test_cli_reset_matches_the_api_reset(tmp_path: Path, capsys):
    config = tmp_path / "engine.toml"
    config.write_text('[app]\ndata_dir = "data"\n[exchange.paper.start_balances]\nUSDT = 250\n')
    data = tmp_path / "data"
    data.mkdir()
    store = Store.open(data / "engine.db")
    paper = PaperExchange(db=store, config=CONFIG, clock_ms=Clock())
    await paper.push_price("BTCUSDT", D(60000))
    await paper.create_order(limit("cli-1"))
    store.close()

    parser = _parser()
    args = parser.parse_args(["paper", "reset", "--config", str(config)])
    assert args.func(args) == 0
    assert "1 open order(s) cancelled; balances USDT 250" in capsys.readouterr().out
    store = Store.open(data / "engine.db")
    rows = store.write_now(load_state)
    assert rows.orders[0].status == "canceled" and rows.orders[0].locked == 0
    assert {a: h.free for a, h in rows.balances.items()} == {"USDT": D(250), "BTC": 0}
    assert all(h.locked == 0 for h in rows.balances.values())
    store.close()

    refused = _parser(refuse=lambda s: "group 7 is live").parse_args(
        ["paper", "reset", "--config", str(config)])
    assert refused.func(refused) == 1
    assert "group 7 is live" in capsys.readouterr().err


def _parser(**kw):
    import argparse

    parser = argparse.ArgumentParser()
    cli_paper.register(parser.add_subparsers(dest="command"), **kw)
    return parser


async def test_cli_reset_refused_while_the_engine_holds_the_data_dir(tmp_path, capsys):
    from actors.runtime.datadir_lock import DataDirLock

    config = tmp_path / "engine.toml"
    config.write_text('[app]\ndata_dir = "data"\n')
    lock = DataDirLock(tmp_path / "data")
    assert lock.acquire()
    try:
        args = _parser().parse_args(["paper", "reset", "--config", str(config)])
        assert args.func(args) == 1
        assert "POST /api/paper/reset" in capsys.readouterr().err
    finally:
        lock.release()


async def test_paper_specific_refusals(paper):
    with pytest.raises(InvalidOrder) as err:
        await paper.create_order(limit("ps", position_side="long"))
    assert err.value.code == -1106
    for call in (paper.fetch_order("XXX", "a"), paper.cancel_order("XXX", "a"),
                 paper.fetch_open_orders("XXX"), paper.fetch_my_trades("XXX"),
                 paper.push_price("XXX", D(1))):
        with pytest.raises(UnknownSymbol):
            await call
    with pytest.raises(OrderNotFound):
        await paper.cancel_order("BTCUSDT", "nope")


async def test_markets_file_and_fresh_fetch_time(store, tmp_path):
    source = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"
    only_btc = tmp_path / "info.json"
    import json

    info = json.loads(source.read_text())
    info["symbols"] = [s for s in info["symbols"] if s["symbol"] == "BTCUSDT"]
    only_btc.write_text(json.dumps(info))
    clock = Clock()
    paper = PaperExchange(db=store, config=PaperConfig(markets_file=str(only_btc)),
                          clock_ms=clock)
    clock.now = 99_000
    markets = await paper.load_markets()
    assert list(markets) == ["BTCUSDT"] and markets["BTCUSDT"].fetched_at_ms == 99_000


async def test_prices_are_coalesced_into_writes(paper, store, autojump_clock):
    def stored():
        return {s: p for s, (p, _) in store.write_now(load_state).prices.items()}

    await paper.push_price("BTCUSDT", D(60000))  # first price: written at once
    assert stored() == {"BTCUSDT": D(60000)}
    await paper.push_price("BTCUSDT", D(60001))  # within 1 s: deferred
    assert stored() == {"BTCUSDT": D(60000)}
    await paper.create_order(limit("w"))  # a state change carries the dirty price
    assert stored() == {"BTCUSDT": D(60001)}
    await paper.push_price("BTCUSDT", D(60002))
    await trio.sleep(1.5)
    await paper.push_price("ETHUSDT", D(3000))  # a second later: written with its peers
    assert stored() == {"BTCUSDT": D(60002), "ETHUSDT": D(3000)}
    await paper.push_price("ETHUSDT", D(3001))
    await paper.aclose()  # closing flushes
    assert stored()["ETHUSDT"] == D(3001)


async def test_stream_catch_up_coalescing_and_symbol_filter(paper):
    await paper.push_price("BTCUSDT", D(60000))
    await paper.push_price("ETHUSDT", D(3000))
    await paper.create_order(limit("open-1"))
    sub = paper.stream(["BTCUSDT"])
    # catch-up: the open order, then the last price of the subscribed symbol
    first, second = await sub.__anext__(), await sub.__anext__()
    assert isinstance(first, OrderUpdate) and first.order.client_order_id == "open-1"
    assert second == PriceUpdate(symbol="BTCUSDT", price=D(60000), ts_ms=1000)
    for p in ("60100", "60200", "60300"):
        await paper.push_price("BTCUSDT", D(p))
    await paper.push_price("ETHUSDT", D(3100))  # not subscribed
    await paper.create_order(limit("open-2"))
    await paper.push_price("BTCUSDT", D(60400))
    # the unread 60100..60300 collapse into the newest price, queued behind open-2's update
    with trio.fail_after(1):
        events = [await sub.__anext__() for _ in range(2)]
    assert [type(e).__name__ for e in events] == ["OrderUpdate", "PriceUpdate"]
    assert events[0].order.client_order_id == "open-2" and events[1].price == D(60400)
    await paper.push_price("BTCUSDT", D(60500))
    assert (await sub.__anext__()).price == D(60500)
    await paper.aclose()
    with pytest.raises(StopAsyncIteration):
        await sub.__anext__()
    late = paper.stream([])  # after aclose: the catch-up, then the end
    assert [type(e).__name__ async for e in late] == ["OrderUpdate", "OrderUpdate",
                                                      "PriceUpdate", "PriceUpdate"]


async def test_a_slow_subscriber_is_cut_off_after_its_buffer(store):
    paper = PaperExchange(db=store, config=CONFIG, clock_ms=Clock(), stream_limit=3)
    await paper.push_price("BTCUSDT", D(60000))
    slow, other = paper.stream(["BTCUSDT"]), paper.stream([])
    assert isinstance(await other.__anext__(), PriceUpdate)
    for i in range(4):
        await paper.create_order(limit(f"c{i}", price="50000", qty="0.0002"))
    received = [await slow.__anext__() for _ in range(3)]
    assert [type(e).__name__ for e in received] == ["PriceUpdate", "OrderUpdate", "OrderUpdate"]
    with pytest.raises(Unavailable):
        await slow.__anext__()
    # the other subscriber still gets every update until it too falls behind
    assert [e.order.client_order_id for e in [await other.__anext__() for _ in range(3)]] == [
        "c0", "c1", "c2"]
    await other.aclose()
    assert paper._subscribers == set()


async def test_a_waiting_subscriber_wakes_on_events(paper):
    sub = paper.stream(["BTCUSDT"])
    async with trio.open_nursery() as nursery:
        got = []

        async def read():
            got.append(await sub.__anext__())

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        await paper.push_price("BTCUSDT", D(61000))
    assert got == [PriceUpdate(symbol="BTCUSDT", price=D(61000), ts_ms=1000)]


def test_rows_are_exact_text(store, paper):
    conn: sqlite3.Connection = store.conn
    assert conn.execute("SELECT asset, free, locked FROM paper_balances ORDER BY asset"
                        ).fetchall() == [("BTC", "1", "0"), ("USDT", "10000", "0")]
