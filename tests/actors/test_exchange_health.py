"""Exchange health (SPEC 9.2) from real port calls: the paper exchange's answers and refusals,
the Binance emulator's 5xx / 429 / 418 through the ccxt adapter; the port factory's refusals."""

import msgspec
import pytest

from actors.runtime.clock import EngineClock
from actors.exchange.factory import PortSetupError, build_port
from actors.exchange.paper import PaperExchange
from actors.exchange.port import InvalidOrder, RateLimited, Unavailable
from actors.market.health import ExchangeHealth, MonitoredPort
from actors.settings.secrets import SecretStore
from engine.config import default_config
from tests.actors.runtime_kit import D, binance_port, direct_order, open_store, paper
from tests.emulator.server import EmulatorThread


class Time:
    """The health tracker's clock, moved by the test (time is an input)."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


async def test_answers_and_refusals_of_the_paper_exchange_count_as_reachable(tmp_path, nursery):
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    now = Time()
    health = ExchangeHealth(now, stream_expected=False)
    port = MonitoredPort(paper(store, clock), health)
    assert port.name == "paper" and isinstance(port.inner, PaperExchange)
    await port.push_price("BTCUSDT", D("30000"))  # adapter extras pass through
    assert await port.fetch_prices(["BTCUSDT"]) == {"BTCUSDT": D("30000")}
    assert health.last_success_ms == now.ms and health.status() == "connected"
    now.ms += 5000
    with pytest.raises(InvalidOrder):
        await port.create_order(direct_order("x1", qty="0.0001", price="29000"))
    assert health.last_success_ms == now.ms and health.failing_since_ms is None


async def test_sixty_seconds_of_failures_make_the_engine_error_until_a_call_succeeds(
        tmp_path, nursery, emulator):
    emulator.reset()
    emulator.price("BTCUSDT", "30000")
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    now = Time()
    health = ExchangeHealth(now)
    port = MonitoredPort(binance_port(tmp_path, store, clock, emulator), health)
    try:
        await port.load_markets()
        health.stream_state(True)
        emulator.fault("5xx", path="ticker", count=2)
        with pytest.raises(Unavailable):
            await port.fetch_prices(["BTCUSDT"])
        assert health.status() == "degraded" and health.engine_error() is None
        now.ms += 59_000
        with pytest.raises(Unavailable):
            await port.fetch_prices(["BTCUSDT"])
        assert health.engine_error() is None
        now.ms += 1_000
        assert health.status() == "disconnected"
        assert health.engine_error() == "exchange unreachable"
        assert await port.fetch_prices(["BTCUSDT"]) == {"BTCUSDT": D("30000")}
        assert health.status() == "connected" and health.engine_error() is None
        emulator.fault("429", path="ticker", retry_after_s=7)
        with pytest.raises(RateLimited):
            await port.fetch_prices(["BTCUSDT"])
        snap = health.snapshot()
        assert snap["rate_limited"] and snap["rate_limited_until_ms"] == now.ms + 7000
        assert snap["status"] == "degraded" and snap["error"] is None
        emulator.fault("418", path="ticker", retry_after_s=120)
        with pytest.raises(RateLimited):
            await port.fetch_prices(["BTCUSDT"])
        assert health.engine_error() == f"IP banned by the exchange until {now.ms + 120_000}"
    finally:
        await port.aclose()


async def test_the_factory_refuses_what_cannot_work_naming_the_key(tmp_path, nursery):
    clock = EngineClock()
    store = await open_store(tmp_path, nursery, clock)
    config = default_config()
    secrets = SecretStore(tmp_path, config.security, machine_id="test", use_keyring=False,
                          env={})
    assert isinstance(build_port(config, secrets, store, clock), PaperExchange)
    binance = msgspec.structs.replace(config, exchange=msgspec.structs.replace(
        config.exchange, name="binance"))
    with pytest.raises(PortSetupError) as missing:
        build_port(binance, secrets, store, clock)
    assert missing.value.field == "exchange.api_key"
    okx = msgspec.structs.replace(config, exchange=msgspec.structs.replace(
        config.exchange, name="okx", testnet=False))
    keyed = SecretStore(tmp_path, config.security, machine_id="test", use_keyring=False,
                        env={"ENGINE_EXCHANGE_API_KEY": "k", "ENGINE_EXCHANGE_API_SECRET": "s"})
    with pytest.raises(PortSetupError) as passphrase:
        build_port(okx, keyed, store, clock)
    assert passphrase.value.field == "exchange.passphrase"
    broken = msgspec.structs.replace(config, exchange=msgspec.structs.replace(
        config.exchange, paper=msgspec.structs.replace(config.exchange.paper,
                                                       markets_file="nowhere.json")))
    with pytest.raises(PortSetupError) as unreadable:
        build_port(broken, secrets, store, clock, base_dir=tmp_path)
    assert unreadable.value.field == "exchange.paper.markets_file"
    assert "nowhere.json" in str(unreadable.value)


def test_before_its_first_event_the_stream_is_waiting_for_prices_not_degraded():
    now = Time()
    health = ExchangeHealth(now)
    assert health.status() == "waiting_for_prices" and health.engine_error() is None
    health.stream_state(True)  # the first event (a price) arrived
    assert health.status() == "connected"
    health.stream_state(False, "stream ended")  # it broke: that is degraded
    assert health.status() == "degraded"
    health.stream_state(True)
    assert health.status() == "connected"
    health.failure(Unavailable("timeout"))
    assert health.status() == "degraded"
