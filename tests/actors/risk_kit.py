"""Building Risk Engine scenarios on the running engine (real Store, paper exchange, supervisor,
group actors and risk actor from ``tests/actors/engine_kit.py``): groups are opened by signals
and priced by pushes through the paper exchange — nothing is injected into an actor."""

from __future__ import annotations

from decimal import Decimal as D

from actors.group.projection import decode_state
from engine.config import GridOverride
from engine.types import Level
from tests.actors.engine_kit import START_MS, config, paper_config, signal

ONE_LEG = (Level(gap_percent=D(0), weight_percent=D(100), tp_percent=D(15)),)
L_SYM, W1_SYM, W2_SYM = "LTCUSDT", "ETHUSDT", "BTCUSDT"


def risk_config(*, risk: dict | None = None, pool: int = 10, w2_leg_mode: bool = True,
                paper=None, **grid):
    """One-leg ladders at the signal price (every lot fills at the group's average), aggregate
    TP at 15 % (SPEC 13 D4: no TP fires); W2's key in leg mode with per-leg TPs at +15 %.
    ``paper``: the paper exchange's settings (fees 0 by default, as the vector assumes) — pass
    the same to ``running``."""
    paper = paper or paper_config()
    overrides = {}
    if w2_leg_mode:
        overrides[f"paper:{W2_SYM}:60"] = GridOverride(tp_mode="leg")
    values = {"dca_levels": ONE_LEG, "tp_mode": "aggregate", "tp_percent": D(15),
              "overrides": overrides, **grid}
    return config(grid_strategy=values, execution_pool={"max_open_groups": pool},
                  risk_engine=risk or {}, exchange={"paper": paper})


async def open_group(kit, symbol: str, price: str, quote: str, pyramids: int = 1,
                     *, timeframe: int = 60, start_ms: int = START_MS) -> int:
    """``pyramids`` signals on consecutive candles, each buying ``quote`` USDT at ``price``."""
    for i in range(pyramids):
        await kit.send(signal(symbol=symbol, timeframe=timeframe, entry_price=price,
                              order_size=quote, ts_ms=start_ms + i * timeframe * 60_000))
    rows = kit.store.query("SELECT id FROM position_groups WHERE symbol = ? AND timeframe = ?"
                           " ORDER BY id DESC LIMIT 1", (symbol, timeframe))
    return rows[0]["id"]


async def d4_groups(kit) -> tuple[int, int, int]:
    """SPEC 13 D4: L 5 × 4 @ 100 (→ 94), W1 8 @ 100 (→ 110), W2 2 × 5 @ 50 (→ 55)."""
    loser = await open_group(kit, L_SYM, "100", "400", pyramids=5)
    w1 = await open_group(kit, W1_SYM, "100", "800")
    w2 = await open_group(kit, W2_SYM, "50", "250", pyramids=2)
    await kit.price("94", L_SYM)
    await kit.price("110", W1_SYM)
    await kit.price("55", W2_SYM)
    return loser, w1, w2


def state(kit, group_id: int):
    row = kit.store.query("SELECT state FROM position_groups WHERE id = ?", (group_id,))[0]
    return decode_state(row["state"])


def group_row(kit, group_id: int) -> dict:
    return kit.store.query("SELECT * FROM position_groups WHERE id = ?", (group_id,))[0]


def actions(kit) -> list[dict]:
    from actors.risk.audit import recent_actions
    return list(reversed(recent_actions(kit.store, limit=1000)))


def fees_paid(kit, group_ids) -> D:
    rows = kit.store.query(f"SELECT fee FROM fills WHERE group_id IN"
                           f" ({', '.join('?' * len(group_ids))})", tuple(group_ids))
    return sum((D(r["fee"]) for r in rows), D(0))

