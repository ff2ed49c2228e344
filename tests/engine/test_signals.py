"""Webhook parsing and time rules (SPEC 2.3-2.7, vector D14)."""

import copy
import hashlib
import json
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.signals import (
    MAX_TIMEFRAME_MINUTES,
    Signal,
    WebhookRejected,
    candle_index,
    idempotency_key,
    is_duplicate_entry,
    is_stale_or_same_candle,
    normalise_timeframe,
    parse_webhook,
)
from tests.engine.binance_oracle import market_rules

ENTRY = {  # SPEC 2.9
    "secret": "YOUR_WEBHOOK_SECRET",
    "source": "tradingview",
    "timestamp": "2025-11-10T12:00:00Z",
    "tv": {
        "exchange": "BINANCE",
        "symbol": "BTCUSDT",
        "timeframe": "15",
        "action": "buy",
        "market_position": "long",
        "market_position_size": 2.5,
        "prev_market_position": "flat",
        "prev_market_position_size": 0,
        "entry_price": 60000.0,
        "close_price": 60010.0,
        "order_size": 2.5,
    },
    "strategy_info": {"trade_id": "12345", "alert_name": "BTC Long Entry", "alert_message": "DCA Entry 1"},
    "execution_intent": {"type": "signal", "side": "buy", "position_size_type": "contracts", "precision_mode": "auto"},
    "risk": {"stop_loss": None, "take_profit": None, "max_slippage_percent": 0.2},
}
T_ENTRY = 1762776000000  # 2025-11-10T12:00:00Z


def body(**changes) -> bytes:
    """The entry payload with dotted-path changes; the value ... deletes the key."""
    data = copy.deepcopy(ENTRY)
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = data
        for p in parents:
            target = target[p]
        if value is ...:
            del target[key]
        else:
            target[key] = value
    return json.dumps(data).encode()


def parse(raw: bytes, *, markets="real", quotes=("USDT",), secret_required=True) -> Signal:
    return parse_webhook(
        raw,
        markets=market_rules() if markets == "real" else markets,
        quote_currencies=quotes,
        secret_required=secret_required,
    )


def errors(raw: bytes, **kw) -> dict[str, str]:
    with pytest.raises(WebhookRejected) as err:
        parse(raw, **kw)
    assert str(err.value)
    return {e.field: e.message for e in err.value.errors}


def test_entry_example():
    key = hashlib.sha256(f"{T_ENTRY}|12345|buy|BTCUSDT|15".encode()).hexdigest()
    assert parse(body()) == Signal(
        intent="signal", side="long", symbol="BTCUSDT", ccxt_symbol="BTC/USDT", timeframe=15,
        timestamp_ms=T_ENTRY, source="tradingview", tv_exchange="BINANCE", action="buy",
        market_position="long", market_position_size=D("2.5"), prev_market_position="flat",
        prev_market_position_size=D("0"), entry_price=D("60000.0"), close_price=D("60010.0"),
        order_size=D("2.5"), position_size_type="contracts", precision_mode="auto",
        max_slippage_percent=D("0.2"), stop_loss=None, take_profit=None, trade_id="12345",
        alert_name="BTC Long Entry", alert_message="DCA Entry 1", idempotency_key=key,
    )
    assert "secret" not in Signal.__struct_fields__


def test_exit_example():
    raw = body(
        timestamp="2025-11-10T15:30:00Z", tv__action="sell", tv__market_position="flat",
        tv__market_position_size=0, tv__prev_market_position="long",
        tv__prev_market_position_size=2.5, strategy_info={"trade_id": "Exit Long", "alert_name": "BTC Long Exit", "alert_message": ""},
        execution_intent={"type": "exit", "side": "sell", "position_size_type": "contracts", "precision_mode": "auto"},
    )
    s = parse(raw)
    assert (s.intent, s.side, s.market_position, s.prev_market_position_size) == ("exit", "short", "flat", D("2.5"))


def test_normalisation_and_ignored_fields():
    raw = body(
        user_id=17, extra={"anything": [1, 2]}, tv__exchange="BINANCE_DLY", tv__symbol="btcusdt.p",
        tv__timeframe="1D", tv__action="LONG", execution_intent={"type": "Signal"}, risk=...,
        strategy_info={"trade_id": "7"},
    )
    s = parse(raw)
    assert (s.tv_exchange, s.symbol, s.timeframe, s.action, s.side) == ("BINANCE", "BTCUSDT", 1440, "long", "long")
    assert (s.intent, s.position_size_type, s.precision_mode) == ("signal", "quote", "auto")
    assert (s.max_slippage_percent, s.stop_loss, s.alert_name, s.alert_message) == (None, None, "", "")
    assert parse(body(tv__exchange="bybit_dl")).tv_exchange == "BYBIT"


