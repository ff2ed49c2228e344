"""The ``price_bars`` table: 1-minute OHLC bars of the prices the engine observed (and of the
exchange's own klines, backfilled), for the group charts. A migration of ``actors/store/schema.py``.

Owns: the DDL. Receives / Sends: nothing. Fails how: ``sqlite3.Error`` aborts the migration's
transaction (``StorageError`` at open).

``t`` is the bar's minute (UTC ms, a multiple of 60,000); prices are exact decimal text;
``source`` says where it came from (``observed`` or ``exchange``). Rows older than
``ui.chart_history_days`` are deleted by ``actors/market/history.py``.
"""

PRICE_BARS_SCHEMA = """
CREATE TABLE IF NOT EXISTS price_bars (
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    t INTEGER NOT NULL,
    open TEXT NOT NULL,
    high TEXT NOT NULL,
    low TEXT NOT NULL,
    close TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (exchange, symbol, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS price_bars_t ON price_bars (t);
"""
