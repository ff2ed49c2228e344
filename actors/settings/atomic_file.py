"""Owns: nothing (a helper). Durable, atomic replacement of a small file.

Receives: a path, the new bytes and a file mode. Sends: nothing.
Fails how: raises ``OSError``; the old file is then untouched and no temporary file is left.
The temporary file lives in the same directory (rename is atomic only within a file system); the
file and then the directory are fsynced so the rename survives a power cut.
"""

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask must not widen or narrow the requested mode
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
