"""``engine notify test``: send a test message to every configured notification channel
(Telegram, chat webhook) from this machine, with the configuration and secrets the engine would
use. Exit codes: 0 every channel took it, 1 a channel failed, none is configured or the
configuration cannot be read."""

from __future__ import annotations

import argparse
import sys

import trio

EXIT_OK, EXIT_ERROR = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    notify = subparsers.add_parser("notify", help="notifications (Telegram, chat webhook)")
    actions = notify.add_subparsers(dest="notify_command", required=True)
    test = actions.add_parser("test", help="send a test message to every configured channel")
    test.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                      help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    test.set_defaults(func=cmd_notify_test)


def cmd_notify_test(args: argparse.Namespace) -> int:
    from actors.runtime.notifier import Notifier
    from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path
    from actors.settings.secrets import SecretsError, SecretStore
    from actors.store.writer import StorageError, Store, wall_clock_ms
    from engine.config import ConfigInvalid

    config_store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    try:
        cfg = config_store.load()
        data_dir = config_store.data_dir_of(cfg)
        secrets = SecretStore(data_dir, cfg.security)
        store = Store.open(data_dir / "engine.db")  # the instance id names the sender
    except (ConfigUnreadable, ConfigInvalid, SecretsError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        notifier = Notifier(store=store, config=lambda: cfg, secrets=secrets,
                            core=lambda: None, clock_ms=wall_clock_ms)
        results = trio.run(notifier.send_test)
    except SecretsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()
    if not results:
        print("error: no notification channel is configured: engine secrets set "
              "notifications.telegram_bot_token (and notifications.telegram_chat_id in "
              f"{config_store.path}) or engine secrets set notifications.webhook_url",
              file=sys.stderr)
        return EXIT_ERROR
    for channel, result in results.items():
        print(f"{channel}: {result}")
    return EXIT_OK if all(r == "sent" for r in results.values()) else EXIT_ERROR
