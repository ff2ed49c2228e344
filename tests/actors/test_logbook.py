"""The log sink: SPEC 12.1 fields, files, rotation, masking in every sink, queries, exports."""

import csv
import io
import json
import logging
import os
from pathlib import Path

import pytest
import trio

from actors.read.log_query import export_day_csv, export_events, query_events
from actors.runtime.logbook import FIELDS, Logbook, iso_ms
from actors.store.writer import Store
from engine.config import default_config
from engine.masking import Masker

SECRET = "abcdefghijklmnopA4B19K"
T0 = 1_709_294_400_000  # 2024-03-01T12:00:00.000Z


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "engine.db")
    yield s
    s.close()


@pytest.fixture
def book(tmp_path: Path, store: Store):
    stream = io.StringIO()
    b = Logbook.install(data_dir=tmp_path, logging_cfg=default_config().logging, level="debug",
                        masker=Masker([SECRET]), store=store, stream=stream)
    b.stream = stream
    yield b
    b.close()


def emit(name: str, level: int, ts_ms: int, msg: str, exc_info=None, **extra) -> None:
    logger = logging.getLogger(name)
    record = logger.makeRecord(name, level, __file__, 1, msg, (), exc_info, extra=extra)
    record.created = ts_ms / 1000
    logger.handle(record)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fields_file_stderr_and_events_row(book: Logbook, tmp_path: Path, store: Store):
    emit("engine.order", logging.INFO, T0 + 123, "order filled", event="order_filled",
         symbol="BTCUSDT", timeframe=60, group_id=7, order_id="ee0001", exchange="paper",
         data={"qty": "0.5"})
    emit("engine.bogus", logging.WARNING, T0 + 124, "plain")
    [first, second] = lines_of(tmp_path / "logs" / "engine-2024-03-01.jsonl")
    assert list(first) == list(FIELDS)
    assert first == {"ts": "2024-03-01T12:00:00.123Z", "level": "info", "category": "order",
                     "event": "order_filled", "exchange": "paper", "symbol": "BTCUSDT",
                     "timeframe": 60, "group_id": 7, "order_id": "ee0001",
                     "message": "order filled", "data": {"qty": "0.5"}}
    assert second == {"ts": "2024-03-01T12:00:00.124Z", "level": "warning",
                      "category": "system", "event": None, "exchange": None, "symbol": None,
                      "timeframe": None, "group_id": None, "order_id": None,
                      "message": "plain", "data": None}
    assert [json.loads(x) for x in book.stream.getvalue().splitlines()] == [first, second]
    assert book.flush() == 2
    rows = store.query("SELECT * FROM events ORDER BY id")
    assert rows[0]["ts"] == T0 + 123 and rows[0]["data"] == '{"qty":"0.5"}'
    assert rows[1]["category"] == "system" and rows[1]["data"] is None


def test_error_carries_traceback(book: Logbook, tmp_path: Path):
    try:
        raise ZeroDivisionError("bad")
    except ZeroDivisionError:
        logging.getLogger("engine.system").exception("crash", extra={"event": "crash"})
    [line] = lines_of(next((tmp_path / "logs").iterdir()))
    assert line["level"] == "error"
    assert "ZeroDivisionError: bad" in line["data"]["traceback"]


def test_level_threshold(book: Logbook, tmp_path: Path):
    book.set_level("warning")
    emit("engine.risk", logging.INFO, T0, "hidden")
    emit("engine.risk", logging.ERROR, T0, "shown")
    [line] = lines_of(tmp_path / "logs" / "engine-2024-03-01.jsonl")
    assert line["message"] == "shown"


def test_daily_files_by_utc_date(book: Logbook, tmp_path: Path):
    emit("engine.system", logging.INFO, T0, "day one")
    emit("engine.system", logging.INFO, T0 + 12 * 3_600_000, "day two")  # 00:00 UTC next day
    names = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert names == ["engine-2024-03-01.jsonl", "engine-2024-03-02.jsonl"]


def test_size_rotation_continues_numbered_files(book: Logbook, tmp_path: Path):
    book.handler.files.max_bytes = 600
    for i in range(12):
        emit("engine.system", logging.INFO, T0, f"message {i:02d} " + "x" * 100)
    logs = tmp_path / "logs"
    names = sorted(p.name for p in logs.iterdir())
    assert names[0] == "engine-2024-03-01.1.jsonl" and "engine-2024-03-01.jsonl" in names
    assert all((logs / n).stat().st_size <= 600 for n in names)
    order = ["engine-2024-03-01.jsonl"] + [f"engine-2024-03-01.{i}.jsonl" for i in range(1, 9)]
    messages = [m["message"][:10] for n in order if (logs / n).exists()
                for m in lines_of(logs / n)]
    assert messages == [f"message {i:02d}" for i in range(12)]


def test_rotate_daily_false_names_engine_jsonl(tmp_path: Path, store: Store):
    cfg = default_config().logging.__replace__(rotate_daily=False, max_file_mb=1)
    b = Logbook.install(data_dir=tmp_path, logging_cfg=cfg, level="info", masker=Masker(),
                        store=store, stream=None)
    try:
        emit("engine.config", logging.INFO, T0, "saved")
    finally:
        b.close()
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["engine.jsonl"]


def test_secret_masked_in_every_sink(book: Logbook, tmp_path: Path, store: Store):
    emit("engine.webhook", logging.INFO, T0, f"body had {SECRET}",
         data={"raw": {"secret": SECRET}, SECRET: [SECRET]})
    book.flush()
    text = (tmp_path / "logs" / "engine-2024-03-01.jsonl").read_text()
    row = store.query("SELECT message, data FROM events")[0]
    for sink in (text, book.stream.getvalue(), row["message"] + row["data"]):
        assert SECRET not in sink
        assert "****A4B19K" in sink


