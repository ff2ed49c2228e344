"""Panel C and the Risk Engine controls over HTTP (SPEC 7.7, 11.6): the real app on a loopback
port, the real engine core (paper exchange, group actors, risk actor), groups opened by
webhooks and priced through ``/api/paper/price``."""

import re
from decimal import Decimal as D

from tests.web.conftest import OPERATOR
from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json

ETH = "ETHUSDT"
SETTINGS = {
    "grid_strategy.tp_mode": "aggregate", "grid_strategy.tp_percent": 50,  # no TP fires
    "risk_engine.require_full_pyramids": False,
    # cycles only on Run Now: no interval tick and no fill trigger within the test
    "risk_engine.evaluate_interval_sec": 3600, "risk_engine.evaluate_on_fill": False,
}
ROUTES = [("GET", "/api/risk"), ("GET", "/api/risk/actions"), ("POST", "/api/risk/run"),
          ("POST", "/api/risk/groups/1/skip-once"), ("POST", "/api/risk/groups/1/block"),
          ("POST", "/api/risk/groups/1/unblock")]


async def test_risk_routes_need_a_session_csrf_and_admin(eng):
    anonymous = eng.client()
    for method, path in ROUTES:
        r = await anonymous.request(method, path)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path)
    operator = await eng.login(OPERATOR)
    for method, path in ROUTES:
        r = await operator.request(method, path, json={})
        if method == "GET":
            assert r.status_code == 200, (path, r.text)
        else:
            assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path)
    admin = await eng.login()
    del admin.headers["X-CSRF-Token"]
    for method, path in ROUTES[2:]:
        r = await admin.post(path, json={})
        assert r.status_code == 403 and r.json()["error"] == "csrf", path


async def test_without_engine_core_the_panel_shows_the_record_and_actions_are_503(eng):
    admin = await eng.login()
    panel = await get_json(admin, "/api/risk")
    assert panel == {"status": None, "last_action_at": None, "groups": [], "actions": []}
    r = await admin.post("/api/risk/run", json={"force": False})
    assert r.status_code == 503 and r.json()["error"] == "not_running"
    # no body at all means the defaults (force false), not "malformed JSON"
    r = await admin.post("/api/risk/run")
    assert r.status_code == 503 and r.json()["error"] == "not_running"


async def _price(client, symbol: str, price: str) -> None:
    r = await client.post("/api/paper/price", json={"symbol": symbol, "price": price})
    assert r.status_code == 200, r.text


async def _setup(eng, admin) -> tuple[int, int]:
    """Loser: the D2 ladder on LTCUSDT fully filled, then 90 (≈ −9 %). Winner: ETHUSDT DCA0
    (10 @ 100), then 120 (+200 USD)."""
    await _price(admin, LTC, "100.00")
    await _price(admin, ETH, "100.00")
    assert (await eng.webhook(entry(LTC))).status_code == 200
    assert (await eng.webhook(entry(ETH, size=5000.0))).status_code == 200

    async def two_groups():
        rows = eng.store.query("SELECT id, symbol FROM position_groups ORDER BY id")
        return {r["symbol"]: r["id"] for r in rows} if len(rows) == 2 else None

    ids = await eventually(two_groups)
    await _price(admin, LTC, "100.00")
    await _price(admin, ETH, "100.00")
    await _price(admin, LTC, "90.00")
    await _price(admin, ETH, "120.00")

    async def priced():
        panel = await get_json(admin, "/api/risk")
        rows = panel["groups"]
        return panel if rows and rows[0]["projected_plan"]["sufficient"] else None

    await eventually(priced)
    return ids[LTC], ids[ETH]


