"""The root: start-up, the one root nursery, shutdown and crash handling (SPEC 8.2, 8.5, 12.4).

Owns: the process-level resources — the data-directory lock, the Store, the Logbook, the
systemd notifier, the HTTP server — and the order in which they start and stop.
Receives: SIGTERM / SIGINT (graceful stop).
Sends: ``READY=1`` once HTTP accepts webhooks, ``WATCHDOG=1`` every ≤ 10 s, ``STOPPING=1``.
Fails how: returns the exit code of SPEC 12.4 — 2 invalid config, 3 storage failure (at open or
a failed commit later), 4 data directory in use, 1 any other unexpected exception (logged with
its stack trace; crash-only: the next start reloads and reconciles). ``run_engine_supervised``
restarts after 5 s on exit code 1 when ``app.auto_restart`` and no service manager runs us.

Start-up order (8.5): config → lock → database (migrations) → logbook → secrets (into the
masker) → first admin → handle → writer → event flusher → HTTP (webhooks journaled, status
"starting") → engine core (reconciles, then processes the inbox backlog, status "running").
Shutdown: stop intake (503), stop the core, let hypercorn finish in-flight requests, commit queued writes, flush
the log events, close the database — all under a shielded 30 s deadline. Resting orders are
never cancelled.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio

from actors.settings.config_store import ConfigStore, ConfigUnreadable
from actors.runtime.datadir_lock import DataDirLock
from actors.runtime.logbook import Logbook
from actors.runtime.sd_notify import Notifier
from actors.settings.secrets import SecretStore
from actors.store.writer import Store, StorageError, wall_clock_ms
from engine.config import Config, ConfigInvalid
from engine.masking import Masker

EXIT_OK, EXIT_CRASH, EXIT_CONFIG, EXIT_STORAGE, EXIT_LOCKED = 0, 1, 2, 3, 4
SHUTDOWN_DEADLINE_S = 30
HTTP_GRACEFUL_S = 1.5
# an idle keep-alive connection is closed after this long (web/connections.py: why it was not)
HTTP_KEEP_ALIVE_S = 5
RESTART_DELAY_S = 5

log = logging.getLogger("engine.system")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_config(config_store: ConfigStore) -> Config | None:
    """The validated configuration, or None after printing every problem (exit code 2)."""
    try:
        return config_store.load()
    except ConfigUnreadable as exc:
        _say(f"error: configuration {exc}")
    except ConfigInvalid as exc:
        _say(f"error: configuration {config_store.path} is invalid:")
        for problem in exc.problems:
            _say(f"  {problem.path}: {problem.message}")
    return None


async def run_engine(config_path: Path, *, env: Mapping[str, str] | None = None) -> int:
    """Run the engine until SIGTERM/SIGINT or a crash; returns the exit code."""
    env = os.environ if env is None else env
    config_store = ConfigStore(Path(config_path))
    cfg = load_config(config_store)
    if cfg is None:
        return EXIT_CONFIG
    data_dir = config_store.ensure_data_dir(cfg)
    lock = DataDirLock(data_dir)
    if not lock.acquire():
        _say(f"error: data directory {data_dir} is in use by another engine "
             f"(pid {lock.holder_pid()}, lock {lock.path})")
        return EXIT_LOCKED
    try:
        try:
            store = Store.open(data_dir / "engine.db")
        except StorageError as exc:
            _say(f"error: {exc}")
            return EXIT_STORAGE
        return await _run_with_store(config_store, cfg, data_dir, store, Notifier(env))
    finally:
        lock.release()


async def _run_with_store(config_store: ConfigStore, cfg: Config, data_dir: Path, store: Store,
                          notifier: Notifier) -> int:
    masker = Masker()
    logbook = Logbook.install(data_dir=data_dir, logging_cfg=cfg.logging,
                              level=cfg.app.log_level, masker=masker, store=store)
    code = EXIT_CRASH
    try:
        code = await _supervise(config_store, cfg, data_dir, store, logbook, masker, notifier)
    finally:
        notifier.stopping()
        try:
            logbook.close()  # flushes the buffered events rows
        except StorageError as exc:
            _say(f"error: cannot record the last log events: {exc}")
            code = EXIT_STORAGE
        store.close()
        notifier.close()
    return code


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


async def _supervise(config_store: ConfigStore, cfg: Config, data_dir: Path, store: Store,
                     logbook: Logbook, masker: Masker, notifier: Notifier) -> int:
    from actors.handle import EngineHandle
    from actors.read.analytics import attach_analytics
    from actors.runtime.settings_services import attach_settings_services
    from actors.settings.users import ensure_admin_from_env

    try:
        secrets = SecretStore(data_dir, cfg.security)
        for value in secrets.all_values():
            masker.add(value)
        ensure_admin_from_env(store, data_dir=data_dir)
        handle = EngineHandle(store=store, config_store=config_store, secrets=secrets,
                              masker=masker, clock_ms=wall_clock_ms)
        attach_settings_services(handle)
        attach_analytics(handle)
        warning = handle.webhook_warning()
        if warning is not None and warning.code == "webhook_secret_too_short":
            log.error(warning.message, extra={"event": "webhook_intake_refused"})
        log.info("engine starting", extra={"event": "engine_starting", "data": {
            "instance": store.instance_id(), "pid": os.getpid(), "exchange": cfg.exchange.name}})
        await _serve(handle, cfg, config_store, store, logbook, notifier)
    except Exception as exc:  # crash-only (8.2): log with the stack trace, let the caller decide
        if any(isinstance(leaf, StorageError) for leaf in _leaves(exc)):
            log.critical("database failure: stopping", exc_info=exc,
                         extra={"event": "storage_failure"})
            return EXIT_STORAGE
        log.critical("engine stopped by an unexpected error", exc_info=exc,
                     extra={"event": "engine_crashed"})
        return EXIT_CRASH
    log.info("engine stopped", extra={"event": "engine_stopped"})
    return EXIT_OK


def hypercorn_config(cfg: Config, config_store: ConfigStore | None = None) -> Any:
    hc = hypercorn.config.Config()
    host = cfg.app.http_host
    hc.bind = [f"[{host}]:{cfg.app.http_port}" if ":" in host else f"{host}:{cfg.app.http_port}"]
    # hypercorn waits its whole graceful_timeout while an idle keep-alive connection is open
    hc.graceful_timeout = HTTP_GRACEFUL_S
    hc.keep_alive_timeout = HTTP_KEEP_ALIVE_S
    hc.accesslog = None
    hc.errorlog = logging.getLogger("engine.system.http")
    if cfg.app.tls_cert_file and config_store is not None:
        hc.certfile = str(config_store.resolve(cfg.app.tls_cert_file))
        hc.keyfile = str(config_store.resolve(cfg.app.tls_key_file))
    return hc


async def _until_done(fn: Callable[..., Any], done: trio.Event, *,
                      task_status: trio.TaskStatus[Any]) -> None:
    try:
        await fn(task_status=task_status)
    finally:
        done.set()


async def _in_scope(fn: Callable[..., Any], scope: trio.CancelScope, *,
                    task_status: trio.TaskStatus[Any]) -> None:
    with scope:
        await fn(task_status=task_status)


async def _core_or_error(core: Callable[..., Any], handle: Any, *,
                         task_status: trio.TaskStatus[Any]) -> None:
    """A configuration the exchange cannot be built from (a missing secret, no sandbox) leaves
    the engine up in Error with the reason — exiting would only make the service manager
    restart it in a loop. The UI and API stay available to fix it."""
    from actors.exchange.factory import PortSetupError

    try:
        await core(task_status=task_status)
    except PortSetupError as e:
        handle.status = "error"
        handle.error = str(e)
        log.error(f"exchange cannot be set up: {e}", extra={
            "event": "exchange_setup_failed", "data": {"field": e.field}})
        task_status.started()
        await trio.sleep_forever()


async def _watchdog(notifier: Notifier) -> None:
    while True:
        notifier.watchdog()
        await trio.sleep(notifier.watchdog_interval)


async def _serve(handle: Any, cfg: Config, config_store: ConfigStore, store: Store,
                 logbook: Logbook, notifier: Notifier) -> None:
    from actors.runtime.banner import print_banner
    from actors.runtime.core import run_core
    from web.app import create_app

    stop_http = trio.Event()
    http_done, writer_done = trio.Event(), trio.Event()
    flusher_scope = trio.CancelScope()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(_until_done, store.run_writer, writer_done)
            await nursery.start(_in_scope, logbook.run_flusher, flusher_scope)
            app = create_app(handle)
            serve = partial(hypercorn.trio.serve, app, hypercorn_config(cfg, config_store),
                            shutdown_trigger=stop_http.wait)
            urls = await nursery.start(_until_done, serve, http_done)
            # SPEC 8.5 step 5: webhooks are journaled from now on; none is processed before the
            # core has reconciled with the exchange (it sets the status to "running").
            handle.status = "starting"
            log.info("http serving", extra={"event": "http_serving", "data": {"urls": urls}})
            print_banner(handle, urls, config_store.data_dir)
            notifier.ready()
            if notifier.enabled:
                nursery.start_soon(_watchdog, notifier)
            await nursery.start(handle.notifier.run)  # outbound messages; nothing waits on it
            core_scope, core_done = trio.CancelScope(), trio.Event()
            core = partial(run_core, config=cfg, store=store, handle=handle,
                           secrets=handle.secrets)
            await nursery.start(_until_done, partial(_in_scope, partial(_core_or_error, core, handle),
                                                     core_scope), core_done)
            log.info("engine running", extra={"event": "engine_running", "data": {"urls": urls}})
            async for signum in signals:
                log.info(f"{signal.Signals(signum).name} received: stopping",
                         extra={"event": "engine_stopping"})
                break
            handle.accepting = False  # the webhook answers 503 from now on
            notifier.stopping()
            with trio.move_on_after(SHUTDOWN_DEADLINE_S) as deadline:
                deadline.shield = True
                # resting orders stay on the exchange; a step cut here is reconciled at restart
                core_scope.cancel()
                await core_done.wait()
                stop_http.set()
                await http_done.wait()
                flusher_scope.cancel()
                store.stop_writer()
                await writer_done.wait()
            if deadline.cancelled_caught:
                log.error("shutdown deadline reached: stopping what is still running",
                          extra={"event": "shutdown_deadline"})
            nursery.cancel_scope.cancel()


def run_engine_supervised(config_path: Path, *, env: Mapping[str, str] | None = None,
                          sleep: Callable[[float], None] = time.sleep) -> int:
    """``engine run``: ``run_engine``, restarted after 5 s on a crash (SPEC 8.2) when
    ``app.auto_restart`` is on and no service manager runs the process (no ``INVOCATION_ID``)."""
    env = os.environ if env is None else env
    while True:
        code = trio.run(partial(run_engine, config_path, env=env))
        if code != EXIT_CRASH or env.get("INVOCATION_ID") or not _auto_restart(config_path):
            return code
        _say(f"engine crashed; restarting in {RESTART_DELAY_S} s (app.auto_restart = true)")
        sleep(RESTART_DELAY_S)


def _auto_restart(config_path: Path) -> bool:
    try:
        return ConfigStore(Path(config_path)).load().app.auto_restart
    except (ConfigUnreadable, ConfigInvalid):
        return False
