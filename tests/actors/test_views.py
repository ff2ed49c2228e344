"""Read models (actors/views*.py) over rows written by the real reducer + projection writer."""

from decimal import Decimal as D

import msgspec
import pytest
import trio

from actors.pool.queue_actor import QueueActor, encode_payload
from actors.store.writer import Store
from actors.read.models import ReadModels
from engine.config import default_config
from engine.errors import InvalidInput
from engine.queue import QueuedSignal
from engine.signals import parse_webhook
from tests.actors.views_kit import RecordedGroup, cache_rules, ladder, rules
from tests.engine.test_signals import body

NOW = 2_000_000
V12_LEGS = [  # DCA3 is SPEC V12's leg: gap −1.5 %, TP +1.5 %, 17346 ordered at 0.01153
    ("0", "20", "1", "0.01170", "17094"),
    ("-0.5", "20", "0.5", "0.01164", "17182"),
    ("-1.0", "20", "2", "0.01158", "17271"),
    ("-1.5", "20", "1.5", "0.01153", "17346"),
    ("-2.0", "20", "1", "0.01147", "17436"),
]
ABC = rules("ABCUSDT", tick="0.00001", step="1")
TEST = rules("TESTUSDT")


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "engine.db", clock_ms=lambda: NOW)
    yield s
    s.close()


def make_views(store, prices=None, **cfg_changes):
    cfg = default_config()
    if cfg_changes:
        cfg = msgspec.structs.replace(cfg, **cfg_changes)
    views = ReadModels(store=store, config=lambda: cfg, clock_ms=lambda: NOW,
                       status=lambda: "running")
    if prices is not None:
        views.set_source("prices", lambda: {k: D(v) for k, v in prices.items()})
    return views


def v12_group(store) -> RecordedGroup:
    cache_rules(store, ABC)
    g = RecordedGroup(store, market=ABC, plan=ladder(V12_LEGS, "0.01170", "1000"),
                      price="0.01170")
    g.ack_all()
    g.fill(3, qty="16219")
    g.ack_all()
    return g


@pytest.mark.parametrize("price, progress", [("0.01165", "70.59"), ("0.01150", "0.00"),
                                             ("0.01171", "100.00")])
def test_v12_leg_detail_and_d17_progress(store, price, progress):
    g = v12_group(store)
    prices = {"ABCUSDT": price}
    detail = make_views(store, prices).group(g.id)
    leg = next(x for x in detail["legs"] if x["leg_id"] == "P0-DCA3")
    assert leg["fill_price"] == "0.01153"
    assert leg["weight_percent"] == "20.00" and leg["tp_percent"] == "1.50"
    assert leg["filled_quantity"] == "16219" and leg["planned_quantity"] == "17346"
    assert leg["filled_notional"] == "187.01"  # 187.00507 USDT, shown in cents
    assert leg["tp_price"] == "0.01170" and leg["tp_target"] == "leg"
    assert leg["progress_to_tp"] == progress
    assert leg["label"] == "Open" and leg["entry_state"] == "partially_filled"
    others = [x for x in detail["legs"] if x["leg_id"] != "P0-DCA3"]
    assert {x["label"] for x in others} == {"Pending"}
    assert all(x["progress_to_tp"] is None and x["fill_price"] is None for x in others)


def test_group_row_fields_and_unrealized_pnl(store):
    g = v12_group(store)
    row = make_views(store, {"ABCUSDT": "0.01165"}).groups()["groups"][0]
    assert row == {
        "id": g.id, "queue_id": None, "exchange": "paper", "symbol": "ABCUSDT", "timeframe": 60,
        "side": "long", "status": "partially_filled", "close_reason": None,
        "pyramids_received": 1, "pyramids_max": 5, "legs_filled": 1, "legs_total": 5,
        "avg_entry": "0.01153", "open_quantity": "16219",
        # qty × P − cost = 1.94628 and usd / cost × 100 = 1.0407… (SPEC 3.5), rounded to show
        "unrealized_pnl_usd": "1.95", "unrealized_pnl_percent": "1.04",
        "realized_pnl_usd": "0.00", "fees_usd": "0.00", "dust_quantity": "0", "tp_mode": "leg",
        "current_price": "0.01165", "created_at": 1_000_000, "closed_at": None,
        "updated_at": row["updated_at"],
    }


def test_unknown_price_leaves_unrealized_unknown(store):
    v12_group(store)
    row = make_views(store).groups()["groups"][0]
    assert row["unrealized_pnl_usd"] is None and row["current_price"] is None
    dash = make_views(store).dashboard()
    assert dash["pnl"]["unpriced_group_ids"] == [row["id"]]


