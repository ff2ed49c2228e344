"""The new-user test: ``docs/quickstart.md`` driven as written, in a fresh clone, against the
engine that its own ``make run`` starts — so the Quick start cannot rot.

The page's ```` ```sh ```` blocks are its script, in order: the first clones (done here, from
this repository), the second is ``make run`` (started in the background, as the page's
"second terminal" implies), and every later block runs in one bash session (``set -e``: a
failing command fails the test). Two things differ from a user's first run, neither in the
page's commands: the clone's ``.venv`` is this checkout's (already installed: ``make`` is checked
to consider it up to date, so nothing is installed into it), and the web server listens on a
free port instead of 8080, so the test can run beside a real engine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "quickstart.md"
VENV = ROOT / ".venv"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
START_TIMEOUT_S = 45
SCRIPT_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def fresh_clone(tmp_path: Path, port: int) -> Path:
    clone = tmp_path / "engine"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
    (clone / ".venv").symlink_to(VENV)
    stamp = (VENV / ".installed").stat().st_mtime
    os.utime(clone / "pyproject.toml", (stamp - 60, stamp - 60))
    # make must see the shared venv as installed: a reinstall would repoint it at the clone
    assert subprocess.run(["make", "-q", ".venv/.installed"], cwd=clone).returncode == 0
    config = clone / "engine.toml"
    text = config.read_text()
    assert "http_port = 8080" in text
    config.write_text(text.replace("http_port = 8080", f"http_port = {port}"))
    return clone


def user_env() -> dict[str, str]:
    """A shell without this machine's engine settings (a new user has none)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("ENGINE_") and k not in ("NOTIFY_SOCKET", "INVOCATION_ID")}


def wait_running(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"make run ended ({proc.returncode}):\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json().get("status") == "running":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not running after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def poll(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_page_has_the_expected_steps():
    blocks = page_blocks()
    assert blocks[0].startswith("git clone "), "the first sh block must be the clone"
    assert blocks[1].strip() == "make run", "the second sh block must be `make run` alone"
    assert any("/webhook" in b for b in blocks[2:]), "the page must send a signal"


@pytest.mark.skipif(not (VENV / ".installed").exists(), reason="needs the installed .venv")
def test_quickstart_as_written(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clone = fresh_clone(tmp_path, port)
    _, run, *steps = page_blocks()
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(run.split(), cwd=clone, env=user_env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_running(url, proc, log)
        script = "set -euo pipefail\n" + "\n".join(steps).replace("127.0.0.1:8080",
                                                                    f"127.0.0.1:{port}")
        done = subprocess.run(["bash", "-c", script], cwd=clone, env=user_env(),
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log.read_text()[-3000:]}"
        assert '"status":"accepted"' in done.stdout.replace(" ", "")

        password = (clone / "engine_data" / "initial_admin_password").read_text().strip()
        with httpx.Client(base_url=url, timeout=10) as client:
            login = client.post("/api/auth/login", json={"username": "admin",
                                                         "password": password})
            assert login.status_code == 200, login.text

            def opened() -> dict | None:
                entries = client.get("/api/inbox").json()["entries"]
                return next((e for e in entries if e["symbol"] == "BTCUSDT"
                             and e["state"] == "processed"), None)

            entry = poll(opened)
            assert entry is not None, client.get("/api/inbox").text
            assert re.fullmatch(r"group \d+ opened", entry["outcome"]), entry
            group_id = int(entry["outcome"].split()[1])
            # what the page says the user sees: five buy orders from 60,000 down to 58,800, the
            # first filled at once; the last step's price 60,600 hits its 1 % take-profit
            detail = client.get(f"/api/groups/{group_id}").json()
            legs = sorted(detail["legs"], key=lambda leg: leg["leg"])
            assert [leg["planned_price"] for leg in legs] == \
                ["60000.00", "59700.00", "59400.00", "59100.00", "58800.00"], legs
            assert legs[0]["fill_price"] == "60000.00" and legs[0]["tp_price"] == "60600.00"

            def first_leg_tp() -> str:
                legs = client.get(f"/api/groups/{group_id}").json()["legs"]
                return next(leg for leg in legs if leg["leg"] == 0)["tp_state"]

            assert poll(lambda: first_leg_tp() == "hit"), first_leg_tp()
    finally:
        stop(proc)
