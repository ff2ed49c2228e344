"""CLI commands for dashboard users (SPEC 12.2, 12.4): ``engine user add NAME --role
admin|operator``, ``engine user passwd NAME`` and ``engine user delete NAME``.

They work on the database of the configured data directory (SQLite allows it while the engine
runs). Passwords come from the first line of stdin when it is not a terminal, else from a
prompt asked twice.
Exit codes: 0 done, 1 refused (bad input, unknown/existing user, last admin, unusable config).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path
from actors.store.writer import StorageError, Store, wall_clock_ms
from actors.settings.users import UserError, Users
from engine.config import ConfigInvalid

EXIT_OK, EXIT_ERROR = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --config given before the command (on the main parser) is not overwritten
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    user = subparsers.add_parser("user", help="manage dashboard users")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser("add", parents=[common], help="add a user (password from stdin "
                                                           "or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", choices=("admin", "operator"), required=True)
    add.set_defaults(func=cmd_add)
    passwd = actions.add_parser("passwd", parents=[common], help="set a user's password")
    passwd.add_argument("name")
    passwd.set_defaults(func=cmd_passwd)
    delete = actions.add_parser("delete", parents=[common], help="delete a user")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _read_password(name: str) -> str:
    """From a pipe: its first line, without the line end (a second line, e.g. a confirmation
    written for the prompt, is not part of it). On a terminal: asked twice, compared."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise UserError("password", "the two passwords differ")
    return first


def _with_users(args: argparse.Namespace, action) -> int:
    """Open the configured database, run ``action(users)``, map refusals to exit code 1."""
    config_store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    try:
        cfg = config_store.load()
        store = Store.open(config_store.ensure_data_dir(cfg) / "engine.db")
    except (ConfigUnreadable, ConfigInvalid, StorageError, OSError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    try:
        users = Users(store, wall_clock_ms,
                      session_minutes=lambda: cfg.security.session_timeout_minutes)
        message = action(users)
    except UserError as exc:
        _err(f"{exc.field}: {exc.message}")
        return EXIT_ERROR
    except StorageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    finally:
        store.close()
    print(message)
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    def action(users: Users) -> str:
        users.add_now(args.name, _read_password(args.name), args.role, by="cli")
        return f"user {args.name} added ({args.role})"

    return _with_users(args, action)


def cmd_passwd(args: argparse.Namespace) -> int:
    def action(users: Users) -> str:
        if not any(u["username"] == args.name for u in users.list()):
            raise UserError("name", f"no user {args.name!r}")
        users.update_now(args.name, password=_read_password(args.name), by="cli")
        return f"password of {args.name} changed; its sessions were ended"

    return _with_users(args, action)


def cmd_delete(args: argparse.Namespace) -> int:
    def action(users: Users) -> str:
        users.delete_now(args.name, by="cli")
        return f"user {args.name} deleted"

    return _with_users(args, action)
