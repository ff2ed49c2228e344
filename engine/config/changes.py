"""Comparing two configurations and what applying a change means (SPEC 10.1 effect table)."""

from typing import Iterable, Literal

import msgspec

from engine.config.decode import Problem, join
from engine.config.parse import (
    ConfigInvalid, _normalise_keys, canonical_data, load_toml, parse_config, problems_of,
)

Effect = Literal["new_groups", "immediate", "next_cycle", "exchange_rebuild", "identity", "restart"]

_RESTART = ("app.http_host", "app.http_port", "app.tls_", "app.data_dir", "packaging.",
            "exchange.order_priority")
_IDENTITY = ("exchange.name", "exchange.market_type", "exchange.testnet", "exchange.paper.")
_REBUILD = (
    "exchange.api_key",
    "exchange.api_secret",
    "exchange.passphrase",
    "exchange.rate_limit_mode",
    "exchange.order_poll_sec",
    "exchange.price_poll_sec",
    "exchange.precision_refresh_sec",
)


def _matches(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p if p.endswith(("_", ".")) else p + ".") for p in prefixes)


def effect_of(key: str) -> Effect:
    """What Apply does for a changed dotted key (SPEC 10.1)."""
    if _matches(key, _RESTART):
        return "restart"
    if _matches(key, _IDENTITY):
        return "identity"
    if _matches(key, _REBUILD):
        return "exchange_rebuild"
    if key.startswith("grid_strategy."):
        return "new_groups"
    if key.startswith("risk_engine."):
        return "next_cycle"
    return "immediate"


def restart_required(keys: Iterable[str]) -> list[str]:
    """Changed keys that take effect only after the process restarts."""
    return [k for k in keys if effect_of(k) == "restart"]


def refused_while_open(keys: Iterable[str]) -> list[str]:
    """Changed keys (exchange identity) that Apply refuses while a group is open or queued."""
    return [k for k in keys if effect_of(k) == "identity"]


def flatten(data: object, prefix: str = "") -> dict[str, object]:
    """Leaf values by dotted path; arrays (ladders included) are single values and an empty
    table has no leaves."""
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for key, value in data.items():
            out.update(flatten(value, join(prefix, key)))
        return out
    return {prefix: data}


def effective_values(text: str) -> dict[str, object]:
    """Every value the text configures, defaults included; decimals as text. In an invalid
    text the valid keys read as the model spells them (``"0"``, never the TOML integer ``0``:
    an unchanged key must compare equal) and each refused key shows what the text says."""
    raw = load_toml(text)  # NotToml propagates: there is nothing to compare
    try:
        return flatten(msgspec.to_builtins(parse_config(text)))
    except ConfigInvalid:
        pass
    cfg, problems = problems_of(raw)  # refused values replaced by their defaults
    values = flatten(msgspec.to_builtins(_normalise_keys(cfg)))
    written = flatten(msgspec.to_builtins(canonical_data(raw, [])))
    for problem in problems:
        for key, value in written.items():
            if problem.path == key or problem.path.startswith((key + ".", key + "[")):
                values[key] = value
    return values


def diff_texts(old_text: str, new_text: str) -> list[dict[str, object]]:
    """``[{key, old, new}]`` for every value that differs; ``None`` = not set. Raises NotToml."""
    old, new = effective_values(old_text), effective_values(new_text)
    keys = list(old) + [k for k in new if k not in old]
    return [{"key": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)]


def identity_problems(changed: Iterable[str], *, anything_open: bool) -> list[Problem]:
    """Apply refusals for exchange identity changes while groups are open or the queue is not empty."""
    if not anything_open:
        return []
    message = "cannot change the exchange while groups are open or the queue is not empty"
    return [Problem(path=k, message=message) for k in refused_while_open(changed)]
