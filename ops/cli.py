"""The ``engine`` command (SPEC 12.4): ``run``, ``version``, ``backup``, ``restore``, plus the
configuration/secrets commands of ``ops.cli_config`` and the user commands of ``ops.cli_users``.

Exit codes: ``run`` 0 normal stop, 1 unexpected error, 2 invalid config, 3 storage failure,
4 data directory in use; ``backup``/``restore`` 0 or 1; ``version`` 0.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from actors.settings.config_store import ConfigStore, resolve_config_path

EXIT_OK, EXIT_ERROR = 0, 1
DIST_NAME = "execution-engine"


def version() -> str:
    try:
        return importlib.metadata.version(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        # a source checkout that was not pip-installed: read the project file
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"]


def _config_path(args: argparse.Namespace) -> Path:
    return resolve_config_path(getattr(args, "config", None))


def cmd_run(args: argparse.Namespace) -> int:
    from actors.runtime.root import run_engine_supervised

    return run_engine_supervised(_config_path(args))


def cmd_version(args: argparse.Namespace) -> int:
    print(f"engine {version()}")
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from actors.store.backup import BackupError, write_backup
    from actors.runtime.root import load_config

    config_store = ConfigStore(_config_path(args))
    cfg = load_config(config_store)
    if cfg is None:
        return EXIT_ERROR
    try:
        dest = write_backup(Path(args.path), config_path=config_store.path,
                            data_dir=config_store.data_dir_of(cfg))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"backup written to {dest} (a gzip-compressed tar archive)")
    warning = archive_name_warning(dest)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def archive_name_warning(path: Path) -> str | None:
    """A backup is always a gzip-compressed tar archive; a name saying otherwise (``x.tar``,
    ``x.zip``) misleads whoever restores it."""
    name = path.name
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return None
    better = name + (".gz" if name.lower().endswith(".tar") else ".tar.gz")
    return (f"{name} does not end in .tar.gz, but the archive is gzip-compressed tar; "
            f"rename it {better} so that tools and readers recognise it")


def cmd_restore(args: argparse.Namespace) -> int:
    from actors.store.backup import BackupError, restore_backup

    config_path = _config_path(args).absolute()
    try:
        data_dir = restore_backup(Path(args.archive), config_path=config_path)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"restored {config_path} and {data_dir}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine", description="TradingView execution engine")
    parser.add_argument("--config", metavar="PATH", default=None,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --config given before the command is not overwritten by the default
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="engine.toml (default: $ENGINE_CONFIG, else ./engine.toml)")

    run = sub.add_parser("run", parents=[common], help="run the engine")
    run.set_defaults(func=cmd_run)
    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
    backup = sub.add_parser("backup", parents=[common],
                            help="write engine.toml, a database copy and the logs to PATH, a "
                                 "gzip-compressed tar archive (name it .tar.gz)")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", parents=[common],
                             help="restore a backup archive (the engine must be stopped)")
    restore.add_argument("archive", metavar="ARCHIVE")
    restore.set_defaults(func=cmd_restore)

    for module in ("ops.cli_config", "ops.cli_users", "ops.cli_logs", "ops.cli_markets",
                   "ops.cli_analytics", "ops.cli_notify"):
        _register(module, sub)
    from ops.cli_paper import register as register_paper

    register_paper(sub, refuse=_paper_reset_refusal)
    return parser


def _paper_reset_refusal(store) -> str | None:
    """The API's rule (SPEC 12.6): no paper reset while a group is open or a signal queued."""
    from actors.settings.controls import reset_blockers

    blockers = reset_blockers(store)
    if not any(blockers.values()):
        return None
    return (f"{blockers['open_groups']} group(s) not closed, "
            f"{blockers['queued']} queue entr(y/ies)")


def _register(module_name: str, sub: argparse._SubParsersAction) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:  # a broken import inside the module is a real error
            raise
        return
    module.register(sub)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
