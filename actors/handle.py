"""The one object the web layer talks to (ARCHITECTURE.md: web/ holds no engine state).

Owns: the engine status the web shows (``status``, ``accepting`` — assigned by the root and the
runtime), the last-webhook facts, the send sides of the ``signals`` and ``config_changes``
channels, the market rules used to validate webhook symbols, and the inbox, users and
configuration services behind them.
Receives: calls from the web routes; ``status`` / ``accepting`` / ``set_markets`` from the root
and the runtime.
Sends: ``SignalAccepted`` on ``signals`` for each acceptance once its inbox row is written, its
COMMIT still in flight (the engine core consumes it; whatever the core writes commits after it;
until then accepted signals wait in the inbox, state ``accepted``); ``ConfigChanged`` on
``config_changes`` after each Apply (coalesced when the receiver lags).
Fails how: ``IntakeUnavailable`` (HTTP 503) when intake is stopped, the database is unavailable
or the engine core's backlog is full — nothing is stored then; the other refusals are the
``UserError``/``LoginRefused``/``ConfigRefused`` families re-exported here for the web layer.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import sqlite3
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from argon2 import PasswordHasher

from actors.read import log_query
from actors.settings import controls
from actors.risk import audit as risk_audit  # R5
from actors.settings.config_service import ConfigRefused, ConfigService, problem_dicts
from actors.settings.config_store import ConfigStore
from actors.read.hub import HubClosed, Subscriber, UiHub
from actors.pool.inbox import Inbox
from actors.pool.signal_check import SignalCheck
from actors.settings.controls import ActionRefused
from actors.risk.actor import RiskRefused  # R5
from actors.runtime.metrics import EngineMetrics
from actors.runtime.notifier import Notifier
from actors.settings.secrets import SecretStore
from actors.store.writer import StorageError, Store, WriterClosed
from actors.settings.users import LastAdmin, LoginRefused, Session, UnknownUser, UserError, UserExists, Users
from actors.read.models import ReadModels
from engine.config import Config
from engine.errors import InvalidInput
from engine.intake import IntakeWarning, webhook_warning
from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.masking import Masker, mask_webhook_body
from engine.messages import ConfigChanged, SignalAccepted
from engine.signals import Signal
from engine.types import MarketRules

if TYPE_CHECKING:
    from actors.settings.backup_download import BackupDownload
    from actors.settings.config_files import ConfigFiles
    from actors.settings.ladder_previewer import LadderPreviewer
    from actors.settings.secret_admin import SecretAdmin
    from actors.market.chart import PriceCharts
    from actors.market.feed_status import PriceFeedStatus

__all__ = ["ActionRefused", "ConfigRefused", "EngineHandle", "HubClosed", "IntakeUnavailable",
           "LastAdmin", "LoginRefused", "Session", "UnknownUser", "UserError", "UserExists",
           "problem_dicts"]

# The engine core drains this; a larger backlog means it is not keeping up, and the webhook
# answers 503 (TradingView's alert shows the failure) instead of piling up unbounded memory.
SIGNAL_BACKLOG = 10_000
CONFIG_BACKLOG = 4
WEBHOOK_SECRET = "security.webhook_secret"
BUNDLED_MARKETS = Path(__file__).resolve().parent / "exchange" / "markets" / (
    "binance_spot_exchangeinfo.json")
# free-text fields of a signal: a secret pasted there must not reach the inbox or the journal
_TEXT_FIELDS = ("source", "tv_exchange", "trade_id", "alert_name", "alert_message")

log = logging.getLogger("engine.system")


class IntakeUnavailable(Exception):
    """The webhook cannot be stored now (HTTP 503)."""


def engine_version() -> str:
    try:
        return importlib.metadata.version("execution-engine")
    except importlib.metadata.PackageNotFoundError:  # a source checkout
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


class EngineHandle:
    # The Settings page services, one attribute each, attached by actors/runtime/settings_services
    config_files: ConfigFiles  # catalogue, export, import, reset, version restore
    ladder_preview: LadderPreviewer  # the Live Preview's ladder for a draft
    secret_admin: SecretAdmin  # write-only secrets, generated webhook secret, exchange test
    backups: BackupDownload  # the streamed backup archive
    # The market services (actors/market/services.py), attached by actors/runtime/core.py
    # when the core runs (None before): the price feed's state and the group price charts
    price_feed: PriceFeedStatus | None = None
    charts: PriceCharts | None = None

    def __init__(self, *, store: Store, config_store: ConfigStore, secrets: SecretStore,
                 masker: Masker, clock_ms: Callable[[], int],
                 password_hasher: PasswordHasher | None = None,
                 signal_backlog: int = SIGNAL_BACKLOG):
        self.store = store
        self.config_store = config_store
        self.secrets = secrets
        self.masker = masker
        self.clock_ms = clock_ms
        self.status = "starting"
        self.accepting = True
        self.last_webhook: dict[str, Any] | None = None
        self.version = engine_version()
        self._signal_send, self.signals = trio.open_memory_channel[SignalAccepted](signal_backlog)
        self._reserved = 0  # acceptances in flight, each holding one slot of the backlog
        self._config_send, self.config_changes = trio.open_memory_channel[ConfigChanged](
            CONFIG_BACKLOG)
        self.inbox = Inbox(store)
        self.metrics = EngineMetrics(store=store, core=self._core, config=lambda: self.config,
                                     secrets=secrets)  # /metrics (web/metrics.py) and its hooks
        self.notifier = Notifier(store=store, config=lambda: self.config, secrets=secrets,
                                 core=self._core, clock_ms=clock_ms, version=self.version)
        self.users = Users(store, clock_ms, hasher=password_hasher, scrub=masker.scrub,
                           session_minutes=lambda: self.config.security.session_timeout_minutes)
        self.configuration = ConfigService(store, config_store, secrets, masker, clock_ms,
                                           self._publish_config)
        self._runtime_markets: Mapping[str, MarketRules] | None = None
        # (paper.markets_file, rules) — reloaded when Apply changes the exchange settings
        self._paper_markets: tuple[str, Mapping[str, MarketRules] | None] | None = None

    @property
    def config(self) -> Config:
        """The running configuration."""
        return self.config_store.running

    # --- webhook intake ---------------------------------------------------------------------
    def webhook_secret(self) -> str | None:
        return self.secrets.get(WEBHOOK_SECRET)

    def webhook_warning(self) -> IntakeWarning | None:
        """Why webhooks are refused (no secret, one too short) or unprotected, with the fix:
        ``/api/status`` ``webhook_warning``, the start-up banner and the webhook's refusal."""
        return webhook_warning(self.config, self.secrets.get(WEBHOOK_SECRET),
                               self.secrets.source(WEBHOOK_SECRET), str(self.config_store.path))

    def mask_body(self, raw: bytes) -> str:
        """The raw body as stored and logged: ``secret`` masked, known secrets scrubbed."""
        return mask_webhook_body(raw, self.masker)

    def markets(self) -> Mapping[str, MarketRules] | None:
        """The market rules webhook symbols are checked against; None = no list loaded yet."""
        exchange = self.config.exchange
        if exchange.name != "paper":
            return self._runtime_markets
        source = exchange.paper.markets_file
        if self._paper_markets is None or self._paper_markets[0] != source:
            self._paper_markets = (source, self._load_paper_markets(source))
        return self._paper_markets[1]

    def _load_paper_markets(self, name: str) -> Mapping[str, MarketRules] | None:
        path = self.config_store.resolve(name) if name else BUNDLED_MARKETS
        try:
            info = load_exchange_info(path.read_bytes())
            fetched = info.get("serverTime")
            return rules_from_binance_exchange_info(
                info, fetched_at_ms=fetched if isinstance(fetched, int) else self.clock_ms())
        except (OSError, InvalidInput) as exc:  # symbol checks stay deferred (SPEC 2.4)
            log.error(f"paper markets file {path} cannot be loaded: {exc}",
                      extra={"event": "markets_unavailable"})
            return None

    def set_markets(self, markets: Mapping[str, MarketRules]) -> None:
        """The runtime's market list for a real exchange (precision sync, SPEC 5.1)."""
        self._runtime_markets = markets

    def _scrubbed(self, signal: Signal) -> Signal:
        changes = {f: self.masker.scrub(getattr(signal, f)) for f in _TEXT_FIELDS}
        changes = {f: v for f, v in changes.items() if v != getattr(signal, f)}
        return msgspec.structs.replace(signal, **changes) if changes else signal

    async def accept(self, signal: Signal, raw_masked: str, source_ip: str | None,
                     received_ms: int) -> tuple[str, int]:
        """Journal the webhook durably, then hand it to the engine core; ``("accepted", id)``
        or ``("duplicate", first id)``. Raises ``IntakeUnavailable`` (nothing stored)."""
        if not self.accepting:
            raise IntakeUnavailable("the engine is shutting down")
        stats = self._signal_send.statistics()
        if stats.current_buffer_used + self._reserved >= stats.max_buffer_size:
            log.error("webhook refused: the engine core's signal backlog is full",
                      extra={"event": "signal_backlog_full",
                             "data": {"backlog": stats.max_buffer_size}})
            raise IntakeUnavailable("signal backlog full")
        signal = self._scrubbed(signal)
        key = f"{self.config.exchange.name}:{signal.symbol}:{signal.timeframe}"
        self._reserved += 1

        def stored(message: SignalAccepted) -> None:
            # before the COMMIT: the core plans during the fsync; its own writes (and so its
            # orders) come in later batches, durable only after this acceptance
            try:
                self._signal_send.send_nowait(message)  # a slot was reserved above
            except trio.BrokenResourceError:
                pass  # the core has stopped: the row stays pending for the next start

        try:
            try:
                outcome, inbox_id = await self.inbox.accept(signal, raw_masked, source_ip,
                                                            received_ms, journal_key=key,
                                                            stored=stored)
            except (StorageError, WriterClosed, sqlite3.OperationalError) as exc:
                raise IntakeUnavailable(f"database unavailable: {exc}") from exc
        finally:
            self._reserved -= 1
        return outcome, inbox_id

    def note_webhook(self, **facts: Any) -> None:
        """The last webhook's outcome, for ``/api/status``."""
        self.last_webhook = facts

    # --- configuration ----------------------------------------------------------------------
    def anything_open(self) -> bool:
        """A group not closed/failed, a queued entry or an unprocessed signal (SPEC 10.1)."""
        row = self.store.query(
            "SELECT (SELECT count(*) FROM position_groups WHERE status NOT IN"
            " ('closed', 'failed')) + (SELECT count(*) FROM queue_entries) + (SELECT count(*)"
            " FROM inbox WHERE state IN ('accepted', 'processing', 'queued')) AS n")
        return row[0]["n"] > 0

    async def apply_config(self, *, user: str | None) -> dict[str, Any]:
        result = await self.configuration.apply(user=user, anything_open=self.anything_open())
        if any(key.startswith("exchange.") for key in result["changed"]):
            self._paper_markets = None
        return result

    def _publish_config(self, message: ConfigChanged) -> None:
        try:
            self._config_send.send_nowait(message)
            return
        except trio.WouldBlock:
            pass
        except trio.BrokenResourceError:
            return  # nobody listens any more: the running configuration is already adopted
        # The receiver lags: merge what it has not taken yet into one message (state, not events).
        changed: list[str] = []
        restart: list[str] = []
        while True:
            try:
                older = self.config_changes.receive_nowait()
            except trio.WouldBlock:
                break
            changed += [k for k in older.changed if k not in changed]
            restart += [k for k in older.restart_required if k not in restart]
        changed += [k for k in message.changed if k not in changed]
        restart += [k for k in message.restart_required if k not in restart]
        self._config_send.send_nowait(msgspec.structs.replace(
            message, changed=tuple(changed), restart_required=tuple(restart)))

    # --- reading ----------------------------------------------------------------------------
    def status_view(self) -> dict[str, Any]:
        cfg = self.config
        markets = self.markets()
        return {
            "status": self.status,
            "accepting": self.accepting,
            "version": self.version,
            "instance": self.store.instance_id(),
            "exchange": {"name": cfg.exchange.name, "market_type": cfg.exchange.market_type,
                         "testnet": cfg.exchange.testnet},
            "precision": {"markets_loaded": markets is not None,
                          "symbols": 0 if markets is None else len(markets)},
            "inbox": {"pending": self.inbox.count("accepted"),
                      "backlog": self._signal_send.statistics().current_buffer_used},
            "last_webhook": self.last_webhook,
            "price_feed": None if self.price_feed is None else self.price_feed.status(),
            "webhook_signature_validation": cfg.security.webhook_signature_validation,
            "webhook_warning": msgspec.to_builtins(self.webhook_warning()),
            "order_line": self.views.order_line(),
        }

    def query_logs(self, **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
        return log_query.query_events(self.store, **filters)

    def export_logs(self, fmt: str, **filters: Any) -> tuple[str, str]:
        return log_query.export_events(self.store, fmt, **filters)

    # === Read side, live push and operator controls (R3) =====================================
    # Reads: actors/read/models.py (projection tables + the running core's prices and probes); live
    # push: actors/read/hub.py; paper/precision/reconnect: actors/settings/controls.py. The core is
    # ``self.core`` once the runtime set it. ``accepting`` is a property so that the root's
    # "stop intake" (its first shutdown step) also ends the live-push connections, which
    # hypercorn would otherwise wait for.
    @property
    def accepting(self) -> bool:
        return self.__dict__.get("_accepting", True)

    @accepting.setter
    def accepting(self, value: bool) -> None:
        self._accepting = value
        if not value and "hub" in self.__dict__:
            self.hub.close()

    def _core(self) -> Any:
        return getattr(self, "core", None)

    @functools.cached_property
    def views(self) -> ReadModels:
        return ReadModels(store=self.store, config=lambda: self.config, clock_ms=self.clock_ms,
                          status=lambda: self.status, core=self._core)

    @functools.cached_property
    def signal_check(self) -> SignalCheck:
        """``POST /api/signals/check``: what the engine would do with an alert message."""
        return SignalCheck(config=lambda: self.config, markets=self.markets, core=self._core,
                           masker=self.masker, warning=self.webhook_warning)

    @functools.cached_property
    def hub(self) -> UiHub:
        v = self.views
        return UiHub(builders={
            "status": self.status_view, "dashboard": v.dashboard, "groups": v.push_groups,
            "queue": v.queue, "risk": v.risk, "logs": v.logs, "alerts": v.alerts,
            "config": self.configuration.view,
        }, interval_ms=lambda: self.config.ui.realtime_update_ms, clock_ms=self.clock_ms)

    def dashboard(self) -> dict[str, Any]:
        return self.views.dashboard()

    def groups_view(self, **filters: Any) -> dict[str, Any]:
        return self.views.groups(**filters)

    def group_view(self, group_id: int) -> dict[str, Any] | None:
        return self.views.group(group_id)

    def queue_view(self) -> dict[str, Any]:
        return self.views.queue()

    def precision_view(self, symbol: str | None = None) -> dict[str, Any]:
        out = self.views.precision(symbol)  # + where the paper markets file came from, its age
        out["markets_source"] = None if self.price_feed is None else self.price_feed.markets()
        return out

    def alerts_view(self) -> dict[str, Any]:
        return self.views.alerts()

    async def dismiss_alert(self, alert_id: int, *, user: str | None) -> dict[str, Any]:
        """Hide a pinned alert (SPEC 11.2); it stays in the event log. 404 when unknown."""
        now = self.clock_ms()

        def dismiss(conn: Any) -> int:
            return conn.execute(
                "UPDATE alerts SET dismissed_at = ?, dismissed_by = ? WHERE id = ? AND"
                " dismissed_at IS NULL", (now, user, alert_id)).rowcount

        if not await self.store.write(dismiss):
            raise ActionRefused("not_found", f"no pinned alert {alert_id}")
        self.touch("alerts")
        return {"ok": True, "message": f"alert {alert_id} dismissed"}

    def live_subscribe(self) -> Subscriber:
        return self.hub.subscribe()

    def touch(self, topic: str) -> None:
        """An actor recorded a change of ``topic`` (non-blocking; coalesced by the hub)."""
        self.hub.touch(topic)

    async def paper_push_price(self, symbol: object, price: object, *,
                               user: str | None) -> dict[str, Any]:
        result = await controls.push_price(self._core(), symbol, price, user)
        self.touch("groups")
        return result

    def paper_state(self) -> dict[str, Any]:
        return controls.paper_state(self._core())

    async def paper_reset(self, *, user: str | None) -> dict[str, Any]:
        return await controls.paper_reset(self._core(), self.store, user)

    def refresh_precision(self, *, user: str | None) -> dict[str, Any]:
        return controls.refresh_precision(self._core(), user)

    def reconnect(self, *, user: str | None) -> dict[str, Any]:
        return controls.reconnect(self._core(), user)

    # === Engine operations (R2: actors/runtime/core.py → the supervisor) ======================
    # Each is answered by the supervisor's loop; a refusal raises ``ActionRefused`` with code
    # ``not_running`` (no core yet), ``not_found`` (404) or ``conflict`` (409, e.g. pool full).
    async def _engine_op(self, op: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = await getattr(controls.running(self._core()), op)(*args, **kwargs)
        if not result.ok:
            raise ActionRefused(result.code, result.message)
        self.touch("groups")
        self.touch("queue")
        return {"ok": True, "message": result.message}

    async def close_group(self, group_id: int, *, user: str | None) -> dict[str, Any]:
        return await self._engine_op("close_group", group_id, user=user)

    async def queue_action(self, entry_id: int, action: str, *,
                           user: str | None) -> dict[str, Any]:
        """``action``: ``promote``, ``force_add`` or ``remove`` (SPEC 6.5)."""
        return await self._engine_op("queue_action", entry_id, action, user=user)

    async def pause(self, *, user: str | None) -> dict[str, Any]:
        return await self._engine_op("pause", user=user)

    async def resume(self, *, user: str | None) -> dict[str, Any]:
        return await self._engine_op("resume", user=user)

    # === Risk Engine (R5: actors/risk/actor.py, SPEC 7.7 / 11.5 C) ============================
    # ``RiskRefused`` (404 unknown group, 409 closed group / paused engine) → ``ActionRefused``.
    def _risk(self) -> Any:
        return controls.running(self._core()).risk

    def risk_view(self) -> dict[str, Any]:
        core = self._core()
        if core is None:  # starting: the record so far, no live evaluation
            return {"status": None, "last_action_at": risk_audit.last_action_at(self.store),
                    "groups": [], "actions": risk_audit.recent_actions(self.store, limit=20)}
        return core.risk.panel()

    def risk_actions(self, *, limit: int = 50, before_id: int | None = None) -> list[dict]:
        return risk_audit.recent_actions(self.store, limit=limit, before_id=before_id)

    async def risk_run(self, *, force: bool, user: str | None) -> dict[str, Any]:
        try:
            return await self._risk().run_now(force=force, user=user)
        except RiskRefused as exc:
            raise ActionRefused(exc.code, exc.message) from None

    async def risk_control(self, group_id: int, op: str, *, user: str | None) -> dict[str, Any]:
        try:
            return await self._risk().control(group_id, op, user=user)
        except RiskRefused as exc:
            raise ActionRefused(exc.code, exc.message) from None
