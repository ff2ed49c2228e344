"""A webhook answered ``accepted`` that the engine later declines raises a pinned alert with the
reason and its numbers (GET /api/alerts), besides the inbox outcome."""

from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json


async def alerts(client, event: str) -> list[dict]:
    return [a for a in (await get_json(client, "/api/alerts"))["alerts"] if a["event"] == event]


async def test_a_refused_ladder_and_a_duplicate_are_pinned_with_their_numbers(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"})
        assert r.status_code == 200

        # too small: 20 USDT over five legs, 5 USDT minimum per order
        assert (await eng.webhook(entry(size=20.0))).json()["status"] == "accepted"
        [ladder] = await eventually(lambda: alerts(admin, "ladder_rejected"))
        assert ladder["category"] == "precision" and ladder["level"] == "error"
        assert ("DCA0 fails min_notional: it would be 4.00 USDT, below the 5.00 USDT minimum "
                "(short by 1.00)") in ladder["message"]
        minimum = ladder["data"]["minimum_order_size"]
        assert ladder["message"].endswith(f"an order_size of at least {minimum} USDT would pass")
        assert await alerts(admin, "signal_dropped") == []  # one alert per refusal

        # a group opens, then the same candle's second entry is a duplicate
        assert (await eng.webhook(entry(ts="2025-11-10T13:00:00Z"))).status_code == 200
        again = entry(ts="2025-11-10T13:20:00Z")  # 60-minute candle of 13:00
        again["strategy_info"]["trade_id"] = "second"
        assert (await eng.webhook(again)).json()["status"] == "accepted"
        [dropped] = await eventually(lambda: alerts(admin, "signal_dropped"))
        assert dropped["category"] == "system" and dropped["level"] == "warning"
        assert "duplicate entry signal: its time 2025-11-10T13:20:00Z falls in the same " \
               "60-minute candle as the group's latest entry (2025-11-10T13:00:00Z)" \
               in dropped["message"]
        assert dropped["data"]["state"] == "duplicate"
