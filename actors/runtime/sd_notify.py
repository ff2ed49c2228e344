"""systemd readiness and watchdog notifications (``Type=notify``, SPEC 12.4).

Owns: one AF_UNIX datagram socket to ``$NOTIFY_SOCKET`` (``@name`` = abstract namespace).
Receives: ``ready()``, ``watchdog()``, ``stopping()``, ``status(text)`` from the root.
Sends: ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=…`` datagrams to the service manager.
Fails how: never raises — without ``NOTIFY_SOCKET`` every call is a no-op, and a send that fails
(manager gone, buffer full) is dropped and reported as ``False``: a missed watchdog ping is
better than a crashed engine.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

DEFAULT_WATCHDOG_INTERVAL = 10.0


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None
        self._sock: socket.socket | None = None
        usec = env.get("WATCHDOG_USEC", "")
        # ping at half the manager's timeout, and at least every 10 s (SPEC 12.4)
        half = int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 else None
        self.watchdog_interval = min(DEFAULT_WATCHDOG_INTERVAL, half or DEFAULT_WATCHDOG_INTERVAL)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message.encode(), self.address)
            return True
        except OSError:
            return False

    def ready(self) -> bool:
        return self.send("READY=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
