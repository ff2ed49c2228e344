"""Backup archives and restore (SPEC 12.3): ``engine.toml`` + a consistent database copy + logs.

Owns: the archive layout — ``engine.toml``, ``engine.db`` and ``logs/*.jsonl`` in one tar.gz.
Secrets (``secrets.enc``) and the master key are never included.
Receives: ``write_backup`` from ``engine backup`` (with a live Store the copy comes from
SQLite's online backup of the writer connection); ``archive_members`` from the streamed web
download; ``restore_backup`` from ``engine restore``.
Sends: nothing.
Fails how: ``BackupError`` with a human message (CLI exit code 1). A restore is refused while an
engine holds the data-directory lock, and refuses archives with any other member (no path
traversal, no links).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from actors.settings.config_store import ConfigStore, ConfigUnreadable
from actors.runtime.datadir_lock import DataDirLock
from actors.store.writer import Store, StorageError, backup_database
from engine.config import ConfigInvalid

DB_NAME = "engine.db"
CONFIG_NAME = "engine.toml"


class BackupError(Exception):
    pass


def write_backup(dest: Path, *, config_path: Path, data_dir: Path,
                 store: Store | None = None) -> Path:
    """Write the archive to ``dest``; with ``store`` the live connection is copied."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        db_copy = Path(tmp) / DB_NAME
        try:
            if store is not None:
                store.backup_to(db_copy)
            elif (data_dir / DB_NAME).exists():
                backup_database(data_dir / DB_NAME, db_copy)
            else:
                raise BackupError(f"no database at {data_dir / DB_NAME}")
        except StorageError as exc:
            raise BackupError(str(exc)) from exc
        try:
            with tarfile.open(dest, "w:gz") as tar:
                for path, name in archive_members(config_path=config_path, data_dir=data_dir,
                                                  db_copy=db_copy):
                    tar.add(path, arcname=name)
        except OSError as exc:
            raise BackupError(f"cannot write {dest}: {exc}") from exc
    return dest


def archive_members(*, config_path: Path, data_dir: Path,
                    db_copy: Path) -> list[tuple[Path, str]]:
    """(file, name in the archive) in archive order: engine.toml, the database copy, the logs.
    ``engine backup`` and ``GET /api/backup`` (actors/settings/backup_download.py) share it."""
    logs = data_dir / "logs"
    found = sorted(logs.glob("*.jsonl")) if logs.is_dir() else []
    return [(config_path, CONFIG_NAME), (db_copy, DB_NAME),
            *((path, f"logs/{path.name}") for path in found)]


def _allowed(member: tarfile.TarInfo) -> bool:
    name = member.name
    if not member.isfile():
        return False
    if name in (CONFIG_NAME, DB_NAME):
        return True
    parts = name.split("/")
    return len(parts) == 2 and parts[0] == "logs" and parts[1].endswith(".jsonl") \
        and parts[1] not in ("", ".", "..")


def restore_backup(archive: Path, *, config_path: Path) -> Path:
    """Restore ``archive``: its engine.toml to ``config_path``, the database and logs into the
    data directory that configuration names. Returns the data directory."""
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from exc
    with tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not _allowed(m)]
        if bad:
            raise BackupError(f"unexpected archive members: {', '.join(bad)}")
        names = {m.name for m in members}
        if not {CONFIG_NAME, DB_NAME} <= names:
            raise BackupError(f"archive lacks {CONFIG_NAME} or {DB_NAME}")
        config_text = _read(tar, CONFIG_NAME).decode("utf-8", errors="replace")
        store = ConfigStore(config_path)
        try:
            cfg = store.parse(config_text)
        except (ConfigInvalid, ConfigUnreadable) as exc:
            raise BackupError(f"the archive's engine.toml is invalid: {exc}") from exc
        data_dir = store.data_dir_of(cfg)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with DataDirLock(data_dir) as lock:
            if not lock.acquire():
                raise BackupError(f"data directory {data_dir} is in use by a running engine "
                                  f"(pid {lock.holder_pid()}); stop it first")
            config_path.parent.mkdir(parents=True, exist_ok=True)
            store.write_text_atomic(config_text)
            for suffix in ("-wal", "-shm"):
                (data_dir / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
            (data_dir / DB_NAME).write_bytes(_read(tar, DB_NAME))
            for member in members:
                if member.name.startswith("logs/"):
                    (data_dir / "logs").mkdir(exist_ok=True)
                    (data_dir / member.name).write_bytes(_read(tar, member.name))
    return data_dir


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise BackupError(f"{name} is not a file")
    with handle:
        return handle.read()
