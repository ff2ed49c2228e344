"""Shared pieces of the HTTP layer: the handle accessor, JSON answers, the §11.6 error shape,
request bodies decoded into msgspec Structs (400 naming the field) and the client address."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import msgspec
from quart import Response, current_app, request

from actors.handle import EngineHandle

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode  # Decimal → "1.50": numbers travel as decimal strings
_MISSING = re.compile(r"missing required field `([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_AT = re.compile(r"at `\$((?:\.[^`.\[]+|\[[^`\]]*\])*)`")


class ApiError(Exception):
    """An answer in the SPEC 11.6 shape: ``{"error", "message", "details"}``."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def engine() -> EngineHandle:
    return current_app.extensions["engine"]


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(_encode(obj), status=status, content_type="application/json")


def error_response(status: int, code: str, message: str, details: dict | None = None) -> Response:
    body = {"error": code, "message": message, "details": details or {}}
    return json_response(engine().masker.scrub_obj(body), status)


def field_of(message: str) -> str:
    """The dotted field a msgspec error message is about (``body`` when it names none)."""
    at = _AT.search(message)
    path = at.group(1).lstrip(".") if at else ""
    named = _MISSING.search(message) or _UNKNOWN.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body"


@lru_cache(maxsize=64)
def _decoder(model: type) -> msgspec.json.Decoder:
    # float_hook: untyped numbers (config change values) keep their exact decimal digits
    return msgspec.json.Decoder(model, float_hook=Decimal)


async def read_json(model: type[T]) -> T:
    """The request body decoded into ``model``; ``ApiError(400)`` naming the field otherwise.
    An empty body stands for ``model()``: every field at its default."""
    raw = await request.get_data()
    if not raw.strip():
        try:
            return model()  # an empty body means the defaults (when every field has one)
        except TypeError:
            raise ApiError(400, "bad_request", "a JSON body is required",
                           {"field": "body"}) from None
    try:
        return _decoder(model).decode(raw)
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise ApiError(400, "bad_request", str(exc), {"field": field}) from None
    except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise ApiError(400, "bad_request", f"malformed JSON: {exc}", {"field": "body"}) from None


def read_query(model: type[T]) -> T:
    """Query parameters converted into ``model`` (numbers from text); 400 naming the field."""
    try:
        return msgspec.convert(dict(request.args), model, strict=False)
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise ApiError(400, "bad_request", str(exc), {"field": field}) from None


def client_ip(trust_forwarded_for: bool) -> str:
    """The socket peer, or the LAST ``X-Forwarded-For`` entry (the one our reverse proxy
    appended; earlier entries come from the client and can be forged) when trusted."""
    if trust_forwarded_for:
        entries = [e.strip() for h in request.headers.getlist("X-Forwarded-For")
                   for e in h.split(",")]
        entries = [e for e in entries if e]
        if entries:
            return entries[-1]
    return request.remote_addr or ""


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network,
                                                 ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # the configuration validation reports it
    return tuple(networks)


def ip_in(ip: str, entries: tuple[str, ...]) -> bool:
    """Whether ``ip`` is one of the addresses / CIDR ranges (an unparsable ip never is)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in _networks(tuple(entries)))


def is_tls() -> bool:
    """Served over TLS: directly, or by a trusted reverse proxy saying so."""
    if request.scheme == "https":
        return True
    trusted = engine().config.security.trust_forwarded_for
    return trusted and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
