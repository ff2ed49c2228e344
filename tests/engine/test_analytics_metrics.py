"""SPEC 11.3 metrics from hand-computed vectors: four trades (fees on every fill, a partial
close, a Risk Engine offset, a breakeven trade), their realizations across a day boundary in
Europe/Paris, and the blocks built from the roll-up rows."""

from datetime import datetime, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from engine.analytics import blocks
from engine.analytics.definitions import (
    RealizationFact,
    TradeFact,
    capital_base,
    duration_bucket,
    equity,
    outcome,
    return_bin,
    strategy_label,
)
from engine.analytics.periods import rollup_keys
from engine.analytics.rollup import Bucket, best_and_worst, merge, of_realization, of_trade, total

PARIS = ZoneInfo("Europe/Paris")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


# (symbol, timeframe, side, strategy, [(UTC instant, realized)], opened, closed, entry cost)
# T1 BTC: buy 1 @ 100 (fee 0.1) → −0.1; sell 0.4 @ 110 (fee 0.044) → 4 − 0.044 = 3.956;
#         sell 0.6 @ 105 (fee 0.063) → 3 − 0.063 = 2.937.            total 6.793, +6.793 %
# T2 ETH: buy 2 @ 50 (fee 0.1) → −0.1; the Risk Engine's loser: sell 2 @ 45 (fee 0.09)
#         → −10 − 0.09 = −10.09.                                    total −10.19, −10.19 %
# T3 SOL: buy 10 @ 10 (fee 0.1) → −0.1; the offset's winner: sell 5 @ 12 (fee 0.06) → 9.94;
#         sell 5 @ 11 (fee 0.055) → 4.945.                            total 14.785, +14.785 %
# T4 BTC short, no fees: sell 1 @ 100, buy 1 @ 100.                   total 0 (breakeven)
TRADES = [
    ("BTCUSDT", 60, "long", "A", [("2024-03-10T22:00", "-0.1"), ("2024-03-10T22:30", "3.956"),
                                  ("2024-03-10T23:10", "2.937")],
     "2024-03-10T22:00", "2024-03-10T23:10", "100"),
    ("ETHUSDT", 15, "long", "B", [("2024-03-10T20:00", "-0.1"), ("2024-03-11T08:00", "-10.09")],
     "2024-03-10T20:00", "2024-03-11T08:00", "100"),
    ("SOLUSDT", 60, "long", "A", [("2024-03-10T21:00", "-0.1"), ("2024-03-11T08:00", "9.94"),
                                  ("2024-03-11T09:00", "4.945")],
     "2024-03-10T21:00", "2024-03-11T09:00", "100"),
    ("BTCUSDT", 15, "short", "B", [("2024-03-11T10:00", "0")],
     "2024-03-11T09:30", "2024-03-11T10:00", "100"),
]


def facts():
    trades, realizations = [], []
    for gid, (sym, tf, side, strat, real, opened, closed, cost) in enumerate(TRADES, 1):
        for at, amount in real:
            realizations.append(RealizationFact(ts_ms=ms(at), amount=D(amount), symbol=sym,
                                                timeframe=tf, side=side, strategy=strat))
        pnl = sum((D(a) for _, a in real), D(0))
        trades.append(TradeFact(group_id=gid, symbol=sym, timeframe=tf, side=side,
                                strategy=strat, opened_at_ms=ms(opened), closed_at_ms=ms(closed),
                                pyramids=gid, realized=pnl, entry_cost=D(cost)))
    return trades, realizations


def rows_by_period(tz):
    """What the roll-up table would hold: rows per (period, start)."""
    trades, realizations = facts()
    parts: dict = {}
    for r in realizations:
        for pk in rollup_keys(r.ts_ms, tz):
            parts.setdefault(pk, []).extend(of_realization(r))
    for t in trades:
        for pk in rollup_keys(t.closed_at_ms, tz):
            parts.setdefault(pk, []).extend(of_trade(t))
    return {pk: merge(p) for pk, p in parts.items()}


@pytest.mark.parametrize("pnl, kind", [(D("0.01"), "win"), (D("-0.01"), "loss"), (D(0), "flat")])
def test_a_trade_wins_above_zero_and_loses_below(pnl, kind):
    assert outcome(pnl) == kind


