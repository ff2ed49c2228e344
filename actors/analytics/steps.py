"""The analytics side of a group's step, written in the step's own transaction (SPEC 11.3:
"updated after every close"): what the step realized, when, and — at a close — the trade.

Owns: nothing between calls; runs inside ``actors/group/projection.record_step``.
Receives: the group's state before and after the step, its events, the trade it booked (if
any) and whether that trade's ``fills`` row is new.
Sends: ``fills.realized`` / ``fills.lots`` of the trade; a ``pnl_adjustments`` row for PnL
realized without a fill (a write-off, dust left at a close); ``closed_trades.strategy``; the
``trade_analytics`` buckets and ``daily_stats`` figures of the realization and of the close.
Fails how: SQL errors propagate: the whole step (projections and roll-ups) is rolled back.

Realized PnL is counted at the trade's exchange time (a fill) or the step's time (anything
else); a closed trade at its close time. The step's realized change is split into what the
trade itself booked (``LegFilled``/``TpFilled``/``CloseFilled``) and the rest, so the sum of
``fills.realized`` and ``pnl_adjustments`` of a group is always its ``realized_pnl``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from actors.analytics import facts, rows
from engine.analytics.definitions import RealizationFact, TradeFact, outcome
from engine.analytics.ladder import lot_exits
from engine.analytics.periods import day_key
from engine.analytics.rollup import DayFacts, of_realization, of_trade
from engine.group.messages import CloseFilled, GroupClosed, LegFilled, TpFilled, TradeFilled
from engine.group.state import GroupState
from engine.orders import Purpose

ZERO = Decimal(0)


def _own(events: Iterable[object], trade: TradeFilled) -> Decimal:
    """What the trade itself realized: an entry its fee (negative), an exit its PnL."""
    for ev in events:
        if isinstance(ev, LegFilled) and ev.trade_id == trade.trade_id:
            return -ev.fee_quote
        if isinstance(ev, (TpFilled, CloseFilled)) and ev.trade_id == trade.trade_id:
            return ev.realized
    return ZERO


def record(conn: sqlite3.Connection, *, before: GroupState | None, after: GroupState,
           events: tuple, trade: TradeFilled | None, fill_is_new: bool, now_ms: int) -> None:
    delta = after.realized_pnl - (before.realized_pnl if before is not None else ZERO)
    closed = next((ev for ev in events if isinstance(ev, GroupClosed)), None)
    if trade is None and delta == 0 and closed is None:
        return
    tz = rows.timezone_of(conn)
    strategy = facts.strategy_of(conn, after.group_id)
    realized: list[RealizationFact] = []
    days: dict[str, DayFacts] = {}

    def book(ts: int, amount: Decimal) -> None:
        if amount:
            realized.append(RealizationFact(ts_ms=ts, amount=amount, symbol=after.symbol,
                                            timeframe=after.timeframe, side=after.side,
                                            strategy=strategy))
            day = day_key(ts, tz)
            days[day] = days.get(day, DayFacts()) + DayFacts(realized=amount)

    rest = delta
    if trade is not None:
        own = _own(events, trade)
        lots = lot_exits(before, after, trade.price) if before is not None and \
            trade.ref.purpose != Purpose.ENTRY else ()
        conn.execute("UPDATE fills SET realized = ?, lots = ? WHERE exchange = ? AND symbol = ?"
                     " AND trade_id = ?", (str(own), facts.encode_lots(lots), after.exchange,
                                           after.symbol, trade.trade_id))
        if fill_is_new:
            day = day_key(trade.ts_ms, tz)
            days[day] = days.get(day, DayFacts()) + DayFacts(fills=1,
                                                             volume=trade.price * trade.qty)
        book(trade.ts_ms, own)
        rest -= own
    if rest:
        conn.execute("INSERT INTO pnl_adjustments (group_id, ts, amount, reason) VALUES"
                     " (?, ?, ?, ?)", (after.group_id, now_ms, str(rest),
                                       "close" if closed is not None else "write_off"))
        book(now_ms, rest)
    dated: list[tuple[int, list]] = [(r.ts_ms, of_realization(r)) for r in realized]
    if closed is not None:
        trade_row = msgspec.structs.asdict(closed.record)
        trade_row.update(opened_at=trade_row.pop("opened_at_ms"),
                         closed_at=trade_row.pop("closed_at_ms"))
        fact = facts.trade_fact(conn, trade_row, after, strategy)
        conn.execute("UPDATE closed_trades SET strategy = ? WHERE group_id = ?",
                     (strategy, after.group_id))
        dated.append((fact.closed_at_ms, of_trade(fact)))
        day = day_key(fact.closed_at_ms, tz)
        days[day] = days.get(day, DayFacts()) + _closed(fact)
    for (period, start), parts in rows.by_period(tz, dated).items():
        rows.add_buckets(conn, period, start, parts, now_ms)
    for day, f in days.items():
        rows.add_day(conn, day, f, now_ms)
        if f.realized:
            rows.refresh_best_worst(conn, day)


def _closed(t: TradeFact) -> DayFacts:
    kind = outcome(t.realized)
    return DayFacts(trades_closed=1, wins=int(kind == "win"), losses=int(kind == "loss"))