def test_numbers_are_exact_and_numeric_strings_accepted():
    s = parse(body(tv__close_price="60000.5", tv__order_size="15", tv__timeframe=15, tv__entry_price=0.1))
    assert (s.close_price, s.order_size, s.timeframe, s.entry_price) == (D("60000.5"), D("15"), 15, D("0.1"))
    raw = body().replace(b'"entry_price": 60000.0', b'"entry_price": 60000.123456789012345678901')
    assert parse(raw).entry_price == D("60000.123456789012345678901")
    assert parse(body(tv__entry_price=0)).entry_price is None  # 0 = absent
    assert parse(body(tv__entry_price=None, tv__order_size=None)).order_size is None
    assert parse(body(tv__entry_price=..., tv__order_size=...)).entry_price is None


def test_side_comes_from_the_intent_else_the_action():
    assert parse(body(execution_intent__side="sell")).side == "short"
    assert parse(body(execution_intent__side="", tv__action="sell")).side == "short"
    assert parse(body(execution_intent__side=None, tv__action="short")).side == "short"
    assert parse(body(execution_intent__side=...)).side == "long"


def test_deferred_symbol_checks_without_a_market_list():
    s = parse(body(tv__symbol="NEWCOINUSDT"), markets=None)
    assert (s.symbol, s.ccxt_symbol) == ("NEWCOINUSDT", None)


def test_symbol_lookup():
    assert errors(body(tv__symbol="DOGEBTC")) == {"tv.symbol": (
        "unknown symbol DOGEBTC: use the exchange's market id without separators or prefix, "
        "e.g. BTCUSDT")}
    assert errors(body(tv__symbol="ETHBTC")) == {"tv.symbol": (
        "unsupported quote currency BTC: trade a pair quoted in USDT or add BTC to "
        "app.quote_currencies")}
    assert parse(body(tv__symbol="ETHBTC"), quotes=("usdt", "btc")).ccxt_symbol == "ETH/BTC"


def test_secret_is_required_only_when_validation_is_on():
    assert errors(body(secret=...)) == {"secret": "required"}
    assert errors(body(secret="  ")) == {"secret": "must not be empty"}
    assert errors(body(secret=123)) == {"secret": "must be a string, got 123"}
    assert parse(body(secret=...), secret_required=False).symbol == "BTCUSDT"


