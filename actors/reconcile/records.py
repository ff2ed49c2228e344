"""The SQL of reconciliation: reading our unfinished orders and recording what was repaired.

Owns: nothing between calls (helpers of ``actors/reconcile/reconciler.py``).
Receives: the Store and the orders / exchange states the reconciler decided about.
Sends: ``orders`` rows (state synced to the exchange, ``failed``, adopted orders inserted) and
journal entries (``OrderReconciled``, ``OrderAdopted``, ``Reconciled``), each in one write.
Fails how: a storage failure propagates (crash-only).
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import msgspec

from actors.exchange.port import OrderState
from actors.store.writer import Store
from engine.orders import decode_cid
from engine.types import MarketRules

FINAL = ("filled", "canceled", "expired", "rejected", "failed")


def our_rows(store: Store, instance: str, states: tuple[str, ...]) -> list[dict]:
    """Our orders rows in ``states`` (oldest first); rows of another instance are skipped."""
    marks = ", ".join("?" for _ in states)
    rows = store.query(
        "SELECT client_order_id, symbol, group_id, state, created_at, request FROM orders"
        f" WHERE state IN ({marks}) ORDER BY id", states)
    return [r for r in rows if (p := decode_cid(r["client_order_id"])) is not None
            and p.instance == instance]


def known_cids(store: Store, cids: list[str]) -> set[str]:
    """Which of ``cids`` have an orders row (in any state)."""
    out: set[str] = set()
    for i in range(0, len(cids), 500):
        chunk = cids[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        out |= {r["client_order_id"] for r in store.query(
            f"SELECT client_order_id FROM orders WHERE client_order_id IN ({marks})", chunk)}
    return out


def booked_trade_ids(store: Store, exchange: str, symbols: set[str]) -> set[str]:
    out: set[str] = set()
    for symbol in symbols:
        out |= {r["trade_id"] for r in store.query(
            "SELECT trade_id FROM fills WHERE exchange = ? AND symbol = ?", (exchange, symbol))}
    return out


def booked_qty(store: Store, cids: list[str]) -> dict[str, Decimal]:
    """The quantity our fills book for each of ``cids`` (absent: none)."""
    out: dict[str, Decimal] = {}
    for i in range(0, len(cids), 500):  # SQLite's bound-parameter limit
        chunk = cids[i:i + 500]
        for r in store.query("SELECT client_order_id, quantity FROM fills WHERE client_order_id"
                             f" IN ({', '.join('?' for _ in chunk)})", chunk):
            out[r["client_order_id"]] = out.get(r["client_order_id"], Decimal(0)) + Decimal(
                r["quantity"])
    return out


def cached_rules(store: Store, exchange: str, symbol: str) -> MarketRules | None:
    """The precision actor's cached rules of ``symbol`` (its ``precision_cache`` row)."""
    row = store.query("SELECT rules FROM precision_cache WHERE exchange = ? AND symbol = ?",
                      (exchange, symbol))
    return msgspec.json.decode(row[0]["rules"], type=MarketRules) if row else None


async def update_order(store: Store, cid: str, *, state: str, ex: OrderState | None,
                       note: str, now_ms: int) -> None:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE orders SET state = ?, updated_at = ?, response = ?,"
            " exchange_order_id = COALESCE(?, exchange_order_id),"
            " filled_qty = COALESCE(?, filled_qty), avg_price = COALESCE(?, avg_price),"
            " closed_at = CASE WHEN ? THEN ? ELSE closed_at END WHERE client_order_id = ?",
            (state, now_ms, note, ex.exchange_order_id if ex else None,
             str(ex.filled_quantity) if ex else None, _t(ex.average_price) if ex else None,
             state in FINAL, now_ms, cid))
        store.journal(conn, actor="reconciler", kind="OrderReconciled", key=cid,
                      body={"state": state, "note": note})

    await store.write(write)


async def insert_adopted(store: Store, *, exchange: str, group_id: int, ex: OrderState,
                         now_ms: int) -> None:
    p = decode_cid(ex.client_order_id)
    assert p is not None  # diff_orders adopts only ids of ours

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO orders (client_order_id, exchange_order_id, exchange, symbol,"
            " group_id, pyramid, leg, purpose, attempt, type, side, price, quantity, state,"
            " filled_qty, response, created_at, updated_at, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ex.client_order_id, ex.exchange_order_id, exchange, ex.symbol, group_id,
             p.pyramid, p.leg, p.purpose, p.attempt, ex.type, ex.side, _t(ex.price),
             str(ex.quantity), ex.status, str(ex.filled_quantity), "adopted by reconciliation",
             now_ms, now_ms, ex.created_at_ms))
        store.journal(conn, actor="reconciler", kind="OrderAdopted", key=ex.client_order_id,
                      body=ex)

    await store.write(write)


async def journal_report(store: Store, report: msgspec.Struct) -> None:
    def write(conn: sqlite3.Connection) -> None:
        store.journal(conn, actor="reconciler", kind="Reconciled", key=None, body=report)

    await store.write(write)


def _t(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
