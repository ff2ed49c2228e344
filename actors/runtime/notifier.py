"""The notifier: outbound messages about what the engine did (Telegram, a chat webhook).

Owns: one bounded queue of pending ``Notice``s per channel, the cursors of what it has read
(journal seq, risk action id), the last exchange status and the current UTC day, and the
counts of sent, failed and dropped notices.
Receives: nothing pushed — it *reads*, once a second: the journal (``PyramidAdded`` of a first
pyramid = group opened, ``GroupClosed``, ``TpFilled``, ``OrderOutcome`` rejected), the
``risk_actions`` table, the exchange health of the running core (down / up) and the clock (the
daily summary at the UTC day boundary); ``send_test`` from the CLI and the console; its own
start and stop (engine started / stopped).
Sends: every ``notifications.batch_sec`` at most one message per channel with up to
``BATCH_MAX`` notices (``actors/runtime/notify_channels.py``), in a task of its own per
channel; nothing to the trading side.
Fails how: never into trading — no actor waits on it, every delivery is bounded by
``notifications.timeout_sec``, a failed one goes back to the head of its queue and is retried
after a doubling wait (from ``batch_sec`` up to ``MAX_BACKOFF_S``, or the receiver's
``retry_after``), and a queue past ``notifications.queue_limit`` drops its oldest notices
(counted, logged). Notices are read from the moment it starts: what happened while the engine
was stopped is not sent. A storage error while reading propagates (the engine stops, exit 3).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import trio

from actors.runtime.notify_channels import DeliveryFailed, Telegram, Webhook
from engine.notify import Notice, wanted
from engine.orders import decode_cid

log = logging.getLogger("engine.system")

POLL_S = 1.0
BATCH_MAX = 20
MAX_BACKOFF_S = 300.0
STOP_FLUSH_S = 5.0  # the "engine stopped" message may delay the shutdown this long at most
DAY_MS = 86_400_000
DROP_LOG_S = 60.0  # a full queue is logged at most once a minute per channel
KINDS = ("PyramidAdded", "GroupClosed", "TpFilled", "OrderOutcome")
_decode = msgspec.json.decode


class Notifier:
    def __init__(self, *, store: Any, config: Callable[[], Any], secrets: Any,
                 core: Callable[[], Any], clock_ms: Callable[[], int], version: str = "",
                 telegram_api: str | None = None):
        self.store, self._config, self._secrets, self._core = store, config, secrets, core
        self._clock_ms, self.version, self._telegram_api = clock_ms, version, telegram_api
        self.queues: dict[str, deque[Notice]] = {}
        self.sent = self.failed = self.dropped = 0
        self.last_error: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._busy: set[str] = set()
        self._drop_logged: dict[str, float] = {}
        self._seq = self._risk_id = 0
        self._exchange_down = False
        self._day = -1
        self._channels: tuple[float, list[Telegram | Webhook]] = (-1.0, [])

    # --- channels and queues -------------------------------------------------------------
    def channels(self) -> list[Telegram | Webhook]:
        """The channels configured now (configuration and secrets re-read once a second:
        reading the secrets decrypts their file)."""
        now = trio.current_time()
        if now - self._channels[0] >= POLL_S:
            self._channels = (now, self._configured())
        return self._channels[1]

    def _configured(self) -> list[Telegram | Webhook]:
        n = self._config().notifications
        instance = self.store.instance_id()
        found: list[Telegram | Webhook] = []
        token = self._secrets.get("notifications.telegram_bot_token")
        if token and n.telegram_chat_id:
            found.append(Telegram(token, n.telegram_chat_id, instance=instance,
                                  api=self._telegram_api))
        url = self._secrets.get("notifications.webhook_url")
        if url:
            found.append(Webhook(url, n.webhook_format, instance=instance))
        return found

    def emit(self, kind: str, facts: dict[str, Any] | None = None,
             ts_ms: int | None = None) -> None:
        """Queue one notice for every channel, if notifications and this event are on."""
        n = self._config().notifications
        if not n.enabled or not wanted(kind, n.events):
            return
        notice = Notice(type=kind, ts_ms=self._clock_ms() if ts_ms is None else ts_ms,
                        facts=facts or {})
        for channel in self.channels():
            self._queue(channel.name, [notice], n.queue_limit)

    def _queue(self, name: str, notices: list[Notice], limit: int, *, front: bool = False) -> None:
        queue = self.queues.setdefault(name, deque())
        if front:
            queue.extendleft(reversed(notices))
        else:
            queue.extend(notices)
        over = len(queue) - limit
        if over > 0:
            for _ in range(over):
                queue.popleft()  # the oldest go: the newest say most about now
            self.dropped += over
            now = trio.current_time()
            if now - self._drop_logged.get(name, -DROP_LOG_S) >= DROP_LOG_S:  # no log flood
                self._drop_logged[name] = now
                log.warning(f"notifications dropped: the {name} queue is full ({limit})",
                            extra={"event": "notifications_dropped",
                                   "data": {"channel": name, "dropped_total": self.dropped}})

    # --- running -------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._start_cursors()
        async with httpx.AsyncClient() as client:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch)
                    nursery.start_soon(self._send_loop, client, nursery)
                    self.emit("engine_started", {"version": self.version,
                                                 "exchange": self._config().exchange.name})
                    task_status.started()
            finally:
                with trio.move_on_after(STOP_FLUSH_S) as scope:
                    scope.shield = True
                    self.emit("engine_stopped")
                    await self._flush(client)

    def _start_cursors(self) -> None:
        row = self.store.query("SELECT coalesce(max(seq), 0) AS seq FROM journal")
        self._seq = row[0]["seq"]
        row = self.store.query("SELECT coalesce(max(id), 0) AS id FROM risk_actions")
        self._risk_id = row[0]["id"]
        self._day = self._clock_ms() // DAY_MS

    async def _watch(self) -> None:
        while True:
            self.poll()
            await trio.sleep(POLL_S)

    def poll(self) -> None:
        """Read what happened since the last poll and queue its notices."""
        self._read_journal()
        self._read_risk_actions()
        self._check_exchange()
        self._check_day()

    async def _send_loop(self, client: httpx.AsyncClient, nursery: trio.Nursery) -> None:
        while True:
            now = trio.current_time()
            for channel in self.channels():
                name = channel.name
                if (name in self._busy or not self.queues.get(name)
                        or self._retry_at.get(name, 0) > now):
                    continue
                self._busy.add(name)
                nursery.start_soon(self._deliver, client, channel)
            await trio.sleep(self._config().notifications.batch_sec)

    async def _deliver(self, client: httpx.AsyncClient, channel: Telegram | Webhook) -> bool:
        name, n = channel.name, self._config().notifications
        queue = self.queues[name]
        batch = [queue.popleft() for _ in range(min(BATCH_MAX, len(queue)))]
        try:
            with trio.fail_after(n.timeout_sec):  # httpx's own timeout is per phase
                await channel.deliver(client, batch)
        except (DeliveryFailed, trio.TooSlowError) as exc:
            reason = str(exc) if isinstance(exc, DeliveryFailed) else f"{name}: no answer in time"
            wait = getattr(exc, "retry_after_s", None)
            backoff = min(MAX_BACKOFF_S, max(n.batch_sec, 2 * self._backoff.get(name, 0.0)))
            self._backoff[name] = backoff
            self._retry_at[name] = trio.current_time() + (wait if wait else backoff)
            self.failed += 1
            self.last_error[name] = reason
            self._queue(name, batch, n.queue_limit, front=True)
            log.warning(f"notification not delivered ({reason}); retry in "
                        f"{wait or backoff:.0f} s", extra={"event": "notification_failed",
                                                           "data": {"channel": name,
                                                                    "pending": len(queue)}})
            return False
        finally:
            self._busy.discard(name)
        self._backoff.pop(name, None)
        self.last_error.pop(name, None)
        self.sent += len(batch)
        return True

    async def _flush(self, client: httpx.AsyncClient) -> None:
        """At stop: one last delivery per channel, in parallel, bounded by the caller."""
        async with trio.open_nursery() as nursery:
            for channel in self.channels():
                if self.queues.get(channel.name) and channel.name not in self._busy:
                    nursery.start_soon(self._deliver, client, channel)

    async def send_test(self, *, user: str | None = None) -> dict[str, str]:
        """A test message to every configured channel now (even with notifications off);
        ``{channel: "sent" | reason}``, ``{}`` when none is configured."""
        notice = Notice(type="test", ts_ms=self._clock_ms(), facts={
            "message": f"test notification from the engine{f' (by {user})' if user else ''}"})
        results: dict[str, str] = {}
        timeout = self._config().notifications.timeout_sec
        async with httpx.AsyncClient() as client:
            for channel in self._configured():
                try:
                    with trio.fail_after(timeout):
                        await channel.deliver(client, [notice])
                    results[channel.name] = "sent"
                except DeliveryFailed as exc:
                    results[channel.name] = str(exc)
                except trio.TooSlowError:
                    results[channel.name] = f"{channel.name}: no answer in {timeout} s"
        log.info("test notification", extra={"event": "notification_test",
                                             "data": {"results": results, "user": user}})
        return results

    # --- sources -------------------------------------------------------------------------
    def _read_journal(self) -> None:
        marks = ", ".join("?" * len(KINDS))
        rows = self.store.query(
            f"SELECT seq, ts, kind, key, body FROM journal WHERE seq > ? AND kind IN ({marks})"
            " ORDER BY seq LIMIT 1000", (self._seq, *KINDS))
        for row in rows:
            self._seq = row["seq"]
            body = _decode(row["body"])
            kind, ts = row["kind"], row["ts"]
            if kind == "OrderOutcome":
                if isinstance(body, dict) and body.get("state") == "rejected":
                    parts = decode_cid(row["key"])
                    group = self._group(parts.group_id) if parts else {}
                    self.emit("order_rejected", {**group, "order_id": row["key"],
                                                 "error": body.get("error")}, ts)
                continue
            gid = int(row["key"].split(":")[1]) if (row["key"] or "").startswith("group:") else 0
            if kind == "PyramidAdded" and body.get("index") == 0:
                self.emit("group_opened", {**self._group(gid), "notional": body.get("notional"),
                                           "price": body.get("reference_price")}, ts)
            elif kind == "GroupClosed":
                record = body.get("record") or {}
                self.emit("group_closed", {**self._group(gid), "reason": body.get("reason"),
                                           "pnl": record.get("realized_pnl", body.get("realized")),
                                           "return_percent": record.get("return_percent")}, ts)
            elif kind == "TpFilled":
                self.emit("tp_filled", {**self._group(gid), **{k: body.get(k) for k in (
                    "pyramid", "leg", "qty", "price", "realized")}}, ts)

    def _group(self, group_id: int) -> dict[str, Any]:
        rows = self.store.query("SELECT symbol, timeframe, side FROM position_groups WHERE id = ?",
                                (group_id,))
        return {"group_id": group_id, **(rows[0] if rows else {})}

    def _read_risk_actions(self) -> None:
        rows = self.store.query(
            "SELECT id, ts, trigger, loser_group_id, required_usd, outcome FROM risk_actions"
            " WHERE id > ? ORDER BY id", (self._risk_id,))
        for row in rows:
            self._risk_id = row["id"]
            self.emit("risk_action", {k: row[k] for k in (
                "id", "trigger", "loser_group_id", "required_usd", "outcome")}, row["ts"])

    def _check_exchange(self) -> None:
        core = self._core()
        health = getattr(core, "health", None)
        if health is None:
            return
        down = health.status() == "disconnected"
        if down != self._exchange_down:
            self._exchange_down = down
            name = self._config().exchange.name
            if down:
                self.emit("exchange_down", {"exchange": name, "error": health.last_error})
            else:
                self.emit("exchange_up", {"exchange": name})

    def _check_day(self) -> None:
        day = self._clock_ms() // DAY_MS
        if day <= self._day:
            return
        ended, self._day = self._day, day
        self.emit("daily_summary", self.summary(ended))

    def summary(self, day: int) -> dict[str, Any]:
        """Closed groups and their PnL of UTC day ``day`` (days since 1970), open and queued now."""
        rows = self.store.query("SELECT realized_pnl FROM closed_trades WHERE closed_at >= ?"
                                " AND closed_at < ?", (day * DAY_MS, (day + 1) * DAY_MS))
        pnls = [Decimal(r["realized_pnl"]) for r in rows]
        counts = self.store.query(
            "SELECT (SELECT count(*) FROM position_groups WHERE status NOT IN ('closed',"
            " 'failed')) AS open, (SELECT count(*) FROM queue_entries) AS queued")[0]
        return {"day": datetime.fromtimestamp(day * 86_400, UTC).date().isoformat(),
                "closed": len(pnls), "wins": sum(1 for p in pnls if p > 0),
                "losses": sum(1 for p in pnls if p < 0), "pnl": sum(pnls, Decimal(0)),
                "open": counts["open"], "queued": counts["queued"]}
