"""The UI hub: the newest snapshot per topic and the live-push subscribers (SPEC 11.1).

Owns: the last published payload of every topic (``status``, ``dashboard``, ``groups``,
``queue``, ``risk``, ``logs``, ``alerts``, ``config``, ``analytics``), the set of "changed"
topics not yet published, and the subscribers (one per ``/api/ws`` connection), each with at
most ONE pending message per topic.
Receives: ``touch(topic)`` from any actor after it recorded a change (cheap, never blocks, never
awaits: it only marks the topic and wakes the hub); ``subscribe()`` from the live-push route;
``close()`` at shutdown.
Sends: to every subscriber, at most once per ``ui.realtime_update_ms``, the topics whose payload
changed — newest value wins: a slow subscriber's pending message for a topic is overwritten, so
it can never hold up the hub, let alone the engine. A new subscriber first gets a fresh
snapshot of every topic (the newest payloads, rebuilt only if older than ``REFRESH_S`` or
changed since). Message: ``{"topic", "kind": "snapshot"|"delta"|"patch", "ts", "data"}`` where
a snapshot or delta carries the topic's whole new payload and a patch (row topics only:
``groups``) carries the changed rows (``actors/read/patch.py``).
Fails how: a topic builder that raises is logged with its topic and that topic keeps its previous
payload (the read side is not trading state: a read-model bug must not stop trading); the next
change or refresh tries again. Prices and clocks move without touches, so every topic is also
rebuilt every ``REFRESH_S`` while someone listens — only real changes are sent, and of a row
topic only the rows (and fields) that changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import msgspec
import trio

from actors.read.patch import ROW_TOPICS, Rows, row_patch

log = logging.getLogger("engine.system")

TOPICS = ("status", "dashboard", "groups", "queue", "risk", "logs", "alerts", "config")
# topics that exist once the runtime attaches their builder (``analytics``: the Performance
# page, actors/read/analytics.py); until then they are accepted and never published
OPTIONAL_TOPICS = ("analytics",)
_ALL = TOPICS + OPTIONAL_TOPICS
# a change of one topic changes what another shows (Panel A counts groups and queue entries;
# Waiting rows of the positions list are queue entries)
IMPLIED = {"groups": ("dashboard", "status", "analytics"), "queue": ("dashboard", "groups"),
           "alerts": ("dashboard",), "status": ("dashboard",), "risk": ("dashboard",)}
REFRESH_S = 1.0
_encode = msgspec.json.Encoder(enc_hook=str).encode

Builder = Callable[[], object]


class HubClosed(Exception):
    """The hub stopped (shutdown): the live-push connection ends."""


class Subscriber:
    """One live-push connection's mailbox: the newest pending message per topic."""

    def __init__(self, hub: UiHub):
        self._hub = hub
        self._pending: dict[str, tuple[str, int, bytes]] = {}
        self._wake = trio.Event()
        self.closed = False

    def offer(self, topic: str, kind: str, ts: int, data: bytes,
              patch: bytes | None = None) -> None:
        """``data``: the topic's whole payload; ``patch``: the same change as a patch against
        the previous payload, sent instead when nothing of this topic is pending (a pending
        message is replaced by the whole payload: the newest value wins)."""
        previous = self._pending.get(topic)
        if previous is None and patch is not None:
            kind, data = "patch", patch
        elif previous is not None and previous[0] == "snapshot":
            kind = "snapshot"  # the client has not seen this topic yet: still its first value
        self._pending[topic] = (kind, ts, data)
        self._wake.set()

    async def receive(self) -> list[bytes]:
        """The pending messages (JSON), oldest topic first; waits for at least one. Raises
        ``HubClosed`` once the hub closed and nothing is pending."""
        while not self._pending:
            if self.closed:
                raise HubClosed()
            await self._wake.wait()
            self._wake = trio.Event()
        out = [_encode({"topic": topic, "kind": kind, "ts": ts, "data": msgspec.Raw(data)})
               for topic, (kind, ts, data) in self._pending.items()]
        self._pending.clear()
        return out

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._hub._subscribers.discard(self)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UiHub:
    def __init__(self, *, builders: Mapping[str, Builder], interval_ms: Callable[[], int],
                 clock_ms: Callable[[], int]):
        self._builders: dict[str, Builder] = {}
        for topic, fn in builders.items():
            self.set_builder(topic, fn)
        self._interval_ms = interval_ms
        self._clock_ms = clock_ms
        self._latest: dict[str, bytes] = {}
        self._built_at: dict[str, float] = {}  # trio time of each topic's last build
        self._rows: dict[str, Rows] = {}  # row topics: the rows of the latest payload
        self._dirty: set[str] = set()
        self._subscribers: set[Subscriber] = set()
        self._wake = trio.Event()
        self.closed = False
        self.publications = 0  # topic payloads sent (tests, status)

    def set_builder(self, topic: str, fn: Builder) -> None:
        """Who computes a topic's payload (e.g. the risk actor replaces the ``risk`` one)."""
        if topic not in _ALL:
            raise ValueError(f"unknown topic {topic!r}; expected one of {_ALL}")
        self._builders[topic] = fn

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def touch(self, topic: str) -> None:
        """``topic`` changed (the change is already recorded). Never blocks."""
        if topic not in _ALL:
            raise ValueError(f"unknown topic {topic!r}; expected one of {_ALL}")
        self._dirty.add(topic)
        self._dirty.update(IMPLIED.get(topic, ()))
        if self._subscribers:
            self._wake.set()

    def subscribe(self) -> Subscriber:
        """A new subscriber with a fresh snapshot of every topic pending: a topic changed
        since its last build, or built longer than ``REFRESH_S`` ago, is rebuilt (which also
        sends the other subscribers that change); the others are sent as they are, so a page
        load does not rebuild 1,000 groups."""
        if self.closed:
            raise HubClosed()
        now = self._clock_ms()
        stale = trio.current_time() - REFRESH_S
        for topic in _ALL:
            if topic in self._dirty or self._built_at.get(topic, stale) <= stale:
                self._publish(topic, now)
        sub = Subscriber(self)
        for topic in _ALL:
            if topic in self._latest:
                sub.offer(topic, "snapshot", now, self._latest[topic])
        self._subscribers.add(sub)
        return sub

    def close(self) -> None:
        """Shutdown: every live-push connection ends (hypercorn waits for open ones)."""
        self.closed = True
        for sub in list(self._subscribers):
            sub.close()
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        next_refresh = trio.current_time() + REFRESH_S
        while not self.closed:
            with trio.move_on_at(next_refresh):
                await self._wake.wait()
            self._wake = trio.Event()
            if self.closed:
                return
            if trio.current_time() >= next_refresh:
                next_refresh = trio.current_time() + REFRESH_S
                if self._subscribers:
                    self._dirty.update(_ALL)
            if self._subscribers and self._dirty:
                topics, self._dirty = self._dirty, set()
                now = self._clock_ms()
                for topic in _ALL:
                    if topic in topics:
                        self._publish(topic, now)
                # coalescing: changes arriving now wait for the next publication
                await trio.sleep(max(self._interval_ms(), 0) / 1000)

    def _publish(self, topic: str, now: int) -> None:
        builder = self._builders.get(topic)
        if builder is None:
            return
        try:
            payload = builder()
            data = _encode(payload)
        except Exception as exc:
            log.error(f"live push: cannot build topic {topic}: {exc}", exc_info=exc,
                      extra={"event": "ui_topic_failed", "data": {"topic": topic}})
            return
        self._built_at[topic] = trio.current_time()
        if self._latest.get(topic) == data:
            return
        self._latest[topic] = data
        patch = None
        if topic in ROW_TOPICS:
            rows, patch = row_patch(ROW_TOPICS[topic], self._rows.get(topic), payload)
            self._rows[topic] = rows
        patch_data = None if patch is None else _encode(patch)
        for sub in self._subscribers:
            sub.offer(topic, "delta", now, data, patch_data)
            self.publications += 1
