"""CSV replay (SPEC 12.6): real candle files, four events per candle, pacing, loop, FeedClock."""

from decimal import Decimal as D
from functools import partial
from pathlib import Path

import pytest
import trio

from actors.exchange.paper import PaperExchange
from actors.exchange.paper_feed import (
    CandleFileError,
    FeedClock,
    candle_length_ms,
    first_ts,
    load_candle_files,
    load_candles,
    run_csv_feed,
    schedule,
)
from actors.exchange.port import OrderRequest, UnknownSymbol
from actors.store.writer import Store
from engine.config import PaperConfig

CANDLES = Path(__file__).resolve().parents[1] / "data" / "candles"
XRP = CANDLES / "XRP_USDT_5m.csv"
FIVE_MIN = 300_000


class Recorder:
    """The PricePusher side of a real paper exchange, keeping what the feed pushed."""

    def __init__(self, paper: PaperExchange, clock: FeedClock | None = None):
        self.paper, self.clock = paper, clock
        self.events: list[tuple[int, str, D, int | None]] = []

    async def fetch_prices(self, symbols=None):
        return await self.paper.fetch_prices(symbols)

    async def push_price(self, symbol, price, ts_ms=None):
        clock_now = self.clock.now_ms() if self.clock else None
        self.events.append((ts_ms, symbol, price, clock_now))
        return await self.paper.push_price(symbol, price, ts_ms)


@pytest.fixture
def paper(tmp_path):
    store = Store.open(tmp_path / "engine.db")
    yield PaperExchange(db=store, config=PaperConfig(start_balances={"USDT": D(1000)}),
                        clock_ms=lambda: 0)
    store.close()


def head(path: Path, rows: int, dest: Path) -> Path:
    dest.write_text("".join(path.read_text().splitlines(keepends=True)[: rows + 1]))
    return dest


def test_real_file_loads_exactly():
    candles = load_candles(XRP)
    assert len(candles) == 1999
    assert (candles[0].ts_ms, candles[0].open, candles[0].high, candles[0].low,
            candles[0].close) == (1636934400000, D("1.1893"), D("1.1954"), D("1.1891"),
                                  D("1.1941"))
    ada = load_candles(CANDLES / "ADA_BTC_5m.csv")
    assert ada[0].open == D("0.0000533")  # "5.33e-05" read as the exact decimal
    assert candle_length_ms({"XRPUSDT": candles}) == FIVE_MIN


async def test_four_events_per_candle_in_order_and_the_feed_clock(paper, tmp_path,
                                                                  autojump_clock):
    candles = load_candle_files({"XRPUSDT": head(XRP, 3, tmp_path / "x.csv")})
    clock = FeedClock(first_ts(candles))
    assert clock.now_ms() == 1636934400000
    recorder = Recorder(paper, clock)
    start = trio.current_time()
    await run_csv_feed(recorder, candles, interval_ms=1000, clock=clock)
    assert trio.current_time() - start == pytest.approx(3.0)  # one interval per candle
    t0 = 1636934400000
    # candle 1 closes up (1.1941 >= 1.1893): open, low, high, close; candle 3 closes down
    assert [(ts - t0, p) for ts, _, p, _ in recorder.events] == [
        (0, D("1.1893")), (100_000, D("1.1891")), (200_000, D("1.1954")), (299_999, D("1.1941")),
        (300_000, D("1.1941")), (400_000, D("1.1934")), (500_000, D("1.1993")),
        (599_999, D("1.1972")),
        (600_000, D("1.1972")), (700_000, D("1.1994")), (800_000, D("1.1958")),
        (899_999, D("1.1963")),
    ]
    # the clock already shows each event's time when the exchange sees it
    assert all(ts == now for ts, _, _, now in recorder.events)
    assert clock.now_ms() == t0 + 899_999
    assert await paper.fetch_prices(["XRPUSDT"]) == {"XRPUSDT": D("1.1963")}


async def test_replay_fills_a_resting_order_at_its_limit(paper, tmp_path):
    await paper.push_price("XRPUSDT", D("1.20"))
    await paper.create_order(OrderRequest(client_order_id="x", symbol="XRPUSDT", side="buy",
                                          type="limit", quantity=D(100), price=D("1.1891")))
    candles = load_candle_files({"XRPUSDT": head(XRP, 2, tmp_path / "x.csv")})
    await run_csv_feed(paper, candles, interval_ms=0)
    (trade,) = await paper.fetch_my_trades("XRPUSDT")
    # reached by candle 1's low, the second event of the replay
    assert (trade.price, trade.quantity, trade.ts_ms) == (D("1.1891"), D(100),
                                                          1636934400000 + 100_000)


