"""``engine markets fetch`` and the markets file: a clear refusal naming the file, the symbol
or the key for every bad input, and nothing stored replaced by a bad download."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from actors.exchange.factory import PortSetupError, build_port
from actors.exchange.paper import PaperExchange
from actors.exchange.port import OrderRequest
from actors.exchange.public_client import PublicSetupError, public_endpoints, rebased
from actors.market.markets_fetch import fetch_markets
from actors.market.markets_file import MarketsFileError, check_download, write_markets
from actors.runtime.clock import EngineClock
from actors.store.writer import Store
from engine.config import PaperConfig, parse_config
from engine.config.model import PaperLiveConfig
from engine.errors import InvalidInput
from ops.cli import main as cli
from tests.emulator.server import INFO_FILE, EmulatorThread

INFO = json.loads(INFO_FILE.read_text())


@pytest.fixture(scope="module")
def emu():
    e = EmulatorThread().start()
    yield e
    e.stop()


def _without(info: dict, symbol: str, filter_type: str | None = None) -> dict:
    out = copy.deepcopy(info)
    if filter_type is None:
        out["symbols"] = [s for s in out["symbols"] if s["symbol"] != symbol]
    else:
        entry = next(s for s in out["symbols"] if s["symbol"] == symbol)
        entry["filters"] = [f for f in entry["filters"] if f["filterType"] != filter_type]
    return out


@pytest.mark.parametrize("answer, says", [
    ({"code": -1001}, "is not exchange info: no symbols list"),
    (_without(INFO, "ETHUSDT", "LOT_SIZE"), "symbol ETHUSDT lacks its LOT_SIZE filter"),
    ({"symbols": [{"status": "TRADING", "filters": []}]}, "symbols[0] has no name"),
    ({"symbols": []}, "lists no tradable symbol"),
])
def test_bad_downloads_are_named(answer, says):
    with pytest.raises(MarketsFileError) as err:
        check_download(answer, origin="https://x.example")
    assert says in str(err.value) and "https://x.example" in str(err.value)


def test_a_download_lacking_a_symbol_in_use_replaces_nothing(tmp_path):
    path = tmp_path / "m.json"
    write_markets(path, copy.deepcopy(INFO), exchange="binance", fetched_at_ms=1, origin="o")
    before = path.read_bytes()
    with pytest.raises(MarketsFileError) as err:
        write_markets(path, _without(INFO, "LTCUSDT"), exchange="binance", fetched_at_ms=2,
                      origin="o", required={"LTCUSDT", "BTCUSDT"})
    assert "LTCUSDT" in str(err.value) and str(path) in str(err.value)
    assert "BTCUSDT" not in str(err.value)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


async def test_a_failed_or_partial_download_leaves_the_stored_file(emu, tmp_path):
    path = tmp_path / "markets" / "binance_spot.json"
    await fetch_markets("binance", path, rest_url=emu.base, now_ms=1)
    before = path.read_bytes()
    await trio.to_thread.run_sync(lambda: emu.fault("5xx", path="/api/v3/exchangeInfo",
                                                    count=5))
    with pytest.raises(MarketsFileError) as err:
        await fetch_markets("binance", path, rest_url=emu.base, now_ms=2)
    assert "failed" in str(err.value) and str(path) in str(err.value)
    await trio.to_thread.run_sync(emu.reset)
    served = emu.emulator.info
    emu.emulator.info = _without(served, "XRPUSDT", "PRICE_FILTER")
    try:
        with pytest.raises(MarketsFileError) as err:
            await fetch_markets("binance", path, rest_url=emu.base, now_ms=3)
    finally:
        emu.emulator.info = served
    assert "partial download" in str(err.value) and "XRPUSDT" in str(err.value)
    assert path.read_bytes() == before
    assert json.loads(before)["engineMarkets"]["fetched_at_ms"] == 1


async def test_an_unknown_exchange_is_named(tmp_path):
    with pytest.raises(MarketsFileError) as err:
        await fetch_markets("bitnope", tmp_path / "m.json", rest_url="", now_ms=1)
    assert "--exchange" in str(err.value) and "bitnope" in str(err.value)


def _config(directory: Path, extra: str = "") -> Path:
    path = directory / "engine.toml"
    path.write_text('[app]\ndata_dir = "data"\n' + extra)
    return path


def test_cli_fetch_writes_under_the_data_dir(emu, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENGINE_PUBLIC_REST_URL", emu.base)
    assert cli(["--config", str(_config(tmp_path)), "markets", "fetch"]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "data" / "markets" / "binance_spot.json"
    assert f"wrote {len(INFO['symbols'])} binance symbols to {written}" in out
    assert 'set exchange.paper.markets_file = "data/markets/binance_spot.json"' in out
    assert json.loads(written.read_text())["engineMarkets"]["source"] == emu.base


def test_cli_refusals_name_what_to_fix(emu, tmp_path, monkeypatch, capsys):
    config = str(_config(tmp_path))
    assert cli(["--config", config, "markets", "fetch", "--exchange", "nope"]) == 1
    assert "--exchange: unknown exchange 'nope'" in capsys.readouterr().err
    monkeypatch.setenv("ENGINE_PUBLIC_REST_URL", "ftp://127.0.0.1:1")
    assert cli(["--config", config, "markets", "fetch"]) == 1
    assert "ENGINE_PUBLIC_REST_URL" in capsys.readouterr().err
    monkeypatch.setenv("ENGINE_PUBLIC_REST_URL", "http://127.0.0.1:1")  # nothing listens
    assert cli(["--config", config, "markets", "fetch", "--out", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert "download of the binance markets from http://127.0.0.1:1 failed" in err
    assert not (tmp_path / "m.json").exists()


def test_urls_come_from_the_environment_first():
    live = PaperLiveConfig(rest_url="https://api.binance.us", ws_url="")
    assert public_endpoints(live, {}) == ("https://api.binance.us", "")
    env = {"ENGINE_PUBLIC_REST_URL": "http://127.0.0.1:9/", "ENGINE_PUBLIC_WS_URL": "ws://[::1]:9"}
    assert public_endpoints(live, env) == ("http://127.0.0.1:9", "ws://[::1]:9")
    with pytest.raises(PublicSetupError) as err:
        public_endpoints(PaperLiveConfig(ws_url="http://x"), {})
    assert err.value.field == "exchange.paper.live.ws_url"
    urls = {"public": "https://api.binance.com/api/v3", "n": {"x": "https://fapi.binance.com/f"}}
    assert rebased(urls, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3", "n": {"x": "http://127.0.0.1:9/f"}}


async def test_the_paper_exchange_refuses_a_file_lacking_a_symbol_it_has_orders_on(tmp_path):
    store = Store.open(tmp_path / "e.db")
    try:
        paper = PaperExchange(db=store, config=PaperConfig(), clock_ms=lambda: 1)
        await paper.push_price("BTCUSDT", Decimal(60000))
        await paper.create_order(OrderRequest(
            client_order_id="keep", symbol="BTCUSDT", side="buy", type="limit",
            quantity=Decimal("0.001"), price=Decimal(59000), time_in_force="GTC"))
        await paper.aclose()
        fresh = tmp_path / "fresh.json"
        fresh.write_text(json.dumps(_without(INFO, "BTCUSDT")))
        with pytest.raises(InvalidInput) as err:
            PaperExchange(db=store, config=PaperConfig(), clock_ms=lambda: 1,
                          markets_path=fresh)
        assert err.value.field == "exchange.paper.markets_file"
        assert "BTCUSDT" in str(err.value) and str(fresh) in str(err.value)
        broken = tmp_path / "broken.json"
        broken.write_text('{"symbols": [')
        cfg = parse_config('[exchange.paper]\nmarkets_file = "broken.json"\n')
        with pytest.raises(PortSetupError) as setup:
            build_port(cfg, None, store, EngineClock("wall"), base_dir=tmp_path)
        assert setup.value.field == "exchange.paper.markets_file"
        assert "broken.json" in str(setup.value) and "not valid JSON" in str(setup.value)
    finally:
        store.close()