def test_aggregate_mode_measures_from_average_to_aggregate_target(store):
    cache_rules(store, TEST)
    legs = [("0", "50", "1", "100.00", "2.000"), ("-0.5", "50", "0.5", "99.50", "2.010")]
    g = RecordedGroup(store, market=TEST, plan=ladder(legs, "100", "400"), tp_mode="aggregate",
                      tp_percent="1", price="100")
    g.ack_all()
    g.fill(0, end=True)
    g.fill(1, end=True)
    detail = make_views(store, {"TESTUSDT": "100.24"}).group(g.id)
    # (100.00 × 2.000 + 99.50 × 2.010) / 4.010 = 99.7493…, shown on the 0.01 tick
    assert detail["status"] == "active"
    assert detail["avg_entry"] == "99.75"
    assert detail["aggregate_target"] == "100.74"  # round_tick(avg × 1.01) = 100.7468… → 100.74
    for leg in detail["legs"]:
        assert leg["tp_target"] == "aggregate" and leg["tp_price"] == "100.74"
        assert leg["progress_to_tp"] == "49.53"  # (100.24 − avg) / (100.74 − avg)
    assert [lot["open_quantity"] for lot in detail["lots"]] == ["2.000", "2.010"]
    assert detail["lots"][0]["unrealized_pnl_usd"] == "0.48"  # 2 × 100.24 − 200.00
    assert detail["lots"][1]["cost_basis"] == "200.00"  # 2.010 × 99.50 = 199.995


def closed_group(store) -> RecordedGroup:
    cache_rules(store, TEST)
    g = RecordedGroup(store, market=TEST, plan=ladder([("0", "100", "1", "100.00", "1.000")],
                                                       "100", "100"), timeframe=15, price="100")
    g.ack_all()
    g.fill(0, end=True)
    g.ack_all()
    g.fill(0, purpose="t", end=True)  # the TP at 101.00 fills: the group closes
    return g


def test_closed_group_detail_orders_fills_and_journal(store):
    g = closed_group(store)
    views = make_views(store, {"TESTUSDT": "101"})
    detail = views.group(g.id)
    assert detail["status"] == "closed" and detail["close_reason"] == "all_legs_tp"
    assert detail["realized_pnl_usd"] == "1.00" and detail["closed_at"] is not None
    assert detail["unrealized_pnl_usd"] == "0.00"
    assert detail["legs"][0]["label"] == "Hit TP" and detail["legs"][0]["progress_to_tp"] is None
    assert [(o["purpose"], o["side"], o["price"]) for o in detail["orders"]] == [
        ("e", "buy", "100.00"), ("t", "sell", "101.00")]
    assert [(f["side"], f["price"], f["quantity"]) for f in detail["fills"]] == [
        ("buy", "100.00", "1.000"), ("sell", "101.00", "1.000")]
    kinds = [j["kind"] for j in detail["journal"]]
    assert "GroupClosed" in kinds and kinds.index("OrderIntended") < kinds.index("LegFilled")
    assert detail["timer"]["started_at"] is None and detail["timer"]["remaining_ms"] is None
    assert views.group(g.id + 1) is None


def test_an_orders_fee_is_the_sum_of_its_fills_fees(store):
    cache_rules(store, TEST)
    g = RecordedGroup(store, market=TEST, plan=ladder([("0", "100", "1", "100.00", "3.000")],
                                                       "100", "300"), price="100")
    g.ack_all()
    g.fill(0, qty="1.000", fee="0.1")
    g.fill(0, qty="2.000", fee="0.2", end=True)
    detail = make_views(store, {"TESTUSDT": "100"}).group(g.id)
    entry = next(o for o in detail["orders"] if o["purpose"] == "e")
    assert [f["fee"] for f in detail["fills"]] == ["0.10", "0.20"]
    assert (entry["fee"], entry["fee_currency"], entry["fees"]) == ("0.30", "USDT",
                                                                    {"USDT": "0.30"})
    assert detail["fees_usd"] == "0.30"


def signal(symbol="BTCUSDT", tf="15", side="buy", price=60000.0, ts="2025-11-10T12:00:00Z"):
    raw = body(tv__symbol=symbol, tv__timeframe=tf, tv__entry_price=price,
               execution_intent__side=side, timestamp=ts,
               tv__market_position="long" if side == "buy" else "short")
    return parse_webhook(raw, markets=None, quote_currencies=("USDT",), secret_required=False)


