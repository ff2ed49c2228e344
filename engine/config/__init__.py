"""engine.toml as typed, validated values (SPEC 10). Pure: parses text, never touches files."""

from engine.config.changes import (
    Effect,
    diff_texts,
    effect_of,
    flatten,
    identity_problems,
    refused_while_open,
    restart_required,
)
from engine.config.decode import Problem
from engine.config.default import DEFAULT_TOML
from engine.config.model import (
    AppConfig,
    Config,
    ExchangeConfig,
    ExecutionPoolConfig,
    FallbackRules,
    GridOverride,
    GridStrategyConfig,
    LoggingConfig,
    PackagingConfig,
    PaperConfig,
    PrecisionConfig,
    PrecisionOverride,
    RiskEngineConfig,
    SecurityConfig,
    UiConfig,
    WaitingRuleConfig,
)
from engine.config.parse import (
    ALIASES,
    REDACTED,
    SECRET_ENV,
    SECRET_KEYS,
    ConfigInvalid,
    NotToml,
    load_toml,
    parse_config,
    validate,
)
from engine.config.requirements import secret_problems, secret_value_problems, warnings


def default_config() -> Config:
    """The configuration of SPEC 10.4 (``DEFAULT_TOML`` parsed)."""
    return parse_config(DEFAULT_TOML)


__all__ = [
    "ALIASES", "DEFAULT_TOML", "REDACTED", "SECRET_ENV", "SECRET_KEYS", "AppConfig", "Config",
    "ConfigInvalid", "Effect", "ExchangeConfig", "ExecutionPoolConfig", "FallbackRules", "GridOverride",
    "GridStrategyConfig", "LoggingConfig", "NotToml", "PackagingConfig", "PaperConfig",
    "PrecisionConfig", "PrecisionOverride", "Problem", "RiskEngineConfig", "SecurityConfig",
    "UiConfig", "WaitingRuleConfig", "default_config", "diff_texts", "effect_of", "flatten",
    "identity_problems", "load_toml", "parse_config", "refused_while_open", "restart_required",
    "secret_problems", "secret_value_problems", "validate", "warnings",
]
