"""``engine logs``: reads the logbook's files in order across daily and size rotation, filters,
reports bad lines and goes on, follows new files, colours only a terminal; under a service
manager every stderr line of ``engine run`` is one JSON object."""

import argparse
import datetime as dt
import io
import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from actors.runtime.logbook import LogFiles, iso_ms
from ops.cli import build_parser
from ops.cli_logs import cmd_logs, parse_since
from ops.log_tail import Tail
from tests.test_process import engine, finish, get, write_config

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.UTC)


def line(ts_ms: int, message: str, *, level="info", category="system", symbol=None) -> bytes:
    event = {"ts": iso_ms(ts_ms), "level": level, "category": category, "event": "test",
             "exchange": None, "symbol": symbol, "timeframe": None, "group_id": None,
             "order_id": None, "message": message, "data": None}
    return json.dumps(event).encode() + b"\n"


def write(files: LogFiles, ts_ms: int, message: str, **kw) -> None:
    files.write(ts_ms, line(ts_ms, message, **kw))


@pytest.fixture
def setup(tmp_path):
    config = write_config(tmp_path)
    files = LogFiles(tmp_path / "engine_data" / "logs", rotate_daily=True, max_bytes=700)
    yield config, files
    files.close()


def run(config: Path, *argv: str, tty: bool = False) -> tuple[int, str, str]:
    args = build_parser().parse_args(["logs", "--config", str(config), *argv])

    class Out(io.StringIO):
        def isatty(self) -> bool:
            return tty

    out, err = Out(), io.StringIO()
    code = cmd_logs(args, out=out, err=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def messages(text: str) -> list[str]:
    return [x.rsplit(" ", 1)[-1] for x in text.splitlines()]


def test_reads_every_file_in_order_across_day_and_size_rotation(setup):
    config, files = setup
    for i in range(24):  # 12 per day, ~250 bytes each: several .N files per day
        write(files, T0 + (i // 12) * DAY_MS + i * 1000, f"m{i:02d}")
    names = sorted(p.name for p in files.log_dir.iterdir())
    assert "engine-2026-01-01.1.jsonl" in names and "engine-2026-01-02.1.jsonl" in names
    code, out, err = run(config)
    assert code == 0 and err == ""
    assert messages(out) == [f"m{i:02d}" for i in range(24)]
    first = out.splitlines()[0]
    assert first.startswith("2026-01-01T00:00:00.000Z INFO system - - group=- order=-")
    assert "\x1b[" not in out


def test_filters(setup):
    config, files = setup
    write(files, T0, "a", level="debug", category="order", symbol="BTCUSDT")
    write(files, T0 + 1000, "b", level="warning", category="order", symbol="ETHUSDT")
    write(files, T0 + DAY_MS, "c", level="error", category="risk", symbol="btcusdt")
    write(files, T0 + DAY_MS + 1000, "d", level="info", category="webhook", symbol="BTCUSDT")
    assert messages(run(config, "--level", "warning")[1]) == ["b", "c"]
    assert messages(run(config, "--category", "order,risk")[1]) == ["a", "b", "c"]
    assert messages(run(config, "--category", "webhook", "--category", "risk")[1]) == ["c", "d"]
    assert messages(run(config, "--symbol", "BTCUSDT")[1]) == ["a", "c", "d"]
    assert messages(run(config, "--since", "2026-01-02")[1]) == ["c", "d"]
    assert messages(run(config, "--since", "2026-01-01T00:00:01")[1]) == ["b", "c", "d"]
    assert messages(run(config, "--since", "12h")[1]) == ["c", "d"]  # NOW is Jan 2, 12:00
    assert messages(run(config, "-n", "1")[1]) == ["d"]
    code, out, _ = run(config, "--json", "--level", "error")
    assert code == 0 and json.loads(out)["message"] == "c"


@pytest.mark.parametrize("argv, message", [
    (["--since", "yesterday"], "--since: expected a date"),
    (["--category", "orders"], "--category: unknown orders"),
    (["-n", "-1"], "--lines: expected 0 or more")])
def test_bad_options_name_the_option(setup, argv, message):
    code, out, err = run(setup[0], *argv)
    assert code == 2 and out == "" and message in err


def test_bad_configuration_exits_1(tmp_path):
    code, _, err = run(tmp_path / "missing.toml")
    assert code == 1 and "missing.toml" in err


def test_corrupted_and_incomplete_lines_are_reported_and_skipped(setup):
    config, files = setup
    write(files, T0, "a")
    files._file.write(b'{"ts": "2026-01-01T00:00:00.500Z", "lev\n')  # torn by a crash
    files._file.write(b"\x00\x00\x00\n")  # a block of zeros after a power loss
    write(files, T0 + 1000, "b")
    files._file.write(b'{"ts": "2026-01-01T00:00:02.000Z"')  # no newline: the last write
    files._file.flush()
    code, out, err = run(config)
    assert code == 0 and messages(out) == ["a", "b"]
    reports = err.splitlines()
    assert len(reports) == 3
    assert reports[0].startswith("engine logs: engine-2026-01-01.jsonl:2: not a log event")
    assert reports[1].startswith("engine logs: engine-2026-01-01.jsonl:3: not a log event")
    assert "engine-2026-01-01.jsonl:5: incomplete last line" in reports[2]


def test_colours_on_a_terminal_only(setup, monkeypatch):
    config, files = setup
    write(files, T0, "bad", level="error")
    write(files, T0 + 1, "fine")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = run(config, tty=True)[1].splitlines()
    assert out[0].startswith("\x1b[31m") and out[0].endswith("\x1b[0m")
    assert "\x1b[" not in out[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run(config, tty=True)[1]


def test_tail_follows_size_and_day_rotation_and_waits_for_whole_lines(tmp_path):
    files = LogFiles(tmp_path, rotate_daily=True, max_bytes=700)
    reports: list[str] = []
    tail = Tail(tmp_path, report=reports.append)
    seen = lambda: [e["message"] for e, _ in tail.read_available(final=False)]  # noqa: E731
    assert seen() == []
    write(files, T0, "m0")
    assert seen() == ["m0"]
    for i in range(1, 8):  # into engine-2026-01-01.1.jsonl and .2
        write(files, T0 + i, f"m{i}")
    write(files, T0 + DAY_MS, "next-day")
    assert seen() == [f"m{i}" for i in range(1, 8)] + ["next-day"]
    half = line(T0 + DAY_MS + 1, "late")
    files._file.write(half[:20])
    files._file.flush()
    assert seen() == []  # an incomplete line is kept until its newline arrives
    files._file.write(half[20:])
    files._file.flush()
    assert seen() == ["late"]
    assert reports == []


def test_tail_reports_a_file_removed_while_followed(tmp_path):
    files = LogFiles(tmp_path, rotate_daily=True, max_bytes=10_000)
    reports: list[str] = []
    tail = Tail(tmp_path, report=reports.append)
    write(files, T0, "a")
    assert [e["message"] for e, _ in tail.read_available(final=False)] == ["a"]
    files.close()
    (tmp_path / "engine-2026-01-01.jsonl").unlink()
    write(files, T0 + DAY_MS, "b")
    assert [e["message"] for e, _ in tail.read_available(final=False)] == ["b"]
    assert any("removed" in r for r in reports)


def test_parse_since():
    assert parse_since("30m", NOW) == NOW - dt.timedelta(minutes=30)
    assert parse_since("2026-01-01T10:00Z", NOW) == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        parse_since("soon", NOW)


def _read_lines(proc: subprocess.Popen, count: int, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += [d.decode() for d in done]
    return lines


def test_engine_logs_follow_as_a_process(tmp_path):
    config = write_config(tmp_path)
    now_ms = int(time.time() * 1000)
    files = LogFiles(tmp_path / "engine_data" / "logs", rotate_daily=True, max_bytes=700)
    write(files, now_ms, "before")
    proc = engine("logs", "-f", "--json", "--config", str(config))
    try:
        assert [json.loads(x)["message"] for x in _read_lines(proc, 1)] == ["before"]
        for i in range(6):  # crosses a size rotation
            write(files, now_ms + i, f"after{i}")
        got = [json.loads(x)["message"] for x in _read_lines(proc, 6)]
        assert got == [f"after{i}" for i in range(6)]
        assert len(list(files.log_dir.iterdir())) > 1
    finally:
        proc.send_signal(signal.SIGINT)
        code, _ = finish(proc)
        files.close()
    assert code == 0


def test_stderr_is_one_json_object_per_line_under_systemd(tmp_path):
    """What ``journalctl -u engine -o cat | jq`` relies on (INVOCATION_ID marks a service)."""
    config = write_config(tmp_path)
    port = int(next(x for x in config.read_text().splitlines()
                    if x.startswith("http_port")).split("=")[1])
    proc = engine("run", "--config", str(config), env={"INVOCATION_ID": "test"})
    deadline = time.monotonic() + 60
    healthy = False
    while not healthy and time.monotonic() < deadline and proc.poll() is None:
        try:
            healthy = get(port, "/healthz")[0] == 200
        except OSError:
            time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert healthy and proc.returncode == 0
    lines = err.decode().splitlines()
    events = [json.loads(x) for x in lines]  # raises on any line that is not JSON
    assert all(isinstance(e, dict) and e["level"] and e["category"] for e in events)
    assert {"engine_starting", "engine_stopped"} <= {e["event"] for e in events}
