"""What every read model needs: the read context and the JSON spelling of numbers.

Owns: nothing — a ``ReadContext`` is built per request (or per hub publication) by
``actors/read/models.py`` and thrown away; it may carry the read models' ``GroupStates``, the
decoded group states kept across answers (a group's state is read and decoded again only
after it was written).
Receives: the store, the running configuration, the latest prices and the clock reading.
Sends: plain values to the read models (``views_groups``, ``views_queue``, ``views``).
Fails how: a malformed stored value (decimal text, rules JSON) raises; the web layer turns it
into a 500, which is right: projections are written by the engine, never by users.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from actors.group.projection import decode_state
from actors.store.writer import Store
from engine.config import Config
from engine.display import Display, for_quote, for_rules
from engine.group import GroupState
from engine.types import MarketRules

_decode_rules = msgspec.json.Decoder(MarketRules).decode
OPEN_STATUSES = ("live", "partially_filled", "active", "closing")
ENDED_STATUSES = ("closed", "failed")


def num(value: Decimal | int | str | None) -> str | None:
    """A decimal the API sends exactly (configuration values, market rules): fixed-point text,
    never ``1E+2``; None stays None. Numbers shown to people go through ``ReadContext.display``
    (``engine/display.py``) instead."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        value = Decimal(value)
    return format(value, "f")


def dec(text: str | None) -> Decimal | None:
    """A stored decimal text (projection columns) as a Decimal; None stays None."""
    return None if text is None else Decimal(text)


def stored_state(store: Store, row: Mapping) -> GroupState | None:
    """A ``position_groups`` row's decoded state (read by id if the row does not carry its
    ``state`` column); None before the group's first write."""
    if "state" in row:
        text = row["state"]
    else:
        found = store.query("SELECT state FROM position_groups WHERE id = ?", (row["id"],))
        text = found[0]["state"] if found else None
    return decode_state(text) if text else None


class GroupStates:
    """Decoded ``position_groups.state`` of the open groups by id, kept until the row's state is
    written again: the hub rebuilds the groups, dashboard and queue topics every second, and
    reading and decoding 1,000 stored states each time was most of that work. A temporary
    trigger on the store's connection (the one every write goes through) tells this cache
    which group was written or deleted; its next read fetches and decodes that group alone.
    Ended groups are not kept (read rarely: the closed list)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_id: dict[int, GroupState | None] = {}
        self.decoded = 0  # states decoded (tests)
        name = f"read_group_written_{id(self):x}"  # one per cache: several may share a store

        def install(conn: sqlite3.Connection) -> None:
            conn.create_function(name, 1, self._forget, deterministic=False)
            for event, row in (("UPDATE OF state", "NEW"), ("DELETE", "OLD")):
                conn.execute(f"CREATE TEMP TRIGGER {name}_{event.split()[0].lower()} AFTER"
                             f" {event} ON position_groups BEGIN SELECT {name}({row}.id); END")

        store.write_now(install)

    def _forget(self, group_id: int) -> None:
        self._by_id.pop(group_id, None)

    def get(self, row: Mapping) -> GroupState | None:
        """The state of a ``position_groups`` row (its ``state`` column is read if the row
        does not carry it); None before the group's first write."""
        group_id = row["id"]
        if group_id in self._by_id:
            return self._by_id[group_id]
        state = stored_state(self._store, row)
        self.decoded += state is not None
        if state is None or state.status not in ENDED_STATUSES:
            self._by_id[group_id] = state
        return state


@dataclass
class ReadContext:
    """One consistent view of the engine for one answer."""

    store: Store
    cfg: Config
    prices: Mapping[str, Decimal]
    now_ms: int
    states: GroupStates | None = None
    _rules: dict[tuple[str, str], MarketRules | None] = field(default_factory=dict)

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        return self.store.query(sql, params)

    def state(self, row: Mapping) -> GroupState | None:
        """The decoded state of a ``position_groups`` row (None before its first write)."""
        if self.states is not None:
            return self.states.get(row)
        return stored_state(self.store, row)

    def price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    def rules(self, exchange: str, symbol: str) -> MarketRules | None:
        """The cached exchange rules of a symbol (the precision actor's ``precision_cache``)."""
        key = (exchange, symbol)
        if key not in self._rules:
            rows = self.query(
                "SELECT rules FROM precision_cache WHERE exchange = ? AND symbol = ?", key)
            self._rules[key] = _decode_rules(rows[0]["rules"]) if rows else None
        return self._rules[key]

    @property
    def quote(self) -> str:
        """The account's quote asset: the first of ``app.quote_currencies``."""
        quotes = self.cfg.app.quote_currencies
        return quotes[0] if quotes else "USD"

    def display(self, exchange: str | None = None, symbol: str | None = None) -> Display:
        """How this symbol's numbers are shown (its tick, step, quote precision); without a
        symbol, the account's amounts in its quote asset."""
        if symbol is None or exchange is None:
            return for_quote(self.quote)
        return for_rules(self.rules(exchange, symbol), self.quote)


def count(store: Store, sql: str, params: tuple = ()) -> int:
    return int(store.conn.execute(sql, params).fetchone()[0])
