"""The ccxt adapter against the loopback Binance emulator: every injected fault ends in the
right port error, ambiguous outcomes are resolved by client id, nothing is placed twice, the
streams reconnect and catch up, and the shared limiter never lets the emulator count a 429."""

from decimal import Decimal as D

import pytest
import trio

from actors.exchange.ccxt_adapter import CcxtExchange, ExchangeSetupError
from actors.exchange.port import (
    AuthFailed,
    DuplicateOrder,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderUpdate,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
    UnknownSymbol,
)
from engine.config import ExchangeConfig
from tests.contract.conftest_ccxt import binance_emulator, make_adapter  # noqa: F401
from tests.emulator.server import API_KEY, API_SECRET


def limit_buy(cid: str, qty: str = "0.001", price: str = "59000") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol="BTCUSDT", side="buy", type="limit",
                        quantity=D(qty), price=D(price))


async def ctl(emu, name: str, *args, **kw):
    return await trio.to_thread.run_sync(lambda: getattr(emu, name)(*args, **kw))


@pytest.fixture
async def emu(binance_emulator):
    await ctl(binance_emulator, "reset")
    await ctl(binance_emulator, "price", "BTCUSDT", "60000")
    return binance_emulator


@pytest.fixture
async def ex(emu):
    port = make_adapter(emu, timeout_ms=700)
    await port.load_markets()
    yield port
    await port.aclose()


def placed(orders: list[dict], cid: str) -> int:
    return sum(1 for o in orders if o.get("newClientOrderId") == cid and o["_result"] == "placed")


FAULTS = [
    ("5xx", "/api/v3/openOrders", "open_orders", Unavailable, -1001),
    ("5xx", "/api/v3/order", "create", OutcomeUnknown, -1001),  # Binance: 5xx = status unknown
    ("429", "/api/v3/openOrders", "open_orders", RateLimited, -1003),
    ("418", "/api/v3/account", "balances", RateLimited, -1003),
    ("-2010", "/api/v3/order", "create", InsufficientFunds, -2010),
    ("-1013", "/api/v3/order", "create", InvalidOrder, -1013),
    ("-1121", "/api/v3/order", "create", UnknownSymbol, -1121),
    ("-2015", "/api/v3/account", "balances", AuthFailed, -2015),
    ("-9999", "/api/v3/account", "balances", ExchangeError, -9999),
]


@pytest.mark.parametrize("kind,path,call,error,code", FAULTS)
async def test_fault_maps_to_port_error(emu, ex, kind, path, call, error, code):
    await ctl(emu, "fault", kind, path=path, retry_after_s=2)
    calls = {"open_orders": lambda: ex.fetch_open_orders("BTCUSDT"),
             "create": lambda: ex.create_order(limit_buy("ee00fault1")),
             "balances": ex.fetch_balances}
    with pytest.raises(error) as info:
        await calls[call]()
    assert type(info.value) is error
    assert info.value.code == code
    if kind in ("429", "418"):
        assert info.value.retry_after_s == 2
        assert info.value.banned is (kind == "418")
    assert API_KEY not in str(info.value) and API_SECRET not in str(info.value)
    assert await ctl(emu, "orders") == [] or placed(await ctl(emu, "orders"), "ee00fault1") == 0


async def test_rate_limit_stops_every_caller_for_retry_after(emu, ex):
    await ctl(emu, "fault", "429", path="/api/v3/openOrders", retry_after_s=1)
    with pytest.raises(RateLimited):
        await ex.fetch_open_orders("BTCUSDT")
    start = trio.current_time()
    await ex.fetch_open_orders("BTCUSDT")
    assert trio.current_time() - start >= 0.9


async def test_duplicate_client_id_is_duplicate_order_and_placed_once(emu, ex):
    first = await ex.create_order(limit_buy("ee00dup001"))
    assert first.status == "open" and first.client_order_id == "ee00dup001"
    with pytest.raises(DuplicateOrder) as info:
        await ex.create_order(limit_buy("ee00dup001"))
    assert info.value.code == -2010
    adopted = await ex.fetch_order("BTCUSDT", "ee00dup001")
    assert adopted.exchange_order_id == first.exchange_order_id
    assert placed(await ctl(emu, "orders"), "ee00dup001") == 1


