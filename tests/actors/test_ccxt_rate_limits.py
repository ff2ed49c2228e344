"""Binance's rate limits on the loopback emulator, seen through the ccxt adapter: the emulator
counts like Binance (per fixed window, weights per endpoint) and answers 429 with Binance's
code and headers; the adapter's limiter adopts the counts the exchange reports in its headers;
limits switched off, the emulator counts and refuses nothing."""

import time

import httpx
import pytest
import trio

from actors.exchange.port import RateLimited
from tests.actors.test_ccxt_faults import ctl, limit_buy
from tests.contract.conftest_ccxt import binance_emulator, make_adapter  # noqa: F401

FIVE_PER_10S = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 5},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000}]


@pytest.fixture
async def emu(binance_emulator):
    await ctl(binance_emulator, "reset", rate_limits=FIVE_PER_10S)
    await ctl(binance_emulator, "price", "BTCUSDT", "60000")
    return binance_emulator


async def in_fresh_windows() -> None:
    """The emulator's windows start on multiples of their length, as Binance's do (10 s for
    orders, 60 s for weight): a counted burst starts with at least 8 s left of the first and
    15 s of the second, so it never straddles two windows (it did on a busy machine, and a
    count started over half-way)."""
    while True:
        now = time.time()
        left = {10: 10 - now % 10, 60: 60 - now % 60}
        if left[10] >= 8 and left[60] >= 15:
            return
        await trio.sleep(min(left.values()) + 0.05)


def orders_used(adapter) -> float:
    return next(u["used"] for u in adapter.limiter.usage()
                if u["kind"] == "orders" and u["window_s"] == 10)


async def test_the_limiter_adopts_the_order_count_another_client_spent(emu):
    """Two engines on one account (or orders placed by hand): the exchange's count wins."""
    mine, other = make_adapter(emu), make_adapter(emu)
    await in_fresh_windows()
    await mine.load_markets()  # adopts 5 per 10 s from the served exchangeInfo
    await other.load_markets()
    for i in range(4):
        await other.create_order(limit_buy(f"ee00oth{i:03d}"))
    assert orders_used(mine) == 0
    await mine.create_order(limit_buy("ee00min000"))
    assert orders_used(mine) == 5  # X-MBX-ORDER-COUNT-10S said 5, not our 1
    assert mine.limiter.admit_now(1.0, 1, lambda limit: 0) > 0  # no sixth order now
    weight = next(u["used"] for u in mine.limiter.usage() if u["kind"] == "weight")
    assert weight >= 5 + 2 * 20  # the orders and both exchangeInfo loads, as Binance counts
    await mine.aclose()
    await other.aclose()


async def unaware_adapter(emu, **reset):
    """An adapter that loaded Binance's published 100 per 10 s; the account then gets 5."""
    await ctl(emu, "reset")
    ex = make_adapter(emu)
    await ex.load_markets()
    await ctl(emu, "reset", rate_limits=FIVE_PER_10S, **reset)
    await ctl(emu, "price", "BTCUSDT", "60000")
    await in_fresh_windows()
    return ex


async def test_past_the_limit_binance_answers_429_with_its_code_and_headers(emu):
    ex = await unaware_adapter(emu)
    for i in range(5):
        await ex.create_order(limit_buy(f"ee00lim{i:03d}"))
    with pytest.raises(RateLimited) as refused:
        await ex.create_order(limit_buy("ee00lim005"))
    assert refused.value.code == -1015 and 1 <= refused.value.retry_after_s <= 10
    assert (await ctl(emu, "stats"))["rejected_429"] == 1
    await ex.aclose()
    body = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.001", "price": "59000", "newClientOrderId": "x"}
    answer = await trio.to_thread.run_sync(lambda: _signed_post(emu, body))
    assert answer.status_code == 429 and answer.json()["code"] == -1015
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.headers["x-mbx-order-count-10s"] == "5"
    assert int(answer.headers["x-mbx-used-weight-1m"]) >= 7


async def test_with_limits_switched_off_nothing_is_refused_but_all_is_counted(emu):
    ex = await unaware_adapter(emu, enforce_limits=False)
    for i in range(8):
        await ex.create_order(limit_buy(f"ee00off{i:03d}"))
    stats = await ctl(emu, "stats")
    assert stats["rejected_429"] == 0 and stats["orders"][0]["peak"] == 8
    await ex.aclose()


def _signed_post(emu, params: dict) -> httpx.Response:
    import hashlib
    import hmac
    import time
    from urllib.parse import urlencode

    from tests.emulator.server import API_KEY, API_SECRET

    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    signature = hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return httpx.post(f"{emu.base}/api/v3/order?{query}&signature={signature}",
                      headers={"X-MBX-APIKEY": API_KEY})