@pytest.mark.parametrize(
    "raw,field,message",
    [
        (b"", "body", "malformed JSON"),
        (b"{not json", "body", "malformed JSON"),
        (b'{"tv": {"close_price": {{close}}}}', "body", "malformed JSON (unreplaced placeholder?)"),
        (b"[1, 2]", "body", "must be a JSON object"),
        (b"\xff\xfe", "body", "malformed JSON"),
    ],
)
def test_malformed_bodies(raw, field, message):
    got = errors(raw)
    assert list(got) == [field] and got[field].startswith(message)


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"tv__symbol": "{{ticker}}"}, "tv.symbol", "unreplaced placeholder"),
        ({"strategy_info__alert_message": "DCA {{strategy.order.comment}}"}, "strategy_info.alert_message", "unreplaced placeholder"),
        ({"extra": {"deep": ["ok", "x}}"]}}, "extra.deep[1]", "unreplaced placeholder"),
        ({"timestamp": "{{timenow}}"}, "timestamp", "unreplaced placeholder"),
        ({"tv__timeframe": "30S"}, "tv.timeframe", "unsupported interval '30S' (seconds "
         "intervals are not supported); accepted: minutes as digits (1, 3, 5, 15, 30, 45, 60, "
         "120, 240, …), D or nD (days), W or nW (weeks), M or nM (months), at most 12 months"),
        ({"tv__timeframe": 15.0}, "tv.timeframe", "must be a string or an integer, got Decimal('15.0')"),
        ({"tv__timeframe": ...}, "tv.timeframe", "required"),
        ({"tv__close_price": "NaN"}, "tv.close_price", "not a finite number: 'NaN'"),
        ({"tv__close_price": "-Infinity"}, "tv.close_price", "not a finite number: '-Infinity'"),
        ({"tv__close_price": 0}, "tv.close_price", "must be > 0, got 0"),
        ({"tv__close_price": None}, "tv.close_price", "expected a number, got None"),
        ({"tv__close_price": True}, "tv.close_price", "expected a number, got True"),
        ({"tv__close_price": "abc"}, "tv.close_price", "not a number: 'abc'"),
        ({"tv__order_size": -1}, "tv.order_size", "must be >= 0, got -1"),
        ({"tv__market_position_size": "-2.5"}, "tv.market_position_size", "must be >= 0, got -2.5"),
        ({"tv__prev_market_position_size": None}, "tv.prev_market_position_size", "expected a number, got None"),
        ({"tv__entry_price": -5}, "tv.entry_price", "must be >= 0, got -5"),
        ({"tv__action": "hold"}, "tv.action", "must be one of buy, long, sell, short, got 'hold'"),
        ({"tv__market_position": "up"}, "tv.market_position", "must be one of flat, long, short, got 'up'"),
        ({"tv__exchange": ""}, "tv.exchange", "must not be empty"),
        ({"tv__symbol": 5}, "tv.symbol", "must be a string, got 5"),
        ({"source": ...}, "source", "required"),
        ({"timestamp": "2025-11-10T12:00:00"}, "timestamp", "needs Z or a UTC offset"),
        ({"timestamp": "yesterday"}, "timestamp", "not an ISO-8601 time"),
        ({"timestamp": 1762776000}, "timestamp", "must be an ISO-8601 string, got 1762776000"),
        ({"strategy_info__trade_id": ...}, "strategy_info.trade_id", "required"),
        ({"strategy_info__alert_name": 3}, "strategy_info.alert_name", "must be a string, got 3"),
        ({"execution_intent__type": "open"}, "execution_intent.type", "must be one of exit, reduce, reverse, signal, got 'open'"),
        ({"execution_intent__type": None}, "execution_intent.type", "must be one of exit, reduce, reverse, signal, got None"),
        ({"execution_intent__side": "up"}, "execution_intent.side", "must be one of buy, long, sell, short, got 'up'"),
        ({"execution_intent__position_size_type": "lots"}, "execution_intent.position_size_type", "must be one of base, contracts, quote, got 'lots'"),
        ({"execution_intent__precision_mode": 1}, "execution_intent.precision_mode", "must be one of auto, force, got 1"),
        ({"risk__max_slippage_percent": 0}, "risk.max_slippage_percent", "must be > 0, got 0"),
        ({"risk__max_slippage_percent": 100}, "risk.max_slippage_percent", "must be < 100, got 100"),
        ({"risk__stop_loss": "NaN"}, "risk.stop_loss", "not a finite number: 'NaN'"),
        ({"tv": ...}, "tv", "required"),
        ({"tv": [1]}, "tv", "must be an object"),
        ({"strategy_info": None}, "strategy_info", "must be an object"),
        ({"risk": "none"}, "risk", "must be an object"),
    ],
)
def test_each_invalid_field_is_named(changes, field, message):
    got = errors(body(**changes))
    assert got == {field: message}


def test_every_error_of_a_body_is_listed():
    raw = body(
        source="", tv__timeframe="30S", tv__symbol="{{ticker}}", tv__close_price="NaN",
        tv__order_size=-2, execution_intent__type="later", risk__max_slippage_percent=150,
    )
    assert set(errors(raw)) == {
        "source", "tv.timeframe", "tv.symbol", "tv.close_price", "tv.order_size",
        "execution_intent.type", "risk.max_slippage_percent",
    }


def test_accepted_edge_values():
    s = parse(body(risk__max_slippage_percent="99.99", risk__stop_loss=59000, risk__take_profit="61000"))
    assert (s.max_slippage_percent, s.stop_loss, s.take_profit) == (D("99.99"), D("59000"), D("61000"))
    assert parse(body(risk=None)).max_slippage_percent is None


