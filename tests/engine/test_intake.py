"""What the webhook refuses before answering (engine/intake.py): each refusal names the field
and says what to change."""

import json

import msgspec
import pytest

from engine.config import Config
from engine.config.model import GridOverride
from engine.intake import check_webhook
from engine.signals import WebhookRejected
from tests.engine.binance_oracle import market_rules
from tests.engine.test_signals import body

MARKETS = market_rules()


def config(capital="0", overrides=None, market_type="spot") -> Config:
    cfg = Config()
    grid = msgspec.structs.replace(cfg.grid_strategy, capital_per_pyramid_usd=msgspec.convert(
        capital, type=type(cfg.grid_strategy.capital_per_pyramid_usd), strict=False),
        overrides=overrides or {})
    exchange = msgspec.structs.replace(cfg.exchange, market_type=market_type)
    return msgspec.structs.replace(cfg, grid_strategy=grid, exchange=exchange)


def refused(raw: bytes, cfg: Config) -> dict[str, str]:
    with pytest.raises(WebhookRejected) as err:
        check_webhook(raw, cfg, MARKETS)
    return {e.field: e.message for e in err.value.errors}


def test_an_entry_without_size_and_without_default_capital_is_refused_with_the_fix():
    errors = refused(body(tv__order_size=...), config())
    message = errors["tv.order_size"]
    assert "capital_per_pyramid_usd is 0 for BTCUSDT 15" in message
    assert "{{strategy.order.contracts}}" in message
    assert refused(body(tv__order_size=0), config()).keys() == {"tv.order_size"}


def test_a_default_capital_or_an_override_sizes_the_entry():
    assert check_webhook(body(tv__order_size=...), config("100"), MARKETS).order_size is None
    override = {"paper:BTCUSDT:*": GridOverride(capital_per_pyramid_usd=msgspec.convert(
        "50", type=type(Config().grid_strategy.capital_per_pyramid_usd), strict=False))}
    assert check_webhook(body(tv__order_size=...), config(overrides=override), MARKETS)


def test_intents_without_an_entry_need_no_size():
    for intent in ("exit", "reduce"):
        raw = body(tv__order_size=..., execution_intent__type=intent)
        assert check_webhook(raw, config(), MARKETS).intent == intent
    # a short entry on spot is ignored, never sized
    short = body(tv__order_size=..., execution_intent__side="sell", tv__action="sell")
    assert check_webhook(short, config(), MARKETS).side == "short"
    assert refused(short, config(market_type="swap")).keys() == {"tv.order_size"}


def test_a_timeframe_outside_the_accepted_list_lists_them():
    message = refused(body(tv__timeframe="30S"), config())["tv.timeframe"]
    assert "seconds intervals are not supported" in message
    assert "D or nD" in message and "W or nW" in message and "M or nM" in message
    assert "accepted:" in refused(body(tv__timeframe="13M"), config())["tv.timeframe"]


def test_an_unknown_symbol_says_what_to_send_and_what_is_close():
    message = refused(body(tv__symbol="BTCUSTD"), config())["tv.symbol"]
    assert message.startswith("unknown symbol BTCUSTD: use the exchange's market id")
    assert "did you mean BTCUSDT" in message


def test_the_secret_is_required_unless_validation_is_off():
    raw = json.loads(body())
    del raw["secret"]
    data = json.dumps(raw).encode()
    assert "secret" in refused(data, config())
    assert check_webhook(data, config(), MARKETS, secret_required=False).symbol == "BTCUSDT"
