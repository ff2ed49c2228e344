"""The aggregate target does not fire on a price older than the live feed's stale limit
(engine/group/price_watch.too_old, SPEC 4.3 under ``exchange.paper.feed = "live"``)."""

import msgspec
import pytest

from engine.group import decide
from engine.group.messages import PriceChanged
from engine.group.price_watch import quiet_band, too_old
from tests.engine.group_kit import Sim

LIMIT = 30_000


@pytest.mark.parametrize("received, now, limit, old", [
    (None, 10**9, LIMIT, False),        # unknown age: taken as fresh (pushed, replayed prices)
    (1_000, 1_000 + LIMIT, LIMIT, False),  # exactly at the limit: still fresh
    (1_000, 1_001 + LIMIT, LIMIT, True),
    (1_000, 10**12, None, False),       # no limit (api / csv feeds, real exchanges)
])
def test_too_old(received, now, limit, old):
    assert too_old(received, now, limit) is old


@pytest.mark.parametrize("tp_mode", ["aggregate", "hybrid"])
def test_an_old_price_beyond_the_target_waits_for_a_fresh_one(tp_mode):
    sim = Sim(tp_mode=tp_mode, side="long", cancel_beyond="0", price="100")
    sim.ack_all()
    [entry] = [o for o in sim.state.orders if o.state == "open" and o.ref.leg == 0]
    sim.trade(entry.ref, str(entry.qty))
    sim.end(entry.ref)
    sim.ack_all()
    _, target = quiet_band(sim.state, sim.ctx.rules)
    ctx = msgspec.structs.replace(sim.ctx, price=target, price_max_age_ms=LIMIT)
    now = sim.now + 1
    stale = decide(sim.state, PriceChanged(price=target, received_ms=now - LIMIT - 1), now, ctx)
    assert stale.state == sim.state and stale.commands == ()
    fresh = decide(sim.state, PriceChanged(price=target, received_ms=now - LIMIT), now, ctx)
    assert (fresh.state.status, fresh.state.close_reason) == ("closing", "aggregate_tp")
