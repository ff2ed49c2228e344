"""The paper exchange and precision API (SPEC 11.6, 12.6) against the real app and engine core:
price push, state, reset (409 while anything is open), precision metadata and manual fetch."""

from decimal import Decimal as D

from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json


async def test_paper_routes_need_the_running_core(eng):
    admin = await eng.login()
    r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100"})
    assert r.status_code == 503 and r.json()["error"] == "not_running"
    assert (await admin.get("/api/paper/state")).status_code == 503
    assert (await admin.post("/api/paper/reset")).status_code == 503
    assert (await admin.post("/api/precision/refresh")).status_code == 503


async def test_price_push_state_and_reset(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        state = await get_json(admin, "/api/paper/state")
        assert D(state["balances"]["USDT"]["free"]) == D("10000")
        assert state["orders"] == [] and state["trades"] == []

        for body, field in (({"symbol": LTC, "price": "-1"}, "price"),
                            ({"symbol": LTC, "price": "abc"}, "price"),
                            ({"symbol": LTC}, "price")):
            r = await admin.post("/api/paper/price", json=body)
            assert r.status_code == 400 and r.json()["details"]["field"] == field, body
        unknown = await admin.post("/api/paper/price", json={"symbol": "NOPEUSDT", "price": "1"})
        assert unknown.status_code == 400 and "Invalid symbol" in unknown.json()["message"]

        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": 101.5})
        assert r.status_code == 200 and r.json()["price"] == "101.5"
        assert (await get_json(admin, "/api/paper/state"))["prices"][LTC] == "101.5"

        assert (await eng.webhook(entry(LTC))).status_code == 200

        async def five_open_orders():
            s = await get_json(admin, "/api/paper/state")
            return s if sum(o["status"] == "open" for o in s["orders"]) == 5 else None

        state = await eventually(five_open_orders)
        order = state["orders"][0]
        assert {"client_order_id", "exchange_order_id", "symbol", "side", "type", "price",
                "quantity", "filled_quantity", "status", "created_at"} <= order.keys()
        assert (order["symbol"], order["side"], order["type"]) == (LTC, "buy", "limit")
        assert D(state["balances"]["USDT"]["locked"]) > 0

        refused = await admin.post("/api/paper/reset")
        assert refused.status_code == 409 and refused.json()["error"] == "conflict"
        group_id = (await get_json(admin, "/api/groups"))["groups"][0]["id"]
        assert (await admin.post(f"/api/groups/{group_id}/close")).status_code == 200

        async def closed():
            g = await get_json(admin, f"/api/groups/{group_id}")
            return g["status"] == "closed"

        await eventually(closed)
        reset = await admin.post("/api/paper/reset")
        assert reset.status_code == 200, reset.text
        state = await get_json(admin, "/api/paper/state")
        assert D(state["balances"]["USDT"]["free"]) == D("10000")
        assert D(state["balances"]["USDT"]["locked"]) == 0
        assert all(o["status"] != "open" for o in state["orders"])


async def test_precision_metadata_and_manual_fetch(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        everything = await get_json(admin, "/api/precision")
        assert everything["exchange"] == "paper" and LTC in {r["symbol"] for r in everything["symbols"]}
        assert everything["last_sync_at"] is not None and everything["failures"] == 0
        [ltc] = (await get_json(admin, "/api/precision?symbol=ltcusdt"))["symbols"]
        assert (ltc["symbol"], ltc["tick_size"], ltc["step_size"], ltc["min_notional"]) == (
            LTC, "0.01", "0.001", "5")
        r = await admin.post("/api/precision/refresh")
        assert r.status_code == 202 and r.json()["requested"] is True
        # the refresher runs it once its minimum gap (5 s) after the start-up fetch has passed
        assert "precision_refresh_requested" in {e["event"] for e in eng.events()}
