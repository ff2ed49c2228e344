"""``GET /api/ws`` (SPEC 11.1): session required, a snapshot per topic, coalesced deltas, and
connections closed at shutdown — against the real app on a loopback port."""

import json

import pytest
import trio
from websockets.exceptions import InvalidStatus

from actors.read.hub import TOPICS
from tests.actors.views_kit import RecordedGroup, cache_rules, ladder, rules
from tests.web.conftest import OPERATOR, running_engine
from tests.web.runtime_kit import LiveClient

TEST = rules("TESTUSDT")
LEGS = [("0", "50", "1", "100.00", "2.000"), ("-0.5", "50", "0.5", "99.50", "2.010")]


async def test_live_push_needs_a_session(eng):
    with pytest.raises(InvalidStatus) as refused:
        await LiveClient.open(eng, None)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"] == "unauthorized"


async def test_snapshot_of_every_topic_then_deltas(eng):
    client = await eng.login(OPERATOR)  # read-only users get the live push too
    live = await LiveClient.open(eng, client)
    try:
        first = [await live.receive() for _ in TOPICS]
        assert sorted(m["topic"] for m in first) == sorted(TOPICS)
        assert {m["kind"] for m in first} == {"snapshot"}
        by_topic = {m["topic"]: m for m in first}
        assert by_topic["groups"]["data"] == {"groups": []}
        assert by_topic["dashboard"]["data"]["total_active_groups"] == 0
        assert by_topic["status"]["data"]["status"] == "running"
        assert by_topic["queue"]["data"]["pool"] == {"used": 0, "max": 10}
        assert all(isinstance(m["ts"], int) for m in first)

        # a group recorded the way the group actor records it, then the "changed" notification
        cache_rules(eng.store, TEST)
        group = RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"))
        eng.handle.touch("groups")
        seen = await live.newest({
            "groups": lambda m: m["data"]["groups"] != [],
            "dashboard": lambda m: m["data"]["total_active_groups"] == 1})
        delta, dash = seen["groups"], seen["dashboard"]
        assert delta["kind"] == "patch"  # the changed rows only (actors/read/patch.py)
        assert [(g["id"], g["status"]) for g in delta["data"]["groups"]] == [(group.id, "live")]
        assert dash["kind"] == "delta" and dash["data"]["pool"]["used"] == 1
    finally:
        await live.aclose()


async def test_groups_are_patched_row_by_row_after_the_snapshot(eng):
    client = await eng.login()
    cache_rules(eng.store, TEST)
    changed = RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"))
    other = RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"), timeframe=240)
    eng.handle.touch("groups")
    live = await LiveClient.open(eng, client)
    try:
        first = await live.until(lambda m: m["topic"] == "groups")
        assert first["kind"] == "snapshot" and len(first["data"]["groups"]) == 2
        changed.ack_all()
        changed.fill(0)
        eng.handle.touch("groups")
        m = await live.until(lambda m: m["topic"] == "groups"
                             and m["data"]["groups"][-1]["legs_filled"] == 1)
        assert m["kind"] == "patch" and "order" not in m["patch"]
        sent = {key: fields["fields"] for fields in m["patch"]["changes"]
                for key in fields["rows"]}
        assert set(sent) == {f"g{changed.id}"}  # the other group is not sent again
        assert "legs_filled" in sent[f"g{changed.id}"] and "symbol" not in sent[f"g{changed.id}"]
        assert f"g{other.id}" not in json.dumps(m["patch"])
        # the patched list is the list the API answers
        assert m["data"] == (await client.get("/api/groups")).json()
    finally:
        await live.aclose()


async def test_changes_are_coalesced_newest_wins(tmp_path):
    async with running_engine(tmp_path, settings={"ui.realtime_update_ms": 300}) as eng:
        client = await eng.login()
        live = await LiveClient.open(eng, client)
        try:
            for _ in TOPICS:
                await live.receive()
            cache_rules(eng.store, TEST)
            group = RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"))
            eng.handle.touch("groups")
            await live.until(lambda m: m["topic"] == "groups")
            # a burst of changes inside one interval: only the newest state is sent
            for _ in range(20):
                group.ack_all()
                eng.handle.touch("groups")
            group.fill(0, end=True)
            eng.handle.touch("groups")
            seen = [m["data"]["groups"][0] for m in await live.drain(quiet=0.8)
                    if m["topic"] == "groups"]
            assert len(seen) <= 2  # one publication per interval, not one per touch
            assert seen[-1]["status"] == "partially_filled" and seen[-1]["legs_filled"] == 1
        finally:
            await live.aclose()


async def test_shutdown_closes_live_push_connections(eng):
    client = await eng.login()
    live = await LiveClient.open(eng, client)
    for _ in TOPICS:
        await live.receive()
    start = trio.current_time()
    eng.handle.accepting = False  # the root's first shutdown step
    closed = await live.closed(timeout=2.0)
    assert closed.rcvd is not None and closed.rcvd.code == 1001
    assert trio.current_time() - start < 1.0
    with pytest.raises(InvalidStatus) as refused:
        await LiveClient.open(eng, client)
    assert refused.value.response.status_code == 503


async def test_logout_ends_the_live_push(eng):
    client = await eng.login()
    live = await LiveClient.open(eng, client)
    for _ in TOPICS:
        await live.receive()
    assert (await client.post("/api/auth/logout")).status_code == 200
    cache_rules(eng.store, TEST)
    RecordedGroup(eng.store, market=TEST, plan=ladder(LEGS, "100", "200"))
    eng.handle.touch("groups")
    closed = await live.closed(timeout=3.0)
    assert closed.rcvd is not None and closed.rcvd.code == 1008
