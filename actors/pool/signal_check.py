"""The dry run of a webhook (``POST /api/signals/check``): what the engine would do with an
alert message, answered without storing or trading anything.

Owns: nothing — every answer is computed from the running configuration, the market list and
the pool as it is at the moment of the call (one synchronous read: no await in between).
Receives: ``check(raw)`` from the handle (``EngineHandle.signal_check``).
Sends: nothing. It runs the real path's pure steps: ``engine.intake.check_webhook`` (every
refusal the webhook answers 400), ``router.entry_facts`` + ``engine.routing.route_entry`` (the
entry decision), ``engine.ladder.preview_pyramid`` (the legs and their problems),
``engine.order_size`` (the smallest order size that passes). A look-up of stale market rules
may start their refresh, as any look-up does.
Fails how: never raises for a bad message (the refusal is the answer); an engine still
starting answers the intake part and says the decision is not available yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from actors.pool import router
from engine.config import Config
from engine.display import Display, for_rules, plain
from engine.errors import InvalidInput
from engine.intake import IntakeWarning, check_webhook
from engine.ladder import aggregate_target, leg_tp_price, preview_pyramid
from engine.masking import Masker
from engine.order_size import problem_text
from engine.precision import ResolvedRules
from engine.routing import (
    Duplicate, EntryFacts, Enqueue, Ignore, Open, Pyramid, Refuse, Route, entry_notional,
    route_entry,
)
from engine.signals import Signal, WebhookRejected
from engine.tradingview import SECRET_SLOT
from engine.types import MarketRules

MAX_BODY = 64 * 1024  # the webhook's own limit
_builtins = msgspec.json.Encoder(enc_hook=str)
QUEUE_TEXT = {
    "pool_full": "every pool slot is taken: it waits in the queue until one frees",
    "opposite_side": "a group on the other side of this key is open: it waits until it closes",
    "group_closing": "this key's group is closing: it waits until the close is done",
    "engine_paused": "the engine is paused: it waits until it is resumed",
    "precision_missing": "the market rules are not loaded yet: it waits for them",
}


class SignalCheck:
    def __init__(self, *, config: Callable[[], Config],
                 markets: Callable[[], Mapping[str, MarketRules] | None],
                 core: Callable[[], Any], masker: Masker,
                 warning: Callable[[], IntakeWarning | None]):
        self._config = config
        self._markets = markets
        self._core = core
        self._masker = masker
        self._warning = warning

    def check(self, raw: bytes) -> dict[str, Any]:
        cfg = self._config()
        warning = self._warning()
        out: dict[str, Any] = {
            "accepted": False, "http_status": 400, "errors": [], "signal": None, "key": None,
            "decision": None, "ladder": None, "secret": None,
            "intake_warning": None if warning is None else msgspec.to_builtins(warning)}
        if len(raw) > MAX_BODY:
            out.update(http_status=413, errors=[{"field": "body", "message": f"larger than "
                                                 f"{MAX_BODY} bytes: shorten the message"}])
            return out
        try:
            sig = check_webhook(raw, cfg, self._markets())
        except WebhookRejected as exc:
            out["errors"] = self._masker.scrub_obj(
                [{"field": e.field, "message": e.message} for e in exc.errors])
            return out
        refused = warning is not None and warning.refused
        out["secret"] = _secret_note(raw, cfg)
        out.update(accepted=not refused, http_status=401 if refused else 200,
                   signal=self._masker.scrub_obj(msgspec.json.decode(_builtins.encode(sig))),
                   key=f"{cfg.exchange.name}:{sig.symbol}:{sig.timeframe}")
        out["decision"], out["ladder"] = self._decide(cfg, sig)
        return out

    # -- what the engine would do --------------------------------------------------------------
    def _decide(self, cfg: Config, sig: Signal) -> tuple[dict[str, Any], dict | None]:
        core = self._core()
        sup = None if core is None else core.supervisor
        if sup is None or not sup.trading:
            return _decision("unknown", "the engine is starting: its decision can be checked "
                             "once it runs"), None
        spot = cfg.exchange.market_type == "spot"
        key = router.key_of(sup, sig)
        slot = sup.directory.live(key)
        if sig.intent == "exit" or (sig.intent == "reverse" and slot is not None):
            queued = sup.queue.for_key(key) if cfg.waiting_rule.drop_on_exit else []
            parts = [f"closes group {slot.group_id}"] if slot is not None else []
            parts += [f"drops {len(queued)} queued entr{'y' if len(queued) == 1 else 'ies'}"] \
                if queued else []
            if sig.intent == "exit":
                text = " and ".join(parts) or "ignored: nothing live or queued for this key"
                return _decision("exit", text, group_id=slot and slot.group_id), None
            then = ("the short entry is ignored: short signals need a futures market type"
                    if sig.side == "short" and spot else
                    "then the entry takes the freed slot before anything queued")
            return _decision("reverse", f"{' and '.join(parts)}; {then}",
                             group_id=slot.group_id), None
        if sig.intent == "reduce":
            if slot is None:
                return _decision("reduce", "ignored: no live group for this key"), None
            return _decision("reduce", f"reduces group {slot.group_id}",
                             group_id=slot.group_id), None
        if sig.side == "short" and spot:
            return _decision("ignore", "ignored: short signals need a futures market type"), None
        facts = router.entry_facts(sup, sig)
        route = route_entry(facts)
        return _describe(route, facts), _ladder(facts, route)


def _secret_note(raw: bytes, cfg: Config) -> str | None:
    """What to know about the message's ``secret``: its value is never compared here (the
    webhook does that, and throttles the guesses); a template's placeholder or the masked form
    shown by the console is not the secret."""
    if not cfg.security.webhook_signature_validation:
        return "not needed: security.webhook_signature_validation is off"
    value = msgspec.json.decode(raw).get("secret")
    if isinstance(value, str) and (value.startswith("****") or value == SECRET_SLOT):
        return ("this is a stand-in, not the secret: put the real webhook secret in the "
                "TradingView alert (the engine never shows it)")
    return "present; its value is not compared here, the webhook does that"


def _decision(kind: str, text: str, **more: Any) -> dict[str, Any]:
    return {"kind": kind, "text": text, "group_id": None, "pyramid_index": None,
            "queue_reason": None, "minimum_order_size": None, "problems": [], **more}


def _describe(route: Route, f: EntryFacts) -> dict[str, Any]:
    group = f.group.group_id if f.group is not None else None
    match route:
        case Open():
            return _decision("open", "opens a new group with pyramid 0", pyramid_index=0)
        case Pyramid(plan=plan, group_id=gid):
            return _decision("pyramid", f"adds pyramid {plan.index} to group {gid}",
                             group_id=gid, pyramid_index=plan.index)
        case Enqueue(reason=reason):
            return _decision("queue", f"queued: {reason} — {QUEUE_TEXT[reason]}",
                             group_id=group, queue_reason=reason)
        case Duplicate(text=text):
            return _decision("duplicate", text, group_id=group)
        case Ignore(text=text):
            return _decision("ignore", text, group_id=group)
        case Refuse(text=text, problems=problems, minimum_order_size=minimum):
            return _decision("refuse", text, group_id=group, minimum_order_size=plain(minimum),
                             problems=[msgspec.to_builtins(p, enc_hook=str) for p in problems])
    raise TypeError(f"unknown route {route!r}")


def _ladder(f: EntryFacts, route: Route) -> dict[str, Any] | None:
    """The legs the entry would place (or why each fails), on the rules it would be planned
    with; None when no ladder can be planned (no rules, no size, no index left)."""
    if not isinstance(f.rules, ResolvedRules) or isinstance(route, (Duplicate, Ignore)):
        return None
    rules, sig = f.rules.rules, f.signal
    index = route.plan.index if isinstance(route, Pyramid) else (
        f.group.next_index if f.group is not None and not isinstance(route, Open) else 0)
    ref, notional = entry_notional(sig, f.grid, f.current_price, rules.contract_size)
    if notional is None:
        return None
    try:
        legs, problems = preview_pyramid(
            f.grid, pyramid=index, side=sig.side, reference=ref, notional=notional, rules=rules,
            current_price=f.current_price, enforce=f.rules.enforce,
            open_orders=f.group.open_orders if f.group is not None else 0)
    except InvalidInput:
        return None
    show = for_rules(rules)
    failing = {p.leg: p for p in problems if p.leg is not None}
    tp_mode = f.grid.tp_mode
    out = [_leg(show, rules, sig, leg, tp_mode, failing.get(leg.index)) for leg in legs]
    qty = sum((leg.qty for leg in legs), Decimal(0))
    target = None
    if tp_mode != "leg" and qty > 0:
        avg = sum((leg.price * leg.qty for leg in legs), Decimal(0)) / qty
        target = show.price(aggregate_target(avg, f.grid.tp_percent, sig.side, rules.tick_size))
    return {"pyramid_index": index, "reference_price": show.price(ref),
            "notional": show.usd(notional), "tp_mode": tp_mode, "legs": out,
            "aggregate_target_if_all_fill": target}


def _leg(show: Display, rules: MarketRules, sig: Signal, leg: Any, tp_mode: str,
         problem: Any) -> dict[str, Any]:
    tp = None
    if tp_mode != "aggregate" and leg.price > 0:
        tp = show.price(leg_tp_price(leg.price, leg.tp_percent, sig.side, rules.tick_size))
    return {"leg": f"DCA{leg.index}", "order_type": leg.order_type,
            "price": show.price(leg.price), "quantity": show.qty(leg.qty),
            "notional": show.usd(leg.notional), "weight_percent": show.percent(leg.weight_percent),
            "tp_percent": show.percent(leg.tp_percent), "tp_price_if_filled": tp,
            "problem": None if problem is None else problem_text(problem, show,
                                                                  rules.quote or "USD")}
