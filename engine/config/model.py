"""The typed configuration (SPEC 10.2): one Struct per section, attribute names = TOML keys.

Every key has its SPEC default, so an omitted key or section means "the default". Secrets are not
part of the model: they live in the secret store (SPEC 12.2). Override keys are normalised to
``exchange`` lower case and ``SYMBOL`` upper case (matching is case-insensitive, SPEC 10.2).
"""

from decimal import Decimal
from typing import Literal

import msgspec

from engine.types import Level, TpMode

D = Decimal

ExchangeName = Literal["paper", "binance", "bybit", "okx", "kucoin", "mexc", "gateio"]
EXCHANGE_NAMES: tuple[str, ...] = ("paper", "binance", "bybit", "okx", "kucoin", "mexc", "gateio")
SELECTION_RULES: tuple[str, ...] = (
    "pyramid_continuation",
    "highest_loss_percent",
    "highest_replacement_count",
    "highest_expected_profit",
    "fifo",
)
PLATFORMS: tuple[str, ...] = ("linux", "win", "mac")

Ladder = tuple[Level, ...]


def _lv(gap: str, weight: str, tp: str) -> Level:
    return Level(gap_percent=D(gap), weight_percent=D(weight), tp_percent=D(tp))


DEFAULT_LADDER: Ladder = (
    _lv("0.0", "20.0", "1.0"),
    _lv("-0.5", "20.0", "0.5"),
    _lv("-1.0", "20.0", "2.0"),
    _lv("-1.5", "20.0", "1.5"),
    _lv("-2.0", "20.0", "1.0"),
)


class AppConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["webapp_self_contained"] = "webapp_self_contained"
    data_dir: str = "./engine_data"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    timezone: str = "UTC"
    auto_restart: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    tls_cert_file: str = ""
    tls_key_file: str = ""
    public_url: str = ""
    quote_currencies: tuple[str, ...] = ("USDT",)
    capital_base_usd: Decimal = D(0)
    metrics_enabled: bool = False


class PaperLiveConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``feed = "live"``: public market data of a real exchange (no API key)."""

    exchange: Literal["binance", "bybit", "okx", "kucoin", "mexc", "gateio"] = "binance"
    stream: Literal["bookTicker", "ticker"] = "bookTicker"
    poll_sec: Decimal = D(2)
    stale_sec: int = 30
    rest_url: str = ""
    ws_url: str = ""


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    markets_file: str = ""
    feed: Literal["api", "csv", "live"] = "api"
    csv_files: dict[str, str] = {}
    replay_interval_ms: int = 1000
    replay_loop: bool = False
    clock: Literal["wall", "feed"] = "wall"
    start_balances: dict[str, Decimal] = msgspec.field(default_factory=lambda: {"USDT": D("10000.0")})
    maker_fee_percent: Decimal = D("0.1")
    taker_fee_percent: Decimal = D("0.1")
    partial_fill_ratio: Decimal = D("1.0")
    live: PaperLiveConfig = PaperLiveConfig()


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: ExchangeName = "paper"
    market_type: Literal["spot", "swap", "future"] = "spot"
    testnet: bool = True
    precision_refresh_sec: int = 60
    rate_limit_mode: Literal["auto", "conservative"] = "auto"
    order_poll_sec: Decimal = D(2)
    price_poll_sec: Decimal = D(2)
    order_priority: bool = True
    protective_wait_alert_sec: Decimal = D(5)
    paper: PaperConfig = PaperConfig()


class ExecutionPoolConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_open_groups: int = 10
    count_pyramids_toward_pool: bool = False
    count_dca_toward_pool: bool = False
    queue_limit: int = 0


class GridOverride(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One ``grid_strategy.overrides`` entry; ``None`` = not overridden (the global value applies)."""

    dca_levels: Ladder | None = None
    pyramid_specific_levels: dict[str, Ladder] | None = None
    tp_mode: TpMode | None = None
    tp_percent: Decimal | None = None
    entry_order_type: Literal["limit", "market"] | None = None
    capital_per_pyramid_usd: Decimal | None = None
    cancel_dca_beyond_percent: Decimal | None = None


class GridStrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_pyramids_per_group: int = 5
    max_dca_per_pyramid: int = 7
    tp_mode: TpMode = "leg"
    tp_percent: Decimal = D("1.0")
    entry_order_type: Literal["limit", "market"] = "limit"
    capital_per_pyramid_usd: Decimal = D(0)
    cancel_dca_beyond_percent: Decimal = D(0)
    dca_levels: Ladder = DEFAULT_LADDER
    pyramid_specific_levels: dict[str, Ladder] = {}
    overrides: dict[str, GridOverride] = {}


class WaitingRuleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    queue_replace_same_symbol: bool = True
    selection_priority: tuple[str, ...] = SELECTION_RULES
    drop_on_exit: bool = True


class RiskEngineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    require_full_pyramids: bool = True
    enable_post_full_wait: bool = True
    post_full_wait_minutes: int = 60
    timer_start_condition: Literal[
        "after_5_pyramids", "after_all_dca_submitted", "after_all_dca_filled"
    ] = "after_5_pyramids"
    reset_timer_on_replacement: bool = False
    loss_threshold_percent: Decimal = D("-5.0")
    use_trade_age_filter: bool = False
    age_threshold_minutes: int = 200
    offset_mode: Literal["usd"] = "usd"
    max_winners_to_combine: int = 3
    partial_close_enabled: bool = True
    min_close_notional: Decimal = D("20.0")
    offset_slippage_percent: Decimal = D("0.0")
    evaluate_on_fill: bool = True
    evaluate_interval_sec: int = 10
    max_slippage_percent: Decimal = D("1.0")
    slippage_action: Literal["warn", "reject"] = "warn"


class FallbackRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tick_size: Decimal = D("0.00000001")
    step_size: Decimal = D("0.000001")
    min_qty: Decimal = D("0.000001")
    min_notional: Decimal = D("1.0")


class PrecisionOverride(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rules for ``precision_mode = "force"`` (SPEC 5.5): a complete set, so all four are required."""

    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal


class PrecisionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enforce_tick_size: bool = True
    enforce_step_size: bool = True
    enforce_min_notional: bool = True
    strict_mode: bool = True
    fallback_rules: FallbackRules = FallbackRules()
    overrides: dict[str, PrecisionOverride] = {}


class LoggingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    audit_log_enabled: bool = True
    rotate_daily: bool = True
    keep_days: int = 30
    max_file_mb: int = 50
    auto_export: bool = False
    webhook_replay_enabled: bool = False


class SecurityConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    store_secrets_encrypted: bool = True
    webhook_signature_validation: bool = True
    webhook_hmac_required: bool = False
    webhook_ip_allowlist: tuple[str, ...] = ()
    trust_forwarded_for: bool = False
    secrets_file: str = "secrets.enc"
    session_timeout_minutes: int = 720


class UiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    framework: str = "builtin"
    theme: Literal["dark", "light"] = "dark"
    realtime_update_ms: int = 500
    font_size: int = 14
    column_visibility: dict[str, tuple[str, ...]] = {}
    auto_save_config: bool = True
    chart_history_days: int = 30


NOTIFY_EVENTS: tuple[str, ...] = (
    "group_opened", "group_closed", "tp_filled", "risk_action", "order_rejected",
    "exchange_down", "exchange_up", "engine_started", "engine_stopped", "daily_summary",
)
NotifyEvent = Literal["group_opened", "group_closed", "tp_filled", "risk_action",
                      "order_rejected", "exchange_down", "exchange_up", "engine_started",
                      "engine_stopped", "daily_summary"]


class NotificationsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Outbound messages (actors/runtime/notifier.py); the bot token and the webhook URL are
    secrets (``notifications.telegram_bot_token``, ``notifications.webhook_url``)."""

    enabled: bool = False
    telegram_chat_id: str = ""
    webhook_format: Literal["discord", "slack", "json"] = "discord"
    events: tuple[NotifyEvent, ...] = NOTIFY_EVENTS  # type: ignore[assignment]
    batch_sec: int = 10
    timeout_sec: int = 10
    queue_limit: int = 1000


class PackagingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    target_platforms: tuple[str, ...] = PLATFORMS
    auto_update: bool = False


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    app: AppConfig = AppConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    execution_pool: ExecutionPoolConfig = ExecutionPoolConfig()
    grid_strategy: GridStrategyConfig = GridStrategyConfig()
    waiting_rule: WaitingRuleConfig = WaitingRuleConfig()
    risk_engine: RiskEngineConfig = RiskEngineConfig()
    precision: PrecisionConfig = PrecisionConfig()
    logging: LoggingConfig = LoggingConfig()
    security: SecurityConfig = SecurityConfig()
    ui: UiConfig = UiConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    packaging: PackagingConfig = PackagingConfig()
