"""Builds the exchange port the configuration asks for (paper or a ccxt exchange).

Owns: nothing after it returns — the port it built is owned by the root nursery.
Receives: the validated ``Config``, the secret store, the Store, the engine clock.
Sends: nothing.
Fails how: a configuration that cannot give a working port (a missing secret, no sandbox for
``testnet = true``, an unreadable paper markets file) raises ``PortSetupError`` naming the key
(``exchange.api_key``, ``exchange.paper.markets_file``, ...). It is a start-up refusal, not a
crash: the root shows it as the engine's Error status and must not restart in a loop, since a
restart cannot fix it until the operator sets the secret / fixes the file.

``ccxt`` is imported only when a real exchange is configured (~0.4 s and ~78 MB).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actors.runtime.clock import EngineClock
from actors.exchange.port import ExchangePort
from actors.store.writer import Store
from engine.config import Config
from engine.errors import InvalidInput
from engine.masking import Masker

BUNDLED_MARKETS = Path(__file__).resolve().parent / "markets" / "binance_spot_exchangeinfo.json"
SECRET_NAMES = ("exchange.api_key", "exchange.api_secret", "exchange.passphrase")
# Endpoint overrides for a ccxt exchange (a local emulator in tests, a proxy): ccxt's
# ``urls["api"]`` entries as JSON, e.g. {"public": "http://127.0.0.1:9443/api/v3", ...}, and the
# websocket base. Read only when the caller passes no ``rest_urls``/``ws_url``.
REST_URLS_ENV = "ENGINE_EXCHANGE_REST_URLS"
WS_URL_ENV = "ENGINE_EXCHANGE_WS_URL"


class PortSetupError(Exception):
    """The exchange cannot be set up from this configuration; ``field`` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def markets_path(config: Config, base_dir: Path | None = None) -> Path:
    """``exchange.paper.markets_file`` (relative to ``base_dir``) or the bundled snapshot."""
    name = config.exchange.paper.markets_file
    if not name:
        return BUNDLED_MARKETS
    path = Path(name)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def build_port(config: Config, secrets: Any, store: Store, clock: EngineClock, *,
               base_dir: Path | None = None, masker: Masker | None = None,
               rest_urls: dict[str, str] | None = None,
               ws_url: str | None = None) -> ExchangePort:
    """The port for ``config.exchange.name``.

    ``secrets`` is the ``SecretStore`` (``.get(name)``); ``base_dir`` resolves relative paths
    (the config file's directory); ``rest_urls``/``ws_url`` point a ccxt exchange elsewhere
    (the loopback Binance emulator in tests).
    """
    if config.exchange.name == "paper":
        return _paper(config, store, clock, base_dir)
    if rest_urls is None and ws_url is None:
        rest_urls, ws_url = url_overrides(os.environ)
    return _ccxt(config, secrets, masker, rest_urls, ws_url)


def url_overrides(env: Mapping[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """``ENGINE_EXCHANGE_REST_URLS`` / ``ENGINE_EXCHANGE_WS_URL`` (unset: the real endpoints)."""
    text = env.get(REST_URLS_ENV)
    rest = None
    if text:
        try:
            rest = json.loads(text)
        except ValueError:
            rest = None
        if not isinstance(rest, dict) or not all(isinstance(v, str) for v in rest.values()):
            raise PortSetupError(REST_URLS_ENV, "expected a JSON object of URL strings")
    return rest, env.get(WS_URL_ENV) or None


def _paper(config: Config, store: Store, clock: EngineClock,
           base_dir: Path | None) -> ExchangePort:
    from actors.exchange.paper import PaperExchange

    path = markets_path(config, base_dir)
    try:
        return PaperExchange(db=store, config=config.exchange.paper, clock_ms=clock.now_ms,
                             markets_path=None if path == BUNDLED_MARKETS else path)
    except OSError as e:
        raise PortSetupError("exchange.paper.markets_file",
                             f"cannot read {path}: {e.strerror or e}") from None
    except InvalidInput as e:
        raise PortSetupError("exchange.paper.markets_file", f"{path}: {e}") from None


def _ccxt(config: Config, secrets: Any, masker: Masker | None,
          rest_urls: dict[str, str] | None, ws_url: str | None) -> ExchangePort:
    from actors.exchange.ccxt_adapter import CcxtExchange, ExchangeSetupError

    values = {name: secrets.get(name) for name in SECRET_NAMES}
    try:
        return CcxtExchange(config.exchange, api_key=values["exchange.api_key"],
                            api_secret=values["exchange.api_secret"],
                            passphrase=values["exchange.passphrase"], rest_urls=rest_urls,
                            ws_url=ws_url, masker=masker)
    except ExchangeSetupError as e:
        raise PortSetupError(e.field, str(e).split(": ", 1)[-1]) from None
