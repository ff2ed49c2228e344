"""The user documentation under ``/docs``: ``docs/*.md`` rendered to HTML on the server.

``GET /docs/`` is ``docs/README.md`` (the index); ``GET /docs/NAME.md`` a page, with relative
links between pages working as they do in the repository; ``?raw=1`` answers the Markdown text
itself (for the console or a script). No session is needed: the pages hold no engine data.

Where the pages come from: the ``docs/`` folder of the checkout the ``web`` package runs from
(``make run`` and the service install it in editable mode, so that folder is always beside it),
or ``docs/`` inside a frozen build's bundle (a PyInstaller build adds it with
``--add-data docs:docs``). One folder, no copy to keep in step. Only plain ``NAME.md`` files
directly in that folder are served: no listing, no sub-paths, no way out of it.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from quart import Blueprint, Response, redirect, request

from web.common import ApiError
from web.markdown import render

bp = Blueprint("docs", __name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.md$")
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)

STYLE = """body{font:15px/1.55 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem 1.5rem;
color:#1d2330;background:#fff}
@media (prefers-color-scheme:dark){body{color:#d8dde8;background:#14171f}a{color:#8ab4ff}
pre,code,th{background:#1f2430!important}td,th{border-color:#333a48!important}}
nav{font-size:.9em;margin-bottom:1rem}pre{padding:.75rem;overflow-x:auto;background:#f3f4f7}
code{font:13px/1.4 ui-monospace,monospace;background:#f3f4f7;padding:0 .2em}pre code{padding:0}
table{border-collapse:collapse;margin:.5rem 0;display:block;overflow-x:auto}
td,th{border:1px solid #d5d8e0;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f4f7}h1,h2,h3{line-height:1.25}
"""


def docs_dir() -> Path:
    """The folder the pages are read from (see the module docstring)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen is not None and (Path(frozen) / "docs").is_dir():
        return Path(frozen) / "docs"
    return Path(__file__).resolve().parent.parent / "docs"


def page_names() -> list[str]:
    folder = docs_dir()
    return sorted(p.name for p in folder.glob("*.md")) if folder.is_dir() else []


def _read(name: str) -> str:
    if not _NAME.match(name) or name not in page_names():
        raise ApiError(404, "not_found", f"no documentation page {name!r}",
                       {"pages": page_names()})
    return (docs_dir() / name).read_text(encoding="utf-8")


def _page(name: str, text: str) -> str:
    title = _TITLE.search(text)
    heading = title.group(1).strip().replace("`", "") if title else name
    nav = '<nav><a href="./">Documentation</a> · <a href="/">Console</a></nav>'
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(heading)} — engine docs</title>"
            f'<link rel="stylesheet" href="/docs/docs.css"></head>\n<body>{nav}\n'
            f"<main>\n{render(text)}</main>\n</body></html>\n")


def _answer(name: str) -> Response:
    text = _read(name)
    if request.args.get("raw"):
        return Response(text, content_type="text/markdown; charset=utf-8")
    return Response(_page(name, text), content_type="text/html; charset=utf-8")


@bp.get("/docs")
async def docs_root() -> Response:
    return redirect("/docs/", 308)


@bp.get("/docs/")
async def index() -> Response:
    return _answer("README.md")


@bp.get("/docs/docs.css")
async def stylesheet() -> Response:
    return Response(STYLE, content_type="text/css; charset=utf-8")


@bp.get("/docs/<name>")
async def page(name: str) -> Response:
    return _answer(name)