async def test_several_symbols_replay_phase_by_phase(tmp_path):
    candles = load_candle_files({"ETHBTC": head(CANDLES / "ETH_BTC_5m.csv", 2, tmp_path / "e"),
                                 "LTCBTC": head(CANDLES / "LTC_BTC_5m.csv", 2, tmp_path / "l")})
    steps = schedule(candles)
    assert len(steps) == 2 and [len(s) for s in steps] == [8, 8]
    first = steps[0]
    assert [s for _, s, _ in first] == ["ETHBTC", "LTCBTC"] * 4
    stamps = [ts for step in steps for ts, _, _ in step]
    assert stamps == sorted(stamps)  # the feed time never goes back


async def test_loop_shifts_time_forward(paper, tmp_path, autojump_clock):
    candles = load_candle_files({"XRPUSDT": head(XRP, 2, tmp_path / "x.csv")})
    clock = FeedClock(first_ts(candles))
    recorder = Recorder(paper, clock)
    with trio.move_on_after(4.5):
        await run_csv_feed(recorder, candles, interval_ms=1000, loop=True, clock=clock)
    opens = [ts for i, (ts, _, _, _) in enumerate(recorder.events) if i % 4 == 0]
    t0 = 1636934400000
    assert opens == [t0, t0 + FIVE_MIN, t0 + 2 * FIVE_MIN, t0 + 3 * FIVE_MIN, t0 + 4 * FIVE_MIN]
    assert [p for _, _, p, _ in recorder.events[8:12]] == [p for _, _, p, _ in
                                                           recorder.events[:4]]


async def test_as_fast_as_possible_still_yields(paper, tmp_path):
    candles = load_candle_files({"XRPUSDT": head(XRP, 50, tmp_path / "x.csv")})
    ticks = 0

    async def other_task():
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_task)
        await run_csv_feed(paper, candles, interval_ms=0)
        nursery.cancel_scope.cancel()
    assert ticks >= 50


async def test_unknown_symbol_fails_before_started(paper, tmp_path):
    candles = load_candle_files({"NOPE": head(XRP, 1, tmp_path / "x.csv")})
    async with trio.open_nursery() as nursery:
        with pytest.raises(UnknownSymbol):
            await nursery.start(partial(run_csv_feed, paper, candles, interval_ms=0))


async def test_bad_arguments(paper):
    with pytest.raises(ValueError):
        await run_csv_feed(paper, {}, interval_ms=0)
    with pytest.raises(ValueError):
        await run_csv_feed(paper, {"XRPUSDT": load_candles(XRP)}, interval_ms=-1)


@pytest.mark.parametrize("content,message", [
    ("", "expected the header"),
    ("time,o,h,l,c,v\n", "expected the header"),
    ("ts,open,high,low,close,volume\n", "no candles"),
    ("ts,open,high,low,close,volume\nx,1,1,1,1,1\n", ":2: not a candle row"),
    ("ts,open,high,low,close,volume\n1,1,1\n", ":2: not a candle row"),
    ("ts,open,high,low,close,volume\n1,1,2,1.5,1,1\n", ":2: impossible prices"),
    ("ts,open,high,low,close,volume\n1,1,1,1,0,1\n", ":2: impossible prices"),
    ("ts,open,high,low,close,volume\n2,1,1,1,1,1\n\n1,1,1,1,1,1\n", ":4: timestamps must be"),
])
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CandleFileError, match=message):
        load_candles(path)


def test_missing_file_and_single_candle_length(tmp_path):
    with pytest.raises(CandleFileError, match="cannot read"):
        load_candles(tmp_path / "missing.csv")
    one = load_candle_files({"XRPUSDT": head(XRP, 1, tmp_path / "x.csv")})
    assert candle_length_ms(one) == 60_000


def test_feed_clock_never_goes_back():
    clock = FeedClock(100)
    clock.advance(50)
    assert clock.now_ms() == 100
    clock.advance(150)
    assert clock.now_ms() == 150
