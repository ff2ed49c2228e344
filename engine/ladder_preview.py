"""The ladder a configuration would place (SPEC 11.5 F Live Preview): for one symbol at a price
and a notional, every leg's price, quantity, notional and take-profit, with each leg the market
filters would refuse marked and the reason given.

It composes the functions the engine trades with — ``effective_grid`` (overrides),
``effective_rules`` (precision settings), ``preview_pyramid`` (the legs and their checks),
``leg_tp_price`` / ``aggregate_target`` — so the preview cannot drift from what a signal gets.
Legs are assumed to fill at their planned price, which is what a TP shown beside them means.
Numbers are returned as ``engine.display`` shows them (prices to the tick, quantities to the
step, amounts to the quote's precision); the percentages are the configured values.
"""

from decimal import Decimal
from typing import Any, Literal

from engine.config.model import Config
from engine.display import for_rules, plain
from engine.errors import InvalidInput
from engine.grid_settings import GridSettings, effective_grid
from engine.ladder import aggregate_target, leg_tp_price, preview_pyramid
from engine.precision import Enforcement, MetadataMissing, effective_rules
from engine.types import MarketRules, Side


def ladder_preview(cfg: Config, *, symbol: str, timeframe: int, side: Side, pyramid: int,
                   notional: Decimal, price: Decimal, rules: MarketRules | None, now_ms: int,
                   precision_mode: Literal["auto", "force"] = "auto") -> dict[str, Any]:
    """``{"ok": True, legs, problems, ...}`` or ``{"ok": False, "reason"}`` when no ladder can
    be planned (no market rules under strict mode, a pyramid index out of range, no price)."""
    grid = effective_grid(GridSettings.from_config(cfg.grid_strategy), cfg.grid_strategy.overrides,
                          exchange=cfg.exchange.name, symbol=symbol, timeframe=timeframe)
    p = cfg.precision
    resolved = effective_rules(
        rules, mode=precision_mode, override=p.overrides.get(f"{cfg.exchange.name}:{symbol}"),
        strict=p.strict_mode, fallback=p.fallback_rules, now_ms=now_ms,
        fetched_at_ms=now_ms if rules is not None else None, symbol=symbol,
        enforce=Enforcement(tick_size=p.enforce_tick_size, step_size=p.enforce_step_size,
                            min_notional=p.enforce_min_notional))
    if isinstance(resolved, MetadataMissing):
        return {"ok": False, "reason": resolved.reason}
    try:
        legs, problems = preview_pyramid(
            grid, pyramid=pyramid, side=side, reference=price, notional=notional,
            rules=resolved.rules, current_price=price, enforce=resolved.enforce)
    except InvalidInput as exc:
        return {"ok": False, "reason": str(exc)}
    tick = resolved.rules.tick_size
    by_leg: dict[int, list[dict[str, str]]] = {}
    for problem in problems:
        if problem.leg is not None:
            by_leg.setdefault(problem.leg, []).append({"rule": problem.rule,
                                                       "message": problem.message})
    per_leg_tp = grid.tp_mode in ("leg", "hybrid")
    show = for_rules(resolved.rules, cfg.app.quote_currencies[0])  # numbers as people see them
    rows = [{
        "leg": f"DCA{leg.index}", "index": leg.index, "order_type": leg.order_type,
        "gap_percent": plain(leg.gap_percent), "weight_percent": plain(leg.weight_percent),
        "tp_percent": plain(leg.tp_percent), "price": show.price(leg.price),
        "qty": show.qty(leg.qty), "notional": show.usd(leg.notional),
        "tp_price": show.price(leg_tp_price(leg.price, leg.tp_percent, side, tick))
        if per_leg_tp and leg.price > 0 else None,
        "refused": leg.index in by_leg, "problems": by_leg.get(leg.index, []),
    } for leg in legs]
    qty = sum((leg.qty for leg in legs), Decimal(0))
    deployed = sum((leg.notional for leg in legs), Decimal(0))
    average = deployed / (qty * resolved.rules.contract_size) if qty > 0 else None
    aggregate = None
    if grid.tp_mode in ("aggregate", "hybrid") and average is not None:
        aggregate = aggregate_target(average, grid.tp_percent, side, tick)
    return {
        "ok": True, "symbol": symbol, "timeframe": timeframe, "side": side, "pyramid": pyramid,
        "price": show.price(price), "notional": show.usd(notional), "tp_mode": grid.tp_mode,
        "entry_order_type": grid.entry_order_type, "rules_source": resolved.source,
        "tick_size": plain(tick), "step_size": plain(resolved.rules.step_size),
        "min_notional": plain(resolved.rules.min_notional), "legs": rows,
        "deployed_notional": show.usd(deployed), "average_entry": show.price(average),
        "aggregate_tp_price": show.price(aggregate), "would_send": not problems,
        "problems": [{"rule": pr.rule, "message": pr.message, "leg": pr.leg} for pr in problems],
    }
