"""The PyInstaller one-file ``engine`` (``make dist``): version, init, run on the paper
exchange, /healthz, the console's login page and a static asset, a webhook round trip, and a
SIGTERM that ends both the bootloader and the engine it unpacked and started."""

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.ops.engine_proc import EngineProcess
from tests.test_process import free_port

BINARY = Path(os.environ.get("ENGINE_DIST_BINARY", "dist/engine")).resolve()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(x) for x in text.split()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_version():
    done = subprocess.run([str(BINARY), "version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("engine "), done.stderr


def test_init_run_serve_and_stop(tmp_path):
    config = tmp_path / "engine.toml"
    done = subprocess.run([str(BINARY), "init", "--config", str(config)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "engine_data").is_dir()
    text = config.read_text().replace("http_port = 8080", f"http_port = {free_port()}")
    config.write_text(text.replace("auto_restart = true", "auto_restart = false"))
    size_mb = BINARY.stat().st_size / 1e6
    eng = EngineProcess([str(BINARY)], config, cwd=tmp_path)
    try:
        healthy_s = eng.wait_running()
        print(f"\nsingle file: {size_mb:.1f} MB, healthy {healthy_s:.2f} s after start")
        page = eng.http.get("/login")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "/static/js/app.js" in page.text
        asset = eng.http.get("/static/js/app.js")
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        assert eng.http.get("/docs/").status_code == 200  # the documentation is inside too
        r = eng.webhook()
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
        eng.login()
        group = eng.until(lambda: next(iter(eng.http.get("/api/groups").json()["groups"]),
                                       None))
        assert group["symbol"] == "LTCUSDT"
        engine_pids = children(eng.proc.pid)
        assert engine_pids, "the bootloader runs the engine as its child"
    finally:
        code = eng.stop(signal.SIGTERM)
    assert code == 0
    deadline = time.monotonic() + 30
    while any(alive(p) for p in engine_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in engine_pids)
