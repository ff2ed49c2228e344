"""A real ``engine run`` process for the operations tests: started on a temporary data dir with
a webhook secret and an admin password from the environment, waited for until /healthz says
``running``, driven over HTTP (login, webhook, paper price), stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.test_process import free_port
from tests.web.runtime_kit import entry

SECRET = "ops-webhook-secret-0123456789"
ADMIN_PASSWORD = "ops admin password 42"
ENV = {"ENGINE_WEBHOOK_SECRET": SECRET, "ENGINE_ADMIN_PASSWORD": ADMIN_PASSWORD}


class EngineProcess:
    def __init__(self, command: Sequence[str], config: Path, *, cwd: Path | None = None,
                 env: dict[str, str] | None = None):
        self.config = config
        self.port = next(int(x.split("=")[1]) for x in config.read_text().splitlines()
                         if x.startswith("http_port"))
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("NOTIFY_SOCKET", "INVOCATION_ID", "ENGINE_CONFIG")}
        self.proc = subprocess.Popen([*command, "run", "--config", str(config)], cwd=cwd,
                                     env={**full_env, **ENV, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def wait_running(self, timeout: float = 120) -> float:
        """Seconds until /healthz answers ``running``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"engine exited {self.proc.returncode}: "
                                     f"{self.proc.stderr.read().decode()[-2000:]}")
            try:
                if self.http.get("/healthz").json().get("status") == "running":
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("engine not running in time")

    def login(self) -> None:
        r = self.http.post("/api/auth/login", json={"username": "admin",
                                                    "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def webhook(self, **kw: Any) -> httpx.Response:
        body = entry(**kw)
        body["secret"] = SECRET
        return self.http.post("/webhook", json=body)

    def until(self, check, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.2)
        raise AssertionError("condition not met in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.http.close()
            self.proc.stderr.close()


def config_in(directory: Path, extra: str = "") -> Path:
    from tests.test_process import write_config

    directory.mkdir(parents=True, exist_ok=True)
    return write_config(directory, free_port(), extra=extra)