async def test_flusher_commits_through_group_commit(book: Logbook, store: Store):
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        await nursery.start(book.run_flusher)
        for i in range(50):
            emit("engine.order", logging.INFO, T0 + i, f"e{i}")
        await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    assert store.query("SELECT count(*) AS n FROM events") == [{"n": 50}]


async def test_a_writer_stopped_first_ends_the_flusher_and_keeps_its_rows(book: Logbook,
                                                                         store: Store):
    """Shutdown can stop the writer before the flusher: the flusher ends quietly and the rows
    it had taken wait for the final flush (it used to raise WriterClosed into the nursery)."""
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        store.stop_writer()
        for i in range(3):
            emit("engine.order", logging.INFO, T0 + i, f"e{i}")
        with trio.fail_after(30):
            await book.run_flusher(interval=0.01)  # returns instead of raising
    assert store.query("SELECT count(*) AS n FROM events") == [{"n": 0}]
    assert book.flush() == 3
    assert store.query("SELECT count(*) AS n FROM events") == [{"n": 3}]


def _seed(store: Store, book: Logbook) -> None:
    specs = [
        ("engine.order", logging.INFO, "BTCUSDT", 60, "order_filled", "filled 1"),
        ("engine.order", logging.ERROR, "BTCUSDT", 15, "order_rejected", "rejected 100%_x"),
        ("engine.risk", logging.WARNING, "ETHUSDT", 60, "loser_chosen", "loser"),
        ("engine.webhook", logging.DEBUG, None, None, "webhook_received", "raw"),
        ("engine.security", logging.CRITICAL, None, None, "lockout", "locked"),
    ]
    for i, (name, level, symbol, tf, event, msg) in enumerate(specs):
        emit(name, level, T0 + i * 1000, msg, event=event, symbol=symbol, timeframe=tf,
             data={"i": i})
    book.flush()


def test_query_filters_and_cursor(book: Logbook, store: Store):
    _seed(store, book)
    rows, cursor = query_events(store)
    assert [r["message"] for r in rows] == ["locked", "raw", "loser", "rejected 100%_x",
                                            "filled 1"]
    assert cursor is None and rows[0]["ts"] == iso_ms(T0 + 4000) and rows[0]["data"] == {"i": 4}
    assert [r["event"] for r in query_events(store, level="warning")[0]] == [
        "lockout", "loser_chosen", "order_rejected"]
    assert len(query_events(store, category="order")[0]) == 2
    assert [r["timeframe"] for r in query_events(store, symbol="BTCUSDT", timeframe=15)[0]] == [15]
    assert [r["event"] for r in query_events(store, event="loser_chosen")[0]] == ["loser_chosen"]
    window = query_events(store, from_ms=T0 + 1000, to_ms=T0 + 2000)[0]
    assert [r["message"] for r in window] == ["loser", "rejected 100%_x"]
    assert [r["message"] for r in query_events(store, q="100%_")[0]] == ["rejected 100%_x"]
    assert query_events(store, q="0%x")[0] == []  # % and _ are literal in q
    page1, c1 = query_events(store, limit=2)
    page2, c2 = query_events(store, limit=2, cursor=c1)
    page3, c3 = query_events(store, limit=2, cursor=c2)
    assert [len(page1), len(page2), len(page3), c3] == [2, 2, 1, None]
    assert {r["id"] for r in page1 + page2 + page3} == {r["id"] for r in rows}
    with pytest.raises(ValueError, match="level"):
        query_events(store, level="loud")
    with pytest.raises(ValueError, match="cursor"):
        query_events(store, cursor="abc")


def test_export_formats(book: Logbook, store: Store):
    _seed(store, book)
    txt, ctype = export_events(store, "txt", category="order")
    assert ctype.startswith("text/plain")
    assert txt.splitlines() == [
        "2024-03-01T12:00:00.000Z INFO order BTCUSDT 60 group=- order=- filled 1",
        "2024-03-01T12:00:01.000Z ERROR order BTCUSDT 15 group=- order=- rejected 100%_x",
    ]
    text, _ = export_events(store, "csv")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(FIELDS) and len(parsed) == 5
    assert parsed[0]["data"] == '{"i":0}' and parsed[3]["symbol"] == ""
    body, ctype = export_events(store, "json", level="critical")
    assert ctype == "application/json"
    assert json.loads(body) == [{"ts": "2024-03-01T12:00:04.000Z", "level": "critical",
                                 "category": "security", "event": "lockout", "exchange": None,
                                 "symbol": None, "timeframe": None, "group_id": None,
                                 "order_id": None, "message": "locked", "data": {"i": 4}}]
    path = export_day_csv(store, store.path.parent / "exports", T0 - 12 * 3_600_000)
    assert path.name == "events-2024-03-01.csv" and len(path.read_text().splitlines()) == 6
    with pytest.raises(ValueError):
        export_events(store, "xml")


async def test_pruning_files_and_events(book: Logbook, tmp_path: Path, store: Store):
    old = T0 - 40 * 86_400_000
    emit("engine.system", logging.INFO, old, "old")
    emit("engine.system", logging.INFO, T0, "new")
    book.flush()
    logs = tmp_path / "logs"
    plain_old = logs / "engine.3.jsonl"
    plain_old.write_text("{}\n")
    os.utime(plain_old, (old / 1000, old / 1000))
    (logs / "unrelated.txt").write_text("keep me")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        assert await book.prune(T0) == {"events": 1, "files": 2}
        nursery.cancel_scope.cancel()
    assert sorted(p.name for p in logs.iterdir()) == ["engine-2024-03-01.jsonl", "unrelated.txt"]
    assert [r["message"] for r in store.query("SELECT message FROM events")] == ["new"]
