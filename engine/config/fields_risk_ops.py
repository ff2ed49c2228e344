"""Catalogue metadata of the risk engine, logging, security, storage and display keys, and of
the secrets (which live in the secret store, never in engine.toml). See ``fields.py``."""

from decimal import Decimal

from engine.config.fields_types import (
    EXCHANGE,
    LOGGING,
    RISK,
    SECURITY,
    STORAGE,
    THEME,
    Field,
)
from engine.config.model import PLATFORMS
from engine.config.requirements import MIN_WEBHOOK_SECRET

D = Decimal

RISK_OPS_FIELDS: dict[str, Field] = {
    # --- app ------------------------------------------------------------------------------
    "app.mode": Field(STORAGE, "Engine mode", "Engine, web server and console run together in "
                      "this one process; there is no other mode."),
    "app.data_dir": Field(STORAGE, "Data directory", "Folder of the database, logs, exports and "
                          "secrets file; a relative path starts at engine.toml's folder."),
    "app.log_level": Field(LOGGING, "Log level", "Least severe level that is written."),
    "app.timezone": Field(THEME, "Time zone", "IANA zone (for example Europe/Berlin) for shown "
                          "times and the day boundary of the analytics."),
    "app.auto_restart": Field(STORAGE, "Restart after a crash", "Start the engine again 5 s "
                              "after a crash when no service manager does it."),
    "app.http_host": Field(SECURITY, "Bind address", "IP address the web server listens on; "
                           "127.0.0.1 keeps it local (put a TLS proxy in front)."),
    "app.http_port": Field(SECURITY, "Port", "TCP port of the web server. TradingView calls "
                           "only 80 and 443.", ge=1, le=65535),
    "app.tls_cert_file": Field(SECURITY, "TLS certificate", "PEM certificate for serving HTTPS "
                               "directly; set together with the key, or leave both empty."),
    "app.tls_key_file": Field(SECURITY, "TLS key", "PEM private key matching the certificate."),
    "app.public_url": Field(SECURITY, "Public URL", "Address TradingView reaches the engine "
                            "at (https://host, behind the TLS proxy); the TradingView page "
                            "builds the webhook URL from it. Empty: the browser's address."),
    "app.quote_currencies": Field(EXCHANGE, "Quote currencies", "Quote assets the engine trades "
                                  "in; each is valued at 1 USD."),
    "app.capital_base_usd": Field(EXCHANGE, "Capital base", "Capital the percentage figures "
                                  "refer to; 0 takes the quote balance found at the first "
                                  "start.", "USD", ge=0),
    # --- Risk Engine ----------------------------------------------------------------------
    "risk_engine.require_full_pyramids": Field(RISK, "Require full pyramids", "A loser is "
                                               "eligible only once all its pyramids arrived."),
    "risk_engine.enable_post_full_wait": Field(RISK, "Wait after full", "Wait the post-full time "
                                               "after the timer starts before acting."),
    "risk_engine.post_full_wait_minutes": Field(RISK, "Post-full wait", "Time between the timer "
                                                "start and the first possible action.", "min",
                                                ge=0),
    "risk_engine.timer_start_condition": Field(RISK, "Timer start", "Which event starts a "
                                               "group's risk timer."),
    "risk_engine.reset_timer_on_replacement": Field(RISK, "Reset timer on replacement", "A "
                                                    "replacement pyramid restarts a running "
                                                    "timer."),
    "risk_engine.loss_threshold_percent": Field(RISK, "Loss trigger", "Unrealized loss at which "
                                                "a group may be closed against winners "
                                                "(negative).", "%", lt=0),
    "risk_engine.use_trade_age_filter": Field(RISK, "Age filter", "Only groups older than the "
                                              "age threshold are eligible."),
    "risk_engine.age_threshold_minutes": Field(RISK, "Age threshold", "Minimum group age for "
                                               "the age filter.", "min", ge=0),
    "risk_engine.offset_mode": Field(RISK, "Offset mode", "Losses are offset in dollars (the "
                                     "only mode)."),
    "risk_engine.max_winners_to_combine": Field(RISK, "Winners per action", "Most winning "
                                                "groups one action may close partly.",
                                                "groups", ge=1, le=10),
    "risk_engine.partial_close_enabled": Field(RISK, "Partial closes", "Close only the part of "
                                               "a winner that covers the loss; off closes the "
                                               "chosen winners whole."),
    "risk_engine.min_close_notional": Field(RISK, "Min close notional", "Smallest winner close "
                                            "worth sending.", "USD", ge=0),
    "risk_engine.offset_slippage_percent": Field(RISK, "Offset slippage allowance", "Extra "
                                                 "amount to cover, as a share of the plan's "
                                                 "close notional.", "%", ge=0, le=5),
    "risk_engine.evaluate_on_fill": Field(RISK, "Evaluate on fill", "Run a risk cycle after "
                                          "every fill."),
    "risk_engine.evaluate_interval_sec": Field(RISK, "Evaluation interval", "Time between two "
                                               "periodic risk cycles.", "s", ge=1, le=3600),
    "risk_engine.max_slippage_percent": Field(RISK, "Max market slippage", "Default limit of "
                                              "a market order's price drift.", "%", gt=0,
                                              lt=100),
    "risk_engine.slippage_action": Field(RISK, "On slippage breach", "warn logs it; reject "
                                         "refuses the order."),
    # --- Logging --------------------------------------------------------------------------
    "logging.audit_log_enabled": Field(LOGGING, "Audit trail", "Record every order request and "
                                       "answer, risk action, exit, config change and login."),
    "logging.rotate_daily": Field(LOGGING, "Daily files", "Start a new log file every UTC day."),
    "logging.keep_days": Field(LOGGING, "Keep logs", "Log files and log events older than this "
                               "are deleted.", "days", ge=1),
    "logging.max_file_mb": Field(LOGGING, "Max file size", "A log file this large is continued "
                                 "in a numbered file.", "MB", ge=1),
    "logging.auto_export": Field(LOGGING, "Daily CSV export", "Export the previous day's events "
                                 "as CSV into the exports folder after midnight."),
    "logging.webhook_replay_enabled": Field(LOGGING, "Webhook replay", "Offer the button that "
                                            "feeds a stored webhook through the engine again."),
    # --- Security -------------------------------------------------------------------------
    "security.store_secrets_encrypted": Field(SECURITY, "Encrypt secrets", "Keep the secrets "
                                              "file encrypted with a key bound to this "
                                              "machine."),
    "security.webhook_signature_validation": Field(SECURITY, "Check webhook secret", "Refuse "
                                                   "webhooks whose secret field does not "
                                                   "match."),
    "security.webhook_hmac_required": Field(SECURITY, "Require HMAC header", "Also require an "
                                            "X-Signature HMAC-SHA256 of the body."),
    "security.webhook_ip_allowlist": Field(SECURITY, "Webhook IP allowlist", "Addresses or "
                                           "CIDR ranges allowed to call the webhook; empty "
                                           "allows any."),
    "security.trust_forwarded_for": Field(SECURITY, "Trust X-Forwarded-For", "Take the client "
                                          "address from the proxy's X-Forwarded-For header."),
    "security.secrets_file": Field(SECURITY, "Secrets file", "Location of the secrets file "
                                   "inside the data directory."),
    "security.session_timeout_minutes": Field(SECURITY, "Session lifetime", "How long a login "
                                              "stays valid.", "min", ge=5, le=10080),
    # --- Theme & UI -----------------------------------------------------------------------
    "ui.framework": Field(THEME, "Interface", "The console shipped with the engine "
                          "(informational)."),
    "ui.theme": Field(THEME, "Theme", "Default colour theme; each user can switch."),
    "ui.realtime_update_ms": Field(THEME, "Refresh rate", "Shortest interval between two live "
                                   "updates sent to the browser.", "ms", ge=100, le=10000),
    "ui.font_size": Field(THEME, "Font size", "Base font size of the console.", "px", ge=10,
                          le=24),
    "ui.column_visibility": Field(THEME, "Visible columns", "Table name → the column ids shown "
                                  "(remembered layout)."),
    "ui.chart_history_days": Field(THEME, "Chart history", "Days of price bars kept for the "
                                   "group charts.", "days", ge=1, le=3650),
    "ui.auto_save_config": Field(STORAGE, "Auto-save settings", "Save every valid edit at once; "
                                 "off keeps edits as a draft until Save."),
    # --- packaging ------------------------------------------------------------------------
    "packaging.target_platforms": Field(STORAGE, "Build platforms", "Platforms a package build "
                                        "produces.", choices=PLATFORMS),
    "packaging.auto_update": Field(STORAGE, "Auto update", "Accepted but ignored: the engine "
                                   "never updates itself."),
    # --- secrets (the secret store; write-only) -------------------------------------------
    "exchange.api_key": Field(EXCHANGE, "API key", "Exchange API key; needed for every "
                              "exchange except paper."),
    "exchange.api_secret": Field(EXCHANGE, "API secret", "Exchange API secret; needed for "
                                 "every exchange except paper."),
    "exchange.passphrase": Field(EXCHANGE, "API passphrase", "Needed by okx and kucoin."),
    "security.webhook_secret": Field(SECURITY, "Webhook secret", "Shared secret the alert "
                                     "sends in its secret field.",
                                     min_length=MIN_WEBHOOK_SECRET),
}
