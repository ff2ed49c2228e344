"""Reading the ``events`` table for the log API and its exports (SPEC 11.6, 12.1).

Owns: nothing (reads ``events`` through the store's connection, on the trio thread).
Receives: filter values from the web layer and the housekeeping.
Sends: rows newest first with an opaque cursor; export text in txt / csv / json.
Fails how: a bad filter value (unknown level, non-numeric cursor) raises ``ValueError`` naming it
(the API answers 400); database errors propagate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from actors.runtime.logbook import DAY_MS, FIELDS, LEVEL_NAMES, iso_ms
from actors.store.writer import Store

LEVELS = [LEVEL_NAMES[n] for n in sorted(LEVEL_NAMES)]  # debug … critical
MAX_LIMIT = 1000
CONTENT_TYPES = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8",
                 "json": "application/json"}
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder(enc_hook=str).encode


def _where(level: str | None, category: str | None, symbol: str | None, timeframe: int | None,
           event: str | None, from_ms: int | None, to_ms: int | None,
           q: str | None) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if level:
        if level.lower() not in LEVELS:
            raise ValueError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
        # a level filter shows that level and everything more severe
        allowed = LEVELS[LEVELS.index(level.lower()):]
        clauses.append(f"level IN ({', '.join('?' * len(allowed))})")
        params.extend(allowed)
    for column, value in (("category", category), ("symbol", symbol), ("event", event)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if timeframe is not None:
        clauses.append("timeframe = ?")
        params.append(int(timeframe))
    if from_ms is not None:
        clauses.append("ts >= ?")
        params.append(int(from_ms))
    if to_ms is not None:
        clauses.append("ts <= ?")
        params.append(int(to_ms))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(message LIKE ? ESCAPE '\\' OR data LIKE ? ESCAPE '\\'"
                       " OR event LIKE ? ESCAPE '\\' OR order_id LIKE ? ESCAPE '\\')")
        params.extend([pattern] * 4)
    return clauses, params


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    row = {"id": raw["id"], **{f: raw[f] for f in FIELDS}, "ts_ms": raw["ts"]}
    row["ts"] = iso_ms(raw["ts"])
    row["data"] = None if raw["data"] is None else _decode(raw["data"])
    return row


def query_events(store: Store, *, level: str | None = None, category: str | None = None,
                 symbol: str | None = None, timeframe: int | None = None,
                 event: str | None = None, from_ms: int | None = None, to_ms: int | None = None,
                 q: str | None = None, cursor: str | None = None,
                 limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events, newest first, and the cursor of the next page (None = last page).

    Each row has ``id``, the SPEC 12.1 fields (``ts`` as ISO text, ``data`` decoded) and
    ``ts_ms``. ``level`` is a minimum severity; ``q`` searches message, data, event and order id.
    """
    clauses, params = _where(level, category, symbol, timeframe, event, from_ms, to_ms, q)
    if cursor:
        if not cursor.isdigit():
            raise ValueError(f"cursor: expected the cursor of a previous page, got {cursor!r}")
        clauses.append("id < ?")
        params.append(int(cursor))
    limit = max(1, min(int(limit), MAX_LIMIT))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    raw = store.query(f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?",
                      [*params, limit + 1])
    rows = [_row(r) for r in raw[:limit]]
    next_cursor = str(rows[-1]["id"]) if len(raw) > limit else None
    return rows, next_cursor


def iter_events(store: Store, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every matching event, newest first, page by page."""
    cursor = None
    while True:
        rows, cursor = query_events(store, **filters, cursor=cursor, limit=MAX_LIMIT)
        yield from rows
        if cursor is None:
            return


def _event_only(row: dict[str, Any]) -> dict[str, Any]:
    return {f: row[f] for f in FIELDS}


def format_txt(rows: list[dict[str, Any]]) -> str:
    """``ts LEVEL category symbol timeframe group=… order=… message``, ``-`` for absent."""

    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    lines = [
        f"{r['ts']} {r['level'].upper()} {r['category']} {show(r['symbol'])} "
        f"{show(r['timeframe'])} group={show(r['group_id'])} order={show(r['order_id'])} "
        f"{r['message']}"
        for r in rows
    ]
    return "".join(line + "\n" for line in lines)


def format_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in rows:
        data = "" if r["data"] is None else _encode(r["data"]).decode()
        writer.writerow(["" if r[f] is None else r[f] for f in FIELDS[:-1]] + [data])
    return out.getvalue()


def format_json(rows: list[dict[str, Any]]) -> str:
    return _encode([_event_only(r) for r in rows]).decode()


FORMATS = {"txt": format_txt, "csv": format_csv, "json": format_json}


def export_events(store: Store, fmt: str, **filters: Any) -> tuple[str, str]:
    """Every matching event in ``fmt``, oldest first; returns (text, content type)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected txt, csv or json, got {fmt!r}")
    rows = list(iter_events(store, **filters))
    rows.reverse()
    return FORMATS[fmt](rows), CONTENT_TYPES[fmt]


def export_day_csv(store: Store, exports_dir: Path, day_start_ms: int) -> Path:
    """``logging.auto_export``: one UTC day's events as ``exports/events-YYYY-MM-DD.csv``."""
    text, _ = export_events(store, "csv", from_ms=day_start_ms, to_ms=day_start_ms + DAY_MS - 1)
    exports_dir.mkdir(parents=True, exist_ok=True)
    path = exports_dir / f"events-{iso_ms(day_start_ms)[:10]}.csv"
    path.write_text(text, encoding="utf-8")
    return path
