"""Tables of the paper exchange (SPEC 12.3 ``paper_*``, 12.6).

Owns: the DDL of ``paper_balances``, ``paper_orders``, ``paper_trades``, ``paper_prices``.
Receives: ``ensure_paper_schema(conn)`` inside a write transaction (idempotent: ``IF NOT
EXISTS``), so the paper exchange works on any database before the migration list folds it in.
Sends: nothing.
Fails how: ``sqlite3.Error`` propagates to the caller's transaction, which rolls back.

Decimals are stored as their exact text; ids are the matching core's integers.
"""

import sqlite3

PAPER_SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_balances (
    asset TEXT PRIMARY KEY,
    free TEXT NOT NULL,
    locked TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_orders (
    order_id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    price TEXT,
    quantity TEXT NOT NULL,
    filled_quantity TEXT NOT NULL,
    cumulative_quote TEXT NOT NULL,
    status TEXT NOT NULL,
    locked TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_orders_open ON paper_orders (status, symbol);
CREATE TABLE IF NOT EXISTS paper_trades (
    trade_id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    quote_quantity TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    is_maker INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_trades_symbol_ts ON paper_trades (symbol, ts_ms);
CREATE TABLE IF NOT EXISTS paper_prices (
    symbol TEXT PRIMARY KEY,
    price TEXT NOT NULL,
    ts_ms INTEGER NOT NULL
);
"""


def ensure_paper_schema(conn: sqlite3.Connection) -> None:
    # executescript would COMMIT the caller's transaction: run the statements one by one
    for statement in PAPER_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
