"""Schema additions of the performance analytics (SPEC 11.3), one migration of ``schema.py``.

Owns: the SQL of that migration — what the roll-ups are rebuilt from and what makes the
dashboard's reads cheap.
Receives / Sends: nothing; ``actors/store/writer.py`` runs it once, in its own transaction.
Fails how: a statement that cannot run aborts the migration (``StorageError``).

- ``fills.realized``: the PnL the fill booked, net of its fee (an entry fill: minus its fee);
  ``fills.lots``: for a closing fill, the lots it took as JSON ``[[pyramid, leg, qty, gross]]``
  with gross = (exit − lot fill) × qty. NULL on fills recorded before this migration.
- ``pnl_adjustments``: realized PnL booked without a fill of its own (a lot written off, dust
  left behind at a close), at the time it was booked.
- ``equity_snapshots.peak_equity`` / ``max_drawdown``: the running peak of total equity and the
  largest drawdown (a fraction) up to that snapshot, so the all-time figures are one row away.
  ``day_boundary`` is 1 at a day boundary the engine saw pass, 2 for a day's start recorded when
  the engine came back after a stop (not a daily-return point; the day before stays open).
- Indexes for the day-boundary snapshots and for sorting closed trades by PnL and return.
"""

ANALYTICS_SCHEMA = """
ALTER TABLE fills ADD COLUMN realized TEXT;
ALTER TABLE fills ADD COLUMN lots TEXT;

CREATE TABLE pnl_adjustments (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    amount TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX pnl_adjustments_group ON pnl_adjustments(group_id, ts);

ALTER TABLE equity_snapshots ADD COLUMN peak_equity TEXT;
ALTER TABLE equity_snapshots ADD COLUMN max_drawdown TEXT;
CREATE INDEX equity_snapshots_days ON equity_snapshots(ts) WHERE day_boundary = 1;

CREATE INDEX closed_trades_pnl ON closed_trades(CAST(realized_pnl AS REAL));
CREATE INDEX closed_trades_return ON closed_trades(CAST(return_percent AS REAL));
CREATE INDEX closed_trades_key ON closed_trades(symbol, timeframe, closed_at);
"""
