"""The one-click backup download (SPEC 12.3, 11.6 ``GET /api/backup``): the archive of
``engine backup`` — engine.toml, a consistent database copy, the log files — streamed as it is
compressed, so memory stays flat whatever the size of the database.

Owns: one download at a time per call: the open files it streams. The database copy is made
with SQLite's online backup from a read-only connection in a worker thread (WAL: the writer is
not held up), into the data directory (not /tmp, often a RAM disk), and unlinked as soon as it
is open, so nothing is left behind when a download is abandoned.
Receives: ``prepare()`` from the handle (``handle.backups``; the admin route).
Sends: an ``engine.system`` log event per download (name and size of the database copy).
Fails how: ``ActionRefused("backup_failed")`` (HTTP 503) when the database copy cannot be
made; an ``OSError`` while streaming ends the download (the browser reports it incomplete;
gzip's trailer is missing, so a cut archive never passes as complete).
"""

from __future__ import annotations

import logging
import os
import tarfile
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

import trio

from actors.settings.config_store import ConfigStore
from actors.settings.controls import ActionRefused
from actors.store.backup import DB_NAME, BackupError, archive_members
from actors.store.writer import StorageError, backup_database

log = logging.getLogger("engine.system")
CHUNK = 1024 * 1024
GZIP_LEVEL = 6
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip member, what tarfile's "r:gz" reads


class Archive:
    """The open members of one download and its file name."""

    def __init__(self, name: str, members: list[tuple[BinaryIO, str, os.stat_result]]):
        self.name = name
        self._members = members

    def close(self) -> None:
        for handle, _, _ in self._members:
            handle.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The tar.gz, one compressed piece at a time (tar framing as tarfile writes it)."""
        gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        written = 0
        try:
            for handle, arcname, st in self._members:
                header = _header(arcname, st)
                written += len(header)
                if out := gz.compress(header):
                    yield out
                left = st.st_size
                while left > 0:
                    block = await trio.to_thread.run_sync(handle.read, min(CHUNK, left))
                    if not block:
                        raise OSError(f"{arcname} shrank while it was archived")
                    left -= len(block)
                    if out := await trio.to_thread.run_sync(gz.compress, block):
                        yield out
                padding = -st.st_size % tarfile.BLOCKSIZE
                written += st.st_size + padding
                if out := gz.compress(tarfile.NUL * padding):
                    yield out
            end = tarfile.NUL * (2 * tarfile.BLOCKSIZE)
            written += len(end)
            end += tarfile.NUL * (-written % tarfile.RECORDSIZE)
            yield gz.compress(end) + gz.flush()
        finally:
            self.close()


def _header(arcname: str, st: os.stat_result) -> bytes:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o600
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def archive_name(now_ms: int) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_ms / 1000))
    return f"engine-backup-{stamp}.tar.gz"


class BackupDownload:
    def __init__(self, config_store: ConfigStore, clock_ms: Callable[[], int]):
        self.config_store = config_store
        self.clock_ms = clock_ms

    async def prepare(self) -> Archive:
        """Copy the database and open every member; stream with ``Archive.chunks``."""
        data_dir = self.config_store.data_dir
        try:
            return await trio.to_thread.run_sync(self._open, data_dir,
                                                 archive_name(self.clock_ms()))
        except BackupError as exc:
            log.error(f"backup download failed: {exc}", extra={"event": "backup_failed"})
            raise ActionRefused("backup_failed", str(exc)) from None

    def _open(self, data_dir: Path, name: str) -> Archive:
        with tempfile.TemporaryDirectory(prefix=".backup-", dir=data_dir) as tmp:
            db_copy = Path(tmp) / DB_NAME
            try:
                backup_database(data_dir / DB_NAME, db_copy)
            except StorageError as exc:
                raise BackupError(str(exc)) from exc
            opened: list[tuple[BinaryIO, str, os.stat_result]] = []
            try:
                for path, arcname in archive_members(config_path=self.config_store.path,
                                                     data_dir=data_dir, db_copy=db_copy):
                    try:
                        handle = open(path, "rb")
                    except FileNotFoundError:
                        if arcname.startswith("logs/"):
                            continue  # rotated away since it was listed
                        raise
                    opened.append((handle, arcname, os.fstat(handle.fileno())))
            except OSError as exc:
                for handle, _, _ in opened:
                    handle.close()
                raise BackupError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        # the temporary copy is unlinked here; its open handle keeps the data until closed
        size = next(st.st_size for _, arcname, st in opened if arcname == DB_NAME)
        log.info(f"backup download {name} started", extra={
            "event": "backup_download", "data": {"name": name, "database_bytes": size}})
        return Archive(name, opened)
