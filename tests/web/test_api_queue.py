"""Panel D over HTTP (SPEC 6.3, 6.5, 11.6): the ranked queue, Waiting rows in the positions list,
and the admin queue actions — end to end through the engine core with a pool of one."""

from decimal import Decimal as D

from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json

POOL_OF_ONE = {"execution_pool.max_open_groups": 1}


async def _queue(client, n: int) -> dict:
    async def ready():
        q = await get_json(client, "/api/queue")
        return q if len(q["entries"]) == n else None

    return await eventually(ready)


async def test_ranked_queue_waiting_rows_and_actions(tmp_path):
    async with engine_with_core(tmp_path, settings=POOL_OF_ONE) as eng:
        admin = await eng.login()
        assert (await eng.webhook(entry(LTC))).status_code == 200
        await eventually(lambda: eng.store.query("SELECT id FROM position_groups"))
        assert (await eng.webhook(entry("ETHUSDT", price=3000.0))).status_code == 200
        assert (await eng.webhook(entry("ADAUSDT", price=0.5))).status_code == 200
        queue = await _queue(admin, 2)
        assert queue["pool"] == {"used": 1, "max": 1}
        assert {e["reason"] for e in queue["entries"]} == {"pool_full"}

        # prices through the paper exchange: ADA −5 % deeper than ETH −2 % → ranked first
        for symbol, price in (("ETHUSDT", "2940.00"), ("ADAUSDT", "0.4750")):
            r = await admin.post("/api/paper/price", json={"symbol": symbol, "price": price})
            assert r.status_code == 200, r.text

        async def priced():
            q = await get_json(admin, "/api/queue")
            return q if all(e["current_loss_percent"] for e in q["entries"]) else None

        queue = await eventually(priced)
        ranked = [(e["symbol"], e["rank"], e["current_loss_percent"]) for e in queue["entries"]]
        assert ranked == [("ADAUSDT", 1, "-5.00"), ("ETHUSDT", 2, "-2.00")]
        eth = queue["entries"][1]
        assert (eth["exchange"], eth["timeframe"], eth["side"], eth["entry_price"],
                eth["replacement_count"]) == ("paper", 60, "long", "3000.00", 0)  # on the tick
        # expected profit Σ N × w/100 × t/100 of the default ladder: 1000 × 0.2 × 6 % = 12
        assert D(eth["expected_profit_usd"]) == D("12")
        assert isinstance(eth["queued_at"], int)

        waiting = (await get_json(admin, "/api/groups?status=waiting"))["groups"]
        # a waiting row is no group: its queue entry is queue_id, its id is null
        assert sorted((w["queue_id"], w["symbol"]) for w in waiting) == sorted(
            (e["id"], e["symbol"]) for e in queue["entries"])
        assert all(w["status"] == "waiting" and w["id"] is None for w in waiting)
        group_ids = {g["id"] for g in (await get_json(admin, "/api/groups?status=open"))["groups"]}
        lone_queue_id = max(e["id"] for e in queue["entries"])
        if lone_queue_id not in group_ids:  # a queue id is not a group id
            assert (await admin.get(f"/api/groups/{lone_queue_id}")).status_code == 404

        ada, eth = queue["entries"][0]["id"], queue["entries"][1]["id"]
        refused = await admin.post(f"/api/queue/{ada}/promote")
        assert refused.status_code == 409 and refused.json()["error"] == "conflict"
        forced = await admin.post(f"/api/queue/{ada}/force-add")
        assert forced.status_code == 200, forced.text

        async def ada_live():
            groups = (await get_json(admin, "/api/groups?status=open&symbol=ADAUSDT"))["groups"]
            return groups[0] if groups else None

        await eventually(ada_live)
        assert (await get_json(admin, "/api/dashboard"))["pool"] == {"used": 2, "max": 1}
        removed = await admin.delete(f"/api/queue/{eth}")
        assert removed.status_code == 200, removed.text
        assert (await _queue(admin, 0))["entries"] == []
        missing = await admin.delete(f"/api/queue/{eth}")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_force_add_only_overrides_the_pool_limit(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        assert (await admin.post("/api/engine/pause")).status_code == 200
        assert (await get_json(admin, "/api/status"))["status"] == "paused"
        assert (await eng.webhook(entry(LTC))).status_code == 200
        [queued] = (await _queue(admin, 1))["entries"]
        assert queued["reason"] == "engine_paused"
        dash = await get_json(admin, "/api/dashboard")
        assert dash["queued"]["by_reason"]["engine_paused"] == 1
        assert dash["engine"]["status"] == "paused"
        r = await admin.post(f"/api/queue/{queued['id']}/force-add")
        assert r.status_code == 409 and "engine_paused" in r.json()["message"]
        assert (await admin.post("/api/engine/resume")).status_code == 200
        # resuming promotes the entry: the group opens and the queue empties
        await _queue(admin, 0)
        groups = (await get_json(admin, "/api/groups?status=open"))["groups"]
        assert [g["symbol"] for g in groups] == [LTC]
