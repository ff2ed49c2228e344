"""Field-level reading of a decoded webhook body (SPEC 2.3-2.4), collecting every error.

The body is decoded by msgspec with ``float_hook=Decimal`` (numbers keep their exact JSON text);
``FieldReader`` then reads each field by its JSON path and records one ``FieldError`` per bad
field instead of stopping at the first, so the 400 answer lists everything to fix.
"""

from collections.abc import Callable, Collection
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Literal, TypeVar

import msgspec

from engine.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_decoder = msgspec.json.Decoder(float_hook=Decimal)

Bound = Literal["any", "ge0", "gt0"]
T = TypeVar("T")


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One refused field: ``field`` is its JSON path (``tv.timeframe``), ``body`` for the whole."""

    field: str
    message: str


def decode_body(body: bytes) -> object:
    """JSON text to Python values with exact Decimals; raises msgspec.DecodeError."""
    return _decoder.decode(body)


def placeholder_paths(value: object, path: str = "") -> list[str]:
    """JSON paths of every string value still holding ``{{`` or ``}}`` (SPEC 2.4 rule 1)."""
    if isinstance(value, str):
        return [path or "body"] if "{{" in value or "}}" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += placeholder_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += placeholder_paths(item, f"{path}[{i}]")
    return found


def parse_timestamp(text: str, field: str = "timestamp") -> int:
    """ISO-8601 with ``Z`` or an offset, fractional seconds allowed → UTC epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field, "not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise InvalidInput(field, "needs Z or a UTC offset")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def to_decimal(value: object, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal (SPEC 0: "15" and "60000.5" too)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise InvalidInput(field, f"expected a number, got {_short(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, f"not a number: {_short(value)}") from None
    if not number.is_finite():
        raise InvalidInput(field, f"not a finite number: {_short(value)}")
    return number


_MISSING = object()  # absent key, as opposed to JSON null


class FieldReader:
    """Reads fields by path from nested dicts, appending a FieldError for each bad one.

    Every reader returns None for a refused, absent (optional) or null (where allowed) value.
    Paths listed in ``skip`` (already refused, e.g. placeholders) read as None silently.
    """

    def __init__(self, skip: Collection[str] = ()) -> None:
        self.errors: list[FieldError] = []
        self._skip = set(skip)

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field=field, message=message))

    def _raw(self, obj: dict | None, path: str, required: bool) -> object:
        """The value, None for null, _MISSING when absent/skipped (reporting a required one)."""
        if obj is None or path in self._skip:
            return _MISSING
        key = path.rsplit(".", 1)[-1]
        if key not in obj:
            if required:
                self.fail(path, "required")
            return _MISSING
        return obj[key]

    def section(self, root: dict, name: str, *, required: bool = True) -> dict | None:
        value = self._raw(root, name, required)
        if value is _MISSING or (value is None and not required):
            return None
        if not isinstance(value, dict):
            self.fail(name, "must be an object")
            return None
        return value

    def text(
        self, obj: dict | None, path: str, *, required: bool = True, non_empty: bool = False
    ) -> str | None:
        value = self._raw(obj, path, required)
        if value is _MISSING or (value is None and not required):
            return None
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_short(value)}")
            return None
        if non_empty and not value.strip():
            self.fail(path, "must not be empty")
            return None
        return value

    def choice(
        self, obj: dict | None, path: str, options: Collection[str], *, default: str | None = None
    ) -> str | None:
        """A case-insensitive enum, lower-cased. With a default, absent/null/"" give it."""
        value = self._raw(obj, path, default is None)
        if value is _MISSING:
            return default
        blank = value is None or (isinstance(value, str) and not value.strip())
        if default is not None and blank:
            return default
        if not isinstance(value, str) or value.strip().lower() not in options:
            self.fail(path, f"must be one of {', '.join(sorted(options))}, got {_short(value)}")
            return None
        return value.strip().lower()

    def number(
        self, obj: dict | None, path: str, *, required: bool = True, bound: Bound = "any"
    ) -> Decimal | None:
        """A number (or numeric string); null is allowed only when not required."""
        value = self._raw(obj, path, required)
        if value is _MISSING or (value is None and not required):
            return None
        try:
            number = to_decimal(value, path)
        except InvalidInput as e:
            self.fail(path, e.message)
            return None
        if bound == "ge0" and number < 0:
            self.fail(path, f"must be >= 0, got {number}")
            return None
        if bound == "gt0" and number <= 0:
            self.fail(path, f"must be > 0, got {number}")
            return None
        return number

    def convert(self, obj: dict | None, path: str, parse: Callable[[object], T]) -> T | None:
        """A required value read through ``parse``; its InvalidInput becomes this path's error."""
        value = self._raw(obj, path, True)
        if value is _MISSING:
            return None
        try:
            return parse(value)
        except InvalidInput as e:
            self.fail(path, e.message)
            return None
