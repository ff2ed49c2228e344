"""Read-only API through the running app: logs with filters, cursor and exports, the inbox of
accepted signals, status, and 400s naming the bad query parameter (SPEC 11.6)."""

import csv
import io
import json

from tests.web.conftest import PAYLOAD, Engine, payload


async def test_logs_filter_paginate_and_export(eng: Engine):
    await eng.webhook(PAYLOAD)
    await eng.webhook(payload(secret="wrong-secret-here-123"))
    admin = await eng.login()
    eng.logbook.flush()
    page = (await admin.get("/api/logs", params={"category": "webhook", "limit": 2})).json()
    assert len(page["events"]) == 2 and page["next_cursor"]
    assert all(e["category"] == "webhook" for e in page["events"])
    ids = [e["id"] for e in page["events"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    rest = (await admin.get("/api/logs", params={"category": "webhook",
                                                 "cursor": page["next_cursor"]})).json()
    assert all(e["id"] < ids[-1] for e in rest["events"])
    warnings = (await admin.get("/api/logs", params={"level": "warning"})).json()["events"]
    assert {e["event"] for e in warnings} >= {"webhook_unauthorized", "webhook_auth_failed"}
    accepted = (await admin.get("/api/logs", params={"event": "webhook_accepted",
                                                     "symbol": "BTCUSDT",
                                                     "timeframe": 15})).json()["events"]
    assert len(accepted) == 1 and accepted[0]["data"]["inbox_id"] == 1

    csv_text = (await admin.get("/api/logs/export", params={"format": "csv",
                                                            "category": "webhook"})).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert rows and {r["category"] for r in rows} == {"webhook"}
    r = await admin.get("/api/logs/export", params={"format": "json", "event": "login"})
    assert r.headers["content-type"].startswith("application/json")
    assert [e["event"] for e in json.loads(r.text)] == ["login"]
    r = await admin.get("/api/logs/export", params={"format": "txt", "level": "warning"})
    assert "WARNING webhook" in r.text and "attachment" in r.headers["content-disposition"]
    op = await eng.login("viewer")
    assert (await op.get("/api/logs/export", params={"format": "txt"})).status_code == 200


async def test_bad_query_parameters_are_400_naming_them(eng: Engine):
    admin = await eng.login()
    for path, params, field in (
        ("/api/logs", {"level": "loud"}, "level"),
        ("/api/logs", {"timeframe": "fifteen"}, "timeframe"),
        ("/api/logs", {"cursor": "abc"}, "cursor"),
        ("/api/logs", {"colour": "red"}, "colour"),
        ("/api/logs/export", {"format": "xml"}, "format"),
        ("/api/inbox", {"state": "lost"}, "state"),
        ("/api/inbox", {"limit": "many"}, "limit"),
        ("/api/config/versions", {"limit": "x"}, "limit"),
    ):
        r = await admin.get(path, params=params)
        assert r.status_code == 400 and r.json()["details"]["field"] == field, (path, r.text)


async def test_inbox_lists_waiting_signals(eng: Engine):
    for trade in ("1", "2", "3"):
        await eng.webhook(payload(**{"strategy_info.trade_id": trade}))
    await eng.webhook(payload(**{"strategy_info.trade_id": "3"}))  # duplicate: not stored
    op = await eng.login("viewer")
    first = (await op.get("/api/inbox", params={"limit": 2})).json()
    assert [e["id"] for e in first["entries"]] == [3, 2] and first["next_cursor"] == 2
    entry = first["entries"][0]
    assert entry["state"] == "accepted" and entry["symbol"] == "BTCUSDT"
    assert entry["timeframe"] == 15 and entry["side"] == "long" and entry["intent"] == "signal"
    assert json.loads(entry["raw_body"])["secret"].startswith("****")
    second = (await op.get("/api/inbox", params={"cursor": 2})).json()
    assert [e["id"] for e in second["entries"]] == [1] and second["next_cursor"] is None
    waiting = (await op.get("/api/inbox", params={"state": "accepted"})).json()["entries"]
    assert len(waiting) == 3
    status = (await op.get("/api/status")).json()
    assert status["inbox"] == {"pending": 3, "backlog": 3}
    assert status["precision"] == {"markets_loaded": True, "symbols": 11}


async def test_warnings_of_trading_categories_become_dismissable_alerts(eng: Engine):
    """SPEC 11.2: order/precision/risk/system warnings and errors are pinned alerts; routine
    webhook warnings are not; an admin dismisses one and it stays in the event log."""
    import logging

    logging.getLogger("engine.order").warning(
        "order rejected", extra={"event": "order_rejected", "symbol": "BTCUSDT"})
    logging.getLogger("engine.order").info("order acknowledged", extra={"event": "order_ack"})
    await eng.webhook(payload(secret="wrong-secret-here-123"))  # a webhook warning
    eng.logbook.flush()
    admin = await eng.login()
    alerts = (await admin.get("/api/alerts")).json()["alerts"]
    assert [(a["category"], a["message"]) for a in alerts] == [("order", "order rejected")]
    op = await eng.login("viewer")
    assert (await op.get("/api/alerts")).status_code == 200
    r = await op.post(f"/api/alerts/{alerts[0]['id']}/dismiss")
    assert r.status_code == 403
    r = await admin.post(f"/api/alerts/{alerts[0]['id']}/dismiss")
    assert r.status_code == 200, r.text
    assert (await admin.get("/api/alerts")).json()["alerts"] == []
    assert (await admin.post(f"/api/alerts/{alerts[0]['id']}/dismiss")).status_code == 404
    logged = (await admin.get("/api/logs", params={"event": "order_rejected"})).json()["events"]
    assert len(logged) == 1
