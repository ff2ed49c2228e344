"""The console's files over real HTTP: the app shell for client routes, ``/static/`` confined to
``web/static`` (traversal attempts sent byte for byte on a raw socket), JSON 404s for unknown API
routes, and the security headers on every kind of answer."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import subprocess
from pathlib import Path

import trio

from tests.web.conftest import Engine, payload

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "web" / "static"
HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


async def raw_get(eng: Engine, target: str) -> tuple[int, dict[str, str], bytes]:
    """``GET target`` exactly as written (no client-side path normalisation)."""
    host, port = eng.url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                              .encode())
        data = b""
        with trio.fail_after(10):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def test_client_routes_answer_the_app_shell(eng: Engine):
    shell = (STATIC / "index.html").read_bytes()
    c = eng.client()
    for path in ("/", "/positions", "/groups/12", "/logs?level=error", "/some/unknown/page"):
        r = await c.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.content == shell


async def test_server_paths_are_never_the_shell(eng: Engine):
    c = await eng.login()
    r = await c.get("/api/no-such-route")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await eng.client().get("/api/no-such-route")  # no session: still JSON
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    for path in ("/static/", "/static", "/healthz/x", "/webhook/x"):
        r = await c.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json", path


async def test_static_files_are_served_with_their_type(eng: Engine):
    c = eng.client()
    r = await c.get("/static/js/app.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == (STATIC / "js" / "app.js").read_bytes()
    r = await c.get("/static/vendor/uplot/uPlot.min.css")
    assert r.headers["content-type"].startswith("text/css")
    etag = r.headers["etag"]
    again = await c.get("/static/vendor/uplot/uPlot.min.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_static_files_are_gzipped_when_accepted(eng: Engine):
    source = (STATIC / "vendor" / "uplot" / "uPlot.esm.js").read_bytes()
    async with eng.client().stream("GET", "/static/vendor/uplot/uPlot.esm.js",
                                   headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == source and len(raw) < len(source) / 2


async def test_no_path_leads_outside_web_static(eng: Engine):
    secret_dir = STATIC.parent  # web/: python sources next to the static folder
    assert (secret_dir / "console.py").exists()
    for target in ("/static/../console.py", "/static/%2e%2e/console.py", "/static/..%2fconsole.py",
                   "/static/js/../../console.py", "/static/%2e%2e%2fconsole.py",
                   "/static/..%5cconsole.py", "/static/.%2e/console.py", "/static//etc/passwd",
                   "/static/%2fetc%2fpasswd", "/static/vendor/", "/static/js",
                   "/static/.hidden", "/static/js/%00.js", "/static/../../../../etc/passwd"):
        status, headers, body = await raw_get(eng, target)
        assert status in (400, 404), target
        assert b"import" not in body and b"root:" not in body, target
        if status == 404:
            assert headers["content-type"] == "application/json", target


async def test_security_headers_on_every_answer(eng: Engine):
    c = await eng.login()
    answers = [await c.get("/"), await c.get("/static/css/app.css"), await c.get("/api/status"),
               await c.get("/api/nope"), await c.get("/healthz"),
               await eng.webhook(payload(secret="wrong-secret-0123456789"))]
    for r in answers:
        for name in HEADERS:
            assert name in r.headers, (r.request.url, name)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_csp_allows_exactly_the_import_map(eng: Engine):
    html = (STATIC / "index.html").read_text()
    maps = re.findall(r'<script type="importmap">(.*?)</script>', html, re.DOTALL)
    assert len(maps) == 1
    digest = base64.b64encode(hashlib.sha256(maps[0].encode()).digest()).decode()
    csp = (await eng.client().get("/")).headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
    assert script_src == ["script-src", "'self'", f"'sha256-{digest}'"]
    # no other inline script: everything else is a file under /static/
    assert len(re.findall(r"<script(?![^>]*\bsrc=)", html)) == 1


def test_vendored_files_match_their_hashes():
    result = subprocess.run([str(ROOT / "ops" / "vendor_ui.sh"), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = (STATIC / "vendor" / "SHA256SUMS").read_text()
    for name in ("preact/preact.mjs", "preact/hooks.mjs", "htm/htm.mjs", "uplot/uPlot.esm.js",
                 "preact/LICENSE", "htm/LICENSE", "uplot/LICENSE"):
        assert name in listed
