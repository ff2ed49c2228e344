"""The downloaded markets file (``engine markets fetch``): its format, its checks, its write.

Owns: nothing (helpers). The file is Binance exchange-info JSON — the paper exchange's markets
format — plus one key of ours, ``engineMarkets``: ``{exchange, fetched_at_ms, source,
symbols, unknown_filters}``. ``serverTime`` is set to the fetch time too.
Receives: a fresh download (``check_download``), the data directory's database (``in_use``),
the path to write (``write_markets``), a path to describe (``markets_source``).
Sends: nothing.
Fails how: ``MarketsFileError`` naming the file, the symbol or the key: a download that is
not exchange info, a TRADING symbol without its tick/step filters (a partial answer), a
symbol in use by the engine that the fresh download lacks. The file is written to a new name
and renamed into place (``write_atomic``): a refused or failed write leaves the stored file
as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from actors.settings.atomic_file import write_atomic
from engine.errors import InvalidInput
from engine.markets import load_exchange_info, rules_from_binance_exchange_info

META_KEY = "engineMarkets"
BUNDLED = "bundled snapshot"


class MarketsFileError(Exception):
    pass


def default_path(data_dir: Path, exchange: str) -> Path:
    return data_dir / "markets" / f"{exchange}_spot.json"


def check_download(info: Any, *, origin: str) -> int:
    """The number of tradable symbols of a fresh exchange-info answer; raises on a partial one."""
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise MarketsFileError(f"download from {origin} is not exchange info: no symbols list")
    for i, entry in enumerate(info["symbols"]):
        name = entry.get("symbol") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise MarketsFileError(f"partial download from {origin}: symbols[{i}] has no name")
        if entry.get("status") != "TRADING":
            continue
        kinds = {f.get("filterType") for f in entry.get("filters") or [] if isinstance(f, dict)}
        for needed in ("PRICE_FILTER", "LOT_SIZE"):
            if needed not in kinds:
                raise MarketsFileError(
                    f"partial download from {origin}: symbol {name} lacks its {needed} filter")
    try:
        rules = rules_from_binance_exchange_info(info, fetched_at_ms=0)
    except InvalidInput as exc:
        raise MarketsFileError(f"download from {origin}: {exc}") from None
    if not rules:
        raise MarketsFileError(f"download from {origin} lists no tradable symbol")
    return len(rules)


def in_use(db_path: Path) -> set[str]:
    """Symbols of open groups, queue entries and resting paper orders (read-only; an absent
    database: none)."""
    if not db_path.exists():
        return set()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        queries = []
        if "position_groups" in tables:
            queries.append("SELECT symbol FROM position_groups WHERE status NOT IN "
                           "('closed', 'failed') UNION SELECT symbol FROM queue_entries")
        if "paper_orders" in tables:
            queries.append("SELECT symbol FROM paper_orders WHERE status IN "
                           "('open', 'partially_filled')")
        return {row[0] for q in queries for row in conn.execute(q)}
    finally:
        conn.close()


def write_markets(path: Path, info: dict, *, exchange: str, fetched_at_ms: int, origin: str,
                  unknown_filters: Iterable[str] = (), required: Iterable[str] = ()) -> int:
    """Check ``info``, refuse it if it lacks a ``required`` symbol, then write it atomically.
    Returns the number of tradable symbols written."""
    count = check_download(info, origin=origin)
    tradable = {e["symbol"] for e in info["symbols"] if e.get("status") == "TRADING"}
    missing = sorted(set(required) - tradable)
    if missing:
        raise MarketsFileError(
            f"symbol {', '.join(missing)} is in use by the engine (open group, queue entry or "
            f"resting order) but missing from the fresh download from {origin}; {path} was "
            f"left as it was")
    out = {**info, "serverTime": fetched_at_ms, META_KEY: {
        "exchange": exchange, "fetched_at_ms": fetched_at_ms, "source": origin,
        "symbols": count, "unknown_filters": list(unknown_filters)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, msgspec.json.encode(out))
    return count


_SOURCES: dict[tuple[str, int], dict] = {}


def markets_source(path: Path | None, now_ms: int) -> dict:
    """What the paper exchange's markets come from: file, exchange, fetch time and age."""
    if path is None:
        return {"file": BUNDLED, "exchange": "binance", "fetched_at_ms": None, "age_ms": None}
    try:
        key = (str(path), path.stat().st_mtime_ns)
        meta = _SOURCES.get(key)
        if meta is None:
            meta = load_exchange_info(path.read_bytes()).get(META_KEY) or {}
            _SOURCES.clear()
            _SOURCES[key] = meta
    except (OSError, InvalidInput) as exc:
        return {"file": str(path), "error": f"cannot read {path}: {exc}"}
    fetched = meta.get("fetched_at_ms")
    return {"file": str(path), "exchange": meta.get("exchange"), "fetched_at_ms": fetched,
            "age_ms": None if not isinstance(fetched, int) else now_ms - fetched,
            "unknown_filters": meta.get("unknown_filters", [])}
