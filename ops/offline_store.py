"""The database of a stopped engine, for maintenance commands (``engine paper reset``,
``engine analytics rebuild``): the configuration read, the data directory's lock held for the
whole command, the store opened — and everything released in reverse order."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from actors.runtime.datadir_lock import DataDirLock
from actors.settings.config_store import ConfigStore, resolve_config_path
from actors.store.writer import Store, StorageError
from engine.config import Config


class Refused(Exception):
    """The command cannot run; the message says why (printed as ``error: …``, exit 1)."""


@contextlib.contextmanager
def offline_store(args: argparse.Namespace, *, while_running: str) -> Iterator[tuple[Config, Store]]:
    """``while_running``: what to tell the user when an engine holds the data directory."""
    from actors.runtime.root import load_config

    config_store = ConfigStore(resolve_config_path(getattr(args, "config", None)))
    cfg = load_config(config_store)
    if cfg is None:
        raise Refused("")  # load_config has printed every problem
    data_dir = config_store.data_dir_of(cfg)
    lock = DataDirLock(data_dir)
    if not lock.acquire():
        raise Refused(f"the engine is running on {data_dir} (pid {lock.holder_pid()}); "
                      f"{while_running}")
    try:
        try:
            store = Store.open(data_dir / "engine.db")
        except StorageError as exc:
            raise Refused(str(exc)) from exc
        try:
            yield cfg, store
        finally:
            store.close()
    finally:
        lock.release()


def refused(exc: Refused) -> int:
    if str(exc):
        print(f"error: {exc}", file=sys.stderr)
    return 1
