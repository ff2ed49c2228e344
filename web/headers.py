"""Security headers on every HTTP answer of the process (SPEC 12.2, issue 13), the webhook's
included: an ASGI wrapper around the whole application.

The Content-Security-Policy allows only this origin. The console's one inline script, its
import map (Chromium does not load an external import map), is allowed by its sha256, computed
here from ``web/static/index.html`` when the app is built — so editing the map needs no second
edit. Frames are refused (``frame-ancestors 'none'``), MIME sniffing is off, and no referrer
leaves the console.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from web.console import SHELL

_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions for the import map(s) of ``html``."""
    return ["'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in _IMPORT_MAP.findall(html)]


def content_security_policy(shell: Path = SHELL) -> str:
    scripts = " ".join(["'self'", *inline_script_hashes(shell.read_text(encoding="utf-8"))])
    return ("default-src 'self'; "
            f"script-src {scripts}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI: adds the headers to every ``http.response.start`` that lacks them."""

    def __init__(self, app: Any, shell: Path = SHELL):
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(shell).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
