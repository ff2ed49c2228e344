"""ccxt exceptions -> the port's error taxonomy (SPEC 9.2), chosen by what the caller must do.

Binance answers carry a numeric code; ccxt maps several codes to classes too coarse for us
(-2010 covers both "Duplicate order sent." and "insufficient balance", -1013/-1111 become
``BadRequest``), so the code in the body wins when there is one, then the ccxt class.
Every message is scrubbed by the Masker (API key/secret) and request signatures are cut out.

"Mutating" calls (create/cancel) that may have reached the exchange end in ``OutcomeUnknown``:
a timeout, a reset connection or a 5xx (Binance documents a 5xx as "execution status
unknown"). Only a failure *before* the request left (connection refused, connect timeout,
maintenance) is ``Unavailable`` for them; for reads every transport failure is ``Unavailable``.
"""

import json
import re
from collections.abc import Mapping

import ccxt

from actors.exchange.port import (
    AuthFailed,
    DuplicateOrder,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
    UnknownSymbol,
)
from engine.masking import Masker

_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F%]+")
RATE_LIMIT_DEFAULT_S = 10.0  # SPEC 9.2: no Retry-After -> wait 10 s
BAN_DEFAULT_S = 120.0

_AUTH_CODES = {-1002, -1022, -2014, -2015}
_INVALID_CODES = {-1013, -1111, -1100, -1102, -1106, -1014, -1116, -1117, -1120}
_NOT_FOUND_CODES = {-2011, -2013}
_UNKNOWN_OUTCOME_CODES = {-1000, -1001, -1006, -1007}


def _body(text: str) -> tuple[int | None, str | None]:
    """The exchange's ``code``/``msg`` when the ccxt message embeds its JSON body."""
    start = text.find("{")
    if start < 0:
        return None, None
    try:
        body = json.loads(text[start:])
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    raw = body.get("code")
    try:
        code = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        code = None
    msg = body.get("msg") or body.get("message")
    return code, msg if isinstance(msg, str) else None


def _never_sent(exc: BaseException) -> bool:
    """True when the request provably did not leave this machine (no outcome to resolve)."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        name = type(cur).__name__
        if name in {"NewConnectionError", "ConnectTimeout", "ConnectTimeoutError",
                    "ConnectionRefusedError", "NameResolutionError", "gaierror"}:
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def retry_after_s(headers: Mapping[str, str] | None, default: float) -> float:
    if not headers:
        return default
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return default
    return default


def translate(exc: Exception, *, exchange_id: str, mutating: bool, status: int | None,
              headers: Mapping[str, str] | None, masker: Masker,
              body: str | None = None) -> ExchangeError:
    """``status``/``headers``/``body``: the failed call's HTTP answer when there was one (ccxt
    keeps only the message text for errors it matched by message, dropping the code)."""
    text = _SIGNATURE.sub(r"\1***", masker.scrub(str(exc)))
    code, msg = _body(masker.scrub(body)) if body else (None, None)
    if code is None and msg is None:
        code, msg = _body(text)
    if msg is not None:
        msg = masker.scrub(msg)
    message = f"{exchange_id}: {msg}" if msg else text
    status = status if status is not None else _status_from_text(text)

    if status == 418:
        return RateLimited(message, code=code, banned=True,
                           retry_after_s=retry_after_s(headers, BAN_DEFAULT_S))
    if (status == 429 or code in (-1003, -1015)
            or isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection))):
        return RateLimited(message, code=code,
                           retry_after_s=retry_after_s(headers, RATE_LIMIT_DEFAULT_S))
    if code is not None and exchange_id == "binance":
        mapped = _from_binance_code(code, msg or "", message, mutating)
        if mapped is not None:
            return mapped
    return _from_class(exc, message, code, mutating)


def _status_from_text(text: str) -> int | None:
    # ccxt's DDoSProtection for Binance reads "binance 418 I'm a teapot ..."
    m = re.match(r"^\S+ (418|429) ", text)
    return int(m.group(1)) if m else None


def _from_binance_code(code: int, msg: str, message: str, mutating: bool) -> ExchangeError | None:
    if code == -2010:
        if "Duplicate order" in msg:
            return DuplicateOrder(message, code=code)
        if "insufficient balance" in msg.lower():
            return InsufficientFunds(message, code=code)
        return OrderRejected(message, code=code)
    if code in _INVALID_CODES:
        return InvalidOrder(message, code=code)
    if code == -1121:
        return UnknownSymbol(message, code=code)
    if code in _NOT_FOUND_CODES:
        return OrderNotFound(message, code=code)
    if code in _AUTH_CODES:
        return AuthFailed(message, code=code)
    if code == -1021:
        # our clock vs. theirs: refused before any effect, a resend with a fresh timestamp works
        return Unavailable(message, code=code)
    if code in _UNKNOWN_OUTCOME_CODES:
        return OutcomeUnknown(message, code=code) if mutating else Unavailable(message, code=code)
    return None


def _from_class(exc: Exception, message: str, code: int | None, mutating: bool) -> ExchangeError:
    # order matters: subclasses before their bases (ccxt's hierarchy, ccxt/base/errors.py)
    if isinstance(exc, ccxt.DuplicateOrderId):
        return DuplicateOrder(message, code=code)
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(message, code=code)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(message, code=code)
    if isinstance(exc, ccxt.BadSymbol):
        return UnknownSymbol(message, code=code)
    if isinstance(exc, ccxt.InvalidOrder):
        return InvalidOrder(message, code=code)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthFailed(message, code=code)
    if isinstance(exc, ccxt.OnMaintenance):
        return Unavailable(message, code=code)
    if isinstance(exc, (ccxt.NetworkError, ccxt.OperationFailed)):
        if mutating and not _never_sent(exc):
            return OutcomeUnknown(message, code=code)
        return Unavailable(message, code=code)
    if mutating and isinstance(exc, (ccxt.BadRequest, ccxt.OperationRejected)):
        # the exchange read the order and refused it: resending it unchanged cannot help
        return OrderRejected(message, code=code)
    return ExchangeError(message, code=code)
