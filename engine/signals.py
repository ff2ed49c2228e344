"""Webhook signals (SPEC 2.3-2.7): parse and normalise a TradingView body into a ``Signal``.

Also the time rules every entry is compared with: timeframe normalisation, candle indexes and
the same-candle/stale duplicate rule, and the transport idempotency key. The secret's *value* is
checked by the web layer in constant time; here it is only required to be present.
"""

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal

import msgspec

from engine.errors import InvalidInput
from engine.signal_schema import (
    FieldError,
    FieldReader,
    decode_body,
    parse_timestamp,
    placeholder_paths,
)
from engine.types import MarketRules, Side

Intent = Literal["signal", "exit", "reduce", "reverse"]
SizeType = Literal["quote", "base", "contracts"]
PrecisionMode = Literal["auto", "force"]

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 10080
MINUTES_PER_MONTH = 43200
_MONDAY_OFFSET_S = 345_600  # 1970-01-05T00:00:00Z, the first Monday: weeks start there
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# at most 9 digits: keeps int() far from its digit limit and minutes within reason
_TIMEFRAME = re.compile(r"(\d{0,9})([DWM]?)")
_SIDES: dict[str, Side] = {"buy": "long", "long": "long", "sell": "short", "short": "short"}
_POSITIONS = ("long", "flat", "short")
# what ``normalise_timeframe`` accepts, for the refusal of anything else (SPEC 2.4)
ACCEPTED_TIMEFRAMES = ("minutes as digits (1, 3, 5, 15, 30, 45, 60, 120, 240, …), D or nD "
                       "(days), W or nW (weeks), M or nM (months), at most 12 months")