async def test_timeout_is_resolved_by_client_id_and_never_placed_twice(emu, ex):
    await ctl(emu, "fault", "timeout", path="/api/v3/order", method="POST", delay_s=1.5)
    with pytest.raises(OutcomeUnknown):
        await ex.create_order(limit_buy("ee00tmo001"))
    # resolve by client id before any resend (SPEC 8.4): the order exists -> adopt it
    found = await ex.fetch_order("BTCUSDT", "ee00tmo001")
    assert found.status == "open"
    with pytest.raises(DuplicateOrder):  # a careless resend with the same id is refused
        await ex.create_order(limit_buy("ee00tmo001"))
    assert placed(await ctl(emu, "orders"), "ee00tmo001") == 1


async def test_5xx_before_effect_then_resend_same_id_places_once(emu, ex):
    await ctl(emu, "fault", "5xx", path="/api/v3/order", method="POST")
    with pytest.raises(OutcomeUnknown):
        await ex.create_order(limit_buy("ee005xx001"))
    with pytest.raises(OrderNotFound):
        await ex.fetch_order("BTCUSDT", "ee005xx001")
    state = await ex.create_order(limit_buy("ee005xx001"))  # same id, resolved as absent
    assert state.client_order_id == "ee005xx001"
    orders = await ctl(emu, "orders")
    assert [o["_result"] for o in orders] == ["fault 5xx", "placed"]
    assert {o["newClientOrderId"] for o in orders} == {"ee005xx001"}


async def test_connection_refused_is_unavailable_not_unknown(emu):
    with trio.socket.socket() as s:  # a port nobody listens on
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = {k: f"http://127.0.0.1:{port}/api/v3" for k in ("public", "private")}
    ex = make_adapter(emu, rest_urls=dead, timeout_ms=500)
    with pytest.raises(Unavailable):
        await ex.fetch_balances()
    await ex.aclose()


async def test_engine_values_are_never_rerounded_by_ccxt(emu, ex):
    with pytest.raises(InvalidOrder) as info:
        await ex.create_order(limit_buy("ee00rnd001", qty="0.0010001"))
    assert info.value.code == -1013 and "Filter failure: LOT_SIZE" in str(info.value)
    with pytest.raises(InvalidOrder):
        await ex.create_order(limit_buy("ee00rnd002", price="59000.005"))
    assert await ctl(emu, "orders") == []


async def test_filter_failure_from_matching_core_is_invalid_order(emu, ex):
    with pytest.raises(InvalidOrder) as info:  # on the step but below minNotional 5
        await ex.create_order(limit_buy("ee00flt001", qty="0.00001"))
    assert info.value.code == -1013 and "NOTIONAL" in str(info.value)


async def test_bad_secret_and_bad_key_are_auth_failures(emu):
    for kw, code in (({"api_secret": "x" * 64}, -1022), ({"api_key": "y" * 64}, -2015)):
        ex = make_adapter(emu, **kw)
        await ex.load_markets()  # public: works
        with pytest.raises(AuthFailed) as info:
            await ex.fetch_balances()
        assert info.value.code == code
        assert "x" * 64 not in str(info.value)
        await ex.aclose()


def test_missing_credentials_name_the_secret():
    cfg = ExchangeConfig(name="binance", testnet=False)
    with pytest.raises(ExchangeSetupError) as info:
        CcxtExchange(cfg, api_key="k" * 64, api_secret=None)
    assert info.value.field == "exchange.api_secret"
    with pytest.raises(ExchangeSetupError) as info:
        CcxtExchange(ExchangeConfig(name="okx", testnet=False), api_key="k", api_secret="s")
    assert info.value.field == "exchange.passphrase"