@pytest.mark.parametrize(
    "stamp,ms",
    [
        ("2025-11-10T12:00:00Z", T_ENTRY),
        ("2025-11-10T14:00:00+02:00", T_ENTRY),
        ("2025-11-10T07:00:00-05:00", T_ENTRY),
        ("2025-11-10T12:00:00.5Z", T_ENTRY + 500),
        ("2025-11-10T12:00:00.123999Z", T_ENTRY + 123),
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_timestamps_to_utc_milliseconds(stamp, ms):
    assert parse(body(timestamp=stamp)).timestamp_ms == ms


# --- D14: timeframes, candles, idempotency -----------------------------------------------------

TIMEFRAMES = [
    ("15", 15), ("240", 240), ("1", 1), ("D", 1440), ("1D", 1440), ("2D", 2880), ("W", 10080),
    ("7D", 10080), ("1M", 43200), ("M", 43200), ("3M", 129600), ("2W", 20160), ("1d", 1440),
    (" 60 ", 60), ("1w", 10080), (15, 15),
]


@pytest.mark.parametrize("value,minutes", TIMEFRAMES)
def test_d14_timeframes(value, minutes):
    assert normalise_timeframe(value) == minutes


@pytest.mark.parametrize("value", ["30S", "1S", "S", "", "0", "0D", "1m", "1H", "h", "1.5", "-5", "D1", "1234567890", 0, -15, True, None])
def test_d14_timeframes_refused(value):
    with pytest.raises(InvalidInput) as err:
        normalise_timeframe(value)
    assert err.value.field == "tv.timeframe"


@given(n=st.integers(1, 9999), unit=st.sampled_from([("", 1), ("D", 1440), ("W", 10080), ("M", 43200)]))
def test_timeframe_round_trip(n, unit):
    letter, scale = unit
    if n * scale > MAX_TIMEFRAME_MINUTES:  # no chart is longer than 12 months
        with pytest.raises(InvalidInput, match="12 months"):
            normalise_timeframe(f"{n}{letter}")
        return
    minutes = normalise_timeframe(f"{n}{letter}")
    assert minutes == n * scale
    assert normalise_timeframe(str(minutes)) == minutes == normalise_timeframe(minutes)


@pytest.mark.parametrize("value", [10**30, "10000000", "13M", 12 * 43200 + 1])
def test_timeframes_longer_than_12_months_are_refused(value):
    with pytest.raises(InvalidInput) as err:
        normalise_timeframe(value)
    assert err.value.field == "tv.timeframe"
    assert normalise_timeframe("12M") == MAX_TIMEFRAME_MINUTES


def test_absurdly_deep_nesting_is_a_400_not_a_crash():
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    with pytest.raises(WebhookRejected) as err:
        parse_webhook(deep, markets=None, quote_currencies=["USDT"], secret_required=False)
    assert err.value.errors[0].field == "body"


def ms(stamp: str) -> int:
    return parse(body(timestamp=stamp)).timestamp_ms


def test_d14_candle_indexes():
    assert candle_index(ms("2025-11-10T12:03:10Z"), 15) == 1958640
    assert candle_index(ms("2025-11-10T12:14:59Z"), 15) == 1958640
    assert candle_index(ms("2025-11-10T12:15:00Z"), 15) == 1958641
    assert candle_index(ms("2025-11-10T00:00:00Z"), 10080) == 2914
    assert candle_index(ms("2025-11-16T23:59:59Z"), 10080) == 2914
    assert candle_index(ms("2025-11-17T00:00:00Z"), 10080) == 2915
    assert candle_index(ms("2025-11-10T00:00:00Z"), normalise_timeframe("7D")) == 2914
    assert candle_index(ms("2025-11-30T23:59:59Z"), 43200) == 670 == (2025 - 1970) * 12 + 10
    assert candle_index(ms("2025-12-01T00:00:00Z"), normalise_timeframe("30D")) == 671
    assert candle_index(ms("2025-12-01T00:00:00Z"), 86400) == 335  # 2M: pairs of months
    assert candle_index(ms("2025-11-10T12:00:00Z"), 1440) == candle_index(ms("2025-11-10T23:59:59Z"), 1440)


@pytest.mark.parametrize("tf", [0, -1, True, "15"])
def test_candle_index_refuses_bad_timeframes(tf):
    with pytest.raises(InvalidInput):
        candle_index(0, tf)


def test_d14_same_candle_rule_sequence():
    created = ms("2025-11-10T12:03:10Z")
    assert is_stale_or_same_candle(created, ms("2025-11-10T12:10:00Z"), 15)  # duplicate
    pyramid_1 = ms("2025-11-10T12:16:00Z")
    assert not is_stale_or_same_candle(created, pyramid_1, 15)  # next candle: pyramid 1
    assert is_stale_or_same_candle(pyramid_1, ms("2025-11-10T12:20:00Z"), 15)  # same as latest
    assert is_duplicate_entry(pyramid_1, ms("2025-11-10T11:58:00Z"), 15)  # earlier: stale


def test_d14_idempotency_key():
    first = parse(body())
    again = parse(body(tv__action="BUY", tv__symbol="BTCUSDT.P", tv__timeframe=15))
    assert first.idempotency_key == again.idempotency_key  # normalised values
    assert first.idempotency_key == idempotency_key(T_ENTRY, "12345", "buy", "BTCUSDT", 15)
    assert first.idempotency_key == hashlib.sha256(b"1762776000000|12345|buy|BTCUSDT|15").hexdigest()
    later = parse(body(timestamp="2025-11-10T12:00:01Z"))
    other_id = parse(body(strategy_info__trade_id="12346"))
    keys = {first.idempotency_key, later.idempotency_key, other_id.idempotency_key}
    assert len(keys) == 3


def test_signal_round_trips_through_msgspec_json():
    import msgspec

    s = parse(body())
    assert msgspec.json.decode(msgspec.json.encode(s), type=Signal) == s