async def queue_signals(store, items) -> None:
    """``items``: (symbol, reference price, reason, expected profit, replacement signals)."""
    actor = QueueActor(store=store, clock_ms=lambda: NOW)
    actor.restore()
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        for n, (symbol, ref, reason, profit) in enumerate(items):
            sig = signal(symbol=symbol, price=float(ref))
            queued = QueuedSignal(exchange="paper", symbol=symbol, timeframe=15, side="long",
                                  intent="signal", payload=encode_payload(sig, n + 1),
                                  reference_price=D(ref), order_size=D("2.5"),
                                  size_type="contracts", signal_timestamp_ms=sig.timestamp_ms,
                                  expected_profit=D(profit))
            await actor.enqueue(queued, reason=reason, live_side=None, replace=True, limit=0)
        store.stop_writer()


async def test_queue_ranked_by_loss_with_pool_and_waiting_rows(store):
    await queue_signals(store, [("AAAUSDT", "100", "pool_full", "5"),
                                ("BBBUSDT", "200", "pool_full", "9"),
                                ("CCCUSDT", "50", "precision_missing", "1")])
    views = make_views(store, {"AAAUSDT": "98", "BBBUSDT": "190", "CCCUSDT": "51"})
    queue = views.queue()
    assert queue["pool"] == {"used": 0, "max": 10}
    # loss %: AAA −2.00, BBB −5.00, CCC +2.00 → deepest retrace first
    assert [(e["symbol"], e["rank"], e["current_loss_percent"]) for e in queue["entries"]] == [
        ("BBBUSDT", 1, "-5.00"), ("AAAUSDT", 2, "-2.00"), ("CCCUSDT", 3, "2.00")]
    first = queue["entries"][0]
    assert {k: first[k] for k in ("exchange", "timeframe", "side", "entry_price",
                                  "replacement_count", "queued_at", "expected_profit_usd",
                                  "reason")} == {
        "exchange": "paper", "timeframe": 15, "side": "long", "entry_price": "200",
        "replacement_count": 0, "queued_at": NOW, "expected_profit_usd": "9.00",
        "reason": "pool_full"}
    waiting = views.groups(status="waiting")["groups"]
    # a waiting row is no group: ``id`` is None, ``queue_id`` is its queue entry
    assert [(w["id"], w["queue_id"], w["status"], w["reason"]) for w in waiting] == [
        (None, 1, "waiting", "pool_full"), (None, 2, "waiting", "pool_full"),
        (None, 3, "waiting", "precision_missing")]
    dash = views.dashboard()
    assert dash["queued"]["total"] == 3
    assert dash["queued"]["by_reason"]["pool_full"] == 2
    assert dash["queued"]["by_reason"]["precision_missing"] == 1


async def test_filters(store):
    v12 = v12_group(store)
    closed = closed_group(store)
    await queue_signals(store, [("AAAUSDT", "100", "pool_full", "5")])
    views = make_views(store, {"ABCUSDT": "0.0116"})

    def ids(**f):
        return [(r["status"], r["id"] or r["queue_id"]) for r in views.groups(**f)["groups"]]

    assert ids() == [("waiting", 1), ("partially_filled", v12.id), ("closed", closed.id)]
    assert ids(status="open") == [("partially_filled", v12.id)]
    assert ids(status="closed") == [("closed", closed.id)]
    assert ids(timeframe="15") == [("waiting", 1), ("closed", closed.id)]
    assert ids(timeframe=60) == [("partially_filled", v12.id)]
    assert ids(timeframe="1D") == []
    assert ids(symbol="abcusdt") == [("partially_filled", v12.id)]
    assert ids(side="short") == []
    for bad in ({"status": "pending"}, {"side": "buy"}, {"timeframe": "30S"}):
        with pytest.raises(InvalidInput) as err:
            views.groups(**bad)
        assert err.value.field == next(iter(bad))


