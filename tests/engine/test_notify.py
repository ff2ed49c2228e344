"""engine/notify.py: one line per event kind, the batch message within each channel's limit,
the webhook shapes, and the event switches."""

from decimal import Decimal

import pytest

from engine.config.model import NOTIFY_EVENTS
from engine.notify import TEXT_LIMIT, Notice, line, message, webhook_body, wanted

T = 1_762_776_000_000  # 2025-11-10T12:00:00Z
GROUP = {"symbol": "BTCUSDT", "timeframe": 60, "side": "long", "group_id": 7}
FACTS = {
    "group_opened": {**GROUP, "notional": Decimal("500"), "price": Decimal("60000.10")},
    "group_closed": {**GROUP, "reason": "tp", "pnl": Decimal("12.345"),
                     "return_percent": Decimal("2.4691")},
    "tp_filled": {**GROUP, "pyramid": 0, "leg": 2, "qty": Decimal("0.001"),
                  "price": Decimal("61000"), "realized": Decimal("1.005")},
    "risk_action": {"id": 3, "trigger": "timer", "outcome": "executed", "loser_group_id": 7,
                    "required_usd": "40.5"},
    "order_rejected": {**GROUP, "order_id": "eeab120000007z0e000", "error": "Filter failure"},
    "exchange_down": {"exchange": "binance", "error": "Unavailable: 503"},
    "exchange_up": {"exchange": "binance"},
    "engine_started": {"version": "0.1.0", "exchange": "paper"},
    "engine_stopped": {},
    "daily_summary": {"day": "2025-11-09", "closed": 3, "wins": 2, "losses": 1,
                      "pnl": Decimal("-4.5"), "open": 1, "queued": 0},
}
EXPECTED = {
    "group_opened": "group opened: BTCUSDT 60 long (#7), first pyramid 500.00 USDT at 60000.10",
    "group_closed": "group closed: BTCUSDT 60 long (#7) tp, PnL 12.35 USDT (2.47 %)",
    "tp_filled": "take-profit filled: BTCUSDT 60 long (#7) P0-DCA2 0.001 at 61000, realized "
                 "1.01 USDT",
    "risk_action": "risk action #3: timer → executed, loser #7, required 40.50 USDT",
    "order_rejected": "order rejected: BTCUSDT 60 long eeab120000007z0e000: Filter failure",
    "exchange_down": "exchange binance unreachable: Unavailable: 503",
    "exchange_up": "exchange binance reachable again",
    "engine_started": "engine started (version 0.1.0, exchange paper)",
    "engine_stopped": "engine stopped",
    "daily_summary": "day 2025-11-09: 3 group(s) closed (2 won, 1 lost), PnL -4.50 USDT; "
                     "1 open, 0 queued",
}


@pytest.mark.parametrize("kind", NOTIFY_EVENTS)
def test_every_event_kind_has_its_line(kind):
    text = line(Notice(type=kind, ts_ms=T, facts=FACTS[kind]), "ab12")
    assert text.endswith(f"12:00:00 [ab12] {EXPECTED[kind]}"), text


def test_a_test_notice_and_missing_facts_still_read():
    assert line(Notice(type="test", ts_ms=T, facts={"message": "hello"})).endswith("hello")
    assert "PnL ? USDT (? %)" in line(Notice(type="group_closed", ts_ms=T))


@pytest.mark.parametrize("fmt", ["telegram", "discord", "slack"])
def test_a_long_batch_stays_within_the_channel_limit(fmt):
    notices = [Notice(type="exchange_up", ts_ms=T, facts={"exchange": "x" * 100})] * 200
    text = message(notices, fmt)
    assert len(text) <= TEXT_LIMIT[fmt]
    assert text.splitlines()[-1].startswith("… and ") and text.endswith("more")


def test_webhook_shapes():
    notices = [Notice(type="engine_stopped", ts_ms=T)]
    assert set(webhook_body(notices, "discord")) == {"content"}
    assert set(webhook_body(notices, "slack")) == {"text"}
    body = webhook_body([Notice(type="group_opened", ts_ms=T, facts=FACTS["group_opened"])],
                        "json", "ab12")
    assert body["instance"] == "ab12" and body["events"][0]["type"] == "group_opened"
    assert body["events"][0]["notional"] == "500"  # decimals travel as text


def test_switches():
    assert wanted("group_closed", ("group_closed",))
    assert not wanted("group_opened", ("group_closed",))
    assert wanted("test", ())
    assert not wanted("no_such_event", NOTIFY_EVENTS)
