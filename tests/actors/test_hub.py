"""The UI hub (actors/read/hub.py) in virtual time: snapshots, coalescing, newest wins, slow
subscribers, failing builders, shutdown."""

import json

import pytest
import trio
import trio.testing

from actors.read.hub import TOPICS, HubClosed, UiHub


class Topics:
    """Topic payloads the test changes at will (the builders read them)."""

    def __init__(self):
        self.values = {t: {"n": 0} for t in TOPICS}
        self.builds = 0
        self.fail: set[str] = set()

    def builder(self, topic):
        def build():
            self.builds += 1
            if topic in self.fail:
                raise RuntimeError(f"{topic} broken")
            return self.values[topic]
        return build


def hub_with(topics: Topics, interval_ms: int = 500) -> UiHub:
    return UiHub(builders={t: topics.builder(t) for t in TOPICS},
                 interval_ms=lambda: interval_ms, clock_ms=lambda: int(trio.current_time() * 1000))


def decode(messages):
    return [json.loads(m) for m in messages]


async def test_snapshot_then_coalesced_deltas_newest_wins(autojump_clock):
    topics = Topics()
    hub = hub_with(topics)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        sub = hub.subscribe()
        first = decode(await sub.receive())
        assert [m["topic"] for m in first] == list(TOPICS)
        assert {m["kind"] for m in first} == {"snapshot"}
        start = trio.current_time()
        for n in range(1, 50):  # a burst: only the newest value is sent
            topics.values["queue"] = {"n": n}
            hub.touch("queue")
        got = decode(await sub.receive())
        assert {(m["topic"], m["kind"]) for m in got} <= {("queue", "delta"), ("groups", "delta"),
                                                         ("dashboard", "delta")}
        assert [m["data"] for m in got if m["topic"] == "queue"] == [{"n": 49}]
        topics.values["queue"] = {"n": 50}
        hub.touch("queue")
        got = decode(await sub.receive())
        # the next publication waits for the interval after the previous one
        assert trio.current_time() - start >= 0.5
        assert [m["data"] for m in got] == [{"n": 50}]
        hub.close()


async def test_unchanged_payloads_are_not_sent_and_refresh_finds_silent_changes(autojump_clock):
    topics = Topics()
    hub = hub_with(topics)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        sub = hub.subscribe()
        await sub.receive()
        hub.touch("alerts")  # nothing changed: nothing sent
        with trio.move_on_after(0.9):
            await sub.receive()
            pytest.fail("an unchanged topic was sent")
        topics.values["status"] = {"n": 1}  # changed without a touch (a price, the clock)
        got = decode(await sub.receive())
        assert [(m["topic"], m["data"]) for m in got] == [("status", {"n": 1})]
        hub.close()


async def test_slow_subscriber_never_blocks_and_keeps_first_snapshot_kind(autojump_clock):
    topics = Topics()
    hub = hub_with(topics, interval_ms=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        slow = hub.subscribe()  # never reads while 1,000 changes are published
        fast = hub.subscribe()
        await fast.receive()
        for n in range(1, 1001):
            topics.values["groups"] = {"n": n}
            hub.touch("groups")
            await trio.sleep(0.02)
        await trio.testing.wait_all_tasks_blocked()
        got = {m["topic"]: m for m in decode(await slow.receive())}
        assert set(got) == set(TOPICS)  # one pending message per topic, not 1,000
        assert got["groups"]["kind"] == "snapshot" and got["groups"]["data"] == {"n": 1000}
        hub.close()


async def test_failing_builder_keeps_the_previous_payload(autojump_clock, caplog):
    topics = Topics()
    hub = hub_with(topics)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        sub = hub.subscribe()
        await sub.receive()
        topics.fail.add("risk")
        topics.values["risk"] = {"n": 9}
        topics.values["logs"] = {"n": 9}
        hub.touch("risk")
        hub.touch("logs")
        got = decode(await sub.receive())
        assert [m["topic"] for m in got] == ["logs"]
        assert any("cannot build topic risk" in r.getMessage() for r in caplog.records)
        hub.close()


async def test_close_ends_subscribers_and_the_loop(autojump_clock):
    topics = Topics()
    hub = hub_with(topics)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        sub = hub.subscribe()
        await sub.receive()
        hub.close()
        with pytest.raises(HubClosed):
            await sub.receive()
        with pytest.raises(HubClosed):
            hub.subscribe()
    assert hub.subscribers == 0  # run() returned: the nursery closed
    with pytest.raises(ValueError):
        hub.touch("positions")