@pytest.mark.parametrize("pct, bin_", [(D("6.793"), 6), (D("-10.19"), -11), (D("-0.5"), -1),
                                       (D(0), 0), (D(1), 1), (None, None)])
def test_returns_fall_into_one_percent_bins(pct, bin_):
    assert return_bin(pct) == bin_


def test_trade_definitions():
    trades, _ = facts()
    assert [t.realized for t in trades] == [D("6.793"), D("-10.19"), D("14.785"), D(0)]
    assert [t.return_percent for t in trades] == [D("6.793"), D("-10.19"), D("14.785"), D(0)]
    assert duration_bucket(ms("2024-03-10T20:00"), ms("2024-03-11T08:00")) == "12-24h"
    assert strategy_label({"alert_name": " BTC Long ", "trade_id": "9"}) == "BTC Long"
    assert strategy_label({"alert_name": "", "trade_id": "9"}) == "9"
    assert strategy_label(None) == "(none)"
    assert capital_base(D(0), D("1000")) == D("1000")
    assert capital_base(D("500"), D("1000")) == D("500")
    assert capital_base(D(0), None) is None
    e = equity(D("1000"), D("6.793"), D("-2.5"))
    assert (e.realized, e.total, e.unrealized) == (D("1006.793"), D("1004.293"), D("-2.5"))


def test_realized_pnl_goes_to_the_local_day_it_was_booked_and_trades_to_their_close_day():
    rows = rows_by_period(PARIS)
    day10, day11 = rows[("day", "2024-03-10")], rows[("day", "2024-03-11")]
    # Paris is UTC+1: T1's last sell at 23:10 UTC is booked on the 11th, and T1 closes that day
    assert day10[("all", "*")].realized == D("-0.1") * 3 + D("3.956")
    assert day11[("all", "*")].realized == D("2.937") - D("10.09") + D("9.94") + D("4.945")
    assert day10[("all", "*")].trades == 0 and day11[("all", "*")].trades == 4
    month = rows[("month", "2024-03")][("all", "*")]
    assert month == rows[("all", "*")][("all", "*")]
    assert month.realized == D("11.388") and month.trade_pnl == D("11.388")
    in_utc = rows_by_period(ZoneInfo("UTC"))
    assert in_utc[("day", "2024-03-10")][("all", "*")].trades == 1  # T1 closed on the 10th (UTC)
    assert total([in_utc[("day", "2024-03-10")], in_utc[("day", "2024-03-11")]]) == \
        in_utc[("all", "*")]


def test_summary_blocks_of_the_four_trades():
    rows = rows_by_period(PARIS)[("all", "*")]
    wl = blocks.win_loss_block(rows)
    assert (wl["trades"], wl["wins"], wl["losses"]) == (4, 2, 1)
    assert wl["win_rate_percent"] == D(50)
    assert wl["avg_win_usd"] == D("10.789") and wl["avg_loss_usd"] == D("-10.19")
    assert wl["rr"] == D("10.789") / D("10.19")
    assert wl["long"] == {"trades": 3, "win_rate_percent": D(2) / 3 * 100,
                          "pnl_usd": D("11.388")}
    assert wl["short"] == {"trades": 1, "win_rate_percent": D(0), "pnl_usd": D(0)}
    pnl = blocks.pnl_block(rows, D("-2.5"), {"day": D(0)})
    assert pnl["realized_usd"] == D("11.388") and pnl["unrealized_usd"] == D("-2.5")
    assert pnl["by_pair"][0] == {"pair": "SOLUSDT", "realized_usd": D("14.785"), "trades": 1,
                                 "trade_pnl_usd": D("14.785")}
    assert [r["strategy"] for r in pnl["by_strategy"]] == ["A", "B"]
    assert [r["timeframe"] for r in pnl["by_timeframe"]] == ["60", "15"]
    risk = blocks.risk_block(rows, returns=[], drawdown=blocks.ratios.Drawdown(),
                             current_equity=None)
    assert risk["profit_factor"] == D("21.578") / D("10.19")
    assert risk["sharpe"] is risk["sortino"] is risk["max_drawdown_percent"] is None


