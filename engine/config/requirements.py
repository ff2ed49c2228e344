"""Checks that combine the configuration with the secret store, and non-fatal warnings."""

from typing import Mapping

from engine.config.decode import Problem
from engine.config.model import Config
from engine.config.parse import SECRET_ENV

MIN_WEBHOOK_SECRET = 16
_PASSPHRASE_EXCHANGES = ("okx", "kucoin")


def secret_problems(cfg: Config, secrets: Mapping[str, str | None]) -> list[Problem]:
    """Missing or too short secrets (SPEC 10.2); ``secrets`` maps secret names to their values."""
    problems: list[Problem] = []

    def need(name: str, why: str) -> None:
        if not secrets.get(name):
            message = (f"missing secret: required {why} "
                       f"(engine secrets set {name}, or set {SECRET_ENV[name]})")
            problems.append(Problem(path=name, message=message))

    if cfg.exchange.name != "paper":
        need("exchange.api_key", f"for exchange {cfg.exchange.name!r}")
        need("exchange.api_secret", f"for exchange {cfg.exchange.name!r}")
    if cfg.exchange.name in _PASSPHRASE_EXCHANGES:
        need("exchange.passphrase", f"for exchange {cfg.exchange.name!r}")
    if cfg.security.webhook_signature_validation:
        secret = secrets.get("security.webhook_secret")
        need("security.webhook_secret", "when security.webhook_signature_validation is on")
        if secret and len(secret) < MIN_WEBHOOK_SECRET:
            problems.append(Problem(path="security.webhook_secret",
                                    message=f"must be at least {MIN_WEBHOOK_SECRET} characters, "
                                    f"got {len(secret)}"))
    return problems


def warnings(cfg: Config) -> list[Problem]:
    """Valid but risky settings, reported by check-config and logged at start."""
    out: list[Problem] = []
    if not cfg.security.webhook_signature_validation:
        out.append(Problem(path="security.webhook_signature_validation",
                           message="webhook secret validation is off: anyone who can reach the "
                           "webhook can trade"))
    if not cfg.security.store_secrets_encrypted:
        out.append(Problem(path="security.store_secrets_encrypted",
                           message="secrets are stored unencrypted (plain TOML, mode 0600)"))
    if cfg.packaging.auto_update:
        out.append(Problem(path="packaging.auto_update",
                           message="ignored: the engine never updates itself"))
    if cfg.exchange.name != "paper" and not cfg.exchange.testnet:
        out.append(Problem(path="exchange.testnet",
                           message=f"trading with real money on {cfg.exchange.name}"))
    return out
