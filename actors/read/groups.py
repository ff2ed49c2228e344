"""Panel B read models (SPEC 11.5 B, 11.6): the positions list and one group's detail.

Owns: nothing; every answer is computed from the projection tables (``position_groups`` with
its msgspec ``state`` JSON, ``queue_entries``, ``orders``, ``fills``, ``journal``, ``events``)
and the latest prices, with the group package's own read-outs (``average_entry``,
``unrealized``, ``progress_to_tp``, ``leg_label``, ``leg_tp_price``, ``aggregate_target``,
``slots_held``) so the API shows exactly the numbers the engine trades on — rounded only as
text, by the display rules of ``engine/display.py``.
Receives: a ``ReadContext`` and the filters of ``GET /api/groups``.
Sends: plain dicts with the SPEC 11.6 field names, decimals as strings.
Fails how: a bad filter raises ``InvalidInput`` naming it (HTTP 400); an unknown group id
returns None (HTTP 404).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from actors.read.common import ENDED_STATUSES, OPEN_STATUSES, ReadContext, dec
from engine.decimals import ZERO
from engine.display import Display
from engine.errors import InvalidInput
from engine.group import (
    GroupState, aggregate_target, average_entry, leg_label, leg_tp_price, lot_cost, pnl_at,
    progress_to_tp, timer_condition_met, unrealized,
)
from engine.group.state import Leg
from engine.grid_settings import GridSettings, effective_grid
from engine.risk.timer import timer_remaining_ms
from engine.signals import normalise_timeframe

STATUSES = ("waiting", "live", "partially_filled", "active", "closing", "closed", "failed")
STATUS_FILTERS = (*STATUSES, "open")
SIDES = ("long", "short")
# what a positions row shows (``state`` aside: read through the cache of decoded states)
ROW_COLUMNS = ("id, exchange, symbol, timeframe, side, status, close_reason, pyramid_count,"
               " legs_filled, legs_total, tp_mode, created_at, closed_at, updated_at, avg_entry,"
               " open_qty, realized_pnl, fees, dust_qty")
JOURNAL_LIMIT = 200
EVENTS_LIMIT = 100


def parse_filters(status: str | None, symbol: str | None, timeframe: str | int | None,
                  side: str | None) -> dict:
    """Normalised filters of ``GET /api/groups``; empty strings mean "no filter"."""
    out: dict = {"status": None, "symbol": None, "timeframe": None, "side": None}
    if status:
        if status not in STATUS_FILTERS:
            raise InvalidInput("status", f"must be one of {', '.join(STATUS_FILTERS)}")
        out["status"] = status
    if symbol:
        out["symbol"] = symbol.strip().upper()
    if timeframe not in (None, ""):
        try:
            out["timeframe"] = normalise_timeframe(
                int(timeframe) if str(timeframe).isdigit() else timeframe)
        except InvalidInput as exc:
            raise InvalidInput("timeframe", exc.message) from None
    if side:
        if side not in SIDES:
            raise InvalidInput("side", "must be long or short")
        out["side"] = side
    return out


def _wanted_statuses(status: str | None) -> tuple[str, ...]:
    if status is None:
        return STATUSES
    return OPEN_STATUSES if status == "open" else (status,)


def list_groups(ctx: ReadContext, *, status: str | None = None, symbol: str | None = None,
                timeframe: str | int | None = None, side: str | None = None,
                closed_limit: int | None = None) -> list[dict]:
    """Waiting rows first (queue order of arrival), then groups newest first.
    ``closed_limit`` keeps only the most recent closed/failed groups (the live push)."""
    f = parse_filters(status, symbol, timeframe, side)
    statuses = _wanted_statuses(f["status"])
    where, params = [], []
    for column in ("symbol", "timeframe", "side"):
        if f[column] is not None:
            where.append(f"{column} = ?")
            params.append(f[column])
    rows: list[dict] = []
    if "waiting" in statuses:
        sql = "SELECT * FROM queue_entries"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        rows += [waiting_row(ctx, q) for q in ctx.query(sql + " ORDER BY queued_at, id", params)]
    live = [s for s in statuses if s in OPEN_STATUSES]
    ended = [s for s in statuses if s in ENDED_STATUSES]
    found = []
    if live:  # their states come from the read models' cache (``ReadContext.state``)
        found += _select(ctx, ROW_COLUMNS, where, params, live, "id DESC", None)
    if ended:
        found += _select(ctx, ROW_COLUMNS + ", state", where, params, ended,
                         "closed_at DESC, id DESC", closed_limit)
    return rows + [group_row(ctx, g) for g in found]


def _select(ctx: ReadContext, columns: str, where: list[str], params: list,
            statuses: list[str], order: str, limit: int | None) -> list[dict]:
    marks = ", ".join("?" * len(statuses))
    sql = f"SELECT {columns} FROM position_groups WHERE " + " AND ".join(
        [*where, f"status IN ({marks})"])
    sql += f" ORDER BY {order}" + ("" if limit is None else f" LIMIT {int(limit)}")
    return ctx.query(sql, (*params, *statuses))


def _grid(ctx: ReadContext, exchange: str, symbol: str, timeframe: int) -> GridSettings:
    grid = ctx.cfg.grid_strategy
    return effective_grid(GridSettings.from_config(grid), grid.overrides, exchange=exchange,
                          symbol=symbol, timeframe=timeframe)


def open_unrealized(ctx: ReadContext) -> dict[int, Decimal | None]:
    """Every open group's exact unrealized PnL by id (None: no price yet; absent: no state
    written yet) for the dashboard's totals, without building display rows: the rows carry the
    same value rounded for display."""
    marks = ", ".join("?" * len(OPEN_STATUSES))
    out: dict[int, Decimal | None] = {}
    for row in ctx.query(f"SELECT id, symbol FROM position_groups WHERE status IN ({marks})",
                         OPEN_STATUSES):
        state = ctx.state(row)
        if state is not None and state.status in OPEN_STATUSES:
            out[row["id"]] = _unrealized(state, ctx.price(row["symbol"]))[0]
    return out


def _unrealized(state: GroupState, price: Decimal | None) -> tuple[Decimal | None, ...]:
    """(USD, percent) of a group at ``price``: zero once nothing is open, None without a
    price."""
    if state.status in ENDED_STATUSES or state.open_qty == 0:
        return ZERO, ZERO
    return (None, None) if price is None else unrealized(state, price)


def group_row(ctx: ReadContext, row: dict) -> dict:
    """One Panel B row of a group (SPEC 11.6 ``GET /api/groups`` fields), numbers shown by the
    display rules of its symbol (``engine/display.py``)."""
    state = ctx.state(row)
    price = ctx.price(row["symbol"])
    show = ctx.display(row["exchange"], row["symbol"])
    numbers = {"avg_entry": dec(row["avg_entry"]), "open_qty": dec(row["open_qty"]),
               "realized": dec(row["realized_pnl"]), "fees": dec(row["fees"]),
               "dust": dec(row["dust_qty"]), "usd": None, "pct": None}
    out = {
        "id": row["id"], "queue_id": None, "exchange": row["exchange"], "symbol": row["symbol"],
        "timeframe": row["timeframe"], "side": row["side"], "status": row["status"],
        "close_reason": row["close_reason"], "pyramids_received": row["pyramid_count"],
        "pyramids_max": ctx.cfg.grid_strategy.max_pyramids_per_group,
        "legs_filled": row["legs_filled"], "legs_total": row["legs_total"],
        "tp_mode": row["tp_mode"], "created_at": row["created_at"],
        "closed_at": row["closed_at"], "updated_at": row["updated_at"],
    }
    if state is not None:
        numbers.update(avg_entry=average_entry(state), open_qty=state.open_qty,
                       realized=state.realized_pnl, fees=state.fees_paid, dust=state.dust_qty)
        out.update({
            "pyramids_received": state.pyramid_count, "pyramids_max": state.config.max_pyramids,
            "legs_filled": sum(1 for leg in state.legs if leg.filled_qty > 0),
            "legs_total": len(state.legs), "tp_mode": state.config.tp_mode,
        })
        numbers["usd"], numbers["pct"] = _unrealized(state, price)
    out.update({
        "avg_entry": show.price(numbers["avg_entry"]),
        "open_quantity": show.qty(numbers["open_qty"]),
        "unrealized_pnl_usd": show.usd(numbers["usd"]),
        "unrealized_pnl_percent": show.percent(numbers["pct"]),
        "realized_pnl_usd": show.usd(numbers["realized"]), "fees_usd": show.usd(numbers["fees"]),
        "dust_quantity": show.qty(numbers["dust"]), "current_price": show.price(price),
    })
    return out


def waiting_row(ctx: ReadContext, q: dict) -> dict:
    """A queue entry shown as a Waiting row: ``id`` is None (it is no group yet) and
    ``queue_id`` names it for ``/api/queue/{id}`` (SPEC 11.6)."""
    grid = _grid(ctx, q["exchange"], q["symbol"], q["timeframe"])
    show = ctx.display(q["exchange"], q["symbol"])
    return {
        "id": None, "queue_id": q["id"], "exchange": q["exchange"], "symbol": q["symbol"],
        "timeframe": q["timeframe"], "side": q["side"], "status": "waiting",
        "reason": q["reason"], "close_reason": None, "pyramids_received": 0,
        "pyramids_max": ctx.cfg.grid_strategy.max_pyramids_per_group,
        "legs_filled": 0, "legs_total": 0, "avg_entry": None, "open_quantity": show.qty(ZERO),
        "unrealized_pnl_usd": show.usd(ZERO), "unrealized_pnl_percent": show.percent(ZERO),
        "realized_pnl_usd": show.usd(ZERO), "fees_usd": show.usd(ZERO),
        "dust_quantity": show.qty(ZERO), "tp_mode": grid.tp_mode,
        "current_price": show.price(ctx.price(q["symbol"])),
        "entry_price": show.price(dec(q["reference_price"])),
        "created_at": q["queued_at"], "closed_at": None, "updated_at": q["updated_at"],
    }


# --- detail ------------------------------------------------------------------------------


def group_detail(ctx: ReadContext, group_id: int) -> dict | None:
    rows = ctx.query("SELECT * FROM position_groups WHERE id = ?", (group_id,))
    if not rows:
        return None
    row = rows[0]
    out = group_row(ctx, row)
    state = ctx.state(row)
    show = ctx.display(row["exchange"], row["symbol"])
    rules = ctx.rules(row["exchange"], row["symbol"])
    assets = (rules.quote if rules else ctx.quote, rules.base if rules else "")
    fills = ctx.query("SELECT * FROM fills WHERE group_id = ? ORDER BY ts, id", (group_id,))
    out["orders"] = _orders(ctx, group_id, fills, show, assets)
    out["fills"] = [_fill(f, show, assets) for f in fills]
    out["events"] = _events(ctx, group_id)
    out["journal"] = _journal(ctx, group_id)
    if state is None:
        out.update(pyramids=_pyramid_rows(ctx, group_id, show), legs=[], lots=[],
                   aggregate_target=None, timer=_timer(ctx, None, row["timer_started_at"]))
        return out
    price = ctx.price(state.symbol)
    target = _aggregate_target(ctx, state)
    out["aggregate_target"] = show.price(target)
    out["pyramids"] = [{
        "index": p.index, "reference_price": show.price(p.reference_price),
        "notional": show.usd(p.notional), "state": p.state, "signal_ts": p.signal_ts_ms,
        "received_at": p.received_at_ms,
        "legs": sum(1 for leg in state.legs if leg.pyramid == p.index),
    } for p in state.pyramids]
    out["legs"] = [_leg(ctx, state, leg, price, target, show) for leg in state.legs]
    out["lots"] = [_lot(state, leg, price, show) for leg in state.legs
                   if leg.open_qty > 0 or leg.dust_qty > 0]
    out["timer"] = _timer(ctx, state, state.timer_started_at_ms)
    out["close"] = None if state.close is None else msgspec.to_builtins(state.close)
    return out


def _aggregate_target(ctx: ReadContext, state: GroupState) -> Decimal | None:
    """The aggregate TP price (aggregate and hybrid modes), on the symbol's tick."""
    avg = average_entry(state)
    rules = ctx.rules(state.exchange, state.symbol)
    if avg is None or rules is None or state.config.tp_mode == "leg":
        return None
    return aggregate_target(rules, state.side, avg, state.config.tp_percent)


