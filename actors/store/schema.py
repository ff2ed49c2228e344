"""The SQLite schema (SPEC 12.3) as an ordered list of migrations.

Owns: the table definitions; ``MIGRATIONS[i]`` moves the schema from version ``i`` to ``i + 1``.
Receives / Sends: nothing — ``actors/store/writer.py`` applies the scripts at open, one transaction each,
and records the version in ``meta.schema_version``.
Fails how: a script that cannot run aborts its transaction; the store raises ``StorageError``.

Rules: append a new migration, never edit a released one. Money, prices, quantities and
percentages are decimal TEXT; times are INTEGER UTC milliseconds; JSON columns are TEXT.
Foreign keys are DEFERRABLE INITIALLY DEFERRED so that one transaction may write a parent and its
children in any order; they are checked at COMMIT.
"""

from actors.exchange.paper_schema import PAPER_SCHEMA
from actors.market.bars_schema import PRICE_BARS_SCHEMA
from actors.store.schema_analytics import ANALYTICS_SCHEMA

BOOTSTRAP = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

_V1 = """
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT,
    body TEXT NOT NULL
);
CREATE INDEX journal_kind ON journal(kind, seq);
CREATE INDEX journal_key ON journal(key, seq);

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    source_ip TEXT,
    idempotency_key TEXT,
    raw_body TEXT NOT NULL,
    parsed TEXT,
    state TEXT NOT NULL CHECK (state IN
        ('accepted', 'processing', 'processed', 'rejected', 'duplicate', 'queued')),
    outcome TEXT,
    processed_at INTEGER
);
CREATE INDEX inbox_state ON inbox(state, id);
CREATE INDEX inbox_idempotency ON inbox(idempotency_key);

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    inbox_id INTEGER NOT NULL REFERENCES inbox(id) DEFERRABLE INITIALLY DEFERRED,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_age ON idempotency_keys(accepted_at);

CREATE TABLE position_groups (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe INTEGER NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('long', 'short')),
    status TEXT NOT NULL CHECK (status IN
        ('live', 'partially_filled', 'active', 'closing', 'closed', 'failed')),
    close_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    pyramid_count INTEGER NOT NULL DEFAULT 0,
    legs_filled INTEGER NOT NULL DEFAULT 0,
    legs_total INTEGER NOT NULL DEFAULT 0,
    tp_mode TEXT,
    config_snapshot TEXT,
    timer_started_at INTEGER,
    risk_blocked INTEGER NOT NULL DEFAULT 0,
    skip_once INTEGER NOT NULL DEFAULT 0,
    avg_entry TEXT,
    open_qty TEXT NOT NULL DEFAULT '0',
    dust_qty TEXT NOT NULL DEFAULT '0',
    realized_pnl TEXT NOT NULL DEFAULT '0',
    fees TEXT NOT NULL DEFAULT '0',
    first_signal TEXT,
    state TEXT
);
-- SPEC 3.1: at most one non-closed group per key, enforced by the database.
CREATE UNIQUE INDEX position_groups_live_key ON position_groups(exchange, symbol, timeframe)
    WHERE status NOT IN ('closed', 'failed');
CREATE INDEX position_groups_status ON position_groups(status, id);
CREATE INDEX position_groups_closed ON position_groups(closed_at);

CREATE TABLE pyramids (
    group_id INTEGER NOT NULL
        REFERENCES position_groups(id) DEFERRABLE INITIALLY DEFERRED,
    idx INTEGER NOT NULL,
    reference_price TEXT,
    notional TEXT,
    ladder TEXT,
    signal TEXT,
    inbox_id INTEGER,
    signal_ts INTEGER,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, idx)
);

CREATE TABLE dca_orders (
    group_id INTEGER NOT NULL,
    pyramid INTEGER NOT NULL,
    leg INTEGER NOT NULL,
    gap_percent TEXT NOT NULL,
    weight_percent TEXT NOT NULL,
    tp_percent TEXT NOT NULL,
    planned_price TEXT,
    planned_qty TEXT,
    entry_state TEXT NOT NULL,
    filled_qty TEXT NOT NULL DEFAULT '0',
    fill_vwap TEXT,
    open_qty TEXT NOT NULL DEFAULT '0',
    tp_price TEXT,
    tp_state TEXT NOT NULL DEFAULT 'none',
    last_fill_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, pyramid, leg),
    FOREIGN KEY (group_id, pyramid) REFERENCES pyramids(group_id, idx)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    exchange_order_id TEXT,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    group_id INTEGER REFERENCES position_groups(id) DEFERRABLE INITIALLY DEFERRED,
    pyramid INTEGER,
    leg INTEGER,
    purpose TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    type TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price TEXT,
    quantity TEXT NOT NULL,
    state TEXT NOT NULL,
    filled_qty TEXT NOT NULL DEFAULT '0',
    avg_price TEXT,
    fee TEXT NOT NULL DEFAULT '0',
    fee_currency TEXT,
    request TEXT,
    response TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER,
    closed_at INTEGER
);
CREATE INDEX orders_group ON orders(group_id, pyramid, leg);
CREATE INDEX orders_state ON orders(state);
CREATE INDEX orders_exchange_id ON orders(exchange_order_id);

CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    group_id INTEGER,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    fee TEXT NOT NULL DEFAULT '0',
    fee_currency TEXT,
    is_maker INTEGER,
    ts INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (exchange, symbol, trade_id)
);
CREATE INDEX fills_order ON fills(client_order_id);
CREATE INDEX fills_group ON fills(group_id, ts);
CREATE INDEX fills_ts ON fills(ts);

CREATE TABLE queue_entries (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe INTEGER NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('long', 'short')),
    intent TEXT NOT NULL,
    payload TEXT NOT NULL,
    inbox_id INTEGER,
    signal_ts INTEGER NOT NULL,
    reference_price TEXT,
    order_size TEXT,
    size_type TEXT,
    reason TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    replacement_count INTEGER NOT NULL DEFAULT 0,
    continuation INTEGER NOT NULL DEFAULT 0,
    current_loss_percent TEXT,
    expected_profit_usd TEXT,
    -- SPEC 6.2: one entry per key and side.
    UNIQUE (exchange, symbol, timeframe, side)
);

CREATE TABLE risk_actions (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    loser_group_id INTEGER,
    loser_loss_percent TEXT,
    loser_loss_usd TEXT,
    required_usd TEXT,
    winners TEXT NOT NULL DEFAULT '[]',
    skipped TEXT NOT NULL DEFAULT '[]',
    outcome TEXT NOT NULL,
    realized TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
);
CREATE INDEX risk_actions_ts ON risk_actions(ts);

CREATE TABLE closed_trades (
    group_id INTEGER PRIMARY KEY
        REFERENCES position_groups(id) DEFERRABLE INITIALLY DEFERRED,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe INTEGER NOT NULL,
    side TEXT NOT NULL,
    strategy TEXT,
    opened_at INTEGER NOT NULL,
    closed_at INTEGER NOT NULL,
    pyramids INTEGER NOT NULL,
    legs_filled INTEGER NOT NULL,
    entry_cost TEXT NOT NULL,
    exit_proceeds TEXT NOT NULL,
    fees TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    return_percent TEXT,
    dust_qty TEXT NOT NULL DEFAULT '0',
    close_reason TEXT
);
CREATE INDEX closed_trades_closed ON closed_trades(closed_at);

CREATE TABLE equity_snapshots (
    ts INTEGER PRIMARY KEY,
    realized_equity TEXT NOT NULL,
    total_equity TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL DEFAULT '0',
    day_boundary INTEGER NOT NULL DEFAULT 0
);

-- Roll-ups of SPEC 11.3: one row per (period, start, dimension, value) with its metrics as JSON.
CREATE TABLE trade_analytics (
    period TEXT NOT NULL,
    period_start TEXT NOT NULL,
    dimension TEXT NOT NULL,
    dim_value TEXT NOT NULL,
    metrics TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (period, period_start, dimension, dim_value)
);

CREATE TABLE daily_stats (
    day TEXT PRIMARY KEY,
    fills INTEGER NOT NULL DEFAULT 0,
    volume TEXT NOT NULL DEFAULT '0',
    realized_pnl TEXT NOT NULL DEFAULT '0',
    trades_closed INTEGER NOT NULL DEFAULT 0,
    wins INTEGER NOT NULL DEFAULT 0,
    losses INTEGER NOT NULL DEFAULT 0,
    best_symbol TEXT,
    worst_symbol TEXT,
    start_equity TEXT,
    end_equity TEXT,
    finalised INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    category TEXT NOT NULL,
    event TEXT,
    exchange TEXT,
    symbol TEXT,
    timeframe INTEGER,
    group_id INTEGER,
    order_id TEXT,
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX events_ts ON events(ts);
CREATE INDEX events_level ON events(level, id);
CREATE INDEX events_category ON events(category, id);
CREATE INDEX events_symbol ON events(symbol, id);
CREATE INDEX events_event ON events(event, id);
CREATE INDEX events_group ON events(group_id, id);

-- Pinned alerts of the UI (11.6 /api/alerts); the event itself stays in `events`.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    category TEXT NOT NULL,
    event TEXT,
    message TEXT NOT NULL,
    data TEXT,
    dismissed_at INTEGER,
    dismissed_by TEXT
);

CREATE TABLE precision_cache (
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    rules TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (exchange, symbol)
);

CREATE TABLE config_versions (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    text TEXT NOT NULL,
    diff TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login_at INTEGER
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    source_ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    username TEXT,
    source_ip TEXT
);
CREATE INDEX login_failures_user ON login_failures(username, ts);
CREATE INDEX login_failures_ip ON login_failures(source_ip, ts);
"""

# v2: the paper exchange's own tables (balances, orders, trades, prices — SPEC 12.6). They are
# also created on demand by actors/exchange/paper_schema.py (IF NOT EXISTS), so a database the
# paper exchange already used migrates cleanly.
# v3: what the analytics roll-ups are rebuilt from (actors/store/schema_analytics.py).
# v4: 1-minute price bars for the group charts (actors/market/bars_schema.py).
MIGRATIONS: list[str] = [_V1, PAPER_SCHEMA, ANALYTICS_SCHEMA, PRICE_BARS_SCHEMA]
