"""An exchangeInfo with many symbols, for the public-data tests and benchmarks.

The filters are Binance's real ones: every added symbol copies the filter set of one of the
real USDT markets in ``tests/data/binance_spot_exchangeinfo.json`` (BTC, ETH, ADA, LTC, XRP,
DOGE, TRX), in turn. The first added names are real Binance markets absent from the bundled
snapshot (SOLUSDT, AVAXUSDT, ...), the rest synthetic (``C0001USDT`` ...).
``python -m tests.emulator.many_markets N FILE`` writes one to FILE.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from tests.emulator.server import INFO_FILE

REAL_BASES = ("SOL", "AVAX", "DOT", "LINK", "ATOM", "NEAR", "APT", "ARB", "OP", "FIL", "UNI",
              "AAVE", "SUI", "INJ", "SEI", "TIA", "PEPE", "WIF", "BONK", "RUNE")


def many_symbols_info(count: int = 400, *, source: Path = INFO_FILE) -> dict:
    """``source``'s symbols plus added ones until there are ``count`` (at least the source's)."""
    info = json.loads(source.read_text())
    known = {s["symbol"] for s in info["symbols"]}
    templates = [s for s in info["symbols"] if s["quoteAsset"] == "USDT"]
    bases = [b for b in REAL_BASES if f"{b}USDT" not in known]
    added = []
    for i in range(max(0, count - len(info["symbols"]))):
        base = bases[i] if i < len(bases) else f"C{i:04d}"
        entry = copy.deepcopy(templates[i % len(templates)])
        entry["symbol"], entry["baseAsset"] = f"{base}USDT", base
        added.append(entry)
    return {**info, "symbols": info["symbols"] + added}


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(many_symbols_info(int(sys.argv[1]))))
