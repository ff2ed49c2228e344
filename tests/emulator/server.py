"""Running the emulator: inside a trio nursery (``serve``) or in a background thread with its own
trio loop (``EmulatorThread``), which lets one emulator serve every test of a module."""

import json
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from tests.emulator.app import Emulator

INFO_FILE = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"
API_KEY = "emuKey0000000000000000000000000000000000000000000000000000000001"
API_SECRET = "emuSecret00000000000000000000000000000000000000000000000000001"


def make_emulator(*, api_key: str = API_KEY, api_secret: str = API_SECRET,
                  info_file: Path = INFO_FILE) -> Emulator:
    return Emulator(json.loads(info_file.read_text()), api_key=api_key, api_secret=api_secret)


async def serve(emulator: Emulator, *, host: str = "127.0.0.1", port: int = 0,
                stop: trio.Event | None = None,
                task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until ``stop`` is set; ``task_status.started`` gets the base URL."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.graceful_timeout = 0.5
    config.accesslog = None
    config.errorlog = None
    stop = stop if stop is not None else trio.Event()
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(hypercorn_serve, emulator, config,
                                           shutdown_trigger=stop.wait))
        task_status.started(urls[0])


class _Remote:
    """What tests use of a running emulator: its URLs and the ``/_emulator/*`` controls."""

    base = ""
    _http: httpx.Client

    @property
    def rest_urls(self) -> dict[str, str]:
        return {"public": f"{self.base}/api/v3", "private": f"{self.base}/api/v3",
                "v1": f"{self.base}/api/v1"}

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://")

    def control(self, name: str, payload: dict | None = None) -> object:
        if payload is None:
            r = self._http.get(f"/_emulator/{name}")
        else:
            r = self._http.post(f"/_emulator/{name}", json=payload)
        r.raise_for_status()
        return r.json()

    def reset(self, **payload: object) -> None:
        self.control("reset", payload)

    def fault(self, kind: str, **kw: object) -> None:
        self.control("fault", {"kind": kind, **kw})

    def price(self, symbol: str, price: str) -> None:
        self.control("price", {"symbol": symbol, "price": price})

    def prices(self, moves: list[tuple[str, str]]) -> int:
        """Many price moves in one request, applied in order; answers how many."""
        return self.control("prices", {"prices": moves})["applied"]  # type: ignore[index]

    def orders(self) -> list[dict]:
        return self.control("orders")  # type: ignore[return-value]

    def stats(self) -> dict:
        return self.control("stats")  # type: ignore[return-value]


class EmulatorThread(_Remote):
    """The emulator on 127.0.0.1 in a daemon thread of this process (shares the GIL)."""

    def __init__(self, info: dict | None = None) -> None:
        """``info``: the exchangeInfo to serve (default: ``INFO_FILE``)."""
        self.emulator = make_emulator() if info is None else Emulator(
            info, api_key=API_KEY, api_secret=API_SECRET)
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.base = ""
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self.base = await nursery.start(partial(serve, self.emulator, stop=self._stop))
            self._ready.set()

    def start(self) -> "EmulatorThread":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("emulator did not start")
        self._http = httpx.Client(base_url=self.base, timeout=10)
        return self

    def stop(self) -> None:
        self._http.close()
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(5)



class EmulatorProcess(_Remote):
    """``python -m tests.emulator`` in a child process: its own interpreter, so heavy tests do
    not share the GIL with the code under test."""

    def start(self) -> "EmulatorProcess":
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.emulator", "--port", "0"],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if " on http://" not in line:
            self._proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.base = line.split(" on ", 1)[1].split()[0]
        self._http = httpx.Client(base_url=self.base, timeout=10)
        return self

    def stop(self) -> None:
        self._http.close()
        self._proc.terminate()
        self._proc.wait(5)
