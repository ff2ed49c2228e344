"""Secrets from the Settings page (SPEC 12.2, 11.5 F): write-only setting, a generated webhook
secret, and a connection test of the exchange credentials.

Owns: nothing — values go to the ``SecretStore`` (the secrets file) and nowhere else.
Receives: ``masked`` / ``set`` / ``generate`` / ``test_exchange`` from the handle
(``handle.secret_admin``; admin routes of web/api_settings.py).
Sends: the new value to the ``Masker`` first, so every log sink and API answer scrubs it from
then on; an ``engine.config`` log event naming the secret, never its value.
Fails how: ``ConfigRefused`` (HTTP 422) for an unknown name or a value ``engine secrets set``
refuses too (one check: ``engine.config.secret_value_problems``) and for a secrets file that
cannot be read back (written on another machine: the message says to set the secrets again).
``test_exchange`` reports exchange failures as its outcome (auth, permission, unavailable,
setup) instead of raising.
"""

from __future__ import annotations

import logging
import secrets as tokens
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import trio

from actors.exchange.port import AuthFailed, ExchangeError, ExchangePort
from actors.settings.config_service import ConfigRefused, ConfigService
from actors.settings.secrets import SecretsError, SecretStore, canonical_name
from engine.config import SECRET_ENV, SECRET_KEYS, ConfigInvalid, Problem, secret_value_problems
from engine.display import for_quote
from engine.masking import Masker, mask

log = logging.getLogger("engine.config")
WEBHOOK_SECRET = "security.webhook_secret"
GENERATED_BYTES = 32  # token_urlsafe: 43 characters
TEST_TIMEOUT_S = 20.0


class SecretAdmin:
    def __init__(self, secrets: SecretStore, masker: Masker, configuration: ConfigService,
                 core: Callable[[], Any]):
        self.secrets = secrets
        self.masker = masker
        self.configuration = configuration
        self.core = core

    def masked(self) -> list[dict[str, Any]]:
        """Every secret: whether it is set, its masked form and where it comes from."""
        out = []
        for name in SECRET_KEYS:
            value = self.secrets.get(name)
            out.append({"name": name, "set": bool(value), "masked": mask(value) if value else None,
                        "source": self.secrets.source(name), "env": SECRET_ENV[name]})
        return out

    def _describe(self, name: str, value: str) -> dict[str, Any]:
        """What was stored (masked) and whether it is the value in effect."""
        source = self.secrets.source(name)
        note = None
        if source == "env":
            note = f"{SECRET_ENV[name]} is set and takes precedence over the stored value"
        elif name != WEBHOOK_SECRET:
            note = "the running exchange client keeps its keys until the engine restarts"
        return {"name": name, "masked": mask(value), "source": source,
                "effect": "immediate" if name == WEBHOOK_SECRET else "restart", "note": note}

    def set(self, name: str, value: str, *, user: str | None) -> dict[str, Any]:
        """Store ``value`` (never echoed); the answer carries only its masked form."""
        try:
            name = canonical_name(name)
        except SecretsError as exc:
            raise ConfigRefused([Problem(path=name, message=str(exc))]) from None
        problems = secret_value_problems(name, value)
        if problems:
            raise ConfigRefused(problems)
        self.masker.add(value)  # before anything could log or answer it
        try:
            self.secrets.set(name, value)
        except SecretsError as exc:  # the secrets file cannot be read back: say how to fix it
            raise ConfigRefused([Problem(path=name, message=str(exc))]) from None
        log.info(f"secret {name} changed", extra={"event": "secret_changed",
                                                   "data": {"name": name, "user": user}})
        return self._describe(name, value)

    def generate(self, *, user: str | None) -> tuple[str, dict[str, Any]]:
        """A new random webhook secret, stored; the caller shows the value once."""
        value = tokens.token_urlsafe(GENERATED_BYTES)
        return value, self.set(WEBHOOK_SECRET, value, user=user)

    # --- connection test -------------------------------------------------------------------
    async def test_exchange(self) -> dict[str, Any]:
        """``fetch_balances`` through the exchange port of the saved configuration, with the
        stored credentials: ``outcome`` ok (with the quote balance), auth, permission,
        unavailable or setup."""
        store = self.configuration.config_store
        try:
            cfg = store.parse(self.configuration.file_text())
        except ConfigInvalid as exc:
            raise ConfigRefused(exc.problems) from None
        name = cfg.exchange.name
        base = {"exchange": name, "testnet": cfg.exchange.testnet}
        port, owned = self._port(cfg)
        if isinstance(port, dict):
            return {**base, **port}
        try:
            with trio.move_on_after(TEST_TIMEOUT_S):
                balances = await port.fetch_balances()
                return {**base, **_balance_outcome(cfg.app.quote_currencies[0], balances)}
            return {**base, "ok": False, "outcome": "unavailable",
                    "message": f"no answer within {TEST_TIMEOUT_S:.0f} s"}
        except AuthFailed as exc:
            return {**base, **_auth_outcome(self.masker.scrub(str(exc)))}
        except ExchangeError as exc:
            return {**base, "ok": False, "outcome": "unavailable",
                    "message": self.masker.scrub(str(exc))}
        finally:
            if owned:
                with trio.CancelScope(shield=True):
                    await port.aclose()

    def _port(self, cfg: Any) -> tuple[ExchangePort | dict[str, Any], bool]:
        """(port, built here) — the running paper exchange, or a fresh ccxt client."""
        from actors.exchange.factory import PortSetupError, build_port
        from actors.runtime.clock import EngineClock

        if cfg.exchange.name == "paper":
            core = self.core()
            if core is None or core.config.exchange.name != "paper":
                return {"ok": False, "outcome": "unavailable", "message": "the paper exchange "
                        "runs inside the engine core, which is not running it now"}, False
            return core.port, False
        try:
            port = build_port(cfg, self.secrets, None, EngineClock(),  # type: ignore[arg-type]
                              base_dir=self.configuration.config_store.base_dir,
                              masker=self.masker)
        except PortSetupError as exc:
            return {"ok": False, "outcome": "setup", "field": exc.field,
                    "message": self.masker.scrub(str(exc))}, False
        return port, True


def _balance_outcome(quote: str, balances: dict[str, Any]) -> dict[str, Any]:
    held = balances.get(quote)
    show = for_quote(quote)
    free = show.usd(held.free if held is not None else Decimal(0))
    locked = show.usd(held.locked if held is not None else Decimal(0))
    return {"ok": True, "outcome": "ok", "quote": quote, "free": free, "locked": locked,
            "message": f"connected; {free} {quote} free"}


def _auth_outcome(message: str) -> dict[str, Any]:
    """Binance answers -2015 "Invalid API-key, IP, or permissions for action" when the key
    exists but may not do this (or the IP is not on its list); the others mean a wrong key or
    secret."""
    if "permission" in message.lower():
        return {"ok": False, "outcome": "permission", "message": message,
                "hint": "the exchange refused this key for the action: check the key's "
                        "permissions (reading, spot/futures trading) and its IP whitelist"}
    return {"ok": False, "outcome": "auth", "message": message,
            "hint": "the API key or secret is wrong (or the passphrase, on okx and kucoin)"}
