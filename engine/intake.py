"""Everything the webhook can refuse before answering (SPEC 2.3, 2.4, plus what the
configuration already decides): one function for ``POST /webhook`` and for the dry-run
``POST /api/signals/check``, so the check can never drift from the real intake.

``check_webhook`` parses the body (``engine.signals.parse_webhook``: every malformed field, an
unknown symbol or quote currency, a timeframe outside the accepted list) and then refuses an
entry that cannot be sized — no ``tv.order_size`` and no ``capital_per_pyramid_usd`` for its
key. Refusals are ``WebhookRejected``: HTTP 400 naming each field and what to change.
"""

from collections.abc import Mapping
from typing import Literal

import msgspec

from engine.config import SECRET_ENV, Config, secret_value_problems
from engine.grid_settings import GridSettings, effective_grid
from engine.signal_schema import FieldError
from engine.signals import Signal, WebhookRejected, parse_webhook
from engine.types import MarketRules

NEEDS_SIZE = ("signal", "reverse")  # intents whose entry is sized from the signal
WEBHOOK_SECRET = "security.webhook_secret"


def effective_grid_for(cfg: Config, symbol: str, timeframe: int) -> GridSettings:
    """The grid settings a new pyramid of this key is planned with (overrides merged)."""
    grid = cfg.grid_strategy
    return effective_grid(GridSettings.from_config(grid), grid.overrides,
                          exchange=cfg.exchange.name, symbol=symbol, timeframe=timeframe)


def intake_problems(signal: Signal, cfg: Config) -> list[FieldError]:
    """Refusals of a well-formed signal that the configuration already decides."""
    if signal.intent not in NEEDS_SIZE or signal.order_size:
        return []
    if signal.side == "short" and cfg.exchange.market_type == "spot":
        return []  # the entry is ignored on spot (SPEC 2.7): no size is needed
    grid = effective_grid_for(cfg, signal.symbol, signal.timeframe)
    if grid.capital_per_pyramid_usd > 0:
        return []
    return [FieldError(
        field="tv.order_size",
        message="required for entry signals: no order size was sent and "
                "grid_strategy.capital_per_pyramid_usd is 0 for "
                f"{signal.symbol} {signal.timeframe}; send \"order_size\": "
                "\"{{strategy.order.contracts}}\" (unit: execution_intent.position_size_type) "
                "or set grid_strategy.capital_per_pyramid_usd")]


def check_webhook(body: bytes, cfg: Config, markets: Mapping[str, MarketRules] | None, *,
                  secret_required: bool | None = None) -> Signal:
    """The normalised signal, or ``WebhookRejected`` with every refused field.

    ``markets``: the exchange's market list (None = not loaded yet: symbol checks deferred).
    ``secret_required`` defaults to ``security.webhook_signature_validation``; the secret's
    value is compared by the web layer, in constant time."""
    if secret_required is None:
        secret_required = cfg.security.webhook_signature_validation
    signal = parse_webhook(body, markets=markets, quote_currencies=cfg.app.quote_currencies,
                           secret_required=secret_required)
    problems = intake_problems(signal, cfg)
    if problems:
        raise WebhookRejected(problems)
    return signal


class IntakeWarning(msgspec.Struct, frozen=True, kw_only=True):
    """Why webhooks are (or may be) refused now, in words for the console and the banner.
    ``refused``: every webhook is refused while it holds; ``command`` fixes it."""

    code: Literal["webhook_secret_missing", "webhook_secret_too_short",
                  "webhook_validation_off"]
    message: str
    refused: bool
    command: str | None = None


def webhook_warning(cfg: Config, secret: str | None, source: str | None,
                    config_path: str) -> IntakeWarning | None:
    """The intake's standing problem: no webhook secret (401 until one is set), one shorter
    than the minimum (the intake refuses every webhook), or secret validation switched off.
    ``source``: where the secret comes from (``env`` / ``file``)."""
    command = f"engine secrets set {WEBHOOK_SECRET} --config {config_path}"
    env = SECRET_ENV[WEBHOOK_SECRET]
    if secret and secret_value_problems(WEBHOOK_SECRET, secret):
        where = env if source == "env" else "the stored webhook secret"
        fix = (f"set {env} to at least 16 characters and restart the engine" if source == "env"
               else f"replace it: {command}")
        return IntakeWarning(code="webhook_secret_too_short", refused=True, command=command,
                             message=f"Webhooks are refused: {where} is shorter than 16 "
                                     f"characters; {fix}.")
    if not cfg.security.webhook_signature_validation:
        return IntakeWarning(code="webhook_validation_off", refused=False,
                             message="Webhook secret validation is off "
                                     "(security.webhook_signature_validation = false): anyone "
                                     "who can reach /webhook can trade.")
    if not secret:
        return IntakeWarning(code="webhook_secret_missing", refused=True, command=command,
                             message="Webhooks are refused (401) until a webhook secret is set: "
                                     f"run `{command}` (at least 16 characters) or set {env}, "
                                     "then put the same value in the TradingView alert's "
                                     "\"secret\".")
    return None