def _leg_tp(ctx: ReadContext, state: GroupState, leg: Leg) -> Decimal | None:
    if leg.tp_price is not None:
        return leg.tp_price
    rules = ctx.rules(state.exchange, state.symbol)
    if rules is None or leg.filled_qty == 0:
        return None
    return leg_tp_price(rules, state.side, leg.fill_vwap, leg.tp_percent)


def _leg(ctx: ReadContext, state: GroupState, leg: Leg, price: Decimal | None,
         target: Decimal | None, show: Display) -> dict:
    aggregate = state.config.tp_mode == "aggregate"
    tp = target if aggregate else _leg_tp(ctx, state, leg)
    progress = None
    if leg.open_qty > 0 and price is not None and tp is not None:
        # SPEC 11.5 B / D17: in aggregate mode the lot is measured from the average entry
        fill = average_entry(state) if aggregate else leg.fill_vwap
        progress = show.percent(progress_to_tp(state.side, fill, tp, price))
    filled = leg.filled_qty > 0
    return {
        "leg_id": f"P{leg.pyramid}-DCA{leg.index}", "pyramid": leg.pyramid, "leg": leg.index,
        "gap_percent": show.percent(leg.gap_percent),
        "weight_percent": show.percent(leg.weight_percent),
        "tp_percent": show.percent(leg.tp_percent), "planned_price": show.price(leg.planned_price),
        "planned_quantity": show.qty(leg.planned_qty), "entry_type": leg.entry_type,
        "fill_price": show.price(leg.fill_vwap) if filled else None,
        "filled_quantity": show.qty(leg.filled_qty),
        "filled_notional": show.usd(leg.fill_cost if filled else ZERO),
        "open_quantity": show.qty(leg.open_qty), "dust_quantity": show.qty(leg.dust_qty),
        "sold_quantity": show.qty(leg.sold_qty),
        "tp_target": "aggregate" if aggregate else "leg", "tp_price": show.price(tp),
        "progress_to_tp": progress, "entry_state": leg.entry_state, "tp_state": leg.tp_state,
        "label": leg_label(leg), "last_fill_at": leg.last_fill_ms,
    }


