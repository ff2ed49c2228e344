"""What a notification says: one line per event, and the message a batch of events becomes for
each channel format (actors/runtime/notifier.py delivers them). Numbers go through
``engine/display.py`` like everywhere else they are shown.

An event is a ``Notice``: its type (one of ``NOTIFY_EVENTS``), when it happened and the facts
its line shows. Messages are plain text: Telegram's limit is 4,096 characters and Discord's
2,000, so a batch too long for one message says how many lines it left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from engine.config.model import NOTIFY_EVENTS
from engine.display import for_quote, percent, plain

TEXT_LIMIT = {"telegram": 4000, "discord": 1900, "slack": 3900, "json": 100_000}
_ICON = {"group_opened": "🟢", "group_closed": "🏁", "tp_filled": "🎯", "risk_action": "⚖️",
         "order_rejected": "⛔", "exchange_down": "🔴", "exchange_up": "🟢",
         "engine_started": "▶️", "engine_stopped": "⏹", "daily_summary": "📊", "test": "🔔"}


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    type: str  # NOTIFY_EVENTS, or "test"
    ts_ms: int
    facts: dict[str, Any] = {}


def _usd(value: Any) -> str:
    return for_quote("USDT").usd(None if value is None else Decimal(str(value))) or "?"


def _pct(value: Any) -> str:
    return percent(None if value is None else Decimal(str(value))) or "?"


def _where(f: dict[str, Any]) -> str:
    return " ".join(str(f[k]) for k in ("symbol", "timeframe", "side") if f.get(k) is not None)


def line(notice: Notice, instance: str = "") -> str:
    """One event as one line of text."""
    f = notice.facts
    kind = notice.type
    if kind == "group_opened":
        text = f"group opened: {_where(f)} (#{f.get('group_id')}), first pyramid " \
               f"{_usd(f.get('notional'))} USDT at {plain(f.get('price'))}"
    elif kind == "group_closed":
        text = f"group closed: {_where(f)} (#{f.get('group_id')}) {f.get('reason')}, PnL " \
               f"{_usd(f.get('pnl'))} USDT ({_pct(f.get('return_percent'))} %)"
    elif kind == "tp_filled":
        text = f"take-profit filled: {_where(f)} (#{f.get('group_id')}) P{f.get('pyramid')}-" \
               f"DCA{f.get('leg')} {plain(f.get('qty'))} at {plain(f.get('price'))}, " \
               f"realized {_usd(f.get('realized'))} USDT"
    elif kind == "risk_action":
        text = f"risk action #{f.get('id')}: {f.get('trigger')} → {f.get('outcome')}, loser " \
               f"#{f.get('loser_group_id')}, required {_usd(f.get('required_usd'))} USDT"
    elif kind == "order_rejected":
        text = f"order rejected: {_where(f)} {f.get('order_id')}: {f.get('error')}"
    elif kind == "exchange_down":
        text = f"exchange {f.get('exchange')} unreachable: {f.get('error') or 'no answer'}"
    elif kind == "exchange_up":
        text = f"exchange {f.get('exchange')} reachable again"
    elif kind == "engine_started":
        text = f"engine started (version {f.get('version')}, exchange {f.get('exchange')})"
    elif kind == "engine_stopped":
        text = "engine stopped"
    elif kind == "daily_summary":
        text = f"day {f.get('day')}: {f.get('closed')} group(s) closed ({f.get('wins')} won, " \
               f"{f.get('losses')} lost), PnL {_usd(f.get('pnl'))} USDT; " \
               f"{f.get('open')} open, {f.get('queued')} queued"
    else:
        text = str(f.get("message") or kind)
    at = datetime.fromtimestamp(notice.ts_ms / 1000, UTC).strftime("%H:%M:%S")
    prefix = f"[{instance}] " if instance else ""
    return f"{_ICON.get(kind, '•')} {at} {prefix}{text}"


def message(notices: list[Notice], fmt: str, instance: str = "") -> str:
    """The text of one message: a line per event, within the channel's length limit."""
    limit = TEXT_LIMIT.get(fmt, 1900)
    lines: list[str] = []
    used = 0
    for i, notice in enumerate(notices):
        text = line(notice, instance)
        if used + len(text) + 1 > limit - 40:
            lines.append(f"… and {len(notices) - i} more")
            break
        lines.append(text)
        used += len(text) + 1
    return "\n".join(lines)


def webhook_body(notices: list[Notice], fmt: str, instance: str = "") -> dict[str, Any]:
    """The JSON a generic webhook receives: Discord's and Slack's message shapes, or the
    events themselves (``json``) with their text."""
    text = message(notices, fmt, instance)
    if fmt == "discord":
        return {"content": text}
    if fmt == "slack":
        return {"text": text}
    return {"instance": instance, "text": text, "events": [
        {"type": n.type, "ts_ms": n.ts_ms, **msgspec.to_builtins(n.facts)} for n in notices]}


def wanted(kind: str, enabled: tuple[str, ...]) -> bool:
    """Whether events of ``kind`` are switched on (a test notification always is)."""
    return kind == "test" or (kind in NOTIFY_EVENTS and kind in enabled)
