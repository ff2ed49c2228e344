"""``POST /webhook`` (SPEC 2.1, 2.2): log, authenticate, validate, deduplicate, store, answer.

The answer comes only after the inbox row, its idempotency key and the ``SignalAccepted``
journal row are committed together; the engine core processes the signal asynchronously.
Order: size (413) → log the request → allowlist (403) → throttle (429) → intake stopped (503)
→ webhook secret shorter than 16 characters (503) → body secret (401) → HMAC header (401) →
fields and what the configuration already decides (400, ``engine.intake``) → inbox (200
accepted / duplicate).

Served as plain ASGI by ``WebhookLane``, which sits in front of the Quart app on the same
hypercorn server (``create_app`` wraps ``app.asgi_app``) and hands every other path to Quart.
The webhook needs none of Quart's per-request machinery (request and app contexts, URL routing,
the ``/api/`` guard, Response objects), which cost more CPU than everything the webhook does
itself and set the ceiling on webhooks per second.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import msgspec
import trio

from actors.handle import EngineHandle, IntakeUnavailable
from engine.config import secret_value_problems
from engine.intake import WEBHOOK_SECRET, check_webhook
from engine.signals import Signal, WebhookRejected
from web.common import ip_in
from web.throttle import TRADINGVIEW_IPS, AuthThrottle

PATH = "/webhook"
MAX_BODY = 64 * 1024
BODY_TIMEOUT_S = 10
CLOCK_SKEW_WARN_MS = 5 * 60_000

log = logging.getLogger("engine.webhook")
security_log = logging.getLogger("engine.security")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Answer:
    """An HTTP answer: status, JSON body, and whether the connection must close after it."""

    __slots__ = ("status", "body", "close")

    def __init__(self, status: int, body: dict[str, Any], *, close: bool = False):
        self.status = status
        self.body = body
        self.close = close


class WebhookLane:
    """ASGI: ``/webhook`` answered here, every other request passed to ``app``."""

    def __init__(self, app: ASGIApp, handle: EngineHandle, throttle: AuthThrottle):
        self.app = app
        self.handle = handle
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, Answer(405, {"error": "method_not_allowed", "message":
                                           "use POST", "details": {}}), allow=b"POST")
            return
        started = perf_counter()
        try:
            answer = await webhook(self.handle, self.throttle, scope, receive)
        except Exception as exc:  # as app.py's handler does for Quart routes
            log.error("unexpected error answering POST /webhook", exc_info=exc,
                      extra={"event": "http_error"})
            answer = Answer(500, {"error": "internal", "message": "internal error (logged)",
                                  "details": {}})
        if answer is not None:
            # no checkpoint since this webhook's answer noted its facts: last_webhook is ours
            facts = self.handle.last_webhook
            await _send(send, answer)
            self.handle.metrics.webhook(answer.body.get("status", "error"), started, facts)


async def _send(send: Send, answer: Answer, allow: bytes | None = None) -> None:
    payload = _encode(answer.body)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", b"%d" % len(payload))]
    if answer.close:  # the rest of the body was not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _header(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]


def client_ip(scope: Scope, trust_forwarded_for: bool) -> str:
    """The socket peer, or the LAST ``X-Forwarded-For`` entry (the one our reverse proxy
    appended; earlier entries come from the client and can be forged) when trusted."""
    if trust_forwarded_for:
        entries = [e.strip() for h in _header(scope, b"x-forwarded-for") for e in h.split(",")]
        entries = [e for e in entries if e]
        if entries:
            return entries[-1]
    return (scope.get("client") or ("<local>",))[0]


class _ClientGone(Exception):
    """The client disconnected before its body arrived."""


async def _read_body(receive: Receive) -> bytes | None:
    """The body, or None when it exceeds ``MAX_BODY`` (checked on the bytes actually read)."""
    data = bytearray()
    with trio.fail_after(BODY_TIMEOUT_S):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            data += message.get("body", b"")
            if len(data) > MAX_BODY:
                return None
            if not message.get("more_body", False):
                return bytes(data)


class _Request:
    """One webhook's facts, for the answer, the logs and ``/api/status``."""

    def __init__(self, handle: EngineHandle, throttle: AuthThrottle, scope: Scope):
        self.handle = handle
        self.throttle = throttle
        self.scope = scope
        self.received_ms = handle.clock_ms()
        self.ip = client_ip(scope, handle.config.security.trust_forwarded_for)
        self.masked = ""  # the raw body as logged and stored: secret masked

    def header(self, name: bytes) -> str | None:
        values = _header(self.scope, name)
        return values[0] if values else None

    def answer(self, http: int, body: dict[str, Any], *, close: bool = False,
               **facts: Any) -> Answer:
        self.handle.note_webhook(received_at=self.received_ms, source_ip=self.ip,
                                 http_status=http, outcome=body["status"], **facts)
        return Answer(http, body, close=close)

    def refuse(self, http: int, status: str, message: str, event: str, *, close: bool = False,
               **data: Any) -> Answer:
        log.warning(message, extra={"event": event, "data": {"source_ip": self.ip, **data}})
        return self.answer(http, {"status": status}, close=close)

    def unauthorized(self, reason: str) -> Answer:
        data = {"source_ip": self.ip, "reason": reason}
        log.warning(f"webhook authentication failed: {reason}",
                    extra={"event": "webhook_unauthorized", "data": data})
        security_log.warning(f"webhook authentication failed from {self.ip}: {reason}",
                             extra={"event": "webhook_auth_failed", "data": data})
        if not self.exempt() and self.throttle.failure(self.ip, self.received_ms):
            security_log.warning(f"{self.ip} throttled for 10 minutes after 20 webhook "
                                 "authentication failures in one minute",
                                 extra={"event": "webhook_throttled", "data": data})
        return self.answer(401, {"status": "unauthorized"})

    def exempt(self) -> bool:
        security = self.handle.config.security
        return self.ip in TRADINGVIEW_IPS or ip_in(self.ip, security.webhook_ip_allowlist)


