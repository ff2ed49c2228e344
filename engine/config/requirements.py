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
            how = f"engine secrets set {name}, or set {SECRET_ENV[name]}"
            problems.append(Problem(path=name, message=f"missing secret: required {why} ({how})"))

    exchange = cfg.exchange.name
    if exchange != "paper":
        need("exchange.api_key", f"for exchange {exchange!r}")
        need("exchange.api_secret", f"for exchange {exchange!r}")
    if exchange in _PASSPHRASE_EXCHANGES:
        need("exchange.passphrase", f"for exchange {exchange!r}")
    if cfg.security.webhook_signature_validation:
        need("security.webhook_secret", "when security.webhook_signature_validation is on")
        secret = secrets.get("security.webhook_secret")
        if secret:
            problems += secret_value_problems("security.webhook_secret", secret)
    return problems


def secret_value_problems(name: str, value: str) -> list[Problem]:
    """What is wrong with ``value`` as the secret ``name`` (the CLI, the API, check-config)."""
    if not value:
        return [Problem(path=name, message="an empty value cannot be stored (use delete)")]
    if name == "security.webhook_secret" and len(value) < MIN_WEBHOOK_SECRET:
        message = f"must be at least {MIN_WEBHOOK_SECRET} characters, got {len(value)}"
        return [Problem(path=name, message=message)]
    return []


def warnings(cfg: Config) -> list[Problem]:
    """Valid but risky settings, reported by check-config and logged at start."""
    found = [
        ("security.webhook_signature_validation", not cfg.security.webhook_signature_validation,
         "webhook secret validation is off: anyone who can reach the webhook can trade"),
        ("security.store_secrets_encrypted", not cfg.security.store_secrets_encrypted,
         "secrets are stored unencrypted (plain TOML, mode 0600)"),
        ("packaging.auto_update", cfg.packaging.auto_update,
         "ignored: the engine never updates itself"),
        ("exchange.testnet", cfg.exchange.name != "paper" and not cfg.exchange.testnet,
         f"trading with real money on {cfg.exchange.name}"),
    ]
    return [Problem(path=path, message=message) for path, on, message in found if on]