def test_sandbox_switch_and_client_id_parameters():
    for name in ("binance", "bybit", "okx", "gateio"):
        ex = CcxtExchange(ExchangeConfig(name=name, testnet=True), api_key="k", api_secret="s",
                          passphrase="p", pool_size=1)
        assert ex.client.isSandboxModeEnabled, name
    for name in ("kucoin", "mexc"):  # ccxt 4.5 publishes no sandbox URL for these
        with pytest.raises(ExchangeSetupError) as info:
            CcxtExchange(ExchangeConfig(name=name, testnet=True), api_key="k", api_secret="s",
                         passphrase="p", pool_size=1)
        assert info.value.field == "exchange.testnet"
    gate = CcxtExchange(ExchangeConfig(name="gateio", testnet=False), api_key="k",
                        api_secret="s", pool_size=1)
    assert gate.venue.cid_prefix == "t-" and gate._lookup("ee01") == ("t-ee01", {})  # noqa: SLF001


async def test_stream_reconnects_and_catches_up_fills_missed_while_down(emu, ex):
    resting = await ex.create_order(limit_buy("ee00str001", price="59500"))
    got: list[OrderUpdate] = []
    stream = ex.stream(["BTCUSDT"])
    async with trio.open_nursery() as nursery:
        async def consume() -> None:
            async for ev in stream:
                if isinstance(ev, OrderUpdate):
                    got.append(ev)

        nursery.start_soon(consume)
        with trio.fail_after(5):
            while not any(u.order.client_order_id == "ee00str001" for u in got):
                await trio.sleep(0.02)  # the first catch-up reports the resting order
            while (await ctl(emu, "stats"))["user_ws"] != 1:
                await trio.sleep(0.02)
        await ctl(emu, "fault", "drop_ws")
        await ctl(emu, "price", "BTCUSDT", "59400")  # fills while the socket is down
        with trio.fail_after(5):
            while not any(u.trade for u in got):
                await trio.sleep(0.02)
            while (await ctl(emu, "stats"))["user_ws"] != 1:
                await trio.sleep(0.02)  # reconnected
        await ctl(emu, "price", "BTCUSDT", "59300")
        await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    fills = [u.trade for u in got if u.trade is not None]
    assert len(fills) == 1, fills  # de-duplicated across catch-up, polling and live events
    assert fills[0].client_order_id == "ee00str001"
    assert fills[0].exchange_order_id == resting.exchange_order_id
    assert fills[0].quantity == D("0.001") and fills[0].price == D("59500")
    assert got[-1].order.status == "filled"


async def test_limiter_keeps_the_emulator_below_its_limits(binance_emulator):
    limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 1,
               "limit": 60},
              {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": 8}]
    await trio.to_thread.run_sync(lambda: binance_emulator.reset(rate_limits=limits))
    await ctl(binance_emulator, "price", "BTCUSDT", "60000")
    ex = make_adapter(binance_emulator, pool_size=4)
    await ex.load_markets()  # adopts the served rateLimits
    async with trio.open_nursery() as nursery:
        for i in range(16):
            nursery.start_soon(ex.create_order, limit_buy(f"ee00lim{i:03d}"))
        for _ in range(6):
            nursery.start_soon(ex.fetch_open_orders, "BTCUSDT")
    stats = await ctl(binance_emulator, "stats")
    await ex.aclose()
    assert stats["rejected_429"] == 0
    assert stats["orders"][0]["peak"] <= 8 and stats["weights"][0]["peak"] <= 60
    assert sum(o["_result"] == "placed" for o in await ctl(binance_emulator, "orders")) == 16


async def test_placing_through_ccxt_leaves_the_engine_decimal_context_alone(ex):
    """ccxt's decimal_to_precision rewrites the calling thread's Decimal context; the adapter
    must not let that reach the trio thread, where every engine computation runs."""
    import decimal

    before = decimal.getcontext().copy()
    await ex.create_order(limit_buy("eek3x9000000101e000"))
    after = decimal.getcontext()
    assert (after.prec, after.rounding) == (before.prec, before.rounding)
    assert after.traps == before.traps
