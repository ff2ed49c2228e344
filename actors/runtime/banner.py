"""The few lines ``engine run`` prints once HTTP is up: where the dashboard is, how to log in,
where TradingView must send its alerts, and what still stops webhooks.

Owns: nothing — it reads the handle's configuration, the data directory and the intake's
standing warning (``EngineHandle.webhook_warning``, the same one ``/api/status`` shows).
Receives: ``print_banner(handle, urls, data_dir)`` from the root, once per start.
Sends: plain text to standard output (the structured log stays on standard error).
Fails how: never raises for missing facts; a closed stdout is ignored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

INITIAL_PASSWORD_FILE = "initial_admin_password"


def banner_lines(*, base_url: str, public_url: str, exchange: str, password_file: Path | None,
                 warning: Any, data_dir: Path) -> list[str]:
    """The banner as lines (pure formatting; the caller gathers the facts)."""
    base = base_url.rstrip("/")
    login = (f"log in as admin; the password is in {password_file}" if password_file is not None
             else "log in with your user; engine user add NAME --role admin adds one")
    webhook = (public_url.rstrip("/") or base) + "/webhook"
    lines = [f"Engine started ({exchange} exchange); data in {data_dir}",
             f"  Dashboard: {base}/  ({login})",
             f"  Webhook:   {webhook}  (TradingView reaches only ports 80/443: see "
             "docs/service.md for a TLS proxy)" if not public_url else f"  Webhook:   {webhook}"]
    if warning is not None:
        lines.append(f"  WARNING: {warning.message}")
    return lines


def print_banner(handle: Any, urls: list[str] | None, data_dir: Path,
                 out: TextIO | None = None) -> None:
    cfg = handle.config
    file = data_dir / INITIAL_PASSWORD_FILE
    host = cfg.app.http_host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # a browser needs an address
    base = f"http://{shown}:{cfg.app.http_port}" if not urls or host in ("0.0.0.0", "::") \
        else urls[0]
    if cfg.app.tls_cert_file:
        base = base.replace("http://", "https://", 1)
    lines = banner_lines(base_url=base, public_url=getattr(cfg.app, "public_url", ""),
                         exchange=cfg.exchange.name,
                         password_file=file if file.exists() else None,
                         warning=handle.webhook_warning(), data_dir=data_dir)
    try:
        print("\n".join(lines), file=out or sys.stdout, flush=True)
    except (OSError, ValueError):  # no terminal / a closed stdout: the log says it all
        pass
