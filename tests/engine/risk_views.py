"""Builds RiskGroupView values for the risk tests and the benchmark (SPEC 3.5 unrealized PnL)."""

from decimal import Decimal

from engine.decimals import HUNDRED
from engine.risk import RiskGroupView

D = Decimal
MIN = 60_000


def view(gid, avg, price, qty, *, side="long", status="active", pyramids=5, max_pyramids=5,
         timer=0, created=0, step="0.001", min_qty="0.001", min_notional="0", symbol=None,
         **flags) -> RiskGroupView:
    avg, price, qty = D(avg), D(price), D(qty)
    usd = (price - avg) * qty if side == "long" else (avg - price) * qty
    pct = usd / (avg * qty) * HUNDRED if qty else D(0)
    return RiskGroupView(
        id=gid, symbol=symbol or f"G{gid}USDT", side=side, status=status, created_at_ms=created,
        pyramid_count=pyramids, max_pyramids=max_pyramids, timer_started_at_ms=timer,
        avg_entry=avg, open_qty=qty, price=price, unrealized_usd=usd, unrealized_percent=pct,
        step_size=D(step), min_qty=D(min_qty), min_notional=D(min_notional), **flags,
    )