def _lot(state: GroupState, leg: Leg, price: Decimal | None, show: Display) -> dict:
    cost = lot_cost(leg)
    pnl = None if price is None else pnl_at(state.side, leg.open_qty, cost, price)
    return {
        "leg_id": f"P{leg.pyramid}-DCA{leg.index}", "pyramid": leg.pyramid, "leg": leg.index,
        "fill_price": show.price(leg.fill_vwap), "open_quantity": show.qty(leg.open_qty),
        "dust_quantity": show.qty(leg.dust_qty), "cost_basis": show.usd(cost),
        "unrealized_pnl_usd": show.usd(pnl), "opened_at": leg.last_fill_ms,
    }


def _timer(ctx: ReadContext, state: GroupState | None, started: int | None) -> dict:
    risk = ctx.cfg.risk_engine
    remaining = timer_remaining_ms(risk, started, ctx.now_ms)
    return {
        "started_at": started, "start_condition": risk.timer_start_condition,
        "condition_met": None if state is None
        else timer_condition_met(state, risk.timer_start_condition),
        "post_full_wait_minutes": risk.post_full_wait_minutes if risk.enable_post_full_wait else 0,
        "remaining_ms": remaining,
    }


def _pyramid_rows(ctx: ReadContext, group_id: int, show: Display) -> list[dict]:
    return [{"index": p["idx"], "reference_price": show.price(dec(p["reference_price"])),
             "notional": show.usd(dec(p["notional"])), "state": p["state"],
             "signal_ts": p["signal_ts"], "received_at": p["created_at"], "legs": None}
            for p in ctx.query("SELECT * FROM pyramids WHERE group_id = ? ORDER BY idx",
                               (group_id,))]


