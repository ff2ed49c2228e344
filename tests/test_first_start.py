"""``engine run`` as a new user starts it: the banner (dashboard URL, where the first admin
password is, the webhook URL, the missing-secret warning with its exact command), and an
ENGINE_WEBHOOK_SECRET shorter than 16 characters stopping the intake with a clear error."""

import json
import os
import select
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.test_process import engine, finish, port_of, write_config

WAIT_S = 60  # a ceiling for the process to start, not a timing


def read_until(proc, marker: str) -> str:
    """Standard output until ``marker`` appears (the engine keeps running)."""
    seen = b""
    deadline = time.monotonic() + WAIT_S
    while marker.encode() not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, seen.decode()
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            seen += os.read(proc.stdout.fileno(), 4096)
    return seen.decode()


def stop(proc) -> str:
    proc.send_signal(signal.SIGTERM)
    return finish(proc)[1]


def test_the_banner_says_where_everything_is_and_what_is_missing(tmp_path: Path):
    config = write_config(tmp_path)
    port = port_of(config)
    proc = engine("run", "--config", str(config))
    try:
        out = read_until(proc, "WARNING:")
        out += read_until(proc, "\n") if not out.endswith("\n") else ""
    finally:
        stop(proc)
    password_file = tmp_path / "engine_data" / "initial_admin_password"
    assert f"Dashboard: http://127.0.0.1:{port}/" in out
    assert f"(log in as admin; the password is in {password_file})" in out
    assert f"Webhook:   http://127.0.0.1:{port}/webhook" in out
    assert ("WARNING: Webhooks are refused (401) until a webhook secret is set: run "
            f"`engine secrets set security.webhook_secret --config {config}`") in out


def test_a_short_webhook_secret_in_the_environment_stops_the_intake(tmp_path: Path):
    config = write_config(tmp_path)
    port = port_of(config)
    proc = engine("run", "--config", str(config), env={"ENGINE_WEBHOOK_SECRET": "short"})
    try:
        out = read_until(proc, "WARNING:")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", method="POST",
                                         data=json.dumps({"secret": "short"}).encode())
        try:
            urllib.request.urlopen(request, timeout=10)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
    finally:
        log = stop(proc)
    assert "WARNING: Webhooks are refused: ENGINE_WEBHOOK_SECRET is shorter than 16" in out
    assert status == 503
    errors = [json.loads(line) for line in log.splitlines() if '"webhook_intake_refused"' in line]
    assert errors and errors[0]["level"] == "error"
    assert "set ENGINE_WEBHOOK_SECRET to at least 16 characters" in errors[0]["message"]
