"""SPEC 10.4: the complete default engine.toml, exactly what `engine init` writes."""

DEFAULT_TOML = r"""# engine.toml — default configuration (written by `engine init`).
# Secrets (API key/secret/passphrase, webhook secret) are NOT stored here:
# set them with `engine secrets set ...` or the ENGINE_* environment variables.

[app]
mode = "webapp_self_contained"
data_dir = "./engine_data"
log_level = "info"
timezone = "UTC"
auto_restart = true
http_host = "127.0.0.1"
http_port = 8080
tls_cert_file = ""
tls_key_file = ""
public_url = ""                # https://host[:port] TradingView reaches; "" = taken from the browser's address
quote_currencies = ["USDT"]
capital_base_usd = 0
metrics_enabled = false        # GET /metrics for Prometheus; bearer token: engine secrets set app.metrics_token

[exchange]
name = "paper"                 # paper | binance | bybit | okx | kucoin | mexc | gateio
market_type = "spot"           # spot | swap | future
testnet = true
precision_refresh_sec = 60
rate_limit_mode = "auto"       # auto | conservative
order_poll_sec = 2
price_poll_sec = 2
order_priority = true          # false: orders leave in arrival order (first come, first served)
protective_wait_alert_sec = 5  # alert when a TP, close or cancel waited longer for the rate budget
# api_key / api_secret / passphrase: from the secret store only

[exchange.paper]
markets_file = ""              # "" = bundled Binance spot exchange-info snapshot; see `engine markets fetch`
feed = "api"                   # api | csv | live
replay_interval_ms = 1000
replay_loop = false
clock = "wall"                 # wall | feed
maker_fee_percent = 0.1
taker_fee_percent = 0.1
partial_fill_ratio = 1.0

[exchange.paper.live]          # feed = "live": the public market data of a real exchange, no API key
exchange = "binance"           # binance | bybit | okx | kucoin | mexc | gateio
stream = "bookTicker"          # bookTicker (mid of best bid/ask, real time) | ticker (last trade, 1/s)
poll_sec = 2                   # REST polling interval (exchanges other than binance, binance while its socket is down)
stale_sec = 30                 # no price for longer: alert, and aggregate/hybrid TP wait for a fresh one
rest_url = ""                  # "" = the exchange's own; or env ENGINE_PUBLIC_REST_URL
ws_url = ""                    # "" = the exchange's own; or env ENGINE_PUBLIC_WS_URL

[exchange.paper.csv_files]
# BTCUSDT = "candles/BTC_USDT_5m.csv"

[exchange.paper.start_balances]
USDT = 10000.0

[execution_pool]
max_open_groups = 10
count_pyramids_toward_pool = false
count_dca_toward_pool = false
queue_limit = 0                # 0 = unlimited

[grid_strategy]
max_pyramids_per_group = 5
max_dca_per_pyramid = 7
tp_mode = "leg"                # leg | aggregate | hybrid
tp_percent = 1.0
entry_order_type = "limit"     # limit | market
capital_per_pyramid_usd = 0    # 0 = use the webhook's order size only
cancel_dca_beyond_percent = 0  # 0 = never cancel unfilled legs

[[grid_strategy.dca_levels]]
gap_percent = 0.0
weight_percent = 20.0
tp_percent = 1.0

[[grid_strategy.dca_levels]]
gap_percent = -0.5
weight_percent = 20.0
tp_percent = 0.5

[[grid_strategy.dca_levels]]
gap_percent = -1.0
weight_percent = 20.0
tp_percent = 2.0

[[grid_strategy.dca_levels]]
gap_percent = -1.5
weight_percent = 20.0
tp_percent = 1.5

[[grid_strategy.dca_levels]]
gap_percent = -2.0
weight_percent = 20.0
tp_percent = 1.0

[grid_strategy.pyramid_specific_levels]
# Ladder for pyramid index 4 (the fifth entry), for example:
# [[grid_strategy.pyramid_specific_levels."4"]]
# gap_percent = 0.0
# weight_percent = 50.0
# tp_percent = 1.0
# [[grid_strategy.pyramid_specific_levels."4"]]
# gap_percent = -1.0
# weight_percent = 50.0
# tp_percent = 1.0

[grid_strategy.overrides]
# [grid_strategy.overrides."binance:BTCUSDT:60"]
# tp_mode = "hybrid"
# tp_percent = 1.5
# capital_per_pyramid_usd = 500

[waiting_rule]
queue_replace_same_symbol = true
selection_priority = [
  "pyramid_continuation",
  "highest_loss_percent",
  "highest_replacement_count",
  "highest_expected_profit",
  "fifo",
]
drop_on_exit = true

[risk_engine]                  # "[risk]" is accepted as an alias
require_full_pyramids = true
enable_post_full_wait = true
post_full_wait_minutes = 60
timer_start_condition = "after_5_pyramids"   # after_5_pyramids | after_all_dca_submitted | after_all_dca_filled
reset_timer_on_replacement = false
loss_threshold_percent = -5.0
use_trade_age_filter = false
age_threshold_minutes = 200
offset_mode = "usd"
max_winners_to_combine = 3
partial_close_enabled = true
min_close_notional = 20.0
offset_slippage_percent = 0.0
evaluate_on_fill = true
evaluate_interval_sec = 10
max_slippage_percent = 1.0
slippage_action = "warn"       # warn | reject

[precision]
enforce_tick_size = true
enforce_step_size = true
enforce_min_notional = true
strict_mode = true

[precision.fallback_rules]
tick_size = 0.00000001
step_size = 0.000001
min_qty = 0.000001
min_notional = 1.0

[precision.overrides]
# [precision.overrides."binance:BTCUSDT"]
# tick_size = 0.10
# step_size = 0.0001
# min_qty = 0.0001
# min_notional = 5.0

[logging]
audit_log_enabled = true
rotate_daily = true
keep_days = 30
max_file_mb = 50
auto_export = false
webhook_replay_enabled = false

[security]
store_secrets_encrypted = true
webhook_signature_validation = true
webhook_hmac_required = false
webhook_ip_allowlist = []      # e.g. ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]
trust_forwarded_for = false
secrets_file = "secrets.enc"
session_timeout_minutes = 720
# webhook_secret: from the secret store only

[ui]                           # "[UI]" is accepted as an alias
framework = "builtin"
theme = "dark"                 # dark | light
realtime_update_ms = 500
font_size = 14
auto_save_config = true
chart_history_days = 30        # price bars kept for the group charts

[ui.column_visibility]
# positions = ["pair", "pyramids", "dca_filled", "avg_entry", "pnl_pct", "pnl_usd", "tp_mode", "status"]

[notifications]                # outbound messages only; no command is taken from them
enabled = false
telegram_chat_id = ""          # bot token: engine secrets set notifications.telegram_bot_token
webhook_format = "discord"     # discord | slack | json; URL: engine secrets set notifications.webhook_url
events = [
  "group_opened", "group_closed", "tp_filled", "risk_action", "order_rejected",
  "exchange_down", "exchange_up", "engine_started", "engine_stopped", "daily_summary",
]
batch_sec = 10                 # events of this many seconds go out as one message
timeout_sec = 10               # per delivery attempt; failed ones are retried with backoff
queue_limit = 1000             # events waiting beyond this are dropped (and counted)

[packaging]
target_platforms = ["linux", "win", "mac"]
auto_update = false
"""