def _fee(show: Display, value: Decimal | None, asset: str | None,
         assets: tuple[str, str]) -> str | None:
    return show.fee(value, asset, quote=assets[0], base=assets[1])


def _orders(ctx: ReadContext, group_id: int, fills: list[dict], show: Display,
            assets: tuple[str, str]) -> list[dict]:
    """Orders with their fee: the sum of their fills' fees (an order carries no fee of its
    own); ``fees`` per asset when its fills were charged in more than one."""
    fees: dict[str, dict[str, Decimal]] = {}
    for f in fills:
        by_asset = fees.setdefault(f["client_order_id"], {})
        asset = f["fee_currency"] or assets[0]
        by_asset[asset] = by_asset.get(asset, ZERO) + Decimal(f["fee"])
    rows = ctx.query("SELECT * FROM orders WHERE group_id = ? ORDER BY id", (group_id,))
    out = []
    for o in rows:
        charged = fees.get(o["client_order_id"], {})
        asset, fee = next(iter(charged.items()), (o["fee_currency"], dec(o["fee"])))
        out.append({
            "client_order_id": o["client_order_id"], "exchange_order_id": o["exchange_order_id"],
            "pyramid": o["pyramid"], "leg": o["leg"], "purpose": o["purpose"],
            "attempt": o["attempt"], "type": o["type"], "side": o["side"],
            "price": show.price(dec(o["price"])), "quantity": show.qty(dec(o["quantity"])),
            "state": o["state"], "filled_quantity": show.qty(dec(o["filled_qty"])),
            "average_price": show.price(dec(o["avg_price"])),
            "fee": _fee(show, fee, asset, assets), "fee_currency": asset,
            "fees": {a: _fee(show, v, a, assets) for a, v in charged.items()},
            "error": o["error"], "created_at": o["created_at"], "updated_at": o["updated_at"],
            "closed_at": o["closed_at"],
        })
    return out


