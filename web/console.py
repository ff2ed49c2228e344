"""The operator console's files (SPEC 11.1): the app shell and ``/static/``.

``GET /`` and every client route (``/positions``, ``/groups/12``, …) answer the app shell
``web/static/index.html``; the browser's router picks the page. Paths under ``/api/``,
``/static/``, ``/webhook`` and ``/healthz`` are never client routes: an unknown one stays a JSON
404, so an API error never turns into a page.

``GET /static/<path>`` serves regular files under ``web/static`` only: no directory listing, no
dot-files, no ``..`` (decoded ``%2e%2e`` included) and no symlink leading outside. Answers carry
an ETag (``If-None-Match`` → 304) and are gzipped when the client accepts it; the bytes are kept
in memory per file version (the whole folder is a few hundred KB).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from quart import Blueprint, Response, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import PathConverter

STATIC = (Path(__file__).resolve().parent / "static").resolve()
SHELL = STATIC / "index.html"
NOT_CLIENT_ROUTES = frozenset({"api", "static", "webhook", "healthz"})
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8", ".map": "application/json",
}
PLAIN = "text/plain; charset=utf-8"  # LICENSE, VERSIONS, SHA256SUMS
GZIP_MIN = 1024

bp = Blueprint("console", __name__)


@dataclass(frozen=True)
class _File:
    stamp: tuple[int, int]  # (mtime_ns, size): a new version of the file is read again
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


_cache: dict[Path, _File] = {}


def static_path(filename: str) -> Path | None:
    """The regular file ``filename`` names under ``web/static``, or None."""
    parts = filename.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part:
            return None
    try:
        path = STATIC.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not path.is_relative_to(STATIC) or not path.is_file():
        return None
    return path


def _load(path: Path) -> _File:
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    found = _cache.get(path)
    if found is not None and found.stamp == stamp:
        return found
    body = path.read_bytes()
    content_type = CONTENT_TYPES.get(path.suffix.lower(), PLAIN if not path.suffix
                                      else "application/octet-stream")
    compressible = content_type.startswith(("text/", "application/json", "image/svg"))
    gzipped = gzip.compress(body, 9, mtime=0) if compressible and len(body) >= GZIP_MIN else None
    entry = _File(stamp=stamp, body=body, gzipped=gzipped, content_type=content_type,
                  etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    _cache[path] = entry
    return entry


def _answer(path: Path) -> Response:
    f = _load(path)
    headers = {"ETag": f.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if f.etag in request.headers.get("If-None-Match", ""):
        return Response(b"", status=304, headers=headers)
    body = f.body
    if f.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = f.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, content_type=f.content_type, headers=headers)


@bp.get("/static/<path:filename>")
async def static_file(filename: str) -> Response:
    path = static_path(filename)
    if path is None:
        raise NotFound(f"no file {filename!r} under /static/")
    return _answer(path)


class ClientRoute(PathConverter):
    """A path the browser's router owns: anything but the server's own prefixes, so a request
    for an unknown ``/api/…`` path (any method) matches no rule at all and is a JSON 404."""

    regex = r"(?!(?:" + "|".join(sorted(NOT_CLIENT_ROUTES)) + r")(?:/|$))[^/].*?"


# before the routes below: a blueprint registers its deferred functions in order
bp.record_once(lambda state: state.app.url_map.converters.setdefault("client", ClientRoute))


@bp.get("/")
@bp.get("/<client:route>")
async def shell(route: str = "") -> Response:
    return _answer(SHELL)
