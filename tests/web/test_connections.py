"""Connections end: ``Connection: close`` is honoured at once, an idle keep-alive is closed by
the server after ``HTTP_KEEP_ALIVE_S``, and hundreds of idle, half-sent and finished
connections are all released — counted as the engine process's open file descriptors.

The real engine runs as its own process (``tests/web/engine_process.py``); these tests are
synchronous and talk to it over raw sockets, byte for byte."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from actors.runtime.root import HTTP_KEEP_ALIVE_S
from tests.web.engine_process import EngineProcess, wait_for

CLOSE_WITHIN_S = 10  # "at once": the bug held a connection for ever


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    proc = EngineProcess(tmp_path_factory.mktemp("connections")).start()
    try:
        yield proc
    finally:
        proc.stop()


def connect(engine: EngineProcess) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", engine.port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(s: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it does not close
    within ``within`` seconds."""
    s.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection still open after {within} s; got {data[:200]!r}")


@pytest.mark.parametrize("target", ["/healthz", "/", "/static/js/app.js", "/api/status"])
def test_connection_close_is_honoured_at_once(engine: EngineProcess, target: str):
    with connect(engine) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        started = time.monotonic()
        answer = read_until_closed(s, CLOSE_WITHIN_S)
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    assert time.monotonic() - started < CLOSE_WITHIN_S


def test_keep_alive_serves_several_requests_then_closes_when_idle(engine: EngineProcess):
    with connect(engine) as s:
        for _ in range(3):  # the connection is reused: keep-alive still works
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(30)
            answer = b""
            while b'"status"' not in answer:
                answer += s.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        read_until_closed(s, HTTP_KEEP_ALIVE_S + 30)
        assert time.monotonic() - started >= HTTP_KEEP_ALIVE_S - 1


def test_hundreds_of_idle_and_half_sent_connections_are_released(engine: EngineProcess):
    read_until_closed_ok = []
    engine.get("/api/status")  # warm up: the admin session's own connection is open
    baseline = engine.open_fds()
    socks: list[socket.socket] = []
    try:
        for i in range(400):
            s = connect(engine)
            kind = i % 4
            if kind == 1:  # headers never finished
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            elif kind == 2:  # a body announced and never sent in full
                s.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type:"
                          b" application/json\r\nContent-Length: 100\r\n\r\n{\"user")
            elif kind == 3:  # a finished request left open (keep-alive)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)  # kind 0: connected, nothing sent
        wait_for(lambda: engine.open_fds() >= baseline + 300, timeout=60,
                 what="the engine to accept the connections")
        # the server, not the client, must end them: every socket is still open on our side
        wait_for(lambda: engine.open_fds() <= baseline + 5, timeout=120, interval=1,
                 what=f"the engine's descriptors to fall back to {baseline}")
        for s in socks:
            read_until_closed(s, 30)
            read_until_closed_ok.append(s)
    finally:
        for s in socks:
            s.close()
    assert len(read_until_closed_ok) == 400


def test_hypercorn_gets_the_keep_alive_setting():
    from actors.runtime.root import hypercorn_config
    from engine.config import Config

    assert hypercorn_config(Config()).keep_alive_timeout == HTTP_KEEP_ALIVE_S