def _fill(f: dict, show: Display, assets: tuple[str, str]) -> dict:
    return {"trade_id": f["trade_id"], "client_order_id": f["client_order_id"],
            "side": f["side"], "price": show.price(dec(f["price"])),
            "quantity": show.qty(dec(f["quantity"])),
            "fee": _fee(show, dec(f["fee"]), f["fee_currency"], assets),
            "fee_currency": f["fee_currency"], "ts": f["ts"]}


def _events(ctx: ReadContext, group_id: int) -> list[dict]:
    rows = ctx.query("SELECT * FROM events WHERE group_id = ? ORDER BY id DESC LIMIT ?",
                     (group_id, EVENTS_LIMIT))
    return [{"id": e["id"], "ts": e["ts"], "level": e["level"], "category": e["category"],
             "event": e["event"], "message": e["message"],
             "data": None if e["data"] is None else msgspec.json.decode(e["data"])} for e in rows]


def _journal(ctx: ReadContext, group_id: int) -> list[dict]:
    rows = ctx.query("SELECT seq, ts, kind, body FROM journal WHERE key = ? ORDER BY seq DESC"
                     " LIMIT ?", (f"group:{group_id}", JOURNAL_LIMIT))
    return [{"seq": j["seq"], "ts": j["ts"], "kind": j["kind"],
             "body": msgspec.json.decode(j["body"])} for j in reversed(rows)]


__all__ = ["group_detail", "group_row", "list_groups", "open_unrealized", "parse_filters",
           "waiting_row"]