class Signal(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An accepted webhook, normalised. ``symbol`` is the exchange market id (BTCUSDT);
    ``ccxt_symbol`` is None while no market list was loaded (checks deferred, SPEC 2.4)."""

    intent: Intent
    side: Side
    symbol: str
    ccxt_symbol: str | None
    timeframe: int
    timestamp_ms: int
    source: str
    tv_exchange: str
    action: str
    market_position: str
    market_position_size: Decimal
    prev_market_position: str
    prev_market_position_size: Decimal
    entry_price: Decimal | None
    close_price: Decimal
    order_size: Decimal | None
    position_size_type: SizeType
    precision_mode: PrecisionMode
    max_slippage_percent: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trade_id: str
    alert_name: str
    alert_message: str
    idempotency_key: str


class WebhookRejected(Exception):
    """HTTP 400: the body is malformed or invalid; ``errors`` lists every refused field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def normalise_timeframe(value: str | int) -> int:
    """Chart interval → minutes (SPEC 2.4): "15" → 15, "D"/"1D" → 1440, "2W" → 20160,
    "1M" → 43200. Seconds ("30S") and anything else raise InvalidInput("tv.timeframe")."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput("tv.timeframe", f"must be a string or an integer, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise InvalidInput("tv.timeframe", f"must be > 0 minutes, got {value}")
        return _bounded(value, value)
    text = value.strip()
    # "M" stays case-sensitive: a lower-case "m" could mean minutes as well as months
    if text.endswith(("d", "w")):
        text = text[:-1] + text[-1].upper()
    match = _TIMEFRAME.fullmatch(text)
    if not text or match is None:
        seconds = " (seconds intervals are not supported)" if text.upper().endswith("S") else ""
        raise InvalidInput("tv.timeframe", f"unsupported interval {value!r}{seconds}; accepted: "
                                           f"{ACCEPTED_TIMEFRAMES}")
    digits, unit = match.groups()
    count = int(digits) if digits else 1
    if count <= 0:
        raise InvalidInput("tv.timeframe", f"must be > 0, got {value!r}")
    scale = {"": 1, "D": MINUTES_PER_DAY, "W": MINUTES_PER_WEEK, "M": MINUTES_PER_MONTH}[unit]
    return _bounded(count * scale, value)


# TradingView's longest chart interval is 12 months; anything longer is not a real chart (and a
# 10**30 "timeframe" would overflow the database's integer column)
MAX_TIMEFRAME_MINUTES = 12 * MINUTES_PER_MONTH


def _bounded(minutes: int, value: str | int) -> int:
    if minutes > MAX_TIMEFRAME_MINUTES:
        raise InvalidInput("tv.timeframe", f"longer than 12 months: {value!r}; accepted: "
                                           f"{ACCEPTED_TIMEFRAMES}")
    return minutes


def candle_index(timestamp_ms: int, tf: int) -> int:
    """Index of the UTC-aligned candle of ``tf`` minutes holding ``timestamp_ms`` (SPEC 2.6):
    calendar months for multiples of 43200, Monday-based weeks for multiples of 10080,
    otherwise plain multiples of ``tf`` minutes since the epoch (days included)."""
    if isinstance(tf, bool) or not isinstance(tf, int) or tf <= 0:
        raise InvalidInput("timeframe", f"must be a positive number of minutes, got {tf!r}")
    seconds = timestamp_ms // 1000
    if tf % MINUTES_PER_MONTH == 0:
        moment = _EPOCH + timedelta(seconds=seconds)
        return ((moment.year - 1970) * 12 + moment.month - 1) // (tf // MINUTES_PER_MONTH)
    if tf % MINUTES_PER_WEEK == 0:
        return (seconds - _MONDAY_OFFSET_S) // (tf * 60)
    return seconds // (tf * 60)


def is_stale_or_same_candle(previous_ms: int, new_ms: int, tf: int) -> bool:
    """SPEC 2.6: a same-side entry in the same candle as the previous accepted one, or in an
    earlier candle (a replayed old alert), is a duplicate."""
    return candle_index(new_ms, tf) <= candle_index(previous_ms, tf)


is_duplicate_entry = is_stale_or_same_candle


def idempotency_key(
    timestamp_ms: int, trade_id: str, action: str, symbol: str, timeframe: int
) -> str:
    """SHA-256 hex of ``timestamp_ms|trade_id|action|symbol|timeframe`` (SPEC 2.5)."""
    text = f"{timestamp_ms}|{trade_id}|{action}|{symbol}|{timeframe}"
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_symbol(raw: str) -> str:
    """Upper-cased exchange id without the perpetual ``.P`` suffix (SPEC 2.3)."""
    symbol = raw.strip().upper()
    return symbol[:-2] if symbol.endswith(".P") else symbol


def normalise_tv_exchange(raw: str) -> str:
    """The chart's exchange without a delayed-feed ``_DL``/``_DLY`` suffix (SPEC 2.3)."""
    name = raw.strip().upper()
    for suffix in ("_DLY", "_DL"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_webhook(
    body: bytes,
    *,
    markets: Mapping[str, MarketRules] | None,
    quote_currencies: Sequence[str],
    secret_required: bool,
) -> Signal:
    """Decode, validate and normalise a webhook body; raises WebhookRejected with every error.

    ``markets`` is keyed by exchange market id; None = no market list loaded yet (symbol and
    quote checks deferred, ``ccxt_symbol`` None). Spot shorts are not refused here.
    """
    try:
        root = decode_body(body)
    except msgspec.DecodeError as e:
        hint = " (unreplaced placeholder?)" if b"{{" in body else ""
        raise WebhookRejected([FieldError(field="body", message=f"malformed JSON{hint}: {e}")])
    except RecursionError:
        raise WebhookRejected([FieldError(field="body", message="malformed JSON: nested too "
                                                                "deeply")]) from None
    if not isinstance(root, dict):
        raise WebhookRejected([FieldError(field="body", message="must be a JSON object")])
    skipped = placeholder_paths(root)
    r = FieldReader(skip=skipped)
    for path in skipped:
        r.fail(path, "unreplaced placeholder")
    if secret_required:
        r.text(root, "secret", non_empty=True)
    source = r.text(root, "source", non_empty=True)
    timestamp_ms = r.convert(root, "timestamp", _timestamp)
    tv = r.section(root, "tv")
    info = r.section(root, "strategy_info")
    intent_obj = r.section(root, "execution_intent")
    risk = r.section(root, "risk", required=False)

    tv_exchange = r.text(tv, "tv.exchange", non_empty=True)
    raw_symbol = r.text(tv, "tv.symbol", non_empty=True)
    timeframe = r.convert(tv, "tv.timeframe", normalise_timeframe)
    action = r.choice(tv, "tv.action", _SIDES)
    market_position = r.choice(tv, "tv.market_position", _POSITIONS)
    position_size = r.number(tv, "tv.market_position_size", bound="ge0")
    prev_position = r.choice(tv, "tv.prev_market_position", _POSITIONS)
    prev_size = r.number(tv, "tv.prev_market_position_size", bound="ge0")
    entry_price = r.number(tv, "tv.entry_price", required=False, bound="ge0")
    close_price = r.number(tv, "tv.close_price", bound="gt0")
    order_size = r.number(tv, "tv.order_size", required=False, bound="ge0")

    trade_id = r.text(info, "strategy_info.trade_id")
    alert_name = r.text(info, "strategy_info.alert_name", required=False)
    alert_message = r.text(info, "strategy_info.alert_message", required=False)

    intent = r.choice(intent_obj, "execution_intent.type", ("signal", "exit", "reduce", "reverse"))
    side_word = r.choice(intent_obj, "execution_intent.side", _SIDES, default="")
    size_type = r.choice(
        intent_obj,
        "execution_intent.position_size_type",
        ("quote", "base", "contracts"),
        default="quote",
    )
    precision_mode = r.choice(
        intent_obj, "execution_intent.precision_mode", ("auto", "force"), default="auto"
    )

    stop_loss = r.number(risk, "risk.stop_loss", required=False)
    take_profit = r.number(risk, "risk.take_profit", required=False)
    slippage = r.number(risk, "risk.max_slippage_percent", required=False, bound="gt0")
    if slippage is not None and slippage >= 100:
        r.fail("risk.max_slippage_percent", f"must be < 100, got {slippage}")
        slippage = None

    symbol = normalise_symbol(raw_symbol) if raw_symbol is not None else None
    ccxt_symbol = _lookup(r, symbol, markets, quote_currencies) if symbol else None

    if r.errors:
        raise WebhookRejected(r.errors)
    # every required value is set once no error was recorded
    assert action is not None and symbol is not None and timeframe is not None
    assert timestamp_ms is not None and trade_id is not None and intent is not None
    return Signal(
        intent=intent,  # type: ignore[arg-type]
        side=_SIDES[side_word or action],
        symbol=symbol,
        ccxt_symbol=ccxt_symbol,
        timeframe=timeframe,
        timestamp_ms=timestamp_ms,
        source=source,  # type: ignore[arg-type]
        tv_exchange=normalise_tv_exchange(tv_exchange),  # type: ignore[arg-type]
        action=action,
        market_position=market_position,  # type: ignore[arg-type]
        market_position_size=position_size,  # type: ignore[arg-type]
        prev_market_position=prev_position,  # type: ignore[arg-type]
        prev_market_position_size=prev_size,  # type: ignore[arg-type]
        entry_price=entry_price if entry_price else None,  # 0 = absent (SPEC 2.3)
        close_price=close_price,  # type: ignore[arg-type]
        order_size=order_size,
        position_size_type=size_type,  # type: ignore[arg-type]
        precision_mode=precision_mode,  # type: ignore[arg-type]
        max_slippage_percent=slippage,
        stop_loss=stop_loss,
        take_profit=take_profit,
        trade_id=trade_id,
        alert_name=alert_name or "",
        alert_message=alert_message or "",
        idempotency_key=idempotency_key(timestamp_ms, trade_id, action, symbol, timeframe),
    )


def _timestamp(value: object) -> int:
    if not isinstance(value, str):
        raise InvalidInput("timestamp", f"must be an ISO-8601 string, got {value!r}")
    return parse_timestamp(value)


def _lookup(
    r: FieldReader,
    symbol: str,
    markets: Mapping[str, MarketRules] | None,
    quote_currencies: Sequence[str],
) -> str | None:
    if markets is None:
        return None  # deferred until a market list is loaded (SPEC 2.4 rule 3)
    rules = markets.get(symbol)
    if rules is None:
        near = difflib.get_close_matches(symbol, list(markets), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        r.fail("tv.symbol", f"unknown symbol {symbol}: use the exchange's market id without "
                            f"separators or prefix, e.g. BTCUSDT{hint}")
        return None
    if rules.quote.upper() not in {q.upper() for q in quote_currencies}:
        r.fail("tv.symbol", f"unsupported quote currency {rules.quote}: trade a pair quoted in "
                            f"{', '.join(quote_currencies)} or add {rules.quote} to "
                            "app.quote_currencies")
        return None
    return rules.ccxt_symbol
