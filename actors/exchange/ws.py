"""A websocket client: the ``websockets`` Sans-I/O protocol driven over a trio stream.

Owns: one TCP (or TLS, for ``wss://``) connection and its websocket protocol state.
Receives: text messages from the server (``receive``), our own ``send`` calls.
Sends: pongs (automatically, answering the server's pings), a ping of ours after
``ping_interval`` seconds of silence, and a clean close handshake on exit.
Fails how: ``WebSocketClosed`` when the connection ends for any reason (server close, EOF, no
answer within ``ping_timeout`` of our ping, refused handshake); reconnecting is the caller's.

Single task, no nursery: ``receive`` itself times the silence, so the socket can be used from
any task. Cancelling a read is safe (trio's SSLStream allows it once the handshake is done);
writes are shielded so that a cancelled caller never leaves half a frame on the wire.
"""

import ssl
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri


class WebSocketClosed(Exception):
    pass


class WebSocket:
    def __init__(self, stream: trio.abc.Stream, protocol: ClientProtocol, *,
                 ping_interval: float, ping_timeout: float):
        self._stream = stream
        self._proto = protocol
        self._messages: deque[str] = deque()
        self._fragments: list[bytes] = []
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._deadline = trio.current_time() + ping_interval
        self._awaiting_pong = False

    async def _flush(self) -> None:
        data = b"".join(self._proto.data_to_send())
        if not data:
            return
        with trio.CancelScope(shield=True):
            with trio.move_on_after(10) as scope:
                try:
                    await self._stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise WebSocketClosed(f"send failed: {exc}") from exc
        if scope.cancelled_caught:
            raise WebSocketClosed("send stalled for 10 s")

    async def _pump(self) -> None:
        """Read once from the network and turn what arrived into messages."""
        try:
            data = await self._stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise WebSocketClosed(f"receive failed: {exc}") from exc
        if data:
            self._proto.receive_data(data)
        else:
            self._proto.receive_eof()
        self._deadline = trio.current_time() + self._ping_interval
        self._awaiting_pong = False  # any traffic proves the peer alive
        for event in self._proto.events_received():
            if not isinstance(event, Frame):
                continue  # the handshake response
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self._fragments.append(event.data)
                if event.fin:
                    self._messages.append(b"".join(self._fragments).decode())
                    self._fragments.clear()
        await self._flush()  # pongs and close answers queued by the protocol
        if not data or self._proto.state is State.CLOSED:
            raise WebSocketClosed(f"closed by server: code {self._proto.close_code}")

    async def receive(self) -> str:
        while not self._messages:
            with trio.move_on_at(self._deadline):
                await self._pump()
                continue
            if self._awaiting_pong:
                raise WebSocketClosed(f"no answer to ping within {self._ping_timeout} s")
            self._proto.send_ping(b"")
            await self._flush()
            self._awaiting_pong = True
            self._deadline = trio.current_time() + self._ping_timeout
        return self._messages.popleft()

    async def send(self, text: str) -> None:
        self._proto.send_text(text.encode())
        await self._flush()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            if self._proto.state is State.OPEN:
                self._proto.send_close(1000)
                with trio.move_on_after(2):
                    try:
                        await self._flush()
                        while self._proto.state is not State.CLOSED:
                            await self._pump()
                    except WebSocketClosed:
                        pass
            await self._stream.aclose()


async def open_websocket(url: str, *, ping_interval: float = 20.0,
                         ping_timeout: float = 20.0) -> WebSocket:
    uri = parse_uri(url)
    try:
        if uri.secure:
            stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                uri.host, uri.port, ssl_context=ssl.create_default_context())
        else:
            stream = await trio.open_tcp_stream(uri.host, uri.port)
    except OSError as exc:
        raise WebSocketClosed(f"connect failed: {exc}") from exc
    proto = ClientProtocol(uri, max_size=2**22)
    proto.send_request(proto.connect())
    ws = WebSocket(stream, proto, ping_interval=ping_interval, ping_timeout=ping_timeout)
    try:
        await ws._flush()
        while proto.state is State.CONNECTING and proto.handshake_exc is None:
            await ws._pump()
    except WebSocketClosed:
        await stream.aclose()
        raise WebSocketClosed(f"handshake failed: {proto.handshake_exc}") from None
    if proto.state is not State.OPEN:
        await stream.aclose()
        raise WebSocketClosed(f"handshake refused: {proto.handshake_exc}")
    return ws


@asynccontextmanager
async def connect(url: str, *, ping_interval: float = 20.0,
                  ping_timeout: float = 20.0) -> AsyncIterator[WebSocket]:
    ws = await open_websocket(url, ping_interval=ping_interval, ping_timeout=ping_timeout)
    try:
        yield ws
    finally:
        await ws.aclose()
