"""POST /api/signals/check: what the engine would do with an alert message, from the real
intake and routing steps, with nothing stored or traded (the real engine on paper)."""

import json

from tests.web.conftest import OPERATOR, WEBHOOK_SECRET
from tests.web.runtime_kit import LTC, engine_with_core, entry, eventually, get_json


async def check(client, message) -> dict:
    body = message if isinstance(message, (str, bytes)) else json.dumps(message)
    r = await client.post("/api/signals/check", content=body)
    assert r.status_code == 200, r.text
    return r.json()


def nothing_stored(eng) -> bool:
    counts = eng.store.query("SELECT (SELECT count(*) FROM inbox) AS inbox, (SELECT count(*)"
                             " FROM position_groups) AS groups, (SELECT count(*) FROM"
                             " queue_entries) AS queued")[0]
    return counts == {"inbox": 0, "groups": 0, "queued": 0}


async def test_a_good_message_shows_the_group_and_the_ladder_and_stores_nothing(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        operator = await eng.login(OPERATOR)  # a read-only user may check
        answer = await check(operator, entry())
        assert answer["accepted"] and answer["http_status"] == 200 and answer["errors"] == []
        assert answer["key"] == f"paper:{LTC}:60"
        assert answer["signal"]["symbol"] == LTC and answer["signal"]["order_size"] == "1000.0"
        assert "secret" not in answer["signal"]  # the normalised signal carries no secret
        assert answer["decision"]["kind"] == "open" and answer["decision"]["pyramid_index"] == 0
        ladder = answer["ladder"]
        assert (ladder["reference_price"], ladder["notional"]) == ("100.00", "1000.00")
        first = ladder["legs"][0]  # the D2 ladder: 2.000 at 100.00, TP +1 %
        assert (first["leg"], first["price"], first["quantity"], first["notional"],
                first["tp_price_if_filled"], first["problem"]) == (
            "DCA0", "100.00", "2.000", "200.00", "101.00", None)
        assert [leg["leg"] for leg in ladder["legs"]] == [f"DCA{i}" for i in range(5)]
        assert nothing_stored(eng) and eng.handle.paper_state()["orders"] == []
        assert WEBHOOK_SECRET not in json.dumps(answer)


async def test_refusals_say_why_and_what_to_change(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        bad = entry()
        del bad["tv"]["order_size"]
        answer = await check(admin, bad)
        assert not answer["accepted"] and answer["http_status"] == 400
        [error] = answer["errors"]
        assert error["field"] == "tv.order_size" and "capital_per_pyramid_usd" in error["message"]
        assert (await check(admin, "not json"))["errors"][0]["field"] == "body"

        small = await check(admin, entry(size=20.0))
        assert small["accepted"]  # the webhook takes it (200) ...
        decision = small["decision"]  # ... and then the ladder is refused, with the fix
        assert decision["kind"] == "refuse" and decision["minimum_order_size"] == "25.48"
        assert decision["text"].endswith("an order_size of at least 25.48 USDT would pass")
        assert small["ladder"]["legs"][0]["problem"] == (
            "DCA0 fails min_notional: it would be 4.00 USDT, below the 5.00 USDT minimum "
            "(short by 1.00)")
        retry = await check(admin, entry(size=25.48))
        assert retry["decision"]["kind"] == "open"
        assert nothing_stored(eng)

        masked = await check(admin, {**entry(), "secret": "****89-XYZ"})
        assert "not the secret" in masked["secret"]


async def test_with_a_live_group_it_names_the_pyramid_or_the_duplicate(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()
        assert (await eng.webhook(entry())).status_code == 200

        async def group_id():
            groups = (await get_json(admin, "/api/groups?status=open"))["groups"]
            return groups[0]["id"] if groups else None

        gid = await eventually(group_id)
        same_candle = await check(admin, entry(ts="2025-11-10T12:30:00Z"))
        assert same_candle["decision"]["kind"] == "duplicate"
        assert same_candle["decision"]["group_id"] == gid
        assert "falls in the same 60-minute candle" in same_candle["decision"]["text"]
        later = await check(admin, entry(ts="2025-11-10T13:00:00Z", price=99.0))
        assert later["decision"] == {**later["decision"], "kind": "pyramid", "group_id": gid,
                                     "pyramid_index": 1}
        assert later["ladder"]["pyramid_index"] == 1
        assert later["ladder"]["reference_price"] == "99.00"
        exit_answer = await check(admin, entry(intent="exit"))
        assert exit_answer["decision"]["text"] == f"closes group {gid}"
        assert eng.store.query("SELECT count(*) AS n FROM inbox")[0]["n"] == 1  # the real one


async def test_the_check_needs_a_session_and_the_csrf_header(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        r = await eng.client().post("/api/signals/check", content=json.dumps(entry()))
        assert r.status_code == 401
        operator = await eng.login(OPERATOR)
        del operator.headers["X-CSRF-Token"]
        r = await operator.post("/api/signals/check", content=json.dumps(entry()))
        assert r.status_code == 403 and r.json()["error"] == "csrf"