def test_dashboard_pnl_pool_and_system(store):
    v12 = v12_group(store)
    closed_group(store)
    store.write_now(lambda c: c.execute(
        "INSERT INTO inbox (received_at, raw_body, parsed, state) VALUES (?, '{}', ?, 'accepted')",
        (NOW - 10, msgspec.json.encode(signal(symbol="ABCUSDT", tf="60")).decode())))
    store.write_now(lambda c: c.execute(
        "INSERT INTO alerts (ts, level, category, event, message) VALUES (?, 'error', 'order',"
        " 'order_rejected', 'rejected')", (NOW,)))
    cfg = default_config()
    views = make_views(store, {"ABCUSDT": "0.01165"},
                       app=msgspec.structs.replace(cfg.app, capital_base_usd=D("1000")))
    dash = views.dashboard()
    assert dash["total_active_groups"] == 1
    assert dash["pool"] == {"used": 1, "max": 10}
    # totals add the exact values (1.00000 + 1.94628), then round to show
    assert dash["pnl"]["realized_usd"] == "1.00"
    assert dash["pnl"]["unrealized_usd"] == "1.95"
    assert dash["pnl"]["total_usd"] == "2.95"
    assert dash["pnl"]["total_percent"] == "0.29"  # 0.294628 %
    assert dash["pnl"]["capital_base_usd"] == "1000.00"
    assert dash["last_webhook"]["key"] == "paper:ABCUSDT:60"
    assert dash["last_webhook"]["received_at"] == NOW - 10
    assert dash["engine"] == {"status": "running", "error": None}
    assert dash["system"]["webhooks_last_hour"] == 1
    assert dash["system"]["database"]["status"] == "ok"
    assert dash["system"]["exchange"]["connection"] == "unknown"
    assert dash["system"]["rate_limit"] == {"state": "unknown", "until": None}
    assert dash["system"]["precision_sync"]["symbols"] == 2
    assert [a["event"] for a in dash["alerts"]] == ["order_rejected"]
    assert dash["risk"] == {"status": None, "last_action_at": None}
    assert v12.id in [g["id"] for g in views.push_groups()["groups"]]


def test_precision_view_uses_fixed_point_decimals(store):
    cache_rules(store, ABC)
    cache_rules(store, rules("OTHER", tick="0.1"), exchange="binance")
    views = make_views(store)
    views.set_source("precision", lambda: {"last_sync_ms": 5, "failures": 2,
                                           "last_error": "Unavailable: x", "symbols": 1})
    answer = views.precision()
    assert answer["exchange"] == "paper" and answer["last_sync_at"] == 5
    assert answer["failures"] == 2
    [abc] = answer["symbols"]
    assert abc["symbol"] == "ABCUSDT" and abc["tick_size"] == "0.00001"
    assert abc["step_size"] == "1" and abc["fetched_at"] == 1_000
    assert views.precision(symbol="nope")["symbols"] == []


@pytest.mark.parametrize("snapshot, rate, error", [
    ({"status": "connected", "error": None}, {"state": "normal", "until": None}, None),
    ({"status": "degraded", "error": None, "rate_limited_until_ms": NOW + 5},
     {"state": "throttled", "until": NOW + 5}, None),
    ({"status": "connected", "error": "IP banned", "rate_limited_until_ms": NOW - 1,
      "banned_until_ms": NOW + 60_000}, {"state": "banned", "until": NOW + 60_000}, "IP banned"),
])
def test_exchange_health_drives_connection_rate_limit_and_error(store, snapshot, rate, error):
    views = make_views(store)
    views.set_source("exchange", lambda: snapshot)
    dash = views.dashboard()
    assert dash["system"]["exchange"]["connection"] == snapshot["status"]
    assert dash["system"]["rate_limit"] == rate
    assert dash["engine"] == {"status": "running", "error": error}


def test_a_group_state_is_decoded_again_only_when_it_changed(store):
    cache_rules(store, TEST)
    changed = RecordedGroup(store, market=TEST, plan=ladder(
        [("0", "50", "1", "100.00", "2.000"), ("-0.5", "50", "0.5", "99.50", "2.010")],
        "100", "200"), price="100")
    RecordedGroup(store, market=TEST, plan=ladder(
        [("0", "100", "1", "100.00", "2.000")], "100", "200"), price="100", timeframe=240)
    views = make_views(store, prices={"TESTUSDT": "101"})
    other = make_views(store)  # a second cache on the same store is told of writes too
    views.groups()
    views.dashboard()
    views.queue()
    other.groups()
    assert views.states.decoded == 2  # one decode per group, shared by every panel
    views.groups()
    assert views.states.decoded == 2  # unchanged: nothing decoded again
    changed.ack_all()
    changed.fill(0)
    row = next(g for g in views.groups()["groups"] if g["id"] == changed.id)
    assert views.states.decoded == 3  # only the changed group
    assert row["status"] == "partially_filled" and row["legs_filled"] == 1
    assert views.dashboard()["pnl"]["unrealized_usd"] == "2.00"  # 2 filled at 100, now 101
    assert next(g for g in other.groups()["groups"] if g["id"] == changed.id)["legs_filled"] == 1