def _secret_matches(provided: object, secret: str | None) -> bool:
    if secret is None or not isinstance(provided, str):
        return False
    # surrogatepass: a lone surrogate in the JSON must fail the comparison, not raise
    return hmac.compare_digest(provided.encode("utf-8", "surrogatepass"), secret.encode("utf-8"))


def _signature_matches(header: str, raw: bytes, secret: str | None) -> bool:
    scheme, _, digest = header.strip().partition("=")
    if secret is None or scheme.strip().lower() != "sha256":
        return False
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest.strip().lower().encode("ascii", "replace"),
                               expected.encode("ascii"))


def _declared_length(scope: Scope) -> int | None:
    values = _header(scope, b"content-length")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


async def webhook(handle: EngineHandle, throttle: AuthThrottle, scope: Scope,
                  receive: Receive) -> Answer | None:
    """The answer to one ``POST /webhook`` (None: the client left before sending its body)."""
    req = _Request(handle, throttle, scope)
    declared = _declared_length(scope)
    try:
        raw = None if declared is not None and declared > MAX_BODY else await _read_body(receive)
    except trio.TooSlowError:
        message = f"not received within {BODY_TIMEOUT_S} s"
        log.warning(f"webhook body {message}", extra={"event": "webhook_rejected",
                                                       "data": {"source_ip": req.ip}})
        return req.answer(400, {"status": "rejected",
                                "errors": [{"field": "body", "message": message}]}, close=True)
    except _ClientGone:
        log.warning("webhook client disconnected before sending its body",
                    extra={"event": "webhook_rejected", "data": {"source_ip": req.ip}})
        return None
    if raw is None:
        log.info("webhook received", extra={"event": "webhook_received", "data": {
            "source_ip": req.ip, "body": None, "declared_bytes": declared}})
        return req.refuse(413, "too_large", f"webhook body larger than {MAX_BODY} bytes",
                          "webhook_too_large", close=True)
    req.masked = handle.mask_body(raw)
    log.info("webhook received", extra={"event": "webhook_received", "data": {
        "source_ip": req.ip, "body": req.masked, "bytes": len(raw)}})
    security = handle.config.security
    if security.webhook_ip_allowlist and not ip_in(req.ip, security.webhook_ip_allowlist):
        return req.refuse(403, "forbidden", f"webhook from {req.ip}, not in the allowlist",
                          "webhook_forbidden")
    if not req.exempt() and req.throttle.blocked(req.ip, req.received_ms):
        return req.refuse(429, "throttled", f"webhook from throttled address {req.ip}",
                          "webhook_throttled")
    if not handle.accepting:
        return req.refuse(503, "unavailable", "webhook refused: the engine is shutting down",
                          "webhook_unavailable")
    return await _authenticated(req, raw)


