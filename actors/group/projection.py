"""Projection writers of one position group: the SQL behind the group actor's ``store.write``.

Owns: nothing between calls — every function runs inside one write transaction handed in by the
caller (the group actor, or the supervisor when it creates a group).
Receives: a group's previous and next ``GroupState``, the step's events and the input message.
Sends: rows to ``journal`` (one per event), ``position_groups`` (summary columns and the full
msgspec-JSON ``state`` that a restart restores from), ``pyramids``, ``dca_orders``, ``orders``
(state ``pending`` for every ``OrderIntended`` — written before the order is sent), ``fills``
(INSERT OR IGNORE by trade id) and ``closed_trades`` when the group closes; the analytics
roll-ups of what the step realized or closed (``actors/analytics/steps.py``), in the same
transaction.
Fails how: any SQL error propagates to the caller's write, whose savepoint is rolled back: the
step is not recorded and the caller must not act on it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from actors.analytics import steps as analytics_steps
from actors.store.writer import Store
from engine.group import GroupState, average_entry
from engine.group.messages import GroupClosed, GroupEvent, OrderIntended, TradeFilled
from engine.group.state import Leg, Pyramid
from engine.orders import Purpose, encode_cid

_json = msgspec.json.Encoder(enc_hook=str)
_state_decoder = msgspec.json.Decoder(GroupState)


def encode_state(state: GroupState) -> str:
    return _json.encode(state).decode()


def decode_state(text: str | bytes) -> GroupState:
    return _state_decoder.decode(text)


def _t(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def insert_group(conn: sqlite3.Connection, *, exchange: str, symbol: str, timeframe: int,
                 side: str, now_ms: int, config_snapshot: str, first_signal: str | None) -> int:
    """The new group's row (its id is the group id); the database refuses a second non-closed
    group for the key (SPEC 3.1), which raises ``sqlite3.IntegrityError``."""
    cursor = conn.execute(
        "INSERT INTO position_groups (exchange, symbol, timeframe, side, status, created_at,"
        " updated_at, config_snapshot, first_signal) VALUES (?, ?, ?, ?, 'live', ?, ?, ?, ?)",
        (exchange, symbol, timeframe, side, now_ms, now_ms, config_snapshot, first_signal))
    return int(cursor.lastrowid)


def record_step(conn: sqlite3.Connection, store: Store, *, instance: str, before: GroupState | None,
                after: GroupState, events: Iterable[GroupEvent], trade: TradeFilled | None,
                now_ms: int, actor: str = "group") -> None:
    """Journal the events and bring every projection of the group up to ``after``."""
    gid = after.group_id
    events = tuple(events)
    for ev in events:
        store.journal(conn, actor=actor, kind=type(ev).__name__, key=f"group:{gid}", body=ev)
        if isinstance(ev, OrderIntended):
            _insert_order(conn, instance, after, ev, now_ms)
        elif isinstance(ev, GroupClosed):
            _insert_closed_trade(conn, ev)
    fill_is_new = trade is not None and _insert_fill(conn, instance, after, trade, now_ms)
    _write_pyramids(conn, before, after, now_ms)
    _write_legs(conn, before, after, now_ms)
    _write_group(conn, after, now_ms)
    analytics_steps.record(conn, before=before, after=after, events=events, trade=trade,
                           fill_is_new=fill_is_new, now_ms=now_ms)


def _write_group(conn: sqlite3.Connection, s: GroupState, now_ms: int) -> None:
    cursor = conn.execute(
        "UPDATE position_groups SET status = ?, close_reason = ?, closed_at = ?, updated_at = ?,"
        " pyramid_count = ?, legs_filled = ?, legs_total = ?, tp_mode = ?, timer_started_at = ?,"
        " avg_entry = ?, open_qty = ?, dust_qty = ?, realized_pnl = ?, fees = ?, state = ?"
        " WHERE id = ?",
        (s.status, s.close_reason, s.closed_at_ms, now_ms, s.pyramid_count,
         sum(1 for leg in s.legs if leg.filled_qty > 0), len(s.legs), s.config.tp_mode,
         s.timer_started_at_ms, _t(average_entry(s)), str(s.open_qty), str(s.dust_qty),
         str(s.realized_pnl), str(s.fees_paid), encode_state(s), s.group_id))
    if cursor.rowcount != 1:
        raise LookupError(f"position_groups row {s.group_id} is missing")


def _changed(before: Iterable, after: Iterable, key) -> list:
    old = {key(x): x for x in before}
    return [x for x in after if old.get(key(x)) != x]


def _write_pyramids(conn: sqlite3.Connection, before: GroupState | None, after: GroupState,
                    now_ms: int) -> None:
    rows: list[Pyramid] = _changed(before.pyramids if before else (), after.pyramids,
                                   lambda p: p.index)
    for p in rows:
        conn.execute(
            "INSERT INTO pyramids (group_id, idx, reference_price, notional, ladder, signal_ts,"
            " state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (group_id, idx) DO UPDATE SET reference_price = excluded.reference_price,"
            " notional = excluded.notional, ladder = excluded.ladder, state = excluded.state,"
            " updated_at = excluded.updated_at",
            (after.group_id, p.index, str(p.reference_price), str(p.notional),
             _json.encode(p.levels).decode(), p.signal_ts_ms, p.state, p.received_at_ms, now_ms))


def _write_legs(conn: sqlite3.Connection, before: GroupState | None, after: GroupState,
                now_ms: int) -> None:
    rows: list[Leg] = _changed(before.legs if before else (), after.legs, lambda g: g.key)
    for g in rows:
        conn.execute(
            "INSERT INTO dca_orders (group_id, pyramid, leg, gap_percent, weight_percent,"
            " tp_percent, planned_price, planned_qty, entry_state, filled_qty, fill_vwap, open_qty,"
            " tp_price, tp_state, last_fill_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (group_id, pyramid, leg) DO UPDATE SET"
            " planned_price = excluded.planned_price, planned_qty = excluded.planned_qty,"
            " entry_state = excluded.entry_state, filled_qty = excluded.filled_qty,"
            " fill_vwap = excluded.fill_vwap, open_qty = excluded.open_qty,"
            " tp_price = excluded.tp_price, tp_state = excluded.tp_state,"
            " last_fill_at = excluded.last_fill_at, updated_at = excluded.updated_at",
            (after.group_id, g.pyramid, g.index, str(g.gap_percent), str(g.weight_percent),
             str(g.tp_percent), str(g.planned_price), str(g.planned_qty), g.entry_state,
             str(g.filled_qty), _t(g.fill_vwap if g.filled_qty > 0 else None), str(g.open_qty),
             _t(g.tp_price), g.tp_state, g.last_fill_ms, now_ms))


def _insert_order(conn: sqlite3.Connection, instance: str, s: GroupState, ev: OrderIntended,
                  now_ms: int) -> None:
    o = ev.order
    cid = encode_cid(instance, o.group_id, o.ref.pyramid, o.ref.leg, o.ref.purpose, o.ref.attempt)
    conn.execute(
        "INSERT INTO orders (client_order_id, exchange, symbol, group_id, pyramid, leg, purpose,"
        " attempt, type, side, price, quantity, state, request, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (cid, s.exchange, o.symbol, o.group_id, o.ref.pyramid, o.ref.leg, o.ref.purpose,
         o.ref.attempt, o.order_type, o.side, _t(o.price), str(o.qty), _json.encode(o).decode(),
         now_ms, now_ms))


def _insert_fill(conn: sqlite3.Connection, instance: str, s: GroupState, t: TradeFilled,
                 now_ms: int) -> bool:
    """The trade's ``fills`` row; False when it was already recorded."""
    entry_side = "buy" if s.side == "long" else "sell"
    side = entry_side if t.ref.purpose == Purpose.ENTRY else ("sell" if entry_side == "buy" else "buy")
    cid = encode_cid(instance, s.group_id, t.ref.pyramid, t.ref.leg, t.ref.purpose, t.ref.attempt)
    return 1 == conn.execute(  # rowcount 0: the trade id was already there
        "INSERT OR IGNORE INTO fills (exchange, symbol, trade_id, client_order_id, group_id, side,"
        " price, quantity, fee, fee_currency, ts, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?)",
        (s.exchange, s.symbol, t.trade_id, cid, s.group_id, side, str(t.price), str(t.qty),
         str(t.fee), t.fee_asset, t.ts_ms, now_ms)).rowcount


def _insert_closed_trade(conn: sqlite3.Connection, ev: GroupClosed) -> None:
    r = ev.record
    conn.execute(
        "INSERT OR REPLACE INTO closed_trades (group_id, exchange, symbol, timeframe, side,"
        " opened_at, closed_at, pyramids, legs_filled, entry_cost, exit_proceeds, fees,"
        " realized_pnl, return_percent, dust_qty, close_reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (r.group_id, r.exchange, r.symbol, r.timeframe, r.side, r.opened_at_ms, r.closed_at_ms,
         r.pyramids, r.legs_filled, str(r.entry_cost), str(r.exit_proceeds), str(r.fees),
         str(r.realized_pnl), str(r.return_percent), str(r.dust_qty), r.close_reason))


def load_live_states(store: Store) -> list[GroupState]:
    """Every group that is not closed or failed, from its ``state`` column (restart)."""
    rows = store.query("SELECT state FROM position_groups WHERE status NOT IN ('closed', 'failed')"
                       " AND state IS NOT NULL ORDER BY id")
    return [decode_state(r["state"]) for r in rows]
