"""From TOML text to a validated Config: aliases, secret keys, legacy spellings, all problems."""

import copy
import tomllib
from decimal import Decimal

import msgspec

from engine.config.decode import Decoder, Problem, join
from engine.config.model import Config
from engine.config.rules import check

ALIASES: dict[str, str] = {"risk": "risk_engine", "UI": "ui"}
# secret name -> the environment variable that overrides the secrets file (SPEC 12.2)
SECRET_ENV: dict[str, str] = {
    "exchange.api_key": "ENGINE_EXCHANGE_API_KEY",
    "exchange.api_secret": "ENGINE_EXCHANGE_API_SECRET",
    "exchange.passphrase": "ENGINE_EXCHANGE_PASSPHRASE",
    "security.webhook_secret": "ENGINE_WEBHOOK_SECRET",
    "app.metrics_token": "ENGINE_METRICS_TOKEN",
    "notifications.telegram_bot_token": "ENGINE_TELEGRAM_BOT_TOKEN",
    "notifications.webhook_url": "ENGINE_NOTIFY_WEBHOOK_URL",
}
SECRET_KEYS: tuple[str, ...] = tuple(SECRET_ENV)
REDACTED = "REDACTED"
_LEGACY_MODE = "webapp _self_contained"


class ConfigInvalid(ValueError):
    """The configuration has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class NotToml(ConfigInvalid):
    """The text is not TOML at all (the CLI's exit code 2, not 1)."""


def load_toml(text: str) -> dict:
    """``tomllib`` with Decimal floats; a syntax error becomes ``NotToml``."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise NotToml([Problem(path="", message=f"not valid TOML: {exc}")]) from None


def canonical_data(data: dict, problems: list[Problem]) -> dict:
    """Merge alias sections into their canonical names, drop secret keys (checking them) and
    map legacy spellings. Returns a new dict; ``data`` is not modified."""
    data = copy.deepcopy(data)
    for alias, canonical in ALIASES.items():
        if alias not in data:
            continue
        extra = data.pop(alias)
        target = data.setdefault(canonical, {})
        if not isinstance(extra, dict) or not isinstance(target, dict):
            bad = alias if not isinstance(extra, dict) else canonical
            problems.append(Problem(path=bad, message="expected table"))
            continue
        for key, value in extra.items():
            if key in target and target[key] != value:
                problems.append(
                    Problem(
                        path=join(alias, key),
                        message=f"conflicts with {join(canonical, key)} "
                        f"({value!r} vs {target[key]!r}); [{alias}] is an alias of [{canonical}]",
                    )
                )
            target.setdefault(key, value)
    for dotted in SECRET_KEYS:
        section, key = dotted.split(".")
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            if table.pop(key) != REDACTED:
                problems.append(
                    Problem(
                        path=dotted,
                        message=f"secret values belong in the secret store (engine secrets set "
                        f'{dotted}); remove the key or write "{REDACTED}"',
                    )
                )
    _legacy(data)
    return data


def _legacy(data: dict) -> None:
    app, grid = data.get("app"), data.get("grid_strategy")
    if isinstance(app, dict) and app.get("mode") == _LEGACY_MODE:
        app["mode"] = "webapp_self_contained"
    if not isinstance(grid, dict):
        return
    tables = [grid]
    overrides = grid.get("overrides")
    if isinstance(overrides, dict):
        tables += [o for o in overrides.values() if isinstance(o, dict)]
    for table in tables:
        if table.get("tp_mode") == "per_leg":
            table["tp_mode"] = "leg"


def _normalise_keys(cfg: Config) -> Config:
    """Override keys are case-insensitive: store ``exchange`` lower and ``SYMBOL`` upper case."""

    def norm(key: str) -> str:
        parts = key.split(":")
        return ":".join([parts[0].lower(), parts[1].upper(), *parts[2:]])

    grid = msgspec.structs.replace(
        cfg.grid_strategy, overrides={norm(k): v for k, v in cfg.grid_strategy.overrides.items()}
    )
    precision = msgspec.structs.replace(
        cfg.precision, overrides={norm(k): v for k, v in cfg.precision.overrides.items()}
    )
    return msgspec.structs.replace(cfg, grid_strategy=grid, precision=precision)


def problems_of(data: dict) -> tuple[Config, list[Problem]]:
    """Decode and check parsed TOML. Bad values keep their defaults in the returned Config."""
    problems: list[Problem] = []
    data = canonical_data(data, problems)
    decoder = Decoder()
    cfg = decoder.decode(Config, data, "")
    assert isinstance(cfg, Config)  # every Config field has a default, so the top level decodes
    problems += decoder.problems
    problems += check(cfg, decoder.bad, decoder.partial)
    return cfg, problems


def parse_config(text: str) -> Config:
    """Parse and validate engine.toml text. Raises ``ConfigInvalid`` listing every problem."""
    cfg, problems = problems_of(load_toml(text))
    if problems:
        raise ConfigInvalid(problems)
    return _normalise_keys(cfg)


def validate(text: str) -> list[Problem]:
    """Every problem of ``text`` (empty = valid), including a TOML syntax error."""
    try:
        return problems_of(load_toml(text))[1]
    except NotToml as exc:
        return exc.problems
