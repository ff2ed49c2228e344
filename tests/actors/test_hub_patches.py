"""Row patches of the live push (actors/read/patch.py, the hub's ``groups`` topic): only changed
rows and fields are sent after the snapshot, a client that applies them holds the same list as
the server, a slow subscriber gets the whole list, and a page load reuses a fresh build."""

import json

import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.read.hub import TOPICS, UiHub
from actors.read.patch import apply_patch, row_patch


def group(gid, **fields):
    return {"id": gid, "queue_id": None, "status": "live", "current_price": "100",
            "unrealized_pnl_usd": "0.00", **fields}


class Groups:
    def __init__(self):
        self.rows = [group(2), group(1)]
        self.builds = 0

    def build(self):
        self.builds += 1
        return {"groups": [dict(r) for r in self.rows]}


def hub_for(groups: Groups) -> UiHub:
    builders = {t: (lambda: {"n": 0}) for t in TOPICS}
    builders["groups"] = groups.build
    return UiHub(builders=builders, interval_ms=lambda: 100,
                 clock_ms=lambda: int(trio.current_time() * 1000))


async def groups_message(sub):
    while True:
        for raw in await sub.receive():
            m = json.loads(raw)
            if m["topic"] == "groups":
                return m


async def test_snapshot_then_patches_of_changed_rows_and_fields_only(autojump_clock):
    groups = Groups()
    hub = hub_for(groups)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        sub = hub.subscribe()
        first = await groups_message(sub)
        assert first["kind"] == "snapshot" and first["data"] == groups.build()
        client = first["data"]

        groups.rows[1] = group(1, current_price="101", unrealized_pnl_usd="2.00")  # a price move
        m = await groups_message(sub)
        assert m["kind"] == "patch"
        assert m["data"] == {"list": "groups", "removed": [], "changes": [
            {"fields": ["current_price", "unrealized_pnl_usd"], "rows": {"g1": ["101", "2.00"]}}]}
        client = apply_patch(client, m["data"])
        assert client == groups.build()

        # a new group first, a waiting entry last, group 2 gone: the order comes with it
        groups.rows = [group(3), groups.rows[1], {"id": None, "queue_id": 7, "status": "waiting"}]
        m = await groups_message(sub)
        assert m["data"]["removed"] == ["g2"] and m["data"]["order"] == ["g3", "g1", "q7"]
        assert set(m["data"]["changes"][0]["rows"]) == {"g3"}
        client = apply_patch(client, m["data"])
        assert client == groups.build()

        # a row whose fields differ is replaced whole, not merged with its old fields
        groups.rows[0] = {"id": 3, "queue_id": None, "status": "closed"}
        client = apply_patch(client, (await groups_message(sub))["data"])
        assert client == groups.build()
        hub.close()


async def test_a_slow_subscriber_gets_the_whole_list_not_stacked_patches(autojump_clock):
    groups = Groups()
    hub = hub_for(groups)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        slow = hub.subscribe()
        await slow.receive()
        for n in range(5):  # five publications the subscriber does not read
            groups.rows[0] = group(2, current_price=str(200 + n))
            await trio.sleep(1.1)
        m = await groups_message(slow)
        assert m["kind"] == "delta" and m["data"] == groups.build()
        hub.close()


async def test_a_page_load_reuses_a_fresh_build_and_rebuilds_a_changed_topic(autojump_clock):
    groups = Groups()
    hub = hub_for(groups)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        first = hub.subscribe()
        await first.receive()
        builds = groups.builds
        second = hub.subscribe()  # within REFRESH_S of the last build, nothing touched
        assert (await groups_message(second))["data"] == groups.build()
        assert groups.builds == builds + 1  # only the check above built it
        groups.rows[0] = group(2, status="closing")
        hub.touch("groups")
        third = hub.subscribe()  # a touched topic is rebuilt at once for the newcomer
        assert (await groups_message(third))["data"]["groups"][0]["status"] == "closing"
        hub.close()


ROW = st.fixed_dictionaries({"id": st.integers(1, 6), "queue_id": st.none(),
                             "price": st.sampled_from(["1", "2", "3"]),
                             "status": st.sampled_from(["live", "closed"])})
LISTS = st.lists(ROW, max_size=6, unique_by=lambda r: r["id"])


@given(LISTS, LISTS)
def test_applying_the_patch_gives_the_new_list(before, after):
    rows, _ = row_patch("groups", None, {"groups": before})
    _, patch = row_patch("groups", rows, {"groups": after})
    assert apply_patch({"groups": before}, patch) == {"groups": after}


def test_a_payload_that_is_not_a_list_of_rows_gets_no_patch():
    assert row_patch("groups", {}, {"n": 1}) == (None, None)
    assert row_patch("groups", {}, {"groups": [{"x": 1}]}) == (None, None)
