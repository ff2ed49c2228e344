"""Panels A/B over HTTP (SPEC 11.6): ``/api/dashboard``, ``/api/groups`` (+ detail, manual close),
``/api/engine/*`` and the auth rules every route follows — against the real app on a loopback
port, with rows recorded the way the group actor records them, then end to end through the
engine core (webhook → paper fills → close)."""

from tests.actors.views_kit import RecordedGroup, cache_rules, ladder, rules
from tests.web.conftest import OPERATOR
from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json

TEST = rules("TESTUSDT")
LEGS = [("0", "50", "1", "100.00", "2.000"), ("-0.5", "50", "0.5", "99.50", "2.010")]

READS = [("GET", "/api/dashboard"), ("GET", "/api/groups"), ("GET", "/api/groups/1"),
         ("GET", "/api/queue"), ("GET", "/api/precision"), ("GET", "/api/paper/state")]
ACTIONS = [("POST", "/api/groups/1/close"), ("POST", "/api/queue/1/promote"),
           ("POST", "/api/queue/1/force-add"), ("DELETE", "/api/queue/1"),
           ("POST", "/api/engine/pause"), ("POST", "/api/engine/resume"),
           ("POST", "/api/engine/reconnect"), ("POST", "/api/precision/refresh"),
           ("POST", "/api/paper/price"), ("POST", "/api/paper/reset")]


async def test_every_route_needs_a_session(eng):
    anonymous = eng.client()
    for method, path in READS + ACTIONS:
        r = await anonymous.request(method, path)
        assert r.status_code == 401, (method, path)
        assert r.json()["error"] == "unauthorized"


async def test_operators_read_but_cannot_act(eng):
    operator = await eng.login(OPERATOR)
    for method, path in READS:
        r = await operator.request(method, path)
        assert r.status_code != 403, (method, path, r.text)
    for method, path in ACTIONS:
        r = await operator.request(method, path)
        assert r.status_code == 403, (method, path)
        assert r.json()["error"] == "forbidden"


async def test_actions_need_the_csrf_header(eng):
    admin = await eng.login()
    del admin.headers["X-CSRF-Token"]
    for method, path in ACTIONS:
        r = await admin.request(method, path)
        assert r.status_code == 403 and r.json()["error"] == "csrf", (method, path)


async def test_groups_read_from_recorded_rows(eng):
    cache_rules(eng.store, TEST)
    group = RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"), price="100")
    group.ack_all()
    group.fill(0, end=True)
    client = await eng.login(OPERATOR)

    listed = (await get_json(client, "/api/groups"))["groups"]
    assert [(g["id"], g["status"], g["legs_filled"], g["legs_total"]) for g in listed] == [
        (group.id, "partially_filled", 1, 2)]
    row = listed[0]
    for name in ("id", "exchange", "symbol", "timeframe", "side", "status", "pyramids_received",
                 "pyramids_max", "legs_filled", "legs_total", "avg_entry", "open_quantity",
                 "unrealized_pnl_usd", "unrealized_pnl_percent", "realized_pnl_usd", "tp_mode",
                 "created_at", "closed_at"):
        assert name in row, name
    assert row["avg_entry"] == "100.00" and row["open_quantity"] == "2.000"
    assert (await get_json(client, "/api/groups?status=open"))["groups"][0]["id"] == group.id
    assert (await get_json(client, "/api/groups?status=closed"))["groups"] == []
    assert (await get_json(client, "/api/groups?symbol=TESTUSDT&timeframe=60&side=long")
            )["groups"][0]["id"] == group.id

    detail = await get_json(client, f"/api/groups/{group.id}")
    assert [leg["leg_id"] for leg in detail["legs"]] == ["P0-DCA0", "P0-DCA1"]
    assert [leg["label"] for leg in detail["legs"]] == ["Open", "Pending"]
    assert detail["legs"][0]["tp_price"] == "101.00"
    assert [o["purpose"] for o in detail["orders"]] == ["e", "e", "t"]
    assert detail["pyramids"][0]["reference_price"] == "100.00"  # on the 0.01 tick
    assert {"lots", "timer", "events", "fills", "journal"} <= detail.keys()

    missing = await client.get(f"/api/groups/{group.id + 1}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    for query, field in (("status=pending", "status"), ("side=buy", "side"),
                         ("timeframe=30S", "timeframe")):
        r = await client.get(f"/api/groups?{query}")
        assert r.status_code == 400 and r.json()["details"]["field"] == field, query

    dash = await get_json(client, "/api/dashboard")
    assert dash["total_active_groups"] == 1 and dash["pool"] == {"used": 1, "max": 10}
    assert dash["engine"]["status"] == "running"


async def test_engine_controls_without_a_core_answer_503(eng):
    admin = await eng.login()
    for path in ("/api/groups/1/close", "/api/engine/pause", "/api/engine/reconnect"):
        r = await admin.post(path)
        assert r.status_code == 503 and r.json()["error"] == "not_running", path


async def test_webhook_to_fills_to_manual_close(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        r = await eng.webhook(entry())
        assert r.status_code == 200, r.text

        async def one_group():
            groups = (await get_json(admin, "/api/groups"))["groups"]
            return groups[0] if groups and groups[0]["status"] != "waiting" else None

        group = await eventually(one_group)
        assert (group["symbol"], group["timeframe"], group["side"]) == (LTC, 60, "long")
        assert group["legs_total"] == 5 and group["pyramids_received"] == 1

        # DCA0 rests at 100.00: the paper price reaches it and it fills (maker)
        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"})
        assert r.status_code == 200, r.text

        async def filled():
            g = await get_json(admin, f"/api/groups/{group['id']}")
            leg0 = g["legs"][0]
            return g if leg0["label"] == "Open" and leg0["tp_state"] == "placed" else None

        detail = await eventually(filled)
        assert detail["status"] == "partially_filled"
        assert detail["legs"][0]["fill_price"] == "100.00"
        assert detail["legs"][0]["tp_price"] == "101.00"  # 100.00 × 1.01
        await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.60"})

        async def progressed():
            leg0 = (await get_json(admin, f"/api/groups/{group['id']}"))["legs"][0]
            return leg0["progress_to_tp"] == "60.00" and leg0  # (100.60 − 100) / (101 − 100)

        await eventually(progressed)

        r = await admin.post(f"/api/groups/{group['id']}/close")
        assert r.status_code == 200, r.text

        async def closed():
            g = await get_json(admin, f"/api/groups/{group['id']}")
            return g if g["status"] == "closed" else None

        done = await eventually(closed)
        assert done["close_reason"] == "manual" and done["open_quantity"] == "0.000"
        r = await admin.post(f"/api/groups/{group['id']}/close")
        assert r.status_code in (404, 409)
        assert (await get_json(admin, "/api/dashboard"))["total_active_groups"] == 0
