"""The invariants checked after every step of a fault-search run.

Two kinds:
- **safety** (``safety``): must hold at every check, whatever is in flight — no client id placed
  twice, no two live orders for one group/pyramid/leg/purpose, no entry leg over-filled, pool
  used ≤ max (force-add and a lowered limit excepted), one live group per key and no short
  group on spot, no group actor crash, no attempts exhausted.
- **liveness** (``liveness``): must hold once the engine has had time — every accepted signal
  processed or legitimately queued, no orphan order, every open lot covered by its TP (lots too
  small for a TP and refused TPs waiting for a fill excepted), no group stuck closing, the
  engine's lots equal to what the exchange traded for each group (Σ buys − base fees − Σ sells).
  The runner turns a liveness finding into a violation only when it persists for a grace
  period, and at the end of the run after a final settle.

Both read only durable or external facts: the engine's committed database (a read-only
connection, so a killed process's uncommitted work does not count), the exchange's own book,
the port's record of order requests, and — when a core is running — its supervisor.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from actors.group.projection import decode_state
from actors.pool.queue_actor import decode_payload
from engine.group.rules import tp_order_valid
from engine.group.state import GroupState
from engine.orders import decode_cid
from engine.types import MarketRules

ZERO = Decimal(0)
LIVE_ORDER = ("open", "partially_filled")


@dataclass(frozen=True)
class Finding:
    key: str  # stable identity, so a liveness finding can be followed over time
    message: str


@dataclass
class Facts:
    """One consistent look at the run (taken between steps, nothing awaits while reading)."""

    instance: str
    groups: dict[int, dict]  # position_groups rows by id, with ``state`` decoded (or None)
    inbox: list[dict]
    queue: list[dict]
    alarms: list[str]  # group actor crashes, attempts exhausted
    exchange_orders: list[dict]  # every order the exchange ever saw (paper state() shape)
    exchange_trades: list[dict]
    placements: list[tuple[str, str]]
    rules: Mapping[str, MarketRules]
    market_type: str = "spot"
    used: int | None = None  # supervisor's slots in use (None = no core running)
    max_open: int | None = None
    live_keys: dict | None = None  # supervisor's key -> group id


def read_facts(db: Path, *, exchange_state: dict, placements, rules, supervisor=None) -> Facts:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        instance = conn.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()[0]
        groups = {}
        for r in conn.execute("SELECT id, symbol, timeframe, side, status, state FROM "
                              "position_groups"):
            row = dict(r)
            row["state"] = decode_state(r["state"]) if r["state"] else None
            groups[r["id"]] = row
        inbox = [dict(r) for r in conn.execute("SELECT id, state, outcome FROM inbox")]
        queue = [dict(r) for r in conn.execute("SELECT id, symbol, timeframe, side, reason,"
                                                " payload FROM queue_entries")]
        # a group actor's crash is the supervisor's GroupFailed (the reducer's own GroupFailed
        # is a legitimate creation failure)
        alarms = [f"{r[0]}: {r[1]}" for r in conn.execute(
            "SELECT kind, body FROM journal WHERE (kind = 'GroupFailed' AND actor ="
            " 'supervisor') OR kind = 'AttemptsExhausted' ORDER BY seq")]
    finally:
        conn.close()
    facts = Facts(instance=instance, groups=groups, inbox=inbox, queue=queue,
                  alarms=alarms, exchange_orders=exchange_state["orders"],
                  exchange_trades=exchange_state["trades"], placements=list(placements),
                  rules=rules)
    if supervisor is not None:
        facts.used = supervisor.used()
        facts.max_open = supervisor.config.execution_pool.max_open_groups
        facts.live_keys = dict(supervisor.directory.by_key)
    return facts


def _ours(facts: Facts, cid: str):
    p = decode_cid(cid)
    return p if p is not None and p.instance == facts.instance else None


def _live_orders(facts: Facts) -> list[tuple[dict, object]]:
    out = []
    for o in facts.exchange_orders:
        p = _ours(facts, o["client_order_id"])
        if p is not None and o["status"] in LIVE_ORDER:
            out.append((o, p))
    return out


# -- safety ----------------------------------------------------------------------------------
def safety(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    placed = Counter(cid for cid, result in facts.placements if result == "placed")
    for cid, n in placed.items():
        if n > 1:
            out.append(Finding(f"placed-twice:{cid}", f"client id {cid} placed {n} times"))
    slots = Counter((p.group_id, p.pyramid, p.leg, p.purpose) for _, p in _live_orders(facts))
    for slot, n in slots.items():
        if n > 1:
            cids = sorted(o["client_order_id"] for o, p in _live_orders(facts)
                          if (p.group_id, p.pyramid, p.leg, p.purpose) == slot)
            out.append(Finding(f"two-live:{slot}", f"{n} live orders for group/pyramid/leg/"
                               f"purpose {slot}: {cids}"))
    out += _entry_overfill(facts)
    live_per_key = Counter((g["symbol"], g["timeframe"]) for g in facts.groups.values()
                           if g["status"] not in ("closed", "failed"))
    for key, n in live_per_key.items():
        if n > 1:
            out.append(Finding(f"two-groups:{key}", f"{n} live groups for key {key}"))
    if facts.market_type == "spot":
        for gid, g in facts.groups.items():
            if g["side"] == "short":
                out.append(Finding(f"spot-short:{gid}", f"group {gid} is short on spot"))
    if facts.live_keys is not None:
        for key, gid in facts.live_keys.items():
            g = facts.groups.get(gid)
            if g is not None and g["status"] in ("closed", "failed"):
                continue  # its slot release is on its way to the supervisor
            if g is None or (g["symbol"], g["timeframe"]) != key[1:]:
                out.append(Finding(f"registry:{key}", f"supervisor maps {key} to group {gid},"
                                   f" database says {g and (g['symbol'], g['timeframe'])}"))
    for n, alarm in enumerate(facts.alarms):
        out.append(Finding(f"alarm:{n}", alarm))
    return out


def _entry_overfill(facts: Facts) -> list[Finding]:
    traded: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for t in facts.exchange_trades:
        p = _ours(facts, t["client_order_id"])
        if p is not None and p.purpose == "e":
            traded[(p.group_id, p.pyramid, p.leg)] += Decimal(t["quantity"])
    out = []
    for (gid, pyr, leg), qty in traded.items():
        state = (facts.groups.get(gid) or {}).get("state")
        if state is None:
            continue
        try:
            planned = state.leg(pyr, leg).planned_qty
        except KeyError:
            out.append(Finding(f"entry-unknown:{gid}:{pyr}:{leg}", f"group {gid} P{pyr}-DCA{leg}"
                               f" traded {qty} but the group has no such leg"))
            continue
        if qty > planned:
            out.append(Finding(f"entry-overfill:{gid}:{pyr}:{leg}", f"group {gid} P{pyr}-DCA{leg}"
                               f" entry orders traded {qty} > planned {planned}"))
    return out


def pool_finding(facts: Facts, previous_used: int | None, forced: bool,
                 previous_max: int | None = None) -> Finding | None:
    """Used above max is legal when it did not grow since the last look (a lowered limit closes
    nothing), when an operator forced an entry in meanwhile, or when it fits the limit of the
    last look (the growth may have happened before a reload lowered it — a kill can hide the
    look in between)."""
    if facts.used is None or facts.max_open is None:
        return None
    allowed = max(facts.max_open, previous_max or 0)
    if facts.used > allowed and not forced and (
            previous_used is None or facts.used > previous_used):
        return Finding("pool", f"pool used {facts.used} > max {facts.max_open} (was "
                       f"{previous_used}, no force-add)")
    return None


# -- liveness --------------------------------------------------------------------------------
def liveness(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    queued_ids = {decode_payload(q["payload"]).inbox_id for q in facts.queue}
    for row in facts.inbox:
        if row["state"] in ("accepted", "processing"):
            out.append(Finding(f"lost:{row['id']}", f"inbox {row['id']} still {row['state']}"))
        elif row["state"] == "queued" and row["id"] not in queued_ids:
            out.append(Finding(f"queued-gone:{row['id']}", f"inbox {row['id']} says queued "
                               f"({row['outcome']}) but no queue entry holds it"))
    for o, p in _live_orders(facts):
        g = facts.groups.get(p.group_id)
        state: GroupState | None = g and g["state"]
        cid = o["client_order_id"]
        if g is None or g["status"] in ("closed", "failed") or state is None:
            out.append(Finding(f"orphan:{cid}", f"open order {cid} ({o['side']} {o['quantity']}"
                               f" @ {o['price']}) of group {p.group_id} "
                               f"({g and g['status']})"))
        elif not any(r.ref.pyramid == p.pyramid and r.ref.leg == p.leg and r.ref.purpose ==
                     p.purpose and r.ref.attempt == p.attempt for r in state.orders):
            out.append(Finding(f"untracked:{cid}", f"open order {cid} is not among group "
                               f"{p.group_id}'s orders"))
    out += _coverage(facts)
    out += _positions(facts)
    for gid, g in facts.groups.items():
        if g["status"] == "closing":
            out.append(Finding(f"closing:{gid}", f"group {gid} still closing"))
    return out


def _coverage(facts: Facts) -> list[Finding]:
    """Leg/hybrid mode: each open lot has exactly its TP resting, for its whole quantity."""
    tps: dict[tuple, list[dict]] = defaultdict(list)
    for o, p in _live_orders(facts):
        if p.purpose == "t":
            tps[(p.group_id, p.pyramid, p.leg)].append(o)
    out = []
    for gid, g in facts.groups.items():
        s: GroupState | None = g["state"]
        if s is None or g["status"] in ("closing", "closed", "failed") or s.partial is not None:
            continue
        rules = facts.rules.get(s.symbol)
        for leg in s.legs:
            resting = tps.get((gid, leg.pyramid, leg.index), [])
            if s.config.tp_mode == "aggregate":
                if resting:
                    out.append(Finding(f"tp-in-aggregate:{gid}:{leg.pyramid}:{leg.index}",
                                       f"group {gid} (aggregate) has a leg TP resting"))
                continue
            if leg.open_qty <= 0 or leg.tp_state in ("hit", "external_cancel") or leg.tp_blocked:
                continue
            if leg.tp_price is not None and rules is not None and not tp_order_valid(
                    rules, leg.open_qty, leg.tp_price):
                continue  # below the minimums: waits for more fills (or becomes dust)
            remaining = [Decimal(o["quantity"]) - Decimal(o["filled_quantity"]) for o in resting]
            if remaining != [leg.open_qty]:
                out.append(Finding(f"uncovered:{gid}:{leg.pyramid}:{leg.index}",
                                   f"group {gid} P{leg.pyramid}-DCA{leg.index}: open "
                                   f"{leg.open_qty}, TP state {leg.tp_state}, resting TP "
                                   f"quantities {remaining}"))
    return out


def _positions(facts: Facts) -> list[Finding]:
    """Per group: Σ buys − Σ sells on the exchange (base fees off) == Σ (open + dust) booked.
    Long groups only (spot); a written-off shortfall is reported on its own."""
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for t in facts.exchange_trades:
        p = _ours(facts, t["client_order_id"])
        if p is None:
            continue
        qty = Decimal(t["quantity"])
        rules = facts.rules.get(t["symbol"])
        fee = Decimal(t["fee"]) if rules is not None and t["fee_asset"] == rules.base else ZERO
        held[p.group_id] += (qty - fee) if t["side"] == "buy" else -qty
    out = []
    for gid, g in facts.groups.items():
        s: GroupState | None = g["state"]
        if s is None:
            continue
        booked = sum((leg.open_qty + leg.dust_qty for leg in s.legs), ZERO)
        written = sum((leg.written_off_qty for leg in s.legs), ZERO)
        if written:
            out.append(Finding(f"written-off:{gid}", f"group {gid} wrote off {written} (no "
                               "trade outside the engine happened)"))
        if held[gid] != booked:
            out.append(Finding(f"position:{gid}", f"group {gid} ({g['status']}): exchange "
                               f"holds {held[gid]}, engine books open+dust {booked}"))
    return out
