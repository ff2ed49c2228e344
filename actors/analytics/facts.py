"""Reading analytics facts back from the database: fills with what they realized, closed trades
with their legs, the groups' labels.

Owns: nothing — plain functions over a connection (the writer's inside a transaction, or a
read-only one).
Receives: a connection and ids; ``fills``, ``closed_trades``, ``position_groups``,
``pnl_adjustments`` rows.
Sends: ``engine.analytics`` fact values to the incremental roll-up, the rebuild and the
filtered reads.
Fails how: a malformed stored value (JSON, decimal text) raises: those rows are written by
the engine only, so that is a bug to see, not to skip.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from engine.analytics.definitions import (
    UNLABELLED,
    RealizationFact,
    TradeFact,
)
from engine.analytics.ladder import FillFact, LotExit, leg_facts
from engine.group import unrealized
from engine.group.state import GroupState
from engine.orders import decode_cid

_lots = msgspec.json.Decoder(tuple[LotExit, ...]).decode
_state = msgspec.json.Decoder(GroupState).decode
_encode = msgspec.json.Encoder().encode
LABEL_SQL = ("COALESCE(NULLIF(TRIM(json_extract(first_signal, '$.alert_name')), ''),"
             " NULLIF(TRIM(json_extract(first_signal, '$.trade_id')), ''))")


def encode_lots(lots: tuple[LotExit, ...]) -> str | None:
    return _encode(lots).decode() if lots else None


def decode_lots(text: str | bytes) -> tuple[LotExit, ...]:
    return _lots(text)


def fill_fact(client_order_id: str, realized: str | None, lots: str | None) -> FillFact | None:
    """A fill of one of our orders; None for a fill whose cid is not ours or that has no
    recorded realization (recorded before the analytics migration)."""
    parts = decode_cid(client_order_id)
    if parts is None or realized is None:
        return None
    return FillFact(purpose=parts.purpose, pyramid=parts.pyramid, leg=parts.leg,
                    realized=Decimal(realized), lots=_lots(lots) if lots else ())


def group_fills(conn: sqlite3.Connection, group_id: int) -> list[FillFact]:
    rows = conn.execute("SELECT client_order_id, realized, lots FROM fills WHERE group_id = ?"
                        " ORDER BY ts, id", (group_id,))
    return [f for f in (fill_fact(*r) for r in rows) if f is not None]


def strategy_of(conn: sqlite3.Connection, group_id: int) -> str:
    row = conn.execute(f"SELECT {LABEL_SQL} FROM position_groups WHERE id = ?",
                       (group_id,)).fetchone()
    return row[0] if row and row[0] else UNLABELLED


def trade_fact(conn: sqlite3.Connection, row: dict[str, Any], state: GroupState | None,
               strategy: str) -> TradeFact:
    """A ``closed_trades`` row (or the step's ``ClosedTrade`` as a dict) with its legs."""
    legs = leg_facts(state, group_fills(conn, row["group_id"])) if state is not None else ()
    return TradeFact(group_id=row["group_id"], symbol=row["symbol"],
                     timeframe=row["timeframe"], side=row["side"], strategy=strategy,
                     opened_at_ms=row["opened_at"], closed_at_ms=row["closed_at"],
                     pyramids=row["pyramids"], realized=Decimal(row["realized_pnl"]),
                     entry_cost=Decimal(row["entry_cost"]), legs=legs)


class GroupInfo(msgspec.Struct, frozen=True):
    symbol: str
    timeframe: int
    side: str
    strategy: str


def group_infos(conn: sqlite3.Connection, where: str = "", params: tuple = ()
                ) -> dict[int, GroupInfo]:
    sql = f"SELECT id, symbol, timeframe, side, {LABEL_SQL} FROM position_groups {where}"
    return {r[0]: GroupInfo(r[1], r[2], r[3], r[4] or UNLABELLED)
            for r in conn.execute(sql, params)}


def _only(infos: dict[int, GroupInfo], selected: bool, column: str) -> tuple[str, tuple]:
    """SQL restricting ``column`` to the groups of ``infos`` when they are a selection (an
    index seek per group instead of reading every row)."""
    if not selected:
        return "", ()
    return f" AND {column} IN (SELECT value FROM json_each(?))", (_encode(list(infos)).decode(),)


def realizations(conn: sqlite3.Connection, infos: dict[int, GroupInfo], *,
                 selected: bool = False) -> Iterator[RealizationFact]:
    """Every realization recorded for the groups in ``infos``: fills, adjustments, and for a
    group with fills from before the analytics migration its unexplained remainder, booked
    when it closed (or at its last update while open). ``selected``: ``infos`` is a filtered
    selection of the groups."""
    known: dict[int, Decimal] = {}
    legacy: set[int] = set()
    where, params = _only(infos, selected, "group_id")
    for gid, ts, realized in conn.execute("SELECT group_id, ts, realized FROM fills WHERE"
                                          f" group_id IS NOT NULL{where} ORDER BY ts, id",
                                          params):
        info = infos.get(gid)
        if info is None:
            continue
        if realized is None:
            legacy.add(gid)
            continue
        amount = Decimal(realized)
        if amount:  # a fee-free entry realizes nothing (the incremental path books no row)
            known[gid] = known.get(gid, Decimal(0)) + amount
            yield _fact(info, ts, amount)
    for gid, ts, amount in conn.execute("SELECT group_id, ts, amount FROM pnl_adjustments"
                                        f" WHERE 1{where} ORDER BY ts, id", params):
        info = infos.get(gid)
        if info is not None:
            known[gid] = known.get(gid, Decimal(0)) + Decimal(amount)
            yield _fact(info, ts, Decimal(amount))
    for gid in sorted(legacy):
        row = conn.execute("SELECT realized_pnl, COALESCE(closed_at, updated_at) FROM"
                           " position_groups WHERE id = ?", (gid,)).fetchone()
        rest = Decimal(row[0]) - known.get(gid, Decimal(0))
        if rest:
            yield _fact(infos[gid], row[1], rest)


def _fact(info: GroupInfo, ts: int, amount: Decimal) -> RealizationFact:
    return RealizationFact(ts_ms=ts, amount=amount, symbol=info.symbol,
                           timeframe=info.timeframe, side=info.side, strategy=info.strategy)


def closed_trades(conn: sqlite3.Connection, infos: dict[int, GroupInfo], *,
                  with_legs: bool = True, selected: bool = False) -> Iterator[TradeFact]:
    """Every closed trade of the groups in ``infos``; ``with_legs``: with its legs (decoded
    from the group's stored state — what the ladder needs and the rest does not)."""
    state = "g.state" if with_legs else "NULL"
    where, params = _only(infos, selected, "t.group_id")
    cursor = conn.execute(f"SELECT t.*, {state} AS state FROM closed_trades t JOIN"
                          f" position_groups g ON g.id = t.group_id WHERE 1{where} ORDER BY"
                          " t.closed_at, t.group_id", params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        row = dict(zip(names, values))
        info = infos.get(row["group_id"])
        if info is None:
            continue
        state = _state(row["state"]) if row["state"] else None
        yield trade_fact(conn, row, state, info.strategy)


OPEN_STATES_SQL = ("SELECT state FROM position_groups WHERE status IN ('live', 'partially_filled',"
                   " 'active', 'closing') AND state IS NOT NULL")


def open_states(rows: Iterator[str | bytes]) -> list[GroupState]:
    return [_state(text) for text in rows]


def unrealized_total(states: list[GroupState], prices: Mapping[str, Decimal]) -> Decimal:
    """Σ unrealized PnL of the open groups at ``prices`` (fees excluded, SPEC 3.5); a group
    without a price yet counts 0."""
    total = Decimal(0)
    for s in states:
        price = prices.get(s.symbol)
        if price is not None:
            total += unrealized(s, price)[0]
    return total