def test_distribution_blocks():
    rows = rows_by_period(PARIS)[("all", "*")]
    hist = blocks.histogram(rows)
    assert (hist[0]["from_percent"], hist[-1]["to_percent"]) == (D(-11), D(15))
    assert {int(h["from_percent"]): h["trades"] for h in hist if h["trades"]} == \
        {-11: 1, 0: 1, 6: 1, 14: 1}
    assert len(hist) == 26  # every bin in between, empty ones at 0
    heat = blocks.heatmap(rows)
    assert heat["pairs"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert heat["timeframes"] == [15, 60]
    assert {(c["pair"], c["timeframe"]): (c["pnl_usd"], c["trades"]) for c in heat["cells"]} == {
        ("BTCUSDT", 15): (D(0), 1), ("BTCUSDT", 60): (D("6.793"), 1),
        ("ETHUSDT", 15): (D("-10.19"), 1), ("SOLUSDT", 60): (D("14.785"), 1)}
    assert heat["scale_usd"] == D("14.785")
    ladder = blocks.ladder_block(rows)
    assert [(p["pyramids"], p["groups"]) for p in ladder["pyramids"]] == \
        [(1, 4), (2, 3), (3, 2), (4, 1), (5, 0)]  # trade k reached k pyramids
    assert ladder["pyramids"][1]["win_rate_percent"] == D(1) / 3 * 100  # T2 lost, T4 flat
    assert ladder["pyramids"][4]["avg_pnl_usd"] is None
    assert {r["bucket"]: r["trades"] for r in ladder["time_in_trade"]} == {
        "<1h": 1, "1-4h": 1, "4-12h": 0, "12-24h": 2, "1-3d": 0, "3-7d": 0, ">7d": 0}


def test_empty_history_answers_the_empty_forms():
    rows: dict = {}
    wl = blocks.win_loss_block(rows)
    assert wl["trades"] == 0 and wl["win_rate_percent"] is None and wl["rr"] is None
    assert blocks.histogram(rows) == []
    assert blocks.heatmap(rows) == {"pairs": [], "timeframes": [], "cells": [],
                                    "scale_usd": D(0)}
    assert blocks.risk_block(rows, returns=[], drawdown=blocks.ratios.Drawdown(),
                             current_equity=None)["profit_factor"] is None
    ladder = blocks.ladder_block(rows)
    assert ladder["legs"] == [] and len(ladder["pyramids"]) == 5


def test_zero_losses_leave_profit_factor_and_rr_undefined():
    b = merge(of_trade(TradeFact(group_id=1, symbol="X", timeframe=1, side="long", strategy="s",
                                 opened_at_ms=0, closed_at_ms=1, pyramids=1, realized=D(5),
                                 entry_cost=D(100))))
    assert blocks.risk_block(b, returns=[0.01, 0.02], drawdown=blocks.ratios.Drawdown(),
                             current_equity=None)["profit_factor"] is None
    assert blocks.win_loss_block(b)["rr"] is None


def test_best_and_worst_symbol_of_a_day():
    assert best_and_worst({"A": Bucket(realized=D(3)), "B": Bucket(realized=D(-2)),
                           "C": Bucket(realized=D(3)), "D": Bucket()}) == ("A", "B")
    assert best_and_worst({"A": Bucket()}) == (None, None)


def test_answers_show_numbers_by_the_display_rules_and_na():
    from engine.analytics.present import present
    from engine.display import for_quote

    shown = present({"pnl_usd": D("6.795"), "win_rate_percent": D(2) / 3 * 100,
                     "sharpe": 7.399218, "rr": None, "trades": 3, "qty": D("0.50"),
                     "realized_by_period_usd": {"day": D("-0.004"), "all": D("1")},
                     "rows": [{"avg_loss_usd": None}]}, for_quote("USDT"))
    assert shown == {"pnl_usd": "6.80", "win_rate_percent": "66.67", "sharpe": "7.40",
                     "rr": "n/a", "trades": 3, "qty": "0.50",
                     "realized_by_period_usd": {"day": "0.00", "all": "1.00"},
                     "rows": [{"avg_loss_usd": "n/a"}]}
    assert present({"x_usd": D("0.123456789")}, for_quote("BTC")) == {"x_usd": "0.12345679"}
