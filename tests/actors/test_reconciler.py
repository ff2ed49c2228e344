"""Start-up and periodic reconciliation with the real paper exchange and the real engine core.

Each test runs the engine, stops it (resting orders stay, as on a real shutdown or crash),
changes the exchange while no engine runs — prices move, orders are placed or cancelled by
hand — and starts the engine again on the same database: the reconciler runs before any signal.
D2 ladder on LTCUSDT (tick 0.01, step 0.001), fees 0.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import asynccontextmanager
from decimal import Decimal as D
from functools import partial
from pathlib import Path

import msgspec
import trio

from actors.runtime.clock import EngineClock
from actors.runtime.core import run_core
from actors.exchange.paper import PaperExchange
from actors.exchange.port import OrderRequest, Unavailable
from actors.group.projection import decode_state
from actors.store.writer import Store
from engine.orders import encode_cid
from tests.actors.engine_kit import HOUR_MS, START_MS, SYMBOL, Kit, config, paper_config, signal
from tests.actors.runtime_kit import Wrapped

LADDER = [("buy", "100", "2"), ("buy", "99.5", "2.01"), ("buy", "99", "2.02"),
          ("buy", "98.5", "2.03"), ("buy", "98", "2.04")]


class HangingCreates:
    """The paper exchange, except that order placements never answer (the engine dies while
    sending): every other call goes to the real exchange."""

    def __init__(self, inner: PaperExchange):
        self.inner = inner
        self.name = inner.name

    async def create_order(self, request: OrderRequest):
        await trio.sleep_forever()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@asynccontextmanager
async def engine(db: Path, *, price: str = "100.5", wrap=None, ratio: str = "1"):
    """Store writer + paper exchange + engine core (start-up reconciliation included)."""
    store = Store.open(db)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            clock = EngineClock.following_trio(START_MS)
            paper = PaperExchange(db=store, config=paper_config(partial_fill_ratio=D(ratio)),
                                  clock_ms=clock.now_ms)
            await paper.push_price(SYMBOL, D(price))
            port = paper if wrap is None else wrap(paper)
            core = await nursery.start(partial(run_core, config=config(), store=store,
                                               handle=None, secrets=None, clock=clock, port=port))
            kit = Kit(store, paper, core, clock)
            await kit.settle(2)
            yield kit
            nursery.cancel_scope.cancel()
    finally:
        store.close()


@asynccontextmanager
async def engine_down(db: Path):
    """The exchange alone: no engine runs (what happens here is news to the next start)."""
    store = Store.open(db)
    try:
        yield PaperExchange(db=store, config=paper_config(),
                            clock_ms=lambda: START_MS + 10 * HOUR_MS), store.instance_id()
    finally:
        store.close()


def report(kit: Kit) -> dict:
    rows = kit.journal("Reconciled")
    return msgspec.json.decode(rows[-1]["body"]) if rows else {}


def state(kit: Kit, group_id: int = 1):
    row = kit.store.query("SELECT state FROM position_groups WHERE id = ?", (group_id,))[0]
    return decode_state(row["state"])


def cid_counts(kit: Kit) -> Counter:
    return Counter(o["client_order_id"] for o in kit.paper.state()["orders"])


async def test_fills_while_down_are_booked_in_order_and_their_tps_placed(tmp_path,
                                                                           autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db) as kit:
        await kit.send(signal())
        assert kit.open_orders() == sorted(LADDER)
    async with engine_down(db) as (paper, _):
        await paper.push_price(SYMBOL, D("99.4"))  # DCA0 (100) and DCA1 (99.5) fill
    async with engine(db, price="99.4") as kit:
        assert report(kit)["kind"] == "startup"
        assert (report(kit)["booked_fills"], report(kit)["synced"]) == (2, 2)
        fills = kit.store.query("SELECT side, price, quantity FROM fills ORDER BY ts, id")
        assert [(f["side"], f["price"], f["quantity"]) for f in fills] == [
            ("buy", "100.00", "2.000"), ("buy", "99.50", "2.010")]
        assert kit.open_orders() == sorted([
            ("sell", "101", "2"), ("sell", "99.99", "2.01"), *LADDER[2:]])
        s = state(kit)
        assert [(leg.entry_state, leg.open_qty, leg.tp_state) for leg in s.legs[:3]] == [
            ("filled", D("2"), "placed"), ("filled", D("2.01"), "placed"),
            ("open", D(0), "none")]
        entries = kit.store.query("SELECT leg, state FROM orders WHERE purpose = 'e'"
                                  " ORDER BY leg")
        assert [r["state"] for r in entries] == ["filled", "filled", "open", "open", "open"]
        # a TP hit while down again: booked as a lot close on the next start
    async with engine_down(db) as (paper, _):
        await paper.push_price(SYMBOL, D("100.2"))  # DCA1's TP (99.99) fills
    async with engine(db, price="100.2") as kit:
        leg = state(kit).leg(0, 1)
        assert (leg.tp_state, leg.open_qty) == ("hit", D(0))
        assert state(kit).realized_pnl == D("0.49") * D("2.01")
        assert ("sell", "99.99", "2.01") not in kit.open_orders()


async def test_a_pending_order_that_never_reached_the_exchange_is_sent_once_same_id(
        tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db, wrap=HangingCreates) as kit:
        await kit.send(signal())  # recorded, then the engine dies while sending
        rows = kit.store.query("SELECT client_order_id, state, sent_at FROM orders")
        assert [(r["state"], r["sent_at"]) for r in rows] == [("pending", None)] * 5
        assert kit.paper.state()["orders"] == []
    cids = {r["client_order_id"] for r in rows}
    async with engine(db) as kit:
        assert report(kit)["resent"] == 5
        assert cid_counts(kit) == Counter({cid: 1 for cid in cids})
        assert kit.open_orders() == sorted(LADDER)
        states = kit.store.query("SELECT state FROM orders")
        assert {r["state"] for r in states} == {"open"}
    async with engine(db) as kit:  # a further restart finds them: nothing is sent again
        assert report(kit)["resent"] == 0
        assert cid_counts(kit) == Counter({cid: 1 for cid in cids})


class FailingQueries(Wrapped):
    """The paper exchange, except that single-order queries fail while ``failing`` is set."""

    def __init__(self, inner: PaperExchange):
        super().__init__(inner)
        self.failing = True

    async def fetch_order(self, symbol: str, client_order_id: str):
        if self.failing:
            raise Unavailable("injected: the exchange does not answer")
        return await self.inner.fetch_order(symbol, client_order_id)


async def test_orders_the_start_up_pass_could_not_query_are_resolved_by_the_periodic_pass(
        tmp_path, autojump_clock):
    """Left ``pending`` after a failed query, an order would hold its group for ever (fault
    search seed 390: a TP never replaced after more fills): the next pass asks again."""
    db = tmp_path / "e.db"
    async with engine(db, wrap=HangingCreates) as kit:
        await kit.send(signal())  # recorded, then the engine dies while sending
        cids = {r["client_order_id"] for r in kit.store.query("SELECT client_order_id FROM orders")}
    ports: list[FailingQueries] = []

    def failing(paper: PaperExchange) -> FailingQueries:
        ports.append(FailingQueries(paper))
        return ports[0]

    async with engine(db, wrap=failing) as kit:
        assert (report(kit)["unresolved"], report(kit)["resent"]) == (5, 0)
        assert kit.paper.state()["orders"] == []
        ports[0].failing = False
        again = await kit.core.reconciler.periodic()
        assert (again.unresolved, again.resent) == (0, 5)
        await kit.settle()
        assert cid_counts(kit) == Counter({cid: 1 for cid in cids})
        assert kit.open_orders() == sorted(LADDER)
        assert (await kit.core.reconciler.periodic()).resent == 0


async def test_a_pending_order_no_longer_wanted_is_marked_failed(tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db, wrap=HangingCreates) as kit:
        await kit.send(signal())
        await kit.send(signal("exit", ts_ms=START_MS + HOUR_MS))  # cancels wanted, not sent
    async with engine(db) as kit:
        assert (report(kit)["failed"], report(kit)["resent"]) == (5, 0)
        assert kit.paper.state()["orders"] == []
        assert {r["state"] for r in kit.store.query("SELECT state FROM orders")} == {"failed"}
        group = kit.groups()[0]
        assert group["status"] == "closed"
        assert not [ev for ev in kit.journal("EntryEnded")
                    if msgspec.json.decode(ev["body"])["external"]]


async def test_unknown_orders_with_our_prefix_adopted_or_cancelled_foreign_left_alone(
        tmp_path, autojump_clock, caplog):
    db = tmp_path / "e.db"
    async with engine(db) as kit:
        await kit.send(signal())
    async with engine_down(db) as (paper, instance):
        def buy(cid: str, price: str) -> OrderRequest:
            return OrderRequest(client_order_id=cid, symbol=SYMBOL, side="buy", type="limit",
                                quantity=D("0.1"), price=D(price))
        adopted = encode_cid(instance, 1, 0, 0, "e", 7)  # group 1 exists
        orphan = encode_cid(instance, 99, 0, 0, "e", 0)  # no group 99
        foreign = encode_cid("zzzz" if instance != "zzzz" else "yyyy", 1, 0, 0, "e", 0)
        for cid, price in ((adopted, "90"), (orphan, "91"), (foreign, "92")):
            await paper.create_order(buy(cid, price))
    caplog.set_level(logging.INFO)
    async with engine(db) as kit:
        r = report(kit)
        assert (r["adopted"], r["orphans_cancelled"]) == (1, 1)
        status = {o["client_order_id"]: o["status"] for o in kit.paper.state()["orders"]}
        assert (status[adopted], status[orphan], status[foreign]) == ("open", "canceled", "open")
        row = kit.store.query("SELECT group_id, purpose, attempt, state, price FROM orders"
                              " WHERE client_order_id = ?", (adopted,))
        assert row == [{"group_id": 1, "purpose": "e", "attempt": 7, "state": "open",
                        "price": "90"}]
        assert not kit.store.query("SELECT 1 FROM orders WHERE client_order_id IN (?, ?)",
                                   (orphan, foreign))
        events = {(r.name, getattr(r, "event", None)) for r in caplog.records}
        assert {("engine.order", "order_adopted"), ("engine.order", "orphan_cancelled")} <= events


async def test_a_balance_shortfall_writes_off_the_most_recent_lots(tmp_path, autojump_clock,
                                                                  caplog):
    db = tmp_path / "e.db"
    async with engine(db, price="100") as kit:  # DCA0 fills at once: lot 2, TP 2 @ 101
        await kit.send(signal())
        await kit.price("99.4")  # DCA1 fills: lot 2.01, TP 2.01 @ 99.99
        assert ("sell", "101", "2") in kit.open_orders()
    async with engine_down(db) as (paper, _):
        # manual trading: the DCA1 TP is cancelled by hand and 1.51 LTC sold
        tp = next(o for o in paper.state()["orders"] if o["price"] == "99.99")
        await paper.cancel_order(SYMBOL, tp["client_order_id"])
        await paper.create_order(OrderRequest(client_order_id="manual1", symbol=SYMBOL,
                                              side="sell", type="market", quantity=D("1.51")))
    caplog.set_level(logging.INFO)
    async with engine(db, price="99.4") as kit:
        r = report(kit)
        assert (r["shortfalls"], r["synced"]) == (1, 1)
        s = state(kit)
        # 4.01 held in lots, 2.5 on the account: DCA1 (the most recent lot) loses 1.51
        assert [(leg.open_qty, leg.written_off_qty) for leg in s.legs[:2]] == [
            (D("2"), D(0)), (D("0.5"), D("1.51"))]
        assert s.leg(0, 1).tp_state == "external_cancel"  # cancelled by hand: not re-placed
        assert s.realized_pnl == -D("99.5") * D("1.51")
        assert len(kit.journal("LotWrittenOff")) == 1
        errors = [r for r in caplog.records if getattr(r, "event", None) == "balance_shortfall"]
        assert len(errors) == 1 and errors[0].levelno == logging.ERROR


async def test_periodic_pass_adopts_new_unknowns_and_flags_missing_orders(tmp_path,
                                                                          autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db) as kit:
        await kit.send(signal())
        rec = kit.core.reconciler
        assert (await rec.periodic()).flagged == 0
        stray = encode_cid(kit.store.instance_id(), 1, 0, 4, "e", 9)
        await kit.paper.create_order(OrderRequest(
            client_order_id=stray, symbol=SYMBOL, side="buy", type="limit", quantity=D("0.1"),
            price=D("95")))
        report1 = await rec.periodic()
        assert (report1.adopted, report1.flagged) == (1, 0)
        assert kit.store.query("SELECT state FROM orders WHERE client_order_id = ?",
                               (stray,)) == [{"state": "open"}]
        assert (await rec.periodic()).adopted == 0  # known now


class AnswerLost(HangingCreates):
    """Placements reach the exchange, but their answers never come back."""

    async def create_order(self, request: OrderRequest):
        await self.inner.create_order(request)
        await trio.sleep_forever()


class AnswerAndReportLost(AnswerLost):
    """Neither the placement's answer nor the stream's report arrives."""

    def stream(self, symbols: list[str]):
        async def silent():
            await trio.sleep_forever()
            yield

        return silent()


class DeafStream(HangingCreates):
    """Orders work; the stream never reports anything (a lost websocket nobody noticed)."""

    async def create_order(self, request: OrderRequest):
        return await self.inner.create_order(request)

    stream = AnswerAndReportLost.stream


class HangingCancels(HangingCreates):
    """Cancels never answer (and never reach the exchange); placements work."""

    async def create_order(self, request: OrderRequest):
        return await self.inner.create_order(request)

    async def cancel_order(self, symbol: str, client_order_id: str):
        await trio.sleep_forever()


async def test_an_order_placed_whose_answer_was_lost_is_synced_not_resent(tmp_path,
                                                                          autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db, wrap=AnswerLost) as kit:
        await kit.send(signal())
        # only the stream told (the record says open): the gateway passes that acknowledgement
        # on, so the group already knows its orders are open
        assert {o.state for o in state(kit).orders} == {"open"}
        assert len(kit.paper.state()["orders"]) == 5
    async with engine(db) as kit:
        r = report(kit)
        assert (r["synced"], r["resent"]) == (0, 0)  # nothing left to repair at the restart
        assert max(cid_counts(kit).values()) == 1 and kit.open_orders() == sorted(LADDER)
        assert {r["state"] for r in kit.store.query("SELECT state FROM orders")} == {"open"}
        assert {o.state for o in state(kit).orders} == {"open"}


async def test_an_order_placed_that_nobody_heard_of_is_found_by_its_id_not_resent(
        tmp_path, autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db, wrap=AnswerAndReportLost) as kit:
        await kit.send(signal())
        assert {r["state"] for r in kit.store.query("SELECT state FROM orders")} == {"pending"}
    async with engine(db) as kit:
        r = report(kit)
        assert (r["synced"], r["resent"]) == (5, 0)
        assert max(cid_counts(kit).values()) == 1 and kit.open_orders() == sorted(LADDER)
        assert {r["state"] for r in kit.store.query("SELECT state FROM orders")} == {"open"}
        assert {o.state for o in state(kit).orders} == {"open"}


async def test_cancels_lost_in_a_crash_are_sent_again_and_the_close_completes(tmp_path,
                                                                              autojump_clock):
    db = tmp_path / "e.db"
    async with engine(db, wrap=HangingCancels) as kit:
        await kit.send(signal())
        await kit.send(signal("exit", ts_ms=START_MS + HOUR_MS))  # cancels never answer
        assert state(kit).status == "closing" and len(kit.open_orders()) == 5
    async with engine(db) as kit:
        assert kit.open_orders() == []
        assert kit.groups()[0]["status"] == "closed"
        assert report(kit)["cancels_resent"] == 5


async def test_periodic_pass_resolves_an_order_still_missing_one_period_later(tmp_path,
                                                                             autojump_clock):
    async with engine(tmp_path / "e.db", wrap=DeafStream) as kit:
        await kit.send(signal())
        await kit.price("99.9")  # DCA0 (100) fills; nobody tells the engine
        rec = kit.core.reconciler
        first = await rec.periodic()
        assert (first.flagged, first.booked_fills, first.synced) == (1, 0, 0)
        second = await rec.periodic()
        assert (second.flagged, second.booked_fills, second.synced) == (1, 1, 1)
        await kit.settle()
        leg = state(kit).leg(0, 0)
        assert (leg.entry_state, leg.open_qty, leg.tp_state) == ("filled", D("2"), "placed")
        assert ("sell", "101", "2") in kit.open_orders()
        assert (await rec.periodic()).flagged == 0


async def test_periodic_pass_books_a_fill_the_stream_lost_on_an_order_still_open(
        tmp_path, autojump_clock):
    """Fault search seed 3008: a partial fill's trade was lost and its order stayed open — its
    end would have caught the trade up, but the lot had no TP meanwhile."""
    async with engine(tmp_path / "e.db", wrap=DeafStream, ratio="0.5") as kit:
        await kit.send(signal())
        await kit.price("99.9")  # DCA0 (100, 2) half fills; nobody tells the engine
        assert state(kit).leg(0, 0).filled_qty == 0
        assert (await kit.core.reconciler.periodic()).booked_fills == 1
        await kit.settle()
        leg = state(kit).leg(0, 0)
        assert (leg.filled_qty, leg.open_qty, leg.tp_state) == (D("1"), D("1"), "placed")
        assert ("sell", "101", "1") in kit.open_orders()
        assert (await kit.core.reconciler.periodic()).booked_fills == 0


async def test_a_cancel_lost_in_a_crash_is_sent_again_for_an_order_partly_filled_meanwhile(
        tmp_path, autojump_clock):
    """The group asked to cancel its entries, the cancels were lost with the process, and two
    of the entries were partly filled while no engine ran: the diff syncs them (their outcome
    delivered) and their cancels are still owed — the close completes."""
    db = tmp_path / "e.db"
    async with engine(db, wrap=HangingCancels) as kit:
        await kit.send(signal())
        await kit.send(signal("exit", ts_ms=START_MS + HOUR_MS))  # cancels never answer
        assert state(kit).status == "closing" and len(kit.open_orders()) == 5
    store = Store.open(db)
    try:  # while down: DCA0 (100) and DCA1 (99.5) are half filled
        paper = PaperExchange(db=store, config=paper_config(partial_fill_ratio=D("0.5")),
                              clock_ms=lambda: START_MS + 2 * HOUR_MS)
        await paper.push_price(SYMBOL, D("99.4"))
        partly = [o for o in paper.state()["orders"] if o["status"] == "partially_filled"]
        assert len(partly) == 2
    finally:
        store.close()
    async with engine(db) as kit:  # back at 100.5: nothing fills further
        r = report(kit)
        assert (r["synced"], r["cancels_resent"]) == (2, 5)
        await kit.settle(5)
        assert kit.open_orders() == []
        assert kit.groups()[0]["status"] == "closed"


class CountedQueries:
    """The paper exchange, counting the single-order queries (``fetch_order``)."""

    def __init__(self, inner: PaperExchange):
        self.inner = inner
        self.name = inner.name
        self.queried: list[str] = []

    async def fetch_order(self, symbol: str, client_order_id: str):
        self.queried.append(client_order_id)
        return await self.inner.fetch_order(symbol, client_order_id)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


async def test_start_up_queries_only_orders_missing_from_the_open_order_listing(
        tmp_path, autojump_clock):
    """Orders still open are answered by one listing; only the ones that ended while the
    engine was down are queried one by one (25,000 resting orders took minutes otherwise)."""
    db = tmp_path / "e.db"
    async with engine(db) as kit:
        await kit.send(signal())
    async with engine_down(db) as (paper, _):
        await paper.push_price(SYMBOL, D("99.4"))  # DCA0 and DCA1 fill while down
    ports: list[CountedQueries] = []

    def counted(paper: PaperExchange) -> CountedQueries:
        ports.append(CountedQueries(paper))
        return ports[0]

    async with engine(db, price="99.4", wrap=counted) as kit:
        entries = {r["leg"]: r["client_order_id"] for r in kit.store.query(
            "SELECT leg, client_order_id FROM orders WHERE purpose = 'e'")}
        assert sorted(ports[0].queried) == sorted([entries[0], entries[1]])
        assert (report(kit)["booked_fills"], report(kit)["synced"]) == (2, 2)
