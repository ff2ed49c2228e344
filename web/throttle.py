"""Webhook authentication-failure throttling (SPEC 2.1): an IP that fails authentication 20
times within one minute gets 429 for 10 minutes. The caller never records failures of exempt
addresses (TradingView's shared senders and the allowlist), so they are never throttled.

State is per process and in memory: a restart forgets it, which only shortens a block.
"""

from __future__ import annotations

from collections import deque

TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
FAILURES = 20
WINDOW_MS = 60_000
BLOCK_MS = 10 * 60_000
MAX_TRACKED = 10_000  # addresses remembered at once; the oldest are forgotten beyond that


class AuthThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, deque[int]] = {}
        self._blocked: dict[str, int] = {}  # ip -> end of its block (ms)

    def blocked(self, ip: str, now_ms: int) -> bool:
        until = self._blocked.get(ip)
        if until is None:
            return False
        if now_ms < until:
            return True
        del self._blocked[ip]
        return False

    def failure(self, ip: str, now_ms: int) -> bool:
        """Record one failed authentication; True when it starts a block."""
        times = self._failures.get(ip)
        if times is None:
            if len(self._failures) >= MAX_TRACKED:
                self._sweep(now_ms)
            times = self._failures[ip] = deque(maxlen=FAILURES)
        times.append(now_ms)
        if len(times) == FAILURES and now_ms - times[0] < WINDOW_MS:
            self._blocked[ip] = now_ms + BLOCK_MS
            del self._failures[ip]
            if len(self._blocked) > MAX_TRACKED:
                self._sweep(now_ms)
            return True
        return False

    def _sweep(self, now_ms: int) -> None:
        for ip in [ip for ip, t in self._failures.items() if now_ms - t[-1] >= WINDOW_MS]:
            del self._failures[ip]
        for ip in [ip for ip, until in self._blocked.items() if until <= now_ms]:
            del self._blocked[ip]
        # still full (failures from very many addresses): forget the oldest first
        for ip in list(self._failures)[: max(0, len(self._failures) - MAX_TRACKED + 1)]:
            del self._failures[ip]
        for ip in list(self._blocked)[: max(0, len(self._blocked) - MAX_TRACKED)]:
            del self._blocked[ip]
