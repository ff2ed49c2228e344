"""The emulator's benchmark knobs: another exchangeInfo served (``--exchange-info`` /
``$BENCH_EMULATOR_EXCHANGE_INFO``), many price moves in one request (``POST /_emulator/prices``),
and the timed layer's count of ticker frames sent (``GET /_bench/tickers``)."""

import copy
import json
from decimal import Decimal

import httpx
import trio

from actors.exchange.ws import open_websocket
from ops.bench.daemon import TimedEmulator
from ops.bench.timed_emulator import INFO_ENV, TimedApp
from tests.emulator.server import INFO_FILE, EmulatorThread, make_emulator


def _info_with(tmp_path, name: str):
    info = json.loads(INFO_FILE.read_text())
    clone = copy.deepcopy(next(s for s in info["symbols"] if s["symbol"] == "LTCUSDT"))
    clone["symbol"], clone["baseAsset"] = name, name[:-4]
    info["symbols"].append(clone)
    path = tmp_path / "info.json"
    path.write_text(json.dumps(info))
    return path


async def test_bulk_prices_move_every_market_in_order_and_push_each_ticker(tmp_path):
    emu = EmulatorThread()
    app = TimedApp(make_emulator(info_file=_info_with(tmp_path, "ZAAUSDT")))
    emu.emulator = app  # type: ignore[assignment]  # any ASGI app serves
    await trio.to_thread.run_sync(emu.start)
    try:
        streams = "ltcusdt@miniTicker/zaausdt@miniTicker"
        ws = await open_websocket(f"{emu.ws_url}/stream?streams={streams}")
        moves = [("ZAAUSDT", "100.5"), ("LTCUSDT", "99"), ("ZAAUSDT", "100.25")]
        applied = await trio.to_thread.run_sync(emu.prices, moves)
        got = [json.loads(await ws.receive())["data"] for _ in moves]
        await ws.aclose()
        assert applied == 3
        assert [(d["s"], Decimal(d["c"])) for d in got] == [(s, Decimal(p)) for s, p in moves]
        async with httpx.AsyncClient(base_url=emu.base) as http:
            last = (await http.get("/api/v3/ticker/price", params={"symbol": "ZAAUSDT"})).json()
            sent = (await http.get("/_bench/tickers")).json()["sent"]
        assert Decimal(last["price"]) == Decimal("100.25")
        assert sent == 3
    finally:
        await trio.to_thread.run_sync(emu.stop)


def test_timed_emulator_serves_the_exchange_info_named_in_its_environment(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv(INFO_ENV, str(_info_with(tmp_path, "ZABUSDT")))
    emu = TimedEmulator().start()
    try:
        symbols = {s["symbol"] for s in
                   httpx.get(f"{emu.base}/api/v3/exchangeInfo").json()["symbols"]}
        assert {"ZABUSDT", "LTCUSDT"} <= symbols
    finally:
        emu.stop()