async def _authenticated(req: _Request, raw: bytes) -> Answer:
    handle, security = req.handle, req.handle.config.security
    try:
        body = _decode(raw)
    except (msgspec.DecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        body = None
    if isinstance(body, dict):
        secret = handle.webhook_secret()
        if secret is not None and secret_value_problems(WEBHOOK_SECRET, secret):
            # a guessable secret protects nothing: no webhook is taken until it is replaced
            return req.refuse(503, "unavailable", "webhook refused: the webhook secret is "
                              "shorter than 16 characters (GET /api/status: webhook_warning)",
                              "webhook_secret_too_short")
        if security.webhook_signature_validation:
            if secret is None:
                log.error("webhook refused: security.webhook_secret is not set",
                          extra={"event": "webhook_secret_missing"})
            if not _secret_matches(body.get("secret"), secret):
                return req.unauthorized("missing or wrong secret")
        signature = req.header(b"x-signature")
        if signature is None and security.webhook_hmac_required:
            return req.unauthorized("missing X-Signature header")
        if signature is not None and not _signature_matches(signature, raw, secret):
            return req.unauthorized("bad X-Signature")
    return await _validated(req, raw)


async def _validated(req: _Request, raw: bytes) -> Answer:
    handle, cfg = req.handle, req.handle.config
    try:
        signal = check_webhook(raw, cfg, handle.markets())
    except WebhookRejected as exc:
        errors = handle.masker.scrub_obj([{"field": e.field, "message": e.message}
                                          for e in exc.errors])
        log.warning("webhook rejected", extra={"event": "webhook_rejected", "data": {
            "source_ip": req.ip, "errors": errors}})
        return req.answer(400, {"status": "rejected", "errors": errors})
    _notes(req, signal, cfg.exchange.name)
    try:
        outcome, inbox_id = await handle.accept(signal, req.masked, req.ip, req.received_ms)
    except IntakeUnavailable as exc:
        return req.refuse(503, "unavailable", f"webhook not stored: {exc}", "webhook_unavailable")
    where = {"symbol": signal.symbol, "timeframe": signal.timeframe}
    data = {"source_ip": req.ip, "inbox_id": inbox_id, "intent": signal.intent,
            "side": signal.side, "idempotency_key": signal.idempotency_key}
    if outcome == "duplicate":
        log.info("duplicate webhook (same idempotency key within 60 s): not processed",
                 extra={"event": "webhook_duplicate", **where, "data": data})
    else:
        log.info("webhook accepted", extra={"event": "webhook_accepted", **where, "data": data})
    return req.answer(200, {"status": outcome, "id": inbox_id}, inbox_id=inbox_id, **where)


def _notes(req: _Request, signal: Signal, exchange: str) -> None:
    where = {"symbol": signal.symbol, "timeframe": signal.timeframe}
    skew = req.received_ms - signal.timestamp_ms
    if abs(skew) > CLOCK_SKEW_WARN_MS:
        log.warning(f"webhook timestamp is {skew / 1000:.0f} s away from the receive time",
                    extra={"event": "webhook_clock_skew", **where,
                           "data": {"skew_ms": skew, "source_ip": req.ip}})
    # the paper exchange is never a chart's exchange: nothing worth noting then
    if exchange != "paper" and signal.tv_exchange.lower() != exchange.lower():
        log.info(f"chart exchange {signal.tv_exchange} differs from exchange.name {exchange};"
                 " trading on the configured exchange",
                 extra={"event": "webhook_exchange_mismatch", **where})
