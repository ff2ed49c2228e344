"""SPEC 5: zero precision-related rejections. Thousands of generated ladders for the real
markets of the Binance snapshot are planned by ``engine/ladder.py`` (+ ``engine/precision.py``);
every order of every ladder the engine accepts is then placed through the ccxt adapter on the
loopback emulator, whose filters are Binance's: not one may be refused."""

import json
from decimal import Decimal

import pytest
import trio
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actors.exchange.port import ExchangeError, OrderRequest
from engine.decimals import round_down
from engine.ladder import GridSettings, PyramidPlan, plan_pyramid
from engine.markets import load_exchange_info, rules_from_binance_exchange_info
from engine.types import Level
from tests.contract.conftest_ccxt import make_adapter
from tests.emulator.server import INFO_FILE, EmulatorProcess

RULES = rules_from_binance_exchange_info(load_exchange_info(INFO_FILE.read_text()),
                                         fetched_at_ms=0)
BIG_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 10**7},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 10**6}]
EXAMPLES = 2000
MAX_OPEN = 150  # stay under MAX_NUM_ORDERS (200) per symbol between resets


@st.composite
def ladders(draw):
    n = draw(st.integers(1, 7))
    steps = draw(st.lists(st.integers(5, 500), min_size=n - 1, max_size=n - 1))  # 0.01 % units
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=n - 1, max_size=n - 1,
                                unique=True)))
    weights = [b - a for a, b in zip([0] + cuts, cuts + [100])]
    gap, levels = Decimal(0), []
    for i in range(n):
        if i:
            gap -= Decimal(steps[i - 1]) / 100
        levels.append(Level(gap_percent=gap, weight_percent=Decimal(weights[i]),
                            tp_percent=Decimal(1)))
    return tuple(levels)


@st.composite
def cases(draw):
    symbol = draw(st.sampled_from(sorted(RULES)))
    rules = RULES[symbol]
    low = max(rules.min_price or rules.tick_size, rules.tick_size) * 1000
    high = min(rules.max_price or Decimal(10**6), Decimal(10**6)) / 10
    lo_e, hi_e = low.adjusted(), high.adjusted()
    exponent = draw(st.integers(lo_e, max(lo_e, hi_e)))
    mantissa = draw(st.integers(1000, 9999))
    reference = round_down(Decimal(mantissa).scaleb(exponent - 3), rules.tick_size)
    assume(reference > 0)
    factor = Decimal(draw(st.integers(100, 50_000))) / 100
    notional = max(rules.min_notional, Decimal(1)) * factor
    entry = draw(st.sampled_from(["limit", "market"]))
    return symbol, reference, notional, entry, draw(ladders())


def accepted_plans() -> list[tuple[str, Decimal, PyramidPlan]]:
    out: list[tuple[str, Decimal, PyramidPlan]] = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
    @given(cases())
    def plan(case):
        symbol, reference, notional, entry, levels = case
        grid = GridSettings(dca_levels=levels, entry_order_type=entry)
        result = plan_pyramid(grid, pyramid=0, side="long", reference=reference,
                              notional=notional, rules=RULES[symbol], current_price=reference)
        if isinstance(result, PyramidPlan):
            out.append((symbol, reference, result))

    plan()
    return out


@pytest.fixture(scope="module")
def emulator_process():
    emu = EmulatorProcess().start()  # its own interpreter: thousands of orders, no shared GIL
    yield emu
    emu.stop()


async def test_every_accepted_ladder_is_accepted_by_binance_filters(emulator_process):
    emu = emulator_process
    plans = accepted_plans()
    assert len(plans) >= EXAMPLES // 4, "the generator must produce mostly sendable ladders"
    assert len({p[0] for p in plans}) == len(RULES)  # every real market is exercised
    await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
    ex = make_adapter(emu, pool_size=3)
    await ex.load_markets()
    refused: list[str] = []
    open_count: dict[str, int] = {}
    sent = 0
    for n, (symbol, reference, plan) in enumerate(plans):
        if open_count.get(symbol, 0) + len(plan.legs) > MAX_OPEN:
            await trio.to_thread.run_sync(lambda: emu.reset(rate_limits=BIG_LIMITS))
            open_count.clear()
        await trio.to_thread.run_sync(emu.price, symbol, str(reference))

        async def place(leg, n=n, symbol=symbol) -> None:
            request = OrderRequest(client_order_id=f"ee{n:07d}{leg.index}", symbol=symbol,
                                   side="buy", type=leg.order_type, quantity=leg.qty,
                                   price=leg.price if leg.order_type == "limit" else None)
            try:
                await ex.create_order(request)
            except ExchangeError as exc:
                refused.append(f"{symbol} ref {reference} DCA{leg.index} {leg.order_type} "
                               f"qty {leg.qty} price {leg.price}: {type(exc).__name__} {exc}")

        async with trio.open_nursery() as nursery:
            for leg in plan.legs:
                nursery.start_soon(place, leg)
        open_count[symbol] = open_count.get(symbol, 0) + len(plan.legs)
        sent += len(plan.legs)
    await ex.aclose()
    assert refused == [], f"{len(refused)} of {sent} orders refused:\n" + "\n".join(refused[:20])
    stats = await trio.to_thread.run_sync(emu.stats)
    assert stats["rejected_429"] == 0
    print(json.dumps({"ladders": len(plans), "orders": sent}))
