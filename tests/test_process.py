"""``engine run`` as a real process: exit codes (SPEC 12.4), systemd notify, graceful SIGTERM,
backup and restore."""

import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from actors.runtime.datadir_lock import DataDirLock
from engine.config import DEFAULT_TOML

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: Path, port: int | None = None, extra: str = "",
                 auto_restart: bool = False) -> Path:
    text = DEFAULT_TOML.replace("http_port = 8080", f"http_port = {port or free_port()}")
    # no restart loop by default: a crashing engine must fail the test, not hang it
    text = text.replace("auto_restart = true", f"auto_restart = {str(auto_restart).lower()}")
    path = directory / "engine.toml"
    path.write_text(text + extra)
    return path


def engine(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    for name in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG"):
        if env is None or name not in env:
            full_env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "ops.cli", *args], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode() + err.decode()


def port_of(config: Path) -> int:
    line = next(x for x in config.read_text().splitlines() if x.startswith("http_port"))
    return int(line.split("=")[1])


def get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read()


class NotifySocket:
    """The service manager's side of sd_notify: a datagram socket we read."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.address = address
        self.proc: subprocess.Popen | None = None

    def receive(self) -> list[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                return self.sock.recv(4096).decode().splitlines()
            except TimeoutError:
                if self.proc is not None and self.proc.poll() is not None:
                    pytest.fail("engine exited early:\n" + finish(self.proc)[1])
        pytest.fail("no notification from the engine")

    def wait_for(self, message: str) -> list[str]:
        seen: list[str] = []
        while message not in seen:
            seen += self.receive()
        return seen


def test_invalid_config_exits_2_naming_the_key(tmp_path: Path):
    config = write_config(tmp_path, extra="")
    config.write_text(config.read_text().replace("max_open_groups = 10",
                                                 'max_open_groups = "ten"'))
    code, output = finish(engine("run", "--config", str(config)))
    assert code == 2
    assert "execution_pool.max_open_groups" in output


def test_unreadable_config_exits_2(tmp_path: Path):
    code, output = finish(engine("run", "--config", str(tmp_path / "missing.toml")))
    assert code == 2 and "missing.toml" in output


def test_unopenable_database_exits_3(tmp_path: Path):
    config = write_config(tmp_path)
    (tmp_path / "engine_data").mkdir()
    (tmp_path / "engine_data" / "engine.db").write_bytes(b"not a database" * 500)
    code, output = finish(engine("run", "--config", str(config)))
    assert code == 3 and "engine.db" in output


def test_data_dir_in_use_exits_4(tmp_path: Path):
    config = write_config(tmp_path)
    with DataDirLock(tmp_path / "engine_data") as lock:
        assert lock.acquire()
        code, output = finish(engine("run", "--config", str(config)))
    assert code == 4 and "in use" in output


def test_ready_serves_then_sigterm_exits_0(tmp_path: Path):
    config = write_config(tmp_path)
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    proc = notify.proc = engine("run", "--config", str(config),
                                env={"NOTIFY_SOCKET": notify.address})
    try:
        assert "READY=1" in notify.wait_for("READY=1")
        status, body = get(port_of(config), "/healthz")
        assert status == 200 and b"status" in body
        # a second engine on the same data directory is refused while this one runs
        code, output = finish(engine("run", "--config", str(config)))
        assert code == 4 and "in use" in output
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in notify.wait_for("STOPPING=1")
        code, output = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, output
    assert '"event":"engine_stopped"' in output
    logs = list((tmp_path / "engine_data" / "logs").glob("engine-*.jsonl"))
    assert logs and "engine_running" in logs[0].read_text()


def test_abstract_notify_socket_gets_ready_and_watchdog(tmp_path: Path):
    config = write_config(tmp_path)
    notify = NotifySocket(f"@engine-test-{os.getpid()}-{time.monotonic_ns()}")
    # WATCHDOG_USEC=2 s: the engine pings at half of it
    proc = notify.proc = engine("run", "--config", str(config),
                                env={"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "2000000"})
    try:
        seen = notify.wait_for("READY=1")
        started = time.monotonic()
        while seen.count("WATCHDOG=1") < 2:
            seen += notify.receive()
        assert time.monotonic() - started < 3
        proc.send_signal(signal.SIGINT)
        code, output = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, output


def test_backup_and_restore(tmp_path: Path):
    config = write_config(tmp_path)
    proc = engine("run", "--config", str(config))
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while (tmp_path / "engine_data" / "logs").exists() is False \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        # an online backup while the engine runs
        archive = tmp_path / "backup.tar.gz"
        code, output = finish(engine("backup", str(archive), "--config", str(config)))
        assert code == 0, output
        # a restore is refused while the engine holds the data directory
        code, output = finish(engine("restore", str(archive), "--config", str(config)))
        assert code == 1 and "in use" in output
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"engine.toml", "engine.db"} <= names
    assert all(n in ("engine.toml", "engine.db") or n.startswith("logs/") for n in names)
    target = tmp_path / "elsewhere"
    target.mkdir()
    code, output = finish(engine("restore", str(archive), "--config",
                                 str(target / "engine.toml")))
    assert code == 0, output
    assert (target / "engine.toml").read_text() == config.read_text()
    assert (target / "engine_data" / "engine.db").stat().st_size > 0


def test_unexpected_error_exits_1_with_stack_trace(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, port=taken.getsockname()[1])
        code, output = finish(engine("run", "--config", str(config)))
    assert code == 1
    assert '"event":"engine_crashed"' in output and "Traceback" in output


@pytest.mark.parametrize("invocation_id, restarts", [(None, True), ("abc123", False)])
def test_crash_restarts_after_5_s_only_without_a_service_manager(tmp_path: Path,
                                                                 invocation_id, restarts):
    from actors.runtime.root import run_engine_supervised

    class Stop(Exception):
        pass

    delays = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        raise Stop

    env = {"INVOCATION_ID": invocation_id} if invocation_id else {}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, port=taken.getsockname()[1], auto_restart=True)
        if restarts:
            with pytest.raises(Stop):
                run_engine_supervised(config, env=env, sleep=sleep)
            assert delays == [5]
        else:
            assert run_engine_supervised(config, env=env, sleep=sleep) == 1
            assert delays == []


@pytest.mark.parametrize("args", [["version"]])
def test_version(args):
    code, output = finish(engine(*args))
    assert code == 0 and output.startswith("engine ")