async def test_panel_controls_run_now_and_audit(tmp_path):
    async with engine_with_core(tmp_path, settings=SETTINGS) as eng:
        admin = await eng.login()
        loser, winner = await _setup(eng, admin)

        panel = await get_json(admin, "/api/risk")
        assert panel["status"] == "idle"
        [row] = panel["groups"]
        assert row["group_id"] == loser and D(row["loss_percent"]) <= D("-5")
        assert row["timer_remaining_ms"] is None and not row["timer_running"]
        assert row["failures"] == ["timer_not_started"] and not row["eligible"]
        assert row["available_offsets"]["count"] == 1
        assert row["age_filter_passed"] is True and row["pyramids_reached"] is False
        [step] = row["projected_plan"]["winners"]
        assert step["group_id"] == winner and not step["full"]
        # shown by the display rules: USD and percentages to cents, ETH quantities to the step
        two = re.compile(r"-?\d+\.\d{2}")
        assert all(two.fullmatch(v) for v in (row["loss_percent"], row["loss_usd"],
                                              row["available_offsets"]["usd"],
                                              step["estimated_usd"], step["notional"]))
        assert re.fullmatch(r"\d+\.\d{4}", step["qty"])  # ETHUSDT step 0.0001

        # without force the timer condition holds the loser back: nothing happens
        r = await admin.post("/api/risk/run", json={"force": False})
        assert r.status_code == 200 and r.json()["cycle"]["outcome"] == "idle"
        r = await admin.post("/api/risk/run")  # an empty body: the same defaults
        assert r.status_code == 200 and r.json()["cycle"]["outcome"] == "idle"

        r = await admin.post(f"/api/risk/groups/{loser}/block")
        assert r.json() == {"group_id": loser, "blocked": True, "skip_once": False}
        cycle = (await admin.post("/api/risk/run", json={"force": True})).json()["cycle"]
        assert (cycle["outcome"], cycle["status"], cycle["reason"]) == \
            ("blocked", "blocked", "losers_excluded")
        assert (await get_json(admin, "/api/risk"))["blocked"] == [loser]
        await admin.post(f"/api/risk/groups/{loser}/unblock")

        # Skip Once on the only winner: this forced cycle has no offsets, the next one has
        r = await admin.post(f"/api/risk/groups/{winner}/skip-once")
        assert r.json()["skip_once"] is True
        cycle = (await admin.post("/api/risk/run", json={"force": True})).json()["cycle"]
        assert (cycle["outcome"], cycle["loser_id"]) == ("insufficient", loser)
        assert (await get_json(admin, "/api/risk"))["skip_once"] == []
        flags = eng.store.query("SELECT risk_blocked, skip_once FROM position_groups WHERE"
                                " id IN (?, ?)", (loser, winner))
        assert all(f == {"risk_blocked": 0, "skip_once": 0} for f in flags)

        cycle = (await admin.post("/api/risk/run", json={"force": True})).json()["cycle"]
        assert (cycle["trigger"], cycle["outcome"], cycle["loser_id"]) == \
            ("run_now_forced", "executed", loser)
        actions = (await get_json(admin, "/api/risk/actions"))["actions"]
        assert [a["outcome"] for a in actions] == ["executed", "insufficient"]
        done = actions[0]
        assert done["trigger"] == "run_now_forced" and done["loser"]["group_id"] == loser
        [w] = done["winners"]
        assert (w["group_id"], w["result"], w["full"]) == (winner, "partial_done", False)
        assert set(done["realized"]) == {str(loser), str(winner)}
        fees = D(done["fees_est"])
        assert D(done["realized_net"]) >= -(fees + D("0.001") * D("120"))
        statuses = {r["id"]: r["status"] for r in eng.store.query(
            "SELECT id, status FROM position_groups")}
        assert statuses[loser] == "closed" and statuses[winner] in ("active", "partially_filled")

        # bad input: unknown and closed groups, a malformed body, a paused engine
        r = await admin.post("/api/risk/groups/999/block")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = await admin.post(f"/api/risk/groups/{loser}/skip-once")
        assert r.status_code == 409 and r.json()["error"] == "group_closed"
        assert "closed" in r.json()["message"]
        r = await admin.post("/api/risk/run", json={"force": "yes"})
        assert r.status_code == 400 and r.json()["details"]["field"] == "force"
        assert (await admin.post("/api/engine/pause")).status_code == 200
        r = await admin.post("/api/risk/run", json={"force": True})
        assert r.status_code == 409 and r.json()["error"] == "engine_paused"
        r = await admin.get("/api/risk/actions?limit=0")
        assert r.status_code == 400
