"""CLI commands for the configuration and the secrets (SPEC 12.4):
``engine check-config``, ``engine init`` and ``engine secrets set|list|delete``.

Every handler takes the parsed ``argparse.Namespace`` and returns the exit code; ``register``
wires them as ``func`` defaults so ``main`` can call ``args.func(args)``.
"""

import argparse
import getpass
import sys

from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path
from actors.settings.secrets import ENV_VARS, SecretsError, SecretStore, canonical_name
from engine.config import (
    DEFAULT_TOML,
    SECRET_KEYS,
    Config,
    NotToml,
    Problem,
    load_toml,
    parse_config,
    secret_problems,
    secret_value_problems,
    warnings,
)
from engine.config.parse import problems_of

EXIT_OK, EXIT_ERROR, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --config given before the command (on the main parser) is not overwritten
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")

    check = subparsers.add_parser("check-config", parents=[common],
                                  help="validate engine.toml and the required secrets")
    check.set_defaults(func=cmd_check_config)

    init = subparsers.add_parser("init", parents=[common],
                                 help="write the default engine.toml and create the data directory")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)

    secrets = subparsers.add_parser("secrets", help="manage API keys and the webhook secret")
    actions = secrets.add_subparsers(dest="secrets_command", required=True)
    names = ", ".join(SECRET_KEYS)
    put = actions.add_parser("set", parents=[common],
                             help="store a secret (value from stdin or a prompt)")
    put.add_argument("name", help=names)
    put.set_defaults(func=cmd_secrets_set)
    show = actions.add_parser("list", parents=[common], help="show the secrets, masked")
    show.set_defaults(func=cmd_secrets_list)
    remove = actions.add_parser("delete", parents=[common], help="remove a stored secret")
    remove.add_argument("name", help=names)
    remove.set_defaults(func=cmd_secrets_delete)


def _store(args: argparse.Namespace) -> ConfigStore:
    return ConfigStore(resolve_config_path(getattr(args, "config", None)))


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Print every error and warning; 0 valid, 1 invalid, 2 unreadable or not TOML."""
    store = _store(args)
    try:
        text = store.text()
        data = load_toml(text)
    except ConfigUnreadable as exc:
        _err(str(exc))
        return EXIT_UNREADABLE
    except NotToml as exc:
        _err(f"{store.path}: {exc.problems[0].message}")
        return EXIT_UNREADABLE
    problems = store.validate_text(text)
    cfg, _ = problems_of(data)  # bad values replaced by defaults: still locates the secrets
    try:
        secrets = SecretStore(store.data_dir_of(cfg), cfg.security)
        problems += secret_problems(cfg, {name: secrets.get(name) for name in SECRET_KEYS})
    except SecretsError as exc:
        problems.append(Problem(path="security.secrets_file", message=str(exc)))
    for problem in problems:
        print(f"error: {problem}")
    for warning in warnings(cfg):
        print(f"warning: {warning}")
    if problems:
        print(f"{store.path}: invalid ({len(problems)} problem(s))")
        return EXIT_ERROR
    print(f"{store.path}: valid")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    """Write the default engine.toml (SPEC 10.4) and create its data directory."""
    store = _store(args)
    if store.path.exists() and not args.force:
        _err(f"{store.path} already exists (use --force to overwrite it)")
        return EXIT_ERROR
    try:
        store.write_text_atomic(DEFAULT_TOML)
        data_dir = store.ensure_data_dir(parse_config(DEFAULT_TOML))
    except OSError as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(f"wrote {store.path}; data directory {data_dir}")
    return EXIT_OK


def _secret_store(args: argparse.Namespace) -> SecretStore:
    """The secret store of the configured data directory. Without a configuration file the
    command is refused — the secrets would land in a data directory no engine reads — unless
    ``--config`` names the file to come (then its default data directory is used)."""
    store = _store(args)
    if not store.path.exists():
        if getattr(args, "config", None) is None:
            raise SecretsError(
                f"no configuration file at {store.path}: run this where engine.toml is, or "
                "name it with --config PATH (engine init writes one)")
        return SecretStore(store.data_dir_of(Config()), Config().security)
    cfg, problems = problems_of(load_toml(store.text()))
    where = [p for p in problems if p.path.startswith(("app.data_dir", "security."))]
    if where:
        raise SecretsError("; ".join(str(p) for p in where))
    return SecretStore(store.data_dir_of(cfg), cfg.security)


def _read_value(name: str) -> str:
    """A prompt on a terminal; from a pipe, its first line without the line end."""
    if sys.stdin.isatty():
        return getpass.getpass(f"{name}: ")
    return sys.stdin.readline().rstrip("\r\n")


def _run(action) -> int:
    """Run a secrets action, turning the expected failures into exit code 1."""
    try:
        return action()
    except (SecretsError, ConfigUnreadable, NotToml, OSError) as exc:
        _err(str(exc))
        return EXIT_ERROR


def cmd_secrets_set(args: argparse.Namespace) -> int:
    def action() -> int:
        name = canonical_name(args.name)
        secrets = _secret_store(args)
        value = _read_value(name)
        problems = secret_value_problems(name, value)
        if problems:
            raise SecretsError("; ".join(str(p) for p in problems))
        secrets.set(name, value)
        print(f"stored {name} in {secrets.path}")
        if secrets.source(name) == "env":
            print(f"note: {ENV_VARS[name]} is set and takes precedence over the stored value")
        return EXIT_OK

    return _run(action)


def cmd_secrets_list(args: argparse.Namespace) -> int:
    def action() -> int:
        secrets = _secret_store(args)
        masked = secrets.list_masked()
        for name in SECRET_KEYS:
            if name in masked:
                origin = "environment" if secrets.source(name) == "env" else "file"
                print(f"{name} = {masked[name]}  ({origin})")
            else:
                print(f"{name}: not set")
        return EXIT_OK

    return _run(action)


def cmd_secrets_delete(args: argparse.Namespace) -> int:
    def action() -> int:
        name = canonical_name(args.name)
        secrets = _secret_store(args)
        if not secrets.delete(name):
            _err(f"{name} is not stored in {secrets.path}")
            return EXIT_ERROR
        print(f"deleted {name}")
        return EXIT_OK

    return _run(action)
