"""Capital allocation and the TVL gauge of SPEC 11.3, from the open positions (pure).

Exposure of a pair = its open quantity × the current price (n/a while unpriced); % of the pool
used = slots used ÷ ``max_open_groups`` × 100; % of capital locked in DCA legs = notional of
the open entry orders ÷ total equity × 100; deployed = Σ open cost basis + that notional;
free = total equity − deployed.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from engine.decimals import HUNDRED, ZERO


class OpenPosition(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    side: str
    qty: Decimal
    cost: Decimal  # cost basis of the open lots
    price: Decimal | None  # None: no price known yet


def allocation(positions: Iterable[OpenPosition], entry_notional: Mapping[str, Decimal], *,
               pool_used: int, pool_max: int, total_equity: Decimal | None) -> dict[str, Any]:
    pairs: dict[str, dict[str, Any]] = {}
    cost = ZERO
    for p in positions:
        row = pairs.setdefault(p.symbol, {"pair": p.symbol, "qty": ZERO, "exposure_usd": ZERO,
                                          "cost_usd": ZERO, "groups": 0})
        row["qty"] += p.qty
        row["cost_usd"] += p.cost
        row["groups"] += 1
        if p.price is None or row["exposure_usd"] is None:
            row["exposure_usd"] = None
        else:
            row["exposure_usd"] += p.qty * p.price
        cost += p.cost
    for symbol, notional in entry_notional.items():
        row = pairs.setdefault(symbol, {"pair": symbol, "qty": ZERO, "exposure_usd": ZERO,
                                        "cost_usd": ZERO, "groups": 0})
        row["entry_orders_usd"] = notional
    for row in pairs.values():
        row.setdefault("entry_orders_usd", ZERO)
    locked = sum(entry_notional.values(), ZERO)
    deployed = cost + locked
    usable = total_equity is not None and total_equity > 0
    return {
        "pairs": sorted(pairs.values(), key=lambda r: r["pair"]),
        "pool": {"used": pool_used, "max": pool_max,
                 "used_percent": Decimal(pool_used) / pool_max * HUNDRED if pool_max else None},
        "entry_orders_usd": locked,
        "locked_in_dca_percent": locked / total_equity * HUNDRED if usable else None,
        "tvl": {"deployed_usd": deployed,
                "free_usd": None if total_equity is None else total_equity - deployed,
                "total_equity_usd": total_equity,
                "deployed_percent": deployed / total_equity * HUNDRED if usable else None},
    }
