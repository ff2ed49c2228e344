"""Persistence of the paper exchange: its matching-core state <-> the ``paper_*`` tables.

Owns: the mapping between ``engine.matching`` values and rows (decimals as exact text).
Receives: ``load_state(conn)`` at start; ``save_outcome(conn, book, outcome, prices)`` after
every state change, inside the caller's ONE transaction; ``reset_rows`` from the CLI.
Sends: nothing.
Fails how: ``sqlite3.Error`` propagates; the caller's transaction rolls back as a whole.
"""

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Protocol, TypeVar

import msgspec

from actors.exchange.paper_schema import ensure_paper_schema
from engine.matching import Book, BookOrder, Fill, Holding, Outcome

T = TypeVar("T")
_ORDER_COLUMNS = ("order_id", "client_order_id", "symbol", "side", "type", "time_in_force",
                  "price", "quantity", "filled_quantity", "cumulative_quote", "status", "locked",
                  "created_at_ms", "updated_at_ms")
_TRADE_COLUMNS = ("trade_id", "order_id", "client_order_id", "symbol", "side", "price",
                  "quantity", "quote_quantity", "fee", "fee_asset", "is_maker", "ts_ms")
_DECIMALS = {"price", "quantity", "filled_quantity", "cumulative_quote", "locked",
             "quote_quantity", "fee"}


class PaperDb(Protocol):
    """What the paper exchange needs of the database (``actors.store.writer.Store`` has it)."""

    def write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


class PaperRows(msgspec.Struct, frozen=True, kw_only=True):
    balances: dict[str, Holding]
    orders: list[BookOrder]
    fills: list[Fill]
    prices: dict[str, tuple[Decimal, int]]

    @property
    def empty(self) -> bool:
        """Nothing was ever recorded: the first start, which seeds the start balances."""
        return not (self.balances or self.orders or self.fills)


def _text(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _values(struct: msgspec.Struct, columns: Iterable[str]) -> tuple:
    return tuple(_text(getattr(struct, c)) for c in columns)


def _decode(row: sqlite3.Row | tuple, columns: tuple[str, ...]) -> dict:
    out = {}
    for name, value in zip(columns, row):
        out[name] = Decimal(value) if name in _DECIMALS and value is not None else value
    return out


def load_state(conn: sqlite3.Connection) -> PaperRows:
    ensure_paper_schema(conn)
    balances = {asset: Holding(free=Decimal(free), locked=Decimal(locked)) for asset, free, locked
                in conn.execute("SELECT asset, free, locked FROM paper_balances")}
    orders = [BookOrder(**_decode(r, _ORDER_COLUMNS)) for r in conn.execute(
        f"SELECT {', '.join(_ORDER_COLUMNS)} FROM paper_orders ORDER BY order_id")]
    fills = []
    for row in conn.execute(f"SELECT {', '.join(_TRADE_COLUMNS)} FROM paper_trades "
                            "ORDER BY trade_id"):
        values = _decode(row, _TRADE_COLUMNS)
        values["is_maker"] = bool(values["is_maker"])
        fills.append(Fill(**values))
    prices = {s: (Decimal(p), ts) for s, p, ts in
              conn.execute("SELECT symbol, price, ts_ms FROM paper_prices")}
    return PaperRows(balances=balances, orders=orders, fills=fills, prices=prices)


def save_outcome(conn: sqlite3.Connection, book: Book, outcome: Outcome,
                 price_symbols: Iterable[str] = ()) -> None:
    """Write what ``outcome`` changed (orders, fills, moved balances) and the given prices."""
    ensure_paper_schema(conn)
    marks = ", ".join("?" * len(_ORDER_COLUMNS))
    for change in outcome.changes:
        conn.execute(f"INSERT OR REPLACE INTO paper_orders ({', '.join(_ORDER_COLUMNS)}) "
                     f"VALUES ({marks})", _values(change.order, _ORDER_COLUMNS))
        if change.fill is not None:
            values = list(_values(change.fill, _TRADE_COLUMNS))
            values[_TRADE_COLUMNS.index("is_maker")] = int(change.fill.is_maker)
            conn.execute(f"INSERT INTO paper_trades ({', '.join(_TRADE_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(_TRADE_COLUMNS))})", values)
    for asset in outcome.assets:
        _put_balance(conn, asset, book.holding(asset))
    for symbol in price_symbols:
        conn.execute("INSERT OR REPLACE INTO paper_prices (symbol, price, ts_ms) VALUES (?, ?, ?)",
                     (symbol, str(book.prices[symbol]), book.price_ts[symbol]))


def _put_balance(conn: sqlite3.Connection, asset: str, holding: Holding) -> None:
    conn.execute("INSERT OR REPLACE INTO paper_balances (asset, free, locked) VALUES (?, ?, ?)",
                 (asset, str(holding.free), str(holding.locked)))


def seed_balances(conn: sqlite3.Connection, balances: Mapping[str, Decimal]) -> None:
    ensure_paper_schema(conn)
    for asset, amount in balances.items():
        _put_balance(conn, asset, Holding(free=amount, locked=Decimal(0)))


def reset_rows(conn: sqlite3.Connection, balances: Mapping[str, Decimal], now_ms: int) -> int:
    """``Book.reset`` on the rows alone (no markets needed): cancel every open order, set
    the balances to exactly ``balances`` (other assets 0). Returns the orders cancelled."""
    ensure_paper_schema(conn)
    cancelled = conn.execute(
        "UPDATE paper_orders SET status = 'canceled', locked = '0', updated_at_ms = ? "
        "WHERE status IN ('open', 'partially_filled')", (now_ms,)).rowcount
    conn.execute("UPDATE paper_balances SET free = '0', locked = '0'")
    seed_balances(conn, balances)
    return cancelled
